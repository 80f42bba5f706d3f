//! `cargo xtask demo`: the demo server and `trunk serve`, one origin through trunk's proxy.

use std::net::SocketAddr;
use std::time::Duration;

use crate::process::{self, tool_path};

/// Where the demo server listens: `Trunk.toml`'s proxy points here.
const API_ADDR: &str = "127.0.0.1:3000";
/// Where `trunk serve` listens (`Trunk.toml`).
const APP_URL: &str = "http://127.0.0.1:8080";

pub(crate) fn run(options: &[String]) -> Result<(), String> {
    let release = options.iter().any(|o| o == "--release");
    if let Some(unknown) = options.iter().find(|o| *o != "--release") {
        return Err(format!("unknown option `{unknown}` for demo"));
    }
    crate::setup::run()?;
    let root = crate::root();
    let api: SocketAddr = API_ADDR.parse().map_err(|e| format!("{e}"))?;
    process::ensure_port_free(api)?;
    process::ensure_port_free("127.0.0.1:8080".parse().map_err(|e| format!("{e}"))?)?;

    println!("== demo: building the demo server");
    process::build_demo_server()?;
    // Fault injection on: the demo's chaos panel uses it.
    let server = process::start_demo_server("demo-server", &["--addr", API_ADDR, "--faults"])?;
    process::wait_for_http(&server, api, "/api/health", Duration::from_secs(30))?;

    println!("== demo: trunk serve (Ctrl-C stops both)");
    println!("\n    open {APP_URL}\n");
    let mut trunk = std::process::Command::new("trunk");
    trunk
        .env("PATH", tool_path())
        .env("TRUNK_SKIP_VERSION_CHECK", "true")
        .current_dir(&root)
        .arg("serve");
    if release {
        trunk.arg("--release");
    }
    // trunk runs in the foreground; the server is stopped when it ends (or on Ctrl-C).
    let outcome = process::run("trunk serve", &mut trunk);
    drop(server);
    outcome
}
