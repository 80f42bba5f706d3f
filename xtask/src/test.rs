//! `cargo xtask test`: every check CI runs, in order, each step named and timed. It stops at
//! the first failure, naming the step, and leaves nothing running.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::process::{self, Service, cargo, tool_path};

/// The demo server the browser tests talk to (baked into them at compile time).
const TEST_SERVER: &str = "127.0.0.1:3917";
/// The same over HTTPS (HTTP/2 by ALPN), for the browser tests that need it.
const TLS_TEST_SERVER: &str = "127.0.0.1:3925";
/// The origin of wasm-bindgen-test-runner's page, which the test server allows by CORS.
const TEST_PAGE: &str = "127.0.0.1:3918";
/// The demo server that serves the trunk-built app for the end-to-end tests.
const E2E_SERVER: &str = "127.0.0.1:3919";
/// ChromeDriver for the end-to-end tests.
const WEBDRIVER: &str = "127.0.0.1:9515";
/// The server-rendered demo of the SSR end-to-end tests, and geckodriver for their Firefox half.
const SSR_SERVER: &str = "127.0.0.1:3921";
const GECKO_WEBDRIVER: &str = "127.0.0.1:4444";
/// The third-party SSE server of the browser interop tests (sse-starlette on uvicorn), and the
/// control port of its supervisor, which kills and restarts it on request.
const PEER_SERVER: &str = "127.0.0.1:3923";
const PEER_CONTROL: &str = "127.0.0.1:3924";

/// How long each fuzz target runs in `cargo xtask test`; `cargo xtask fuzz` runs longer.
const FUZZ_SECONDS: u32 = 30;

/// Each library crate with every set of its features a user can pick, linted alone: in the
/// workspace, features unify across crates (the tests turn on `redis`), which hid dead code.
const FEATURE_SETS: [(&str, &[&str]); 3] = [
    ("tidings-wire", &["", "json", "base64", "postcard"]),
    ("tidings", &["", "ssr", "polling"]),
    (
        "tidings-axum",
        &["", "testing", "redis", "redis,testing", "compression"],
    ),
];

/// Crates that build for the browser.
const WASM_CRATES: [&str; 4] = ["tidings-wire", "tidings", "demo-events", "demo-app"];

