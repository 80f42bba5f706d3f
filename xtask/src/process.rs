//! Running commands and services, and stopping every one of them.
//!
//! Services (servers, webdrivers) are registered here when started; they are killed by PID when
//! their guard is dropped, when the command ends, and on Ctrl-C, so nothing is left running.

use std::ffi::OsStr;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Every service still running, by name.
static SERVICES: Mutex<Vec<(String, Child)>> = Mutex::new(Vec::new());

/// On Ctrl-C (or SIGTERM): stop every service, then exit.
pub(crate) fn install_interrupt_handler() {
    let installed = ctrlc::set_handler(|| {
        eprintln!("\ninterrupted: stopping services");
        stop_all();
        std::process::exit(130);
    });
    if let Err(error) = installed {
        eprintln!("warning: cannot catch Ctrl-C ({error}); services may outlive an interrupt");
    }
}

/// Stops every registered service.
pub(crate) fn stop_all() {
    let services = match SERVICES.lock() {
        Ok(mut services) => std::mem::take(&mut *services),
        Err(poisoned) => std::mem::take(&mut *poisoned.into_inner()),
    };
    for (name, child) in services {
        kill(&name, child);
    }
}

fn kill(name: &str, mut child: Child) {
    let pid = child.id();
    // SIGTERM first (servers shut down gracefully), then SIGKILL if it lingers.
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .status();
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            println!("  stopped {name} (pid {pid})");
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    println!("  killed {name} (pid {pid})");
}

/// A running service; stopping it (or dropping this) kills it by PID.
pub(crate) struct Service {
    name: String,
    pid: u32,
}

impl Service {
    /// Starts `command` as the service `name`, its output going to `log`.
    pub(crate) fn start(name: &str, mut command: Command, log: &Path) -> Result<Self, String> {
        let log_file = std::fs::File::create(log)
            .map_err(|e| format!("cannot create {}: {e}", log.display()))?;
        let err_file = log_file
            .try_clone()
            .map_err(|e| format!("cannot share {}: {e}", log.display()))?;
        command
            .stdin(Stdio::null())
            .stdout(log_file)
            .stderr(err_file);
        let child = command
            .spawn()
            .map_err(|e| format!("cannot start {name} ({command:?}): {e}"))?;
        let pid = child.id();
        println!("  started {name} (pid {pid}), log: {}", log.display());
        lock_services().push((name.to_owned(), child));
        Ok(Self {
            name: name.to_owned(),
            pid,
        })
    }

    /// Fails if the service has exited.
    pub(crate) fn check_running(&self) -> Result<(), String> {
        let mut services = lock_services();
        match services
            .iter_mut()
            .find(|(_, child)| child.id() == self.pid)
        {
            Some((_, child)) => match child.try_wait() {
                Ok(None) => Ok(()),
                Ok(Some(status)) => Err(format!("{} exited early: {status}", self.name)),
                Err(error) => Err(format!("cannot check on {}: {error}", self.name)),
            },
            None => Err(format!("{} is not running", self.name)),
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let child = {
            let mut services = lock_services();
            services
                .iter()
                .position(|(_, child)| child.id() == self.pid)
                .map(|index| services.remove(index))
        };
        if let Some((name, child)) = child {
            kill(&name, child);
        }
    }
}

fn lock_services() -> std::sync::MutexGuard<'static, Vec<(String, Child)>> {
    SERVICES
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Fails if something already listens on `addr` (a leftover from an earlier run, say).
pub(crate) fn ensure_port_free(addr: SocketAddr) -> Result<(), String> {
    match TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
        Ok(_) => Err(format!(
            "something already listens on {addr}: stop it (another `cargo xtask` run?) and retry"
        )),
        Err(_) => Ok(()),
    }
}

