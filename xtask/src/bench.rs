//! `cargo xtask bench ...`: the benchmarks, each printing its figures.
//!
//! - `wire`: the parser against `eventsource-stream` (criterion).
//! - `server [N ...]`: N concurrent SSE clients on the demo server (default 1000 and 10000):
//!   memory per connection and delivery latency.
//! - `browser`: events per second in headless Chromium, for each tidings transport and the
//!   JavaScript peers (native `EventSource`; `fetch` + npm `eventsource-parser`), in one page.
//! - `latency`, `memory`, `chaos`, `soak [minutes] [transport]`: the other browser benchmarks
//!   (see `tests/tests/bench.rs`).
//! - `size`: the gzipped release wasm of a minimal Leptos app (`demo/minimal`) without and with
//!   tidings, after `wasm-opt -Oz`.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use crate::process::{self, cargo};

pub(crate) fn run(options: &[String]) -> Result<(), String> {
    let root = crate::root();
    match options.split_first() {
        Some((which, rest)) if which == "wire" => {
            if !rest.is_empty() {
                return Err("`bench wire` takes no options".into());
            }
            process::run(
                "bench wire",
                cargo().current_dir(&root).args([
                    "bench",
                    "-p",
                    "tidings-wire",
                    "--bench",
                    "parse",
                ]),
            )
        }
        Some((which, rest)) if which == "compression" => {
            if !rest.is_empty() {
                return Err("`bench compression` takes no options".into());
            }
            build_load_tools(&root)?;
            process::run(
                "bench compression",
                std::process::Command::new(root.join("target/release/sse-compress"))
                    .current_dir(&root),
            )
        }
        Some((which, counts)) if which == "server" => {
            if let Some(bad) = counts.iter().find(|n| n.parse::<usize>().is_err()) {
                return Err(format!("`bench server` takes client counts, not `{bad}`"));
            }
            build_load_tools(&root)?;
            // The heap of one idle stream's body, each server's, counted by the allocator.
            process::run(
                "stream heap",
                std::process::Command::new(root.join("target/release/stream-heap"))
                    .current_dir(&root),
            )?;
            // The bench profile builds into target/release.
            process::run(
                "bench server",
                std::process::Command::new(root.join("target/release/sse-load"))
                    .current_dir(&root)
                    .args(counts),
            )
        }
        Some((which, rest))
            if [
                "browser", "latency", "memory", "chaos", "frames", "codecs", "http2",
            ]
            .contains(&which.as_str()) =>
        {
            if !rest.is_empty() {
                return Err(format!("`bench {which}` takes no options"));
            }
            let test = if which == "browser" {
                "throughput"
            } else {
                which
            };
            browser(&root, test, &[], Duration::from_secs(1800))
        }
        Some((which, rest)) if which == "scale" => {
            if rest.len() > 1 || rest.iter().any(|n| n.parse::<usize>().is_err()) {
                return Err("`bench scale [clients per server]`".into());
            }
            crate::setup::run()?;
            build_load_tools(&root)?;
            process::run(
                "bench scale",
                std::process::Command::new(root.join("target/release/sse-scale"))
                    .current_dir(&root)
                    .env("PATH", process::tool_path())
                    .args(rest),
            )
        }
        Some((which, rest)) if which == "size" => {
            if !rest.is_empty() {
                return Err("`bench size` takes no options".into());
            }
            size(&root)
        }
        Some((which, rest)) if which == "soak" => {
            let (minutes, transport) = match rest {
                [] => ("60", "fetch"),
                [minutes] => (minutes.as_str(), "fetch"),
                [minutes, transport] => (minutes.as_str(), transport.as_str()),
                _ => return Err("`bench soak [minutes] [eventsource|fetch|polling]`".into()),
            };
            let Ok(length) = minutes.parse::<u64>() else {
                return Err(format!("`bench soak` takes minutes, not `{minutes}`"));
            };
            if !["eventsource", "fetch", "polling"].contains(&transport) {
                return Err(format!(
                    "no transport `{transport}`: eventsource, fetch or polling"
                ));
            }
            browser(
                &root,
                "soak",
                &[
                    ("TIDINGS_SOAK_MINUTES", minutes),
                    ("TIDINGS_SOAK_TRANSPORT", transport),
                ],
                Duration::from_secs(length * 60 + 600),
            )
        }
        _ => Err(
            "which benchmark? `cargo xtask bench wire | server [N ...] | browser | latency \
                  | memory | chaos | soak [minutes] [transport] | size | scale [N]`"
                .into(),
        ),
    }
}

/// Builds the load generators (`demo/load`) and the demo server with the bench profile, which
/// builds into `target/release`.
fn build_load_tools(root: &Path) -> Result<(), String> {
    process::run(
        "build the load tools",
        cargo().current_dir(root).args([
            "build",
            "--profile",
            "bench",
            "-p",
            "sse-load",
            "-p",
            "demo-server",
            "-p",
            "fixture-server",
        ]),
    )
}