pub(crate) fn run(options: &[String]) -> Result<(), String> {
    let skip_setup = options.iter().any(|o| o == "--skip-setup");
    if let Some(unknown) = options.iter().find(|o| *o != "--skip-setup") {
        return Err(format!("unknown option `{unknown}` for test"));
    }
    if !skip_setup {
        crate::setup::run()?;
    }
    let root = crate::root();
    std::fs::create_dir_all(root.join("target/xtask")).map_err(|e| e.to_string())?;
    // A full run needs about 5 GiB; a machine short of it fails mid-build, so say so first.
    println!("== test: {} free on the disk", free_disk(&root));
    let mut steps = Steps::default();

    steps.run("fmt", || {
        process::run(
            "fmt",
            cargo().current_dir(&root).args(["fmt", "--all", "--check"]),
        )
    })?;
    steps.run("clippy (native)", || {
        process::run(
            "clippy (native)",
            cargo().current_dir(&root).args([
                "clippy",
                "--workspace",
                "--exclude",
                "demo-app",
                "--all-targets",
                "--",
                "-D",
                "warnings",
            ]),
        )?;
        process::run(
            "clippy (native, ssr)",
            cargo().current_dir(&root).args([
                "clippy",
                "-p",
                "tidings",
                "--features",
                "ssr",
                "--all-targets",
                "--",
                "-D",
                "warnings",
            ]),
        )?;
        clippy(
            &root,
            "clippy (demo-ssr, ssr)",
            &["-p", "demo-ssr", "--features", "ssr", "--all-targets"],
        )
    })?;
    steps.run("clippy (each library crate, each feature set)", || {
        for (krate, sets) in FEATURE_SETS {
            for features in sets {
                clippy(
                    &root,
                    &format!("clippy ({krate}, features [{features}])"),
                    &["-p", krate, "--no-default-features", "--features", features],
                )?;
            }
        }
        Ok(())
    })?;
    steps.run("clippy (wasm32)", || {
        // The browser benchmark's JavaScript peer is read at compile time: make it first.
        crate::bench::assemble_fetch_peer(&root)?;
        let mut command = cargo();
        command
            .current_dir(&root)
            .args(["clippy", "--target", "wasm32-unknown-unknown"]);
        for krate in WASM_CRATES {
            command.args(["-p", krate]);
        }
        process::run("clippy (wasm32)", command.args(["--", "-D", "warnings"]))?;
        clippy(
            &root,
            "clippy (wasm32, demo-ssr hydrate)",
            &[
                "--target",
                "wasm32-unknown-unknown",
                "-p",
                "demo-ssr",
                "--features",
                "hydrate",
            ],
        )?;
        // The size benchmark's app, in each of its builds.
        // (`tidings` lints tidings itself for the browser with its default features, without
        // polling; `tidings-polling` with it.)
        for features in ["", "serde", "tidings", "tidings-polling"] {
            clippy(
                &root,
                "clippy (wasm32, demo-minimal)",
                &[
                    "--target",
                    "wasm32-unknown-unknown",
                    "-p",
                    "demo-minimal",
                    "--features",
                    features,
                ],
            )?;
        }
        process::run(
            "clippy (wasm32 tests)",
            cargo().current_dir(&root).args([
                "clippy",
                "--target",
                "wasm32-unknown-unknown",
                "-p",
                "tidings-tests",
                "--tests",
                "--",
                "-D",
                "warnings",
            ]),
        )
    })?;
    steps.run("docs", || {
        // Every link must hold with the default features and with every optional part, as
        // docs.rs builds it (`all-features`).
        let docs = |what: &str, args: &[&str]| {
            process::run(
                what,
                cargo()
                    .current_dir(&root)
                    .env("RUSTDOCFLAGS", "-D warnings")
                    .args(["doc", "--no-deps"])
                    .args(args),
            )
        };
        docs("docs", &["-p", "tidings-wire", "-p", "tidings"])?;
        docs(
            "docs (tidings, polling)",
            &["-p", "tidings", "--features", "polling"],
        )?;
        docs(
            "docs (tidings-axum, every feature)",
            &[
                "-p",
                "tidings-axum",
                "--features",
                "redis,testing,compression",
            ],
        )?;
        docs(
            "docs (tidings-wire, every feature)",
            &["-p", "tidings-wire", "--features", "postcard"],
        )
    })?;
    steps.run(
        "package the crates; a browser app (oldest wasm-bindgen) and a server on them",
        || packaged_apps(&root),
    )?;
    steps.run("native tests", || {
        process::run("native tests", cargo().current_dir(&root).arg("test"))?;
        // Server-side rendering: the test only exists with the feature on.
        process::run(
            "server-side rendering",
            cargo().current_dir(&root).args([
                "test",
                "-p",
                "tidings",
                "--features",
                "ssr",
                "--test",
                "ssr",
            ]),
        )?;
        // A real leptos_axum server on a multi-threaded runtime, rendering pages with tidings.
        process::run(
            "server-side rendering (leptos_axum, multi-threaded)",
            cargo().current_dir(&root).args([
                "test",
                "-p",
                "demo-ssr",
                "--features",
                "ssr",
                "--",
                "--nocapture",
            ]),
        )
    })?;
    steps.run("fuzz the parser (short)", || fuzz(&root, FUZZ_SECONDS))?;
    steps.run("build demo server and app", || {
        process::build_demo_server()?;
        // A debug build: it shares its dependencies with the browser tests' build, where a
        // release build (LTO, size-optimised) cost CI minutes for nothing the end-to-end
        // tests check. The release build's size is `cargo xtask bench size`'s business.
        process::run(
            "trunk build",
            Command::new("trunk")
                .current_dir(&root)
                .env("PATH", tool_path())
                .env("TRUNK_SKIP_VERSION_CHECK", "true")
                .arg("build"),
        )
    })?;
    steps.run("browser tests (Chromium, Firefox)", || browser_tests(&root))?;
    steps.run("interop tests (third-party clients)", || {
        process::run(
            "interop tests",
            cargo()
                .current_dir(&root)
                .env(
                    "TIDINGS_INTEROP_PYTHON",
                    root.join(crate::setup::VENV).join("bin/python"),
                )
                .args([
                    "test",
                    "-p",
                    "tidings-tests",
                    "--test",
                    "interop",
                    "--",
                    "--include-ignored",
                    "--nocapture",
                ]),
        )
    })?;
    steps.run("end-to-end tests (Chromium)", || e2e_tests(&root))?;
    steps.run(
        "server-rendered demo end-to-end (Chromium, Firefox)",
        || ssr_e2e_tests(&root),
    )?;
    steps.summary();
    Ok(())
}

