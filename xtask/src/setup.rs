//! `cargo xtask setup`: installs what the project needs, each piece skipped when the right
//! version is already there. The versions are the ones measured to work together (see
//! `../shared/TOOLCHAIN.md`); change them here and in `Cargo.toml`/`Trunk.toml` together.

use std::process::Command;
use std::time::Instant;

use crate::process::{self, cargo, output_line};

/// Must equal the `wasm-bindgen` pinned in the workspace `Cargo.toml` and in `Trunk.toml`.
pub(crate) const WASM_BINDGEN: &str = "0.2.130";
/// trunk 0.22 needs a newer rustc than this machine's 1.95.
const TRUNK: &str = "0.21.14";
/// Not packaged by Debian 12; crates.io has it.
const GECKODRIVER: &str = "0.37.1";
/// The fuzzer driver for the short fuzzing run of `cargo xtask test`.
const CARGO_FUZZ: &str = "0.13.1";
/// binaryen's wasm-opt from npm (package.json); Debian's is too old and breaks release builds.
const WASM_OPT_VERSION: &str = "version 132";
/// npm packages (package.json, package-lock.json) and the versions they must be: the browser
/// benchmark's JavaScript peer (3.x ships a single-file module), and the third-party clients
/// of the interop tests (`eventsource` 4.1.1 is the newest that runs on this machine's Node 20).
const NPM_PEERS: [(&str, &str); 3] = [
    ("eventsource-parser", "3.1.1"),
    ("eventsource", "4.1.1"),
    ("@microsoft/fetch-event-source", "2.0.1"),
];
/// The third-party Python peers of the interop tests, every dependency pinned.
const PYTHON_REQUIREMENTS: &str = "tests/interop/requirements.txt";
/// Where they are installed.
pub(crate) const VENV: &str = "target/xtask/venv";
/// Debian's packages: the browsers of the browser tests, and Redis for the scale-out tests and
/// `cargo xtask demo --instances N`.
const APT_PACKAGES: [&str; 4] = ["chromium", "chromium-driver", "firefox-esr", "redis-server"];

/// One piece of the toolchain: how to tell it is there, and how to install it.
struct Piece {
    name: &'static str,
    /// `Ok(version)` when present and right; `Err(what is wrong)` otherwise.
    check: fn() -> Result<String, String>,
    install: fn() -> Result<(), String>,
}

const PIECES: [Piece; 8] = [
    Piece {
        name: "wasm32-unknown-unknown target",
        check: check_wasm_target,
        install: || {
            process::run(
                "rustup",
                Command::new("rustup").args(["target", "add", "wasm32-unknown-unknown"]),
            )
        },
    },
    Piece {
        name: "wasm-bindgen-cli",
        check: || check_version("wasm-bindgen", &format!("wasm-bindgen {WASM_BINDGEN}")),
        // Without --locked: its lockfile wants a webpki-roots the registry no longer has.
        install: || cargo_install(&["wasm-bindgen-cli", "--version", WASM_BINDGEN]),
    },
    Piece {
        name: "trunk",
        check: || check_version("trunk", &format!("trunk {TRUNK}")),
        install: || cargo_install(&["--locked", "trunk", "--version", TRUNK]),
    },
    Piece {
        name: "geckodriver",
        check: || check_version("geckodriver", &format!("geckodriver {GECKODRIVER}")),
        install: || cargo_install(&["--locked", "geckodriver", "--version", GECKODRIVER]),
    },
    Piece {
        name: "cargo-fuzz",
        check: || check_version("cargo-fuzz", &format!("cargo-fuzz {CARGO_FUZZ}")),
        install: || cargo_install(&["--locked", "cargo-fuzz", "--version", CARGO_FUZZ]),
    },
    Piece {
        name: "Python peers (sse-starlette, httpx-sse)",
        check: check_python_peers,
        install: install_python_peers,
    },
    Piece {
        name: "npm: wasm-opt, JavaScript peers",
        check: check_wasm_opt,
        install: || {
            process::run(
                "npm ci",
                Command::new("npm")
                    .args(["ci", "--no-audit", "--no-fund"])
                    .current_dir(crate::root()),
            )
        },
    },
    Piece {
        name: "Chromium, ChromeDriver, Firefox, Redis",
        check: check_debian_packages,
        install: install_browsers,
    },
];

/// Checks every piece and installs the missing ones. Returns how many were installed.
pub(crate) fn run() -> Result<usize, String> {
    println!("== setup: checking the toolchain");
    let started = Instant::now();
    let mut installed = 0;
    for piece in &PIECES {
        match (piece.check)() {
            Ok(version) => println!("  ok       {:<38} {version}", piece.name),
            Err(missing) => {
                println!("  install  {:<38} ({missing})", piece.name);
                let began = Instant::now();
                (piece.install)().map_err(|e| format!("installing {}: {e}", piece.name))?;
                let version = (piece.check)()
                    .map_err(|e| format!("{} still not right after installing: {e}", piece.name))?;
                println!(
                    "  done     {:<38} {version} in {}",
                    piece.name,
                    process::elapsed(began)
                );
                installed += 1;
            }
        }
    }
    println!(
        "== setup: {installed} installed, in {}",
        process::elapsed(started)
    );
    Ok(installed)
}

fn check_wasm_target() -> Result<String, String> {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map_err(|e| format!("rustup: {e}"))?;
    if String::from_utf8_lossy(&installed.stdout)
        .lines()
        .any(|t| t.trim() == "wasm32-unknown-unknown")
    {
        Ok("installed".into())
    } else {
        Err("missing".into())
    }
}

