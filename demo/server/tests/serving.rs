//! The demo server binary over real sockets: what a router test cannot see. Slow headers, idle
//! connections, the connection cap, clients that stop reading while the server shuts down, and
//! configuration errors.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// A `demo-server` of the test's own on a free loopback port, stopped when dropped.
struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Server {
    fn start(args: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_demo-server"))
            .args([
                "--addr",
                "127.0.0.1:0",
                "--user",
                "root:root-password:admin",
            ])
            .args(args)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("demo-server starts");
        let stdout = child.stdout.take().expect("piped");
        let mut lines = BufReader::new(stdout).lines();
        let addr = loop {
            let line = lines
                .next()
                .expect("demo-server says where it listens")
                .expect("UTF-8");
            if let Some(url) = line.strip_prefix("demo-server listening on http://") {
                break url.parse().expect("an address");
            }
        };
        Self { child, addr }
    }

    fn connect(&self) -> TcpStream {
        let stream = TcpStream::connect(self.addr).expect("connects");
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .expect("a timeout");
        stream
    }

    /// Sends SIGTERM and returns how long the process took to exit.
    fn terminate(&mut self) -> Duration {
        let started = Instant::now();
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
        loop {
            if self.child.try_wait().expect("waits").is_some() {
                return started.elapsed();
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "still running 30 s after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        drop(self.child.kill());
        drop(self.child.wait());
    }
}

/// Reads until the peer closes the connection; how long that took.
fn until_closed(stream: &mut TcpStream) -> Duration {
    let started = Instant::now();
    let mut buffer = [0u8; 4096];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) | Err(_) => return started.elapsed(),
            Ok(_) => {}
        }
    }
}

fn request(host: SocketAddr, path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n")
}

#[test]
fn a_client_that_trickles_its_headers_is_cut_off() {
    let server = Server::start(&["--header-read-timeout-secs", "2"]);
    let mut slow = server.connect();
    slow.write_all(b"GET /api/health HTTP/1.1\r\n")
        .expect("writes");
    let started = Instant::now();
    // One more header line each half second: never the blank line that ends them.
    let mut closed = false;
    for n in 0..20 {
        std::thread::sleep(Duration::from_millis(500));
        if slow
            .write_all(format!("X-Slow-{n}: 1\r\n").as_bytes())
            .is_err()
        {
            closed = true;
            break;
        }
    }
    let elapsed = started.elapsed() + until_closed(&mut slow);
    assert!(closed || elapsed < Duration::from_secs(9), "{elapsed:?}");
    println!("a slowloris client was cut off after {elapsed:.1?} (header timeout 2 s)");
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
}

#[test]
fn an_idle_keep_alive_connection_is_closed() {
    let server = Server::start(&["--header-read-timeout-secs", "2"]);
    let mut idle = server.connect();
    idle.write_all(request(server.addr, "/api/health").as_bytes())
        .expect("writes");
    let mut answer = [0u8; 512];
    let read = idle.read(&mut answer).expect("an answer");
    assert!(answer[..read].starts_with(b"HTTP/1.1 200"));
    let elapsed = until_closed(&mut idle);
    println!("an idle keep-alive connection was closed after {elapsed:.1?}");
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
}

#[test]
fn connections_over_the_cap_wait_for_one_to_close() {
    let server = Server::start(&["--max-connections", "2", "--header-read-timeout-secs", "30"]);
    let (first, _second) = (server.connect(), server.connect());
    std::thread::sleep(Duration::from_millis(200));
    let mut third = server.connect();
    third
        .set_read_timeout(Some(Duration::from_millis(700)))
        .expect("a timeout");
    third
        .write_all(request(server.addr, "/api/health").as_bytes())
        .expect("writes");
    let mut answer = [0u8; 512];
    assert!(
        third.read(&mut answer).is_err(),
        "answered while two connections were open"
    );
    drop(first);
    third
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("a timeout");
    let read = third.read(&mut answer).expect("answered once one closed");
    assert!(answer[..read].starts_with(b"HTTP/1.1 200"));
}