/// Runs `cargo clippy <args> -- -D warnings` in the workspace as the step part `name`.
fn clippy(root: &Path, name: &str, args: &[&str]) -> Result<(), String> {
    process::run(
        name,
        cargo()
            .current_dir(root)
            .arg("clippy")
            .args(args)
            .args(["--", "-D", "warnings"]),
    )
}

/// The wasm-bindgen-test suite in each browser, against a live demo server.
fn browser_tests(root: &Path) -> Result<(), String> {
    let server_addr: SocketAddr = TEST_SERVER.parse().map_err(|e| format!("{e}"))?;
    process::ensure_port_free(server_addr)?;
    process::ensure_port_free(TEST_PAGE.parse().map_err(|e| format!("{e}"))?)?;
    let page = format!("http://{TEST_PAGE}");
    let flags = process::test_server_flags();
    let mut args = vec![
        "--addr",
        TEST_SERVER,
        "--cors-origin",
        &page,
        "--tick-interval-ms",
        "50",
        // Every stream of the suite in gzip, each write flushed: the suite checks that nothing
        // is held back, on top of what it checks anyway.
        "--compress",
    ];
    args.extend(flags.iter().map(String::as_str));
    let server = process::start_fixture_server("fixture-server (browser tests)", &args)?;
    process::wait_for_http(&server, server_addr, "/api/health", Duration::from_secs(30))?;
    // Its twin over HTTPS and HTTP/2, with the local certificate (the browsers accept it:
    // `acceptInsecureCerts` in webdriver.json).
    let certificate = crate::tls::local_certificate(root)?;
    let (cert, key) = (
        certificate.cert.to_string_lossy().into_owned(),
        certificate.key.to_string_lossy().into_owned(),
    );
    let tls_addr: SocketAddr = TLS_TEST_SERVER.parse().map_err(|e| format!("{e}"))?;
    process::ensure_port_free(tls_addr)?;
    let mut tls_args = vec![
        "--addr",
        TLS_TEST_SERVER,
        "--cors-origin",
        &page,
        "--tick-interval-ms",
        "50",
        "--tls-cert",
        &cert,
        "--tls-key",
        &key,
    ];
    tls_args.extend(flags.iter().map(String::as_str));
    let tls_server = process::start_fixture_server("fixture-server (HTTPS)", &tls_args)?;
    process::wait_for_port(tls_addr, Duration::from_secs(30))?;
    let peer = start_peer_server(root)?;

    // The drivers setup checked, found the same way.
    let chromedriver = process::find_tool("chromedriver")
        .ok_or("chromedriver is missing: run `cargo xtask setup`")?;
    let geckodriver = process::find_tool("geckodriver")
        .ok_or("geckodriver is missing: run `cargo xtask setup`")?;
    let browsers: [(&str, &str, &std::ffi::OsStr, &str); 2] = [
        (
            "Chromium",
            "CHROMEDRIVER",
            chromedriver.as_os_str(),
            "GECKODRIVER",
        ),
        (
            "Firefox",
            "GECKODRIVER",
            geckodriver.as_os_str(),
            "CHROMEDRIVER",
        ),
    ];
    for (browser, driver_var, driver, other_var) in browsers {
        println!("-- browser tests in {browser}");
        // The runner picks GECKODRIVER before CHROMEDRIVER: set exactly one.
        let mut command = cargo();
        command
            .current_dir(root)
            .env("PATH", tool_path())
            .env_remove(other_var)
            .env(driver_var, driver)
            .env("TIDINGS_TEST_SERVER", format!("http://{TEST_SERVER}"))
            .env(
                "TIDINGS_TEST_TLS_SERVER",
                format!("https://{TLS_TEST_SERVER}"),
            )
            .env("TIDINGS_PEER_SERVER", format!("http://{PEER_SERVER}"))
            .env("TIDINGS_PEER_CONTROL", format!("http://{PEER_CONTROL}"))
            .env("WASM_BINDGEN_TEST_ADDRESS", TEST_PAGE)
            .env(
                "WASM_BINDGEN_TEST_WEBDRIVER_JSON",
                root.join("webdriver.json"),
            )
            .env("WASM_BINDGEN_TEST_TIMEOUT", "180")
            .args([
                "test",
                "-p",
                "tidings-tests",
                "--target",
                "wasm32-unknown-unknown",
                "--test",
                "browser",
            ]);
        process::run(&format!("browser tests in {browser}"), &mut command)?;
        server.check_running()?;
        tls_server.check_running()?;
        peer.check_running()?;
    }
    Ok(())
}