/// Waits until `GET path` on `addr` answers 200, for at most `timeout`, checking that `service`
/// stays up meanwhile.
pub(crate) fn wait_for_http(
    service: &Service,
    addr: SocketAddr,
    path: &str,
    timeout: Duration,
) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    loop {
        service.check_running()?;
        if http_get_status(addr, path) == Some(200) {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!(
                "{} did not answer on http://{addr}{path} within {timeout:?}",
                service.name
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Waits until something accepts connections on `addr`.
pub(crate) fn wait_for_port(addr: SocketAddr, timeout: Duration) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        if Instant::now() > deadline {
            return Err(format!("nothing listens on {addr} after {timeout:?}"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

/// The status of `GET path` on `addr`, if it answers.
fn http_get_status(addr: SocketAddr, path: &str) -> Option<u16> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_millis(500)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut head = [0u8; 16];
    let read = stream.read(&mut head).ok()?;
    let line = std::str::from_utf8(&head[..read]).ok()?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Runs `command` to completion, inheriting the terminal; fails with `what` on a non-zero exit.
pub(crate) fn run(what: &str, command: &mut Command) -> Result<(), String> {
    let status = command
        .status()
        .map_err(|e| format!("{what}: cannot run {command:?}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{what}: {command:?} failed ({status})"))
    }
}

/// The first line a program prints for `args`, if it runs and succeeds.
pub(crate) fn output_line(program: impl AsRef<OsStr>, args: &[&str]) -> Option<String> {
    let output = Command::new(program)
        .args(args)
        .stderr(Stdio::null())
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&output.stdout);
    text.lines().next().map(str::trim).map(str::to_owned)
}

/// `cargo` as cargo itself was invoked (so `cargo +toolchain xtask` keeps its toolchain).
pub(crate) fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// Where `cargo install` puts binaries.
pub(crate) fn cargo_bin_dir() -> PathBuf {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cargo")))
        .unwrap_or_else(|| PathBuf::from(".cargo"));
    home.join("bin")
}

/// Where the program `name` is: cargo's bin directory first (where `cargo xtask setup` installs),
/// then PATH. Setup's checks and the commands that run the tools use this one lookup, so that
/// what was checked is what runs.
pub(crate) fn find_tool(name: &str) -> Option<PathBuf> {
    let installed = cargo_bin_dir().join(name);
    if installed.is_file() {
        return Some(installed);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// PATH with the project's tool directories first: cargo's bin and `node_modules/.bin`.
pub(crate) fn tool_path() -> std::ffi::OsString {
    let mut dirs = vec![crate::root().join("node_modules/.bin"), cargo_bin_dir()];
    if let Some(path) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&path));
    }
    std::env::join_paths(dirs).unwrap_or_default()
}

/// Minutes and seconds, for people.
pub(crate) fn elapsed(since: Instant) -> String {
    let seconds = since.elapsed().as_secs_f64();
    if seconds < 60.0 {
        format!("{seconds:.1} s")
    } else {
        format!("{} min {:.0} s", (seconds / 60.0).floor(), seconds % 60.0)
    }
}

/// Starts the demo server (already built, in `target/debug`) as the service `name`, with `args`.
/// The accounts of the demo servers the tests start: given to the servers (`--user`, one
/// each) and to the tests that sign in (`TIDINGS_DEMO_USERS`) alike.
pub(crate) const TEST_ACCOUNTS: &str =
    "alice:alice-password,bob:bob-password,admin:admin-password:admin";

/// The flags of a demo server the tests start: [`TEST_ACCOUNTS`], and room for the many
/// streams the tests open from one address.
pub(crate) fn test_server_flags() -> Vec<String> {
    let mut flags: Vec<String> = TEST_ACCOUNTS
        .split(',')
        .flat_map(|account| ["--user".to_owned(), account.to_owned()])
        .collect();
    flags.extend(["--max-streams-per-client".to_owned(), "1000".to_owned()]);
    flags
}

/// The chaos token of the fixture server the end-to-end tests start (a test's own: `cargo
/// xtask demo` makes up a random one).
pub(crate) const TEST_CHAOS_TOKEN: &str = "end-to-end-chaos-token";

/// Starts the fixture server (the demo with fault injection and test streams), debug build.
pub(crate) fn start_fixture_server(name: &str, args: &[&str]) -> Result<Service, String> {
    start_server(
        &crate::root().join("target/debug/fixture-server"),
        name,
        args,
    )
}

pub(crate) fn start_demo_server(name: &str, args: &[&str]) -> Result<Service, String> {
    start_server(&crate::root().join("target/debug/demo-server"), name, args)
}

/// Starts the server `binary` as the service `name`, with `args`; it logs to
/// `target/xtask/<name>.log`.
pub(crate) fn start_server(binary: &Path, name: &str, args: &[&str]) -> Result<Service, String> {
    let root = crate::root();
    let logs = root.join("target/xtask");
    std::fs::create_dir_all(&logs).map_err(|e| format!("cannot create {}: {e}", logs.display()))?;
    let mut command = Command::new(binary);
    command.current_dir(&root).args(args);
    let file: String = name
        .chars()
        .filter_map(|c| match c {
            'a'..='z' | '0'..='9' | '-' => Some(c),
            ' ' => Some('-'),
            _ => None,
        })
        .collect();
    Service::start(name, command, &logs.join(format!("{file}.log")))
}

/// Builds the demo server and the fixture server (debug), for [`start_demo_server`] and
/// [`start_fixture_server`].
pub(crate) fn build_demo_server() -> Result<(), String> {
    run(
        "build demo-server and fixture-server",
        cargo().current_dir(crate::root()).args([
            "build",
            "-p",
            "demo-server",
            "-p",
            "fixture-server",
        ]),
    )
}
