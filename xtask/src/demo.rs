//! `cargo xtask demo`: the demo server and `trunk serve`, one origin through trunk's proxy.
//!
//! The server is the fixture server (the demo with its chaos panel's fault injection), which
//! wants a chaos token made up for the run; `--no-chaos` runs the plain demo server.
//!
//! `--tls`: the app built once (`trunk build`) and served by the demo server itself over HTTPS
//! with HTTP/2, with a local certificate made for it: every stream of every tab on one
//! connection, where HTTP/1.1 (and so `trunk serve`'s proxy) allows six per origin.

use std::net::SocketAddr;
use std::time::Duration;

use crate::process::{self, tool_path};

/// Where the demo server listens: `Trunk.toml`'s proxy points here.
const API_ADDR: &str = "127.0.0.1:3000";
/// Where `trunk serve` listens (`Trunk.toml`).
const APP_URL: &str = "http://127.0.0.1:8080";

/// Where the demo listens with `--tls`.
const TLS_ADDR: &str = "127.0.0.1:3443";

/// The Redis of `--instances N`.
const REDIS_PORT: u16 = 6399;

pub(crate) fn run(options: &[String]) -> Result<(), String> {
    let mut release = false;
    let mut instances = 1usize;
    let mut ssr = false;
    let mut chaos = true;
    let mut tls = false;
    let mut rest = options.iter();
    while let Some(option) = rest.next() {
        match option.as_str() {
            "--release" => release = true,
            "--ssr" => ssr = true,
            "--no-chaos" => chaos = false,
            "--tls" => tls = true,
            "--instances" => {
                instances = rest
                    .next()
                    .and_then(|n| n.parse().ok())
                    .filter(|n| (1..=8).contains(n))
                    .ok_or("--instances takes a number from 1 to 8")?;
            }
            unknown => return Err(format!("unknown option `{unknown}` for demo")),
        }
    }
    crate::setup::run()?;
    let root = crate::root();
    let accounts = Accounts::generate()?;
    let token = chaos.then(|| random_text(24)).transpose()?;
    if ssr {
        return server_rendered(&root, &accounts);
    }
    if tls {
        if instances > 1 {
            return Err("--tls serves one instance: leave out --instances".into());
        }
        return over_tls(&root, &accounts, token.as_deref(), release);
    }
    let api: SocketAddr = API_ADDR.parse().map_err(|e| format!("{e}"))?;
    process::ensure_port_free(api)?;
    process::ensure_port_free("127.0.0.1:8080".parse().map_err(|e| format!("{e}"))?)?;

    println!("== demo: building the demo server");
    process::build_demo_server()?;
    // With the chaos panel, the fixture server: the demo with fault injection, behind the token.
    let start = |name: &str, args: &[&str]| match &token {
        Some(token) => {
            let mut args = args.to_vec();
            args.extend(["--chaos-token", token]);
            process::start_fixture_server(&name.replace("demo-server", "fixture-server"), &args)
        }
        None => process::start_demo_server(name, args),
    };
    let mut services = Vec::new();
    if instances == 1 {
        let mut args = vec!["--addr", API_ADDR];
        let flags = accounts.flags();
        args.extend(flags.iter().map(String::as_str));
        let server = start("demo-server", &args)?;
        process::wait_for_http(&server, api, "/api/health", Duration::from_secs(30))?;
        services.push(server);
    } else {
        let redis_url = format!("redis://127.0.0.1:{REDIS_PORT}/");
        services.push(start_redis(&root)?);
        let mut backends = Vec::new();
        for n in 1..=instances {
            let addr: SocketAddr = format!("127.0.0.1:{}", 3000 + n)
                .parse()
                .map_err(|e| format!("{e}"))?;
            process::ensure_port_free(addr)?;
            let addr_text = addr.to_string();
            // They answer to the balancer's address, and share accounts and sessions.
            let mut args = vec!["--addr", &addr_text, "--redis", &redis_url];
            args.extend(["--allowed-host", API_ADDR]);
            let flags = accounts.flags();
            args.extend(flags.iter().map(String::as_str));
            // One ticker for all: the others deliver its ticks.
            if n > 1 {
                args.push("--no-ticker");
            }
            let server = start(&format!("demo-server {n}"), &args)?;
            process::wait_for_http(&server, addr, "/api/health", Duration::from_secs(30))?;
            services.push(server);
            backends.push(addr);
        }
        crate::balancer::start(api, backends)?;
        println!(
            "  {instances} servers share the ticker, blog events and firehose through Redis; \
             stop one (kill its pid) and its clients resume on another"
        );
    }

    println!("== demo: trunk serve (Ctrl-C stops both)");
    match &token {
        Some(token) => {
            println!("\n    open {APP_URL}/?chaos={token}   (the chaos panel needs the token)")
        }
        None => println!("\n    open {APP_URL}"),
    }
    accounts.print();
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
    drop(services);
    outcome
}