/// Starts the third-party SSE server of the interop browser tests under its supervisor (which
/// stops it with itself), allowing the test page's origin.
fn start_peer_server(root: &Path) -> Result<Service, String> {
    let control: SocketAddr = PEER_CONTROL.parse().map_err(|e| format!("{e}"))?;
    let server: SocketAddr = PEER_SERVER.parse().map_err(|e| format!("{e}"))?;
    process::ensure_port_free(server)?;
    process::ensure_port_free(control)?;
    let mut command = Command::new(root.join(crate::setup::VENV).join("bin/python"));
    command
        .arg(root.join("tests/interop/supervisor.py"))
        .args(["--port", &server.port().to_string()])
        .args(["--control", &control.port().to_string()])
        .args(["--allow-origin", &format!("http://{TEST_PAGE}")])
        .args(["--lifetime", "3600"]);
    let peer = Service::start(
        "sse-starlette peer server",
        command,
        &root.join("target/xtask/peer-server.log"),
    )?;
    process::wait_for_http(&peer, control, "/health", Duration::from_secs(30))?;
    Ok(peer)
}

/// The end-to-end tests: the release build of the app, served by the demo server, in Chromium.
fn e2e_tests(root: &Path) -> Result<(), String> {
    let server_addr: SocketAddr = E2E_SERVER.parse().map_err(|e| format!("{e}"))?;
    let driver_addr: SocketAddr = WEBDRIVER.parse().map_err(|e| format!("{e}"))?;
    process::ensure_port_free(server_addr)?;
    process::ensure_port_free(driver_addr)?;
    let dist = root.join("dist");
    let dist = dist.to_string_lossy();
    let flags = process::test_server_flags();
    let mut args = vec![
        "--addr",
        E2E_SERVER,
        "--dist",
        &dist,
        "--tick-interval-ms",
        "200",
        "--chaos-token",
        process::TEST_CHAOS_TOKEN,
    ];
    args.extend(flags.iter().map(String::as_str));
    let server = process::start_fixture_server("fixture-server (end-to-end)", &args)?;
    process::wait_for_http(&server, server_addr, "/api/health", Duration::from_secs(30))?;
    let driver = start_webdriver(root, "chromedriver", driver_addr, "chromedriver.log")?;
    process::run(
        "end-to-end tests",
        cargo()
            .current_dir(root)
            .env("TIDINGS_DEMO_URL", format!("http://{E2E_SERVER}"))
            .env("TIDINGS_DEMO_USERS", process::TEST_ACCOUNTS)
            .env("TIDINGS_CHAOS_TOKEN", process::TEST_CHAOS_TOKEN)
            .env("TIDINGS_WEBDRIVER_URL", format!("http://{WEBDRIVER}"))
            .args([
                "test",
                "-p",
                "tidings-tests",
                "--test",
                "e2e",
                "--",
                "--ignored",
                "--test-threads=1",
            ]),
    )?;
    drop(driver);
    drop(server);
    Ok(())
}

/// Starts the WebDriver `name` (chromedriver or geckodriver, as setup installed it) on `addr`,
/// logging to `target/xtask/<log>`, and waits until it answers.
fn start_webdriver(
    root: &Path,
    name: &str,
    addr: SocketAddr,
    log: &str,
) -> Result<Service, String> {
    let program =
        process::find_tool(name).ok_or(format!("{name} is missing: run `cargo xtask setup`"))?;
    let mut command = Command::new(program);
    command.arg(format!("--port={}", addr.port()));
    let driver = Service::start(name, command, &root.join("target/xtask").join(log))?;
    process::wait_for_http(&driver, addr, "/status", Duration::from_secs(30))?;
    Ok(driver)
}