/// The fetch peer of the browser benchmark, made of the npm parser's single-file build and our
/// `tests/js/fetch-peer.js`: a browser test page loads one module file per import, and the
/// wasm-bindgen macro reads it at compile time, so it is made before anything compiles the
/// benchmark (lints included). Neither the parser nor the result is committed.
pub(crate) fn assemble_fetch_peer(root: &Path) -> Result<(), String> {
    let read = |path: &Path| {
        std::fs::read_to_string(path).map_err(|e| {
            format!(
                "cannot read {}: {e} (run `cargo xtask setup`)",
                path.display()
            )
        })
    };
    let parser = read(&root.join("node_modules/eventsource-parser/dist/index.js"))?;
    let peer = read(&root.join("tests/js/fetch-peer.js"))?;
    let parser: Vec<&str> = parser
        .lines()
        .filter(|line| !line.starts_with("//# sourceMappingURL"))
        .collect();
    let out = root.join("tests/js/fetch-peer.generated.js");
    std::fs::write(&out, format!("{}\n{peer}", parser.join("\n")))
        .map_err(|e| format!("cannot write {}: {e}", out.display()))
}

/// The demo server of the browser benchmarks, and their page: not the browser tests' ports, so
/// that a benchmark and `cargo xtask test` can run at once.
const BENCH_SERVER: &str = "127.0.0.1:3927";
const BENCH_PAGE: &str = "127.0.0.1:3928";
/// The bench server's HTTPS twin (HTTP/2 by ALPN), for `bench http2`.
const BENCH_TLS_SERVER: &str = "127.0.0.1:3929";

/// The browser benchmark `test` (a test of `tests/tests/bench.rs`) in headless Chromium, against
/// a release build of the demo server, with `env` set at compile time.
/// Starts the bench build of the fixture server on `addr` for the bench page, with no ticker of
/// its own to speak of, room for many streams, and `extra` flags.
fn start_bench_server(
    root: &Path,
    name: &str,
    addr: &str,
    extra: &[&str],
) -> Result<process::Service, String> {
    let page = format!("http://{BENCH_PAGE}");
    let mut args = vec![
        "--addr",
        addr,
        "--cors-origin",
        &page,
        "--tick-interval-ms",
        "3600000",
        "--max-streams-per-client",
        "1000",
    ];
    args.extend_from_slice(extra);
    process::start_server(&root.join("target/release/fixture-server"), name, &args)
}

fn browser(root: &Path, test: &str, env: &[(&str, &str)], timeout: Duration) -> Result<(), String> {
    crate::setup::run()?;
    assemble_fetch_peer(root)?;
    process::run(
        "build the demo server",
        cargo()
            .current_dir(root)
            .args(["build", "--profile", "bench", "-p", "fixture-server"]),
    )?;
    let server_addr: SocketAddr = BENCH_SERVER.parse().map_err(|e| format!("{e}"))?;
    process::ensure_port_free(server_addr)?;
    process::ensure_port_free(BENCH_PAGE.parse().map_err(|e| format!("{e}"))?)?;
    let server = start_bench_server(root, "fixture-server (bench)", BENCH_SERVER, &[])?;
    process::wait_for_http(&server, server_addr, "/api/health", Duration::from_secs(30))?;
    // Its HTTPS twin, with the local certificate (accepted by `acceptInsecureCerts`).
    let _tls_server = if test == "http2" {
        let certificate = crate::tls::local_certificate(root)?;
        let (cert, key) = (
            certificate.cert.to_string_lossy().into_owned(),
            certificate.key.to_string_lossy().into_owned(),
        );
        let tls_addr: SocketAddr = BENCH_TLS_SERVER.parse().map_err(|e| format!("{e}"))?;
        process::ensure_port_free(tls_addr)?;
        let server = start_bench_server(
            root,
            "fixture-server (bench, HTTPS)",
            BENCH_TLS_SERVER,
            &["--tls-cert", &cert, "--tls-key", &key],
        )?;
        process::wait_for_port(tls_addr, Duration::from_secs(30))?;
        Some(server)
    } else {
        None
    };
    let chromedriver = process::find_tool("chromedriver")
        .ok_or("chromedriver is missing: run `cargo xtask setup`")?;
    let mut command = cargo();
    command.envs(env.iter().copied());
    process::run(
        &format!("bench {test}"),
        command
            .current_dir(root)
            .env("PATH", process::tool_path())
            .env_remove("GECKODRIVER")
            .env("CHROMEDRIVER", chromedriver)
            .env("TIDINGS_TEST_SERVER", format!("http://{BENCH_SERVER}"))
            .env(
                "TIDINGS_TEST_TLS_SERVER",
                format!("https://{BENCH_TLS_SERVER}"),
            )
            .env("WASM_BINDGEN_TEST_ADDRESS", BENCH_PAGE)
            // Precise heap figures, and `gc()` for the page to call before it measures.
            .env(
                "WASM_BINDGEN_TEST_WEBDRIVER_JSON",
                root.join("bench-webdriver.json"),
            )
            .env("WASM_BINDGEN_TEST_TIMEOUT", timeout.as_secs().to_string())
            .args([
                "test",
                "--profile",
                "bench",
                "-p",
                "tidings-tests",
                "--target",
                "wasm32-unknown-unknown",
                "--test",
                "bench",
                "--",
                "--nocapture",
                // A substring filter: no benchmark's name holds another's.
                test,
            ]),
    )
}