/// The demo over HTTPS and HTTP/2, the app served by the server itself, until Ctrl-C.
fn over_tls(
    root: &std::path::Path,
    accounts: &Accounts,
    token: Option<&str>,
    release: bool,
) -> Result<(), String> {
    let addr: SocketAddr = TLS_ADDR.parse().map_err(|e| format!("{e}"))?;
    process::ensure_port_free(addr)?;
    let certificate = crate::tls::local_certificate(root)?;
    println!("== demo: building the demo server and the app");
    process::build_demo_server()?;
    let mut trunk = std::process::Command::new("trunk");
    trunk
        .env("PATH", tool_path())
        .env("TRUNK_SKIP_VERSION_CHECK", "true")
        .current_dir(root)
        .arg("build");
    if release {
        trunk.arg("--release");
    }
    process::run("trunk build", &mut trunk)?;
    let (cert, key) = (
        certificate.cert.to_string_lossy().into_owned(),
        certificate.key.to_string_lossy().into_owned(),
    );
    let dist = root.join("dist").to_string_lossy().into_owned();
    let mut args = vec![
        "--addr",
        TLS_ADDR,
        "--tls-cert",
        &cert,
        "--tls-key",
        &key,
        "--dist",
        &dist,
        "--secure-cookies",
        "--compress",
    ];
    let flags = accounts.flags();
    args.extend(flags.iter().map(String::as_str));
    let server = match token {
        Some(token) => {
            args.extend(["--chaos-token", token]);
            process::start_fixture_server("fixture-server (HTTPS)", &args)?
        }
        None => process::start_demo_server("demo-server (HTTPS)", &args)?,
    };
    process::wait_for_port(addr, Duration::from_secs(30))?;
    let url = format!("https://{TLS_ADDR}");
    match token {
        Some(token) => println!(
            "
    open {url}/?chaos={token}   (the chaos panel needs the token)"
        ),
        None => println!(
            "
    open {url}"
        ),
    }
    println!(
        "    the certificate is the demo's own ({}): accept it once, or trust that file",
        certificate.cert.display()
    );
    accounts.print();
    println!("== demo: serving over HTTPS and HTTP/2 (Ctrl-C stops it)");
    // Ctrl-C stops it (the interrupt handler stops every service); until then, watch it.
    loop {
        std::thread::sleep(Duration::from_secs(1));
        server.check_running()?;
    }
}

/// The server-rendered demo, in the foreground until Ctrl-C.
fn server_rendered(root: &std::path::Path, accounts: &Accounts) -> Result<(), String> {
    println!("== demo: building the server-rendered demo");
    crate::ssr::build(root)?;
    let flags = accounts.flags();
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let server = crate::ssr::start(root, "demo-ssr", API_ADDR, &flags)?;
    println!("\n    open http://{API_ADDR} (Ctrl-C stops it)");
    accounts.print();
    // Ctrl-C stops it (the interrupt handler stops every service); until then, watch it.
    loop {
        std::thread::sleep(Duration::from_secs(1));
        server.check_running()?;
    }
}

/// A Redis of the demo's own, on loopback, keeping its data under `target/xtask/redis`.
fn start_redis(root: &std::path::Path) -> Result<process::Service, String> {
    let dir = root.join("target/xtask/redis");
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let addr: SocketAddr = format!("127.0.0.1:{REDIS_PORT}")
        .parse()
        .map_err(|e| format!("{e}"))?;
    process::ensure_port_free(addr)?;
    let program = process::find_tool("redis-server")
        .ok_or("redis-server is missing: run `cargo xtask setup`")?;
    let port = REDIS_PORT.to_string();
    let dir_text = dir.display().to_string();
    let redis = process::start_server(
        &program,
        "redis-server",
        &[
            "--bind",
            "127.0.0.1",
            "--port",
            &port,
            "--dir",
            &dir_text,
            "--appendonly",
            "yes",
            "--save",
            "",
        ],
    )?;
    process::wait_for_port(addr, Duration::from_secs(10))?;
    Ok(redis)
}

/// The demo's accounts and session key, made up afresh for each `cargo xtask demo`: random
/// passwords, printed for whoever started it, never a password everyone knows.
struct Accounts {
    /// `(name, password, admin)`.
    accounts: Vec<(&'static str, String, bool)>,
    session_key: String,
}

impl Accounts {
    fn generate() -> Result<Self, String> {
        let accounts = [("alice", false), ("bob", false), ("admin", true)]
            .into_iter()
            .map(|(name, admin)| Ok((name, random_text(16)?, admin)))
            .collect::<Result<_, String>>()?;
        let key = random_bytes(64)?;
        Ok(Self {
            accounts,
            session_key: key.iter().map(|byte| format!("{byte:02x}")).collect(),
        })
    }

    /// The servers' flags: every account, and one session key for all of them.
    fn flags(&self) -> Vec<String> {
        let mut flags = Vec::new();
        for (name, password, admin) in &self.accounts {
            let role = if *admin { ":admin" } else { "" };
            flags.extend(["--user".to_owned(), format!("{name}:{password}{role}")]);
        }
        flags.extend(["--session-key".to_owned(), self.session_key.clone()]);
        flags
    }

    fn print(&self) {
        println!("    sign in (side panel) as:");
        for (name, password, admin) in &self.accounts {
            let role = if *admin {
                "  (admin: writes the blog, sends notifications)"
            } else {
                ""
            };
            println!("      {name:>5} / {password}{role}");
        }
        println!();
    }
}

fn random_bytes(n: usize) -> Result<Vec<u8>, String> {
    use std::io::Read as _;
    let mut bytes = vec![0u8; n];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut random| random.read_exact(&mut bytes))
        .map_err(|e| format!("no randomness from /dev/urandom: {e}"))?;
    Ok(bytes)
}

/// `n` random letters and digits, without the ones easily confused.
fn random_text(n: usize) -> Result<String, String> {
    const ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    Ok(random_bytes(n)?
        .iter()
        .map(|byte| char::from(ALPHABET[usize::from(*byte) % ALPHABET.len()]))
        .collect())
}