/// The server-rendered demo, hydrated in Chromium and Firefox while its ticker publishes 100
/// events a second.
fn ssr_e2e_tests(root: &Path) -> Result<(), String> {
    crate::ssr::build(root)?;
    let flags = process::test_server_flags();
    let mut args = vec!["--tick-interval-ms", "10"];
    args.extend(flags.iter().map(String::as_str));
    let server = crate::ssr::start(root, "demo-ssr (end-to-end)", SSR_SERVER, &args)?;
    let mut drivers = Vec::new();
    for (name, addr) in [
        ("chromedriver", WEBDRIVER),
        ("geckodriver", GECKO_WEBDRIVER),
    ] {
        let socket: SocketAddr = addr.parse().map_err(|e| format!("{e}"))?;
        process::ensure_port_free(socket)?;
        drivers.push(start_webdriver(
            root,
            name,
            socket,
            &format!("{name}-ssr.log"),
        )?);
    }
    process::run(
        "server-rendered demo end-to-end tests",
        cargo()
            .current_dir(root)
            .env("TIDINGS_SSR_URL", format!("http://{SSR_SERVER}"))
            .env("TIDINGS_DEMO_USERS", process::TEST_ACCOUNTS)
            .env("TIDINGS_CHROMIUM_WEBDRIVER", format!("http://{WEBDRIVER}"))
            .env(
                "TIDINGS_FIREFOX_WEBDRIVER",
                format!("http://{GECKO_WEBDRIVER}"),
            )
            .args([
                "test",
                "-p",
                "tidings-tests",
                "--test",
                "ssr",
                "--",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ]),
    )?;
    server.check_running()?;
    drop(drivers);
    drop(server);
    Ok(())
}

/// The steps run so far, with their times, for the closing summary.
#[derive(Default)]
struct Steps {
    done: Vec<(&'static str, Duration)>,
}

impl Steps {
    fn run(
        &mut self,
        name: &'static str,
        step: impl FnOnce() -> Result<(), String>,
    ) -> Result<(), String> {
        println!("\n== test: {name}");
        let started = Instant::now();
        step().map_err(|e| format!("step `{name}` failed: {e}"))?;
        println!("== test: {name} passed in {}", process::elapsed(started));
        self.done.push((name, started.elapsed()));
        Ok(())
    }