/// Ok when `program --version` starts with `expected`.
fn check_version(program: &str, expected: &str) -> Result<String, String> {
    let Some(program) = process::find_tool(program) else {
        return Err("missing".into());
    };
    match output_line(&program, &["--version"]) {
        Some(line) if line.starts_with(expected) => Ok(line),
        Some(line) => Err(format!("found {line}, want {expected}")),
        None => Err("missing".into()),
    }
}

fn check_wasm_opt() -> Result<String, String> {
    let root = crate::root();
    let wasm_opt = match output_line(root.join("node_modules/.bin/wasm-opt"), &["--version"]) {
        Some(line) if line.contains(WASM_OPT_VERSION) => line,
        Some(line) => return Err(format!("found {line}, want {WASM_OPT_VERSION}")),
        None => return Err("missing".into()),
    };
    // The JavaScript peers come from npm too.
    let mut found = vec![wasm_opt];
    for (package, version) in NPM_PEERS {
        let manifest =
            std::fs::read_to_string(root.join("node_modules").join(package).join("package.json"))
                .map_err(|_| format!("{package} missing"))?;
        let wanted = format!("\"version\": \"{version}\"");
        if !manifest.contains(&wanted) {
            return Err(format!("{package} is not {version}"));
        }
        found.push(format!("{package} {version}"));
    }
    Ok(found.join("; "))
}

/// The pinned `name==version` lines of the Python requirements.
fn python_requirements() -> Result<Vec<String>, String> {
    let path = crate::root().join(PYTHON_REQUIREMENTS);
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(str::to_owned)
        .collect())
}

/// Ok when the venv has exactly the pinned version of every requirement.
fn check_python_peers() -> Result<String, String> {
    let python = crate::root().join(VENV).join("bin/python");
    if !python.exists() {
        return Err("missing".into());
    }
    let requirements = python_requirements()?;
    let script = r#"
import sys, importlib.metadata as m
for pin in sys.argv[1:]:
    name, version = pin.split("==")
    try:
        found = m.version(name)
    except m.PackageNotFoundError:
        found = "missing"
    if found != version:
        print(f"{name} is {found}, want {version}")
        sys.exit(1)
"#;
    let output = Command::new(&python)
        .arg("-c")
        .arg(script)
        .args(&requirements)
        .output()
        .map_err(|e| format!("{}: {e}", python.display()))?;
    if !output.status.success() {
        return Err(String::from_utf8_lossy(&output.stdout).trim().to_owned());
    }
    let named: Vec<&str> = requirements
        .iter()
        .filter(|pin| pin.starts_with("sse-starlette") || pin.starts_with("httpx-sse"))
        .map(String::as_str)
        .collect();
    Ok(named.join(", "))
}

/// Makes the venv (if missing) and installs the pinned requirements, nothing else.
fn install_python_peers() -> Result<(), String> {
    let root = crate::root();
    let venv = root.join(VENV);
    if !venv.join("bin/python").exists() {
        process::run(
            "python3 -m venv",
            Command::new("python3").arg("-m").arg("venv").arg(&venv),
        )?;
    }
    process::run(
        "pip install",
        Command::new(venv.join("bin/python"))
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
            ])
            .args(["--no-deps", "--requirement"])
            .arg(root.join(PYTHON_REQUIREMENTS)),
    )
}

fn check_debian_packages() -> Result<String, String> {
    let redis = output_line("redis-server", &["--version"]).ok_or("redis-server missing")?;
    let redis = redis
        .split_whitespace()
        .find(|word| word.starts_with("v="))
        .map_or(redis.clone(), |version| format!("Redis {}", &version[2..]));
    Ok(format!("{}; {redis}", check_browsers()?))
}

fn check_browsers() -> Result<String, String> {
    let chromium = output_line("chromium", &["--version"]).ok_or("chromium missing")?;
    let driver = output_line("chromedriver", &["--version"]).ok_or("chromedriver missing")?;
    let firefox = output_line("firefox-esr", &["--version"]).ok_or("firefox-esr missing")?;
    // ChromeDriver only drives the Chromium of its own major version.
    let major = |line: &str| {
        line.split_whitespace()
            .find_map(|word| {
                word.split('.')
                    .next()
                    .filter(|m| m.chars().all(|c| c.is_ascii_digit()) && !m.is_empty())
            })
            .map(str::to_owned)
    };
    if major(&chromium) != major(&driver) {
        return Err(format!("{chromium} and {driver} differ in major version"));
    }
    Ok(format!("{chromium}; {firefox}"))
}

fn install_browsers() -> Result<(), String> {
    let uid = output_line("id", &["-u"]).unwrap_or_default();
    if uid != "0" {
        return Err(format!(
            "installing Debian packages needs root; run:\n    sudo apt-get update && sudo apt-get install -y {}",
            APT_PACKAGES.join(" ")
        ));
    }
    process::run(
        "apt-get update",
        Command::new("apt-get").args(["update", "-q"]),
    )?;
    process::run(
        "apt-get install",
        Command::new("apt-get")
            .env("DEBIAN_FRONTEND", "noninteractive")
            .args(["install", "-y", "-q", "--no-install-recommends"])
            .args(APT_PACKAGES),
    )
}

fn cargo_install(args: &[&str]) -> Result<(), String> {
    process::run("cargo install", cargo().arg("install").args(args))
}
