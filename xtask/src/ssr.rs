//! The server-rendered demo (`demo/ssr`): its build, made of the steps `cargo leptos build`
//! takes (the browser half as wasm through wasm-bindgen into the site's `pkg/`, then the server
//! binary), with the wasm-bindgen CLI that setup pins to the library's version.

use std::path::Path;
use std::time::Duration;

use crate::process::{self, Service, cargo};

/// The site the server serves: `pkg/` holds the browser build and the stylesheet.
pub(crate) const SITE: &str = "target/site";
/// The name `LeptosOptions::output_name` gives the browser build's files.
const OUTPUT_NAME: &str = "demo-ssr";

/// Builds the browser half (release, as it ships) and the server (debug).
pub(crate) fn build(root: &Path) -> Result<(), String> {
    process::run(
        "build demo-ssr (hydrate, wasm32)",
        cargo().current_dir(root).args([
            "build",
            "-p",
            "demo-ssr",
            "--lib",
            "--target",
            "wasm32-unknown-unknown",
            "--features",
            "hydrate",
            "--release",
        ]),
    )?;
    let wasm_bindgen = process::find_tool("wasm-bindgen")
        .ok_or("wasm-bindgen is missing: run `cargo xtask setup`")?;
    let pkg = root.join(SITE).join("pkg");
    process::run(
        "wasm-bindgen (demo-ssr)",
        std::process::Command::new(wasm_bindgen)
            .current_dir(root)
            .args([
                "--target",
                "web",
                "--no-typescript",
                "--out-name",
                OUTPUT_NAME,
            ])
            .arg("--out-dir")
            .arg(&pkg)
            .arg("target/wasm32-unknown-unknown/release/demo_ssr.wasm"),
    )?;
    // The CSR demo's stylesheet: the pages share their classes.
    std::fs::copy(root.join("demo/app/style.css"), pkg.join("style.css"))
        .map_err(|e| format!("cannot copy the stylesheet into {}: {e}", pkg.display()))?;
    process::run(
        "build demo-ssr (ssr)",
        cargo().current_dir(root).args([
            "build",
            "-p",
            "demo-ssr",
            "--features",
            "ssr",
            "--bin",
            "demo-ssr",
        ]),
    )
}

/// Starts the built server as the service `name` on `addr`, with the demo server's `args`, and
/// waits until it answers.
pub(crate) fn start(root: &Path, name: &str, addr: &str, args: &[&str]) -> Result<Service, String> {
    let socket = addr.parse().map_err(|e| format!("{addr}: {e}"))?;
    process::ensure_port_free(socket)?;
    let site = root.join(SITE);
    let site = site.to_string_lossy();
    let mut all = vec!["--addr", addr, "--site", &site];
    all.extend_from_slice(args);
    let server = process::start_server(&root.join("target/debug/demo-ssr"), name, &all)?;
    process::wait_for_http(&server, socket, "/api/health", Duration::from_secs(30))?;
    Ok(server)
}