/// `demo_server::serve` itself, in process, with a route that sends without end: a client that
/// stops reading leaves bytes stuck between them, which no graceful shutdown can flush.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_does_not_wait_for_a_client_that_stopped_reading() {
    use axum::routing::get;
    use futures_util::stream;
    use tidings_axum::{EventStream, Frame};

    let mut config = demo_server::Config::defaults();
    config.write_deadline = Duration::from_secs(120);
    config.shutdown_deadline = Duration::from_secs(1);
    let shutdown = tidings_axum::shutdown::Shutdown::new();
    let ends = shutdown.clone();
    // Frames made so far: once it stops growing, the socket is full.
    let made = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&made);
    let flood = move || {
        let (ends, counter) = (ends.clone(), Arc::clone(&counter));
        async move {
            let chunk = "x".repeat(64 * 1024);
            let frames = stream::repeat_with(move || {
                counter.fetch_add(1, Ordering::Relaxed);
                Frame::new().data(&chunk)
            });
            ends.end(axum::response::IntoResponse::into_response(
                EventStream::new(frames),
            ))
        }
    };
    let app = axum::Router::new().route("/flood", get(flood));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let addr = listener.local_addr().expect("bound");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        demo_server::serve::serve(listener, app, &config, shutdown, async {
            drop(stopped.await);
        })
        .await
    });
    // A stream that is never read.
    let stuck = tokio::task::spawn_blocking(move || {
        let mut stuck = with_small_receive_buffer(addr);
        stuck
            .write_all(request(addr, "/flood").as_bytes())
            .expect("writes");
        stuck
    })
    .await
    .expect("connected");
    // Until the server can write no more: every buffer between it and the client is full.
    let mut last = 0;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let now = made.load(Ordering::Relaxed);
        if now > 0 && now == last {
            break;
        }
        last = now;
    }
    assert!(last > 0, "the flood never started");
    let started = Instant::now();
    stop.send(()).expect("the server listens for the signal");
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("the server stopped in time")
        .expect("the server task ran")
        .expect("the server ended cleanly");
    let took = started.elapsed();
    println!("shutdown with a stuck client took {took:.1?} (deadline 1 s)");
    assert!(
        took >= Duration::from_millis(900),
        "it did wait for the deadline: {took:?}"
    );
    assert!(took < Duration::from_secs(3), "{took:?}");
    drop(stuck);
}

#[test]
fn sigterm_ends_open_streams_and_the_server() {
    let mut server = Server::start(&["--shutdown-deadline-secs", "5"]);
    let mut stream = server.connect();
    stream
        .write_all(request(server.addr, "/api/ticker").as_bytes())
        .expect("writes");
    let mut head = [0u8; 256];
    let read = stream.read(&mut head).expect("the stream's head");
    assert!(head[..read].starts_with(b"HTTP/1.1 200"));
    let took = server.terminate();
    println!("SIGTERM with an open stream: exited after {took:.1?}");
    // The stream ended at once: no wait for the deadline.
    assert!(took < Duration::from_secs(2), "{took:?}");
    assert!(until_closed(&mut stream) < Duration::from_secs(1));
}

/// A connection whose receive buffer is small, so that the server's writes back up soon.
fn with_small_receive_buffer(addr: SocketAddr) -> TcpStream {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4().expect("a socket");
        socket.set_recv_buffer_size(4096).expect("a small buffer");
        let stream = socket.connect(addr).await.expect("connects");
        let stream = stream.into_std().expect("a std stream");
        stream.set_nonblocking(false).expect("blocking");
        stream
    })
}

#[test]
fn configuration_errors_are_clean_errors() {
    for (flag, value, says) in [
        ("--cors-origin", "*", "each origin by name"),
        ("--redis", "localhost:6379", "redis://"),
        ("--user", "alice:short", "shorter than 8"),
        ("--session-key", "abc", "128 hexadecimal digits"),
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_demo-server"))
            .args(["--addr", "127.0.0.1:0", flag, value])
            .output()
            .expect("demo-server runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{flag} {value}: {stderr}");
        assert!(stderr.contains(says), "{flag} {value}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

/// TLS files that cannot be used stop the server at start-up with the flag and the file named,
/// before it says it listens; a certificate without its key is refused by the flags.
#[test]
fn unusable_tls_files_are_clean_errors() {
    let missing = Command::new(env!("CARGO_BIN_EXE_demo-server"))
        .args(["--addr", "127.0.0.1:0", "--tls-cert", "cert.pem"])
        .output()
        .expect("demo-server runs");
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert_eq!(missing.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--tls-key"), "{stderr}");

    let dir = std::env::temp_dir().join(format!("tidings-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let not_pem = dir.join("not.pem");
    std::fs::write(&not_pem, "not a certificate").expect("written");
    for (cert, key, says) in [
        (dir.join("absent.pem"), not_pem.clone(), "--tls-cert"),
        (not_pem.clone(), not_pem.clone(), "--tls-"),
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_demo-server"))
            .args(["--addr", "127.0.0.1:0", "--tls-cert"])
            .arg(&cert)
            .arg("--tls-key")
            .arg(&key)
            .output()
            .expect("demo-server runs");
        let (stdout, stderr) = (
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
        );
        assert!(!output.status.success(), "{stderr}");
        assert!(stderr.contains(says) && stderr.contains(".pem"), "{stderr}");
        assert!(!stdout.contains("listening"), "{stdout}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