/// The wasm features rustc enables for `wasm32-unknown-unknown`, for wasm-opt to accept them.
const WASM_FEATURES: [&str; 6] = [
    "--enable-bulk-memory",
    "--enable-multivalue",
    "--enable-mutable-globals",
    "--enable-nontrapping-float-to-int",
    "--enable-reference-types",
    "--enable-sign-ext",
];

/// Builds `demo/minimal` seven ways (a counter; plus a serde_json-decoded value; plus a typed
/// stream and its state through tidings with its default features, with its badge, and with
/// every transport; through leptos-use's `use_event_source`; and through a hand-written web-sys
/// wrapper) as a page would ship it, and prints the sizes side by side: the wasm after
/// `wasm-opt -Oz`, and what a browser downloads, the wasm and wasm-bindgen's JavaScript glue,
/// each gzipped.
fn size(root: &Path) -> Result<(), String> {
    crate::setup::run()?;
    let wasm_bindgen = process::find_tool("wasm-bindgen")
        .ok_or("wasm-bindgen is missing: run `cargo xtask setup`")?;
    let wasm_opt = root.join("node_modules/.bin/wasm-opt");
    let variants = [
        ("Leptos counter", ""),
        ("+ a serde_json-decoded type", "serde"),
        (
            "+ tidings (default features): `use_sse`, `latest::<T>`, its state",
            "tidings",
        ),
        ("+ tidings, the state in `ConnectionBadge`", "tidings-badge"),
        (
            "+ tidings, `ConnectionBadge`, feature `polling` (every transport)",
            "tidings-polling",
        ),
        (
            "+ leptos-use: `use_event_source::<T, JsonSerdeCodec>`, its state",
            "leptos-use",
        ),
        (
            "+ a hand-written web-sys `EventSource`, `serde_json`",
            "websys",
        ),
    ];
    let mut rows = Vec::new();
    for (name, features) in variants {
        process::run(
            &format!("build demo-minimal [{features}]"),
            cargo().current_dir(root).args([
                "build",
                "--release",
                "--target",
                "wasm32-unknown-unknown",
                "-p",
                "demo-minimal",
                "--features",
                features,
            ]),
        )?;
        let out = root.join("target/size").join(if features.is_empty() {
            "plain"
        } else {
            features
        });
        process::run(
            "wasm-bindgen",
            std::process::Command::new(&wasm_bindgen)
                .arg("--target")
                .arg("web")
                .arg("--no-typescript")
                .arg("--out-dir")
                .arg(&out)
                .arg(root.join("target/wasm32-unknown-unknown/release/demo-minimal.wasm")),
        )?;
        let optimized = out.join("optimized.wasm");
        process::run(
            "wasm-opt -Oz",
            std::process::Command::new(&wasm_opt)
                .arg("-Oz")
                .args(WASM_FEATURES)
                .arg(out.join("demo-minimal_bg.wasm"))
                .arg("-o")
                .arg(&optimized),
        )?;
        let bytes =
            std::fs::read(&optimized).map_err(|e| format!("{}: {e}", optimized.display()))?;
        let shipped = gzip_len(&optimized)? + gzip_len(&out.join("demo-minimal.js"))?;
        rows.push((name, features, bytes.len(), shipped));
    }
    let kib = |bytes: usize| bytes as f64 / 1024.0;
    println!(
        "| build | wasm, `wasm-opt -Oz` | shipped: wasm + JS, each gzipped | over the counter | over `serde_json` |"
    );
    println!("| --- | ---: | ---: | ---: | ---: |");
    let (base, typed) = (rows[0].3, rows[1].3);
    for (name, features, raw, shipped) in &rows {
        // The stream builds decode JSON too: what they add beyond a typed app is the cost.
        let over_serde = if features.is_empty() || *features == "serde" {
            String::new()
        } else {
            format!("**{:+.1} KiB**", kib(*shipped) - kib(typed))
        };
        println!(
            "| {name} | {:.1} KiB | {:.1} KiB | {:+.1} KiB | {over_serde} |",
            kib(*raw),
            kib(*shipped),
            kib(*shipped) - kib(base)
        );
    }
    Ok(())
}

/// The size of `path` compressed by `gzip -9`.
fn gzip_len(path: &Path) -> Result<usize, String> {
    let output = std::process::Command::new("gzip")
        .args(["-9", "-c"])
        .arg(path)
        .output()
        .map_err(|e| format!("cannot run gzip: {e}"))?;
    if !output.status.success() {
        return Err(format!("gzip failed on {}", path.display()));
    }
    Ok(output.stdout.len())
}