    fn summary(&self) {
        println!(
            "\n== test: every step passed ({} free on the disk)",
            free_disk(&crate::root())
        );
        for (name, took) in &self.done {
            println!("  {name:<36} {:>7.1} s", took.as_secs_f64());
        }
    }
}

/// The space left on the disk that holds `dir`, as `df` reports it.
fn free_disk(dir: &Path) -> String {
    Command::new("df")
        .args(["-h", "--output=avail"])
        .arg(dir)
        .output()
        .ok()
        .and_then(|out| {
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            text.lines().nth(1).map(|line| line.trim().to_owned())
        })
        .unwrap_or_else(|| "an unknown amount".to_owned())
}

/// Fuzzes the parser's targets (`fuzz/`) for `seconds` each, starting from the committed seeds
/// and whatever corpus earlier runs left in `fuzz/corpus`. A finding fails the step and leaves
/// its input in `fuzz/artifacts`.
///
/// cargo-fuzz wants nightly `-Z` flags, and this machine has one stable toolchain:
/// `RUSTC_BOOTSTRAP=1` lets it accept them, and without a sanitizer (the parser forbids unsafe
/// code) nothing else nightly is needed.
pub(crate) fn fuzz(root: &Path, seconds: u32) -> Result<(), String> {
    let dir = root.join("fuzz");
    for target in ["parse", "round_trip"] {
        let corpus = dir.join("corpus").join(target);
        std::fs::create_dir_all(&corpus).map_err(|e| format!("{}: {e}", corpus.display()))?;
        process::run(
            &format!("fuzz {target}"),
            cargo()
                .current_dir(&dir)
                .env("RUSTC_BOOTSTRAP", "1")
                .env("PATH", tool_path())
                .args(["fuzz", "run", target, "--sanitizer", "none"])
                .arg(&corpus)
                .arg(dir.join("seeds"))
                .arg("--")
                .arg(format!("-max_total_time={seconds}"))
                .arg("-print_final_stats=1"),
        )?;
    }
    Ok(())
}

/// The oldest wasm-bindgen the client takes, which an app may pin (the project itself builds
/// with a newer one): see the workspace manifest.
const WASM_BINDGEN_FLOOR: &str = "0.2.114";

/// The library crates, in the order they depend on each other.
const LIBRARY_CRATES: [&str; 3] = ["tidings-wire", "tidings", "tidings-axum"];

/// Packages the library crates as `cargo publish` would (`cargo package`), then checks two
/// scratch apps outside the workspace on the packaged crates (so a file missing from a package
/// fails here), each resolved afresh (its own lockfile), as an app's would be:
/// - a browser app on the client crates, pinned to wasm-bindgen [`WASM_BINDGEN_FLOOR`] (an exact
///   pin in the library once made every other version unresolvable);
/// - a server on `tidings-axum` with its `redis` feature.
///
/// They share the workspace's target directory: most of what they build is built already.
pub(crate) fn packaged_apps(root: &Path) -> Result<(), String> {
    let mut package = cargo();
    package
        .current_dir(root)
        .args(["package", "--no-verify", "--allow-dirty"]);
    for krate in LIBRARY_CRATES {
        package.args(["-p", krate]);
    }
    process::run("cargo package", &mut package)?;
    let scratch = root.join("target/scratch-apps");
    let packages = scratch.join("packages");
    let _ = std::fs::remove_dir_all(&packages);
    std::fs::create_dir_all(&packages).map_err(|e| e.to_string())?;
    let version = env!("CARGO_PKG_VERSION");
    for krate in LIBRARY_CRATES {
        let file = root.join(format!("target/package/{krate}-{version}.crate"));
        process::run(
            &format!("unpack {krate}"),
            std::process::Command::new("tar")
                .arg("-xzf")
                .arg(&file)
                .arg("-C")
                .arg(&packages),
        )?;
    }
    let patch = LIBRARY_CRATES
        .iter()
        .map(|krate| {
            let path = packages.join(format!("{krate}-{version}"));
            format!("{krate} = {{ path = \"{}\" }}\n", path.display())
        })
        .collect::<String>();
    let browser = scratch_app(
        root,
        &scratch.join("browser"),
        &format!(
            r#"tidings = "{version}"
tidings-wire = "{version}"
leptos = {{ version = "0.8", features = ["csr"] }}
serde = {{ version = "1", features = ["derive"] }}
wasm-bindgen = "={WASM_BINDGEN_FLOOR}"
"#
        ),
        &patch,
        BROWSER_APP,
        Some("wasm32-unknown-unknown"),
    )?;
    let pinned = format!("name = \"wasm-bindgen\"\nversion = \"{WASM_BINDGEN_FLOOR}\"");
    if !browser.contains(&pinned) {
        return Err(format!(
            "the scratch app did not build with wasm-bindgen {WASM_BINDGEN_FLOOR}"
        ));
    }
    scratch_app(
        root,
        &scratch.join("server"),
        &format!(
            r#"tidings-axum = {{ version = "{version}", features = ["redis"] }}
tidings-wire = "{version}"
axum = "0.8"
tokio = {{ version = "1", features = ["macros", "net", "rt-multi-thread"] }}
serde = {{ version = "1", features = ["derive"] }}
"#
        ),
        &patch,
        SERVER_APP,
        None,
    )?;
    Ok(())
}

/// A page of a browser app on the packaged client crates.
const BROWSER_APP: &str = r#"use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use tidings::{ConnectionBadge, use_sse};

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Tick {
    pub price: f64,
}

impl tidings_wire::TypedEvent for Tick {
    const NAME: &'static str = "tick";
}

#[component]
pub fn Ticker() -> impl IntoView {
    let sse = use_sse("/api/ticker");
    let tick = sse.latest::<Tick>();
    view! {
        <ConnectionBadge sse=sse />
        <p>{move || tick.get().map(|tick| tick.price)}</p>
    }
}
"#;

/// A server on the packaged `tidings-axum`: a channel in memory or in Redis, its routes, typed
/// publishing.
const SERVER_APP: &str = r#"use serde::{Deserialize, Serialize};
use tidings_axum::redis::{RedisChannel, RedisConfig};
use tidings_axum::{AnyChannel, Channel};

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Tick {
    pub price: f64,
}

impl tidings_wire::TypedEvent for Tick {
    const NAME: &'static str = "tick";
}

pub async fn serve(redis: Option<&str>) -> Result<(), Box<dyn std::error::Error>> {
    let ticker: AnyChannel = match redis {
        Some(url) => RedisChannel::open(RedisConfig::new(url, "ticker"))?.into(),
        None => Channel::new().into(),
    };
    let app = ticker.routes("/api/ticker");
    ticker.publish(&Tick { price: 101.5 }).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    axum::serve(listener, app).await?;
    Ok(())
}
"#;

/// Writes a library crate at `dir` with `dependencies`, the packaged crates patched in, and
/// `source` as its `lib.rs`; resolves it afresh and checks it (for `target`, if given). Returns
/// its lockfile.
fn scratch_app(
    root: &Path,
    dir: &Path,
    dependencies: &str,
    patch: &str,
    source: &str,
    target: Option<&str>,
) -> Result<String, String> {
    let name = dir
        .file_name()
        .and_then(|name| name.to_str())
        .unwrap_or("scratch");
    std::fs::create_dir_all(dir.join("src")).map_err(|e| e.to_string())?;
    let msrv = workspace_rust_version(root)?;
    let manifest = format!(
        r#"[package]
name = "scratch-{name}"
version = "0.1.0"
edition = "2024"
# An app on the libraries' MSRV: the resolver picks dependencies that build with it.
rust-version = "{msrv}"
publish = false

[dependencies]
{dependencies}
# The crates as packaged (cargo package), in place of crates.io.
[patch.crates-io]
{patch}
# Not part of the tidings workspace: resolved as an app's would be.
[workspace]
"#
    );
    std::fs::write(dir.join("Cargo.toml"), manifest).map_err(|e| e.to_string())?;
    std::fs::write(dir.join("src/lib.rs"), source).map_err(|e| e.to_string())?;
    // Resolved afresh each time, as a new app's would be.
    let _ = std::fs::remove_file(dir.join("Cargo.lock"));
    let mut check = cargo();
    check
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", root.join("target"))
        .arg("check");
    if let Some(target) = target {
        check.args(["--target", target]);
    }
    process::run(&format!("cargo check (scratch {name} app)"), &mut check)?;
    check_msrv(dir, target, &msrv)?;
    std::fs::read_to_string(dir.join("Cargo.lock")).map_err(|e| e.to_string())
}

/// The workspace's `rust-version`: the libraries' MSRV.
fn workspace_rust_version(root: &Path) -> Result<String, String> {
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).map_err(|e| e.to_string())?;
    manifest
        .lines()
        .find_map(|line| {
            let value = line.strip_prefix("rust-version")?.trim_start();
            Some(value.strip_prefix('=')?.trim().trim_matches('"').to_owned())
        })
        .ok_or_else(|| "no rust-version in the workspace manifest".to_owned())
}

