//! `cargo xtask bench ...`: the benchmarks, each printing its figures.
//!
//! - `wire`: the parser against `eventsource-stream` (criterion).
//! - `server [N ...]`: N concurrent SSE clients on the demo server (default 1000 and 10000):
//!   memory per connection and delivery latency.
//! - `browser`: events per second in headless Chromium, for each tidings transport and the
//!   JavaScript peers (native `EventSource`; `fetch` + npm `eventsource-parser`), in one page.

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
        Some((which, counts)) if which == "server" => {
            if let Some(bad) = counts.iter().find(|n| n.parse::<usize>().is_err()) {
                return Err(format!("`bench server` takes client counts, not `{bad}`"));
            }
            process::run(
                "build the load test",
                cargo().current_dir(&root).args([
                    "build",
                    "--profile",
                    "bench",
                    "-p",
                    "sse-load",
                    "-p",
                    "demo-server",
                ]),
            )?;
            // The bench profile builds into target/release.
            process::run(
                "bench server",
                std::process::Command::new(root.join("target/release/sse-load"))
                    .current_dir(&root)
                    .args(counts),
            )
        }
        Some((which, rest)) if which == "browser" => {
            if !rest.is_empty() {
                return Err("`bench browser` takes no options".into());
            }
            browser(&root)
        }
        _ => Err("which benchmark? `cargo xtask bench wire | server [N ...] | browser`".into()),
    }
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

/// The browser benchmark, against a release build of the demo server.
fn browser(root: &Path) -> Result<(), String> {
    crate::setup::run()?;
    assemble_fetch_peer(root)?;
    process::run(
        "build the demo server",
        cargo()
            .current_dir(root)
            .args(["build", "--profile", "bench", "-p", "demo-server"]),
    )?;
    let server_addr: SocketAddr = "127.0.0.1:3917".parse().map_err(|e| format!("{e}"))?;
    process::ensure_port_free(server_addr)?;
    process::ensure_port_free("127.0.0.1:3918".parse().map_err(|e| format!("{e}"))?)?;
    let server = process::start_server(
        &root.join("target/release/demo-server"),
        "demo-server (bench)",
        &[
            "--addr",
            "127.0.0.1:3917",
            "--cors-origin",
            "http://127.0.0.1:3918",
            "--tick-interval-ms",
            "3600000",
            "--faults",
        ],
    )?;
    process::wait_for_http(&server, server_addr, "/api/health", Duration::from_secs(30))?;
    let chromedriver = process::find_tool("chromedriver")
        .ok_or("chromedriver is missing: run `cargo xtask setup`")?;
    process::run(
        "bench browser",
        cargo()
            .current_dir(root)
            .env("PATH", process::tool_path())
            .env_remove("GECKODRIVER")
            .env("CHROMEDRIVER", chromedriver)
            .env("TIDINGS_TEST_SERVER", "http://127.0.0.1:3917")
            .env("WASM_BINDGEN_TEST_ADDRESS", "127.0.0.1:3918")
            .env(
                "WASM_BINDGEN_TEST_WEBDRIVER_JSON",
                root.join("webdriver.json"),
            )
            .env("WASM_BINDGEN_TEST_TIMEOUT", "600")
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
            ]),
    )
}