/// The MSRV check this machine can make with its one toolchain: every package the app at `dir`
/// resolved to declares a `rust-version` no newer than `msrv` (clippy's `incompatible_msrv`
/// lint checks the libraries' own code against it).
fn check_msrv(dir: &Path, target: Option<&str>, msrv: &str) -> Result<(), String> {
    let mut metadata = cargo();
    metadata
        .current_dir(dir)
        .args(["metadata", "--format-version", "1"]);
    if let Some(target) = target {
        metadata.args(["--filter-platform", target]);
    }
    let output = metadata
        .output()
        .map_err(|e| format!("cannot run cargo metadata: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let metadata: serde_json::Value =
        serde_json::from_slice(&output.stdout).map_err(|e| format!("cargo metadata: {e}"))?;
    let version = |text: &str| -> Vec<u64> {
        text.split('.')
            .map(|part| part.parse().unwrap_or(0))
            .chain(std::iter::repeat(0))
            .take(3)
            .collect()
    };
    let newer: Vec<String> = metadata["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|package| {
            let needs = package["rust_version"].as_str()?;
            (version(needs) > version(msrv)).then(|| {
                format!(
                    "{} {} (rust-version {needs})",
                    package["name"].as_str().unwrap_or("?"),
                    package["version"].as_str().unwrap_or("?")
                )
            })
        })
        .collect();
    if newer.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "an app on Rust {msrv} resolves to dependencies that need a newer Rust: {}",
            newer.join(", ")
        ))
    }
}
