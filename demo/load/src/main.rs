//! `sse-load`: N concurrent SSE clients receiving a broadcast, from tidings and from a peer.
//!
//! For each N and each server it starts a fresh server, opens N streams to its feed, measures
//! the server's resident memory before and after, publishes events with their send time
//! inside, and measures how long each takes to reach each client. The servers are
//! `fanout-server tidings` (a `tidings_axum::Channel`) and `fanout-server axum` (axum's own
//! `Sse` over a tokio broadcast channel, the peer), with the same routes and payloads; with
//! `--demo`, the demo server's live blog instead. Everything runs on loopback, is bounded in
//! count and time, and stops by itself; each server is stopped by its PID.
//!
//! ```text
//! sse-load [--demo] [N ...]          default: 1000 10000
//! ```

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use demo_events::Post;
use http_body_util::{BodyExt, Empty, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use tidings_wire::{Parser, TypedEvent};
use tokio::net::TcpStream;

const SERVER: &str = "127.0.0.1:3950";
/// Events published per run.
const EVENTS: usize = 50;
/// Time between two events.
const PACE: Duration = Duration::from_millis(200);
/// How long a client waits for any frame (events or the server's 15 s keep-alives) before it
/// counts as cut off. Generous: while 10 000 connections open, this process is saturated and
/// reads late.
const SILENCE: Duration = Duration::from_secs(60);
/// Connections opened at once.
const CONNECT_BATCH: usize = 250;

type Error = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let demo = args.iter().any(|arg| arg == "--demo");
    let counts: Vec<usize> = args
        .iter()
        .filter(|arg| *arg != "--demo")
        .map(|n| n.parse())
        .collect::<Result<_, _>>()?;
    let counts = if counts.is_empty() {
        vec![1000, 10_000]
    } else {
        counts
    };
    // Each client is a socket: raise the open-file limit as far as allowed.
    let limit = rlimit::increase_nofile_limit(u64::MAX)?;
    println!("open-file limit: {limit}");
    let needed = counts.iter().max().copied().unwrap_or(0) as u64 + 64;
    if limit < needed {
        return Err(format!("{needed} open files needed, the limit is {limit}").into());
    }
    let servers: &[&str] = if demo {
        &["demo"]
    } else {
        &["tidings", "axum"]
    };
    println!(
        "| clients | server | connected | server RSS before | after | per connection | deliveries | lost | p50 | p99 | max |"
    );
    println!("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for n in counts {
        for server in servers {
            let report = run(n, server).await?;
            println!("{report}");
        }
    }
    Ok(())
}

/// Stops the server by its PID when dropped, however the run ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `which` server: `demo`, or `fanout-server`'s `tidings` or `axum`.
fn start(which: &str) -> Result<Server, Error> {
    let exe = std::env::current_exe()?;
    let mut command = if which == "demo" {
        let mut command = Command::new(exe.with_file_name("demo-server"));
        command.args([
            "--addr",
            SERVER,
            "--tick-interval-ms",
            "3600000",
            "--keep-alive-secs",
            "60",
            // Every stream comes from this one address.
            "--max-streams-per-client",
            "100000",
            "--user",
            ADMIN,
        ]);
        command
    } else {
        let mut command = Command::new(exe.with_file_name("fanout-server"));
        command.args([which, SERVER]);
        command
    };
    let child = command
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start the {which} server: {e}"))?;
    Ok(Server(child))
}

async fn run(n: usize, which: &str) -> Result<String, Error> {
    let addr: SocketAddr = SERVER.parse()?;
    let server = start(which)?;
    wait_for_server(addr).await?;
    let pid = server.0.id();
    let before = rss_kib(pid)?;

    // Open the streams, a batch at a time (the listen backlog is finite).
    let connecting = Instant::now();
    let connected = Arc::new(AtomicUsize::new(0));
    let mut clients = Vec::with_capacity(n);
    for batch in (0..n).collect::<Vec<_>>().chunks(CONNECT_BATCH) {
        let mut opening = Vec::new();
        for _ in batch {
            opening.push(tokio::spawn(open_stream(addr)));
        }
        for handle in opening {
            let body = handle.await??;
            connected.fetch_add(1, Ordering::Relaxed);
            clients.push(tokio::spawn(receive(body)));
        }
    }
    let connect_time = connecting.elapsed();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after = rss_kib(pid)?;

    // Publish, stamping each event with its send time: the demo's blog takes posts from an
    // admin only.
    let mut admin = connect(addr).await?;
    let cookie = if which == "demo" {
        sign_in(&mut admin).await?
    } else {
        String::new()
    };
    for _ in 0..EVENTS {
        let sent = now_micros();
        // A whole post: the demo's blog takes its title and body, the fan-out servers send it
        // on as it is.
        let body = format!(r#"{{"id":0,"title":"{sent}","body":"","views":0}}"#);
        let request = Request::post("/api/blog/posts")
            .header("host", SERVER)
            .header("cookie", &cookie)
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body)))?;
        let response = admin.send_request(request).await?;
        response.into_body().collect().await?;
        tokio::time::sleep(PACE).await;
    }

    // Collect every client's latencies (each stops after EVENTS events, or SILENCE).
    let mut latencies = Vec::with_capacity(n * EVENTS);
    let mut endings = std::collections::BTreeMap::<&'static str, usize>::new();
    for client in clients {
        let (got, ending) = client.await?;
        latencies.extend(got);
        *endings.entry(ending).or_default() += 1;
    }
    eprintln!("  {n} clients of {which} ended: {endings:?}");
    drop(server);
    latencies.sort_unstable();
    let percentile = |p: f64| {
        let index = ((latencies.len() as f64 * p).ceil() as usize).saturating_sub(1);
        latencies
            .get(index)
            .map_or(f64::NAN, |micros| *micros as f64 / 1000.0)
    };
    let expected = n * EVENTS;
    let per_connection = (after.saturating_sub(before)) as f64 / n as f64;
    Ok(format!(
        "| {n} | {which} | {} in {:.1} s | {:.1} MiB | {:.1} MiB | {per_connection:.1} KiB | {} | {} | {:.2} ms | {:.2} ms | {:.2} ms |",
        connected.load(Ordering::Relaxed),
        connect_time.as_secs_f64(),
        before as f64 / 1024.0,
        after as f64 / 1024.0,
        latencies.len(),
        expected - latencies.len(),
        percentile(0.50),
        percentile(0.99),
        percentile(1.0),
    ))
}

/// The demo server's admin account, for publishing.
const ADMIN: &str = "bench:bench-password:admin";

/// Signs in as [`ADMIN`]; the `Cookie` header to send.
async fn sign_in(sender: &mut Sender) -> Result<String, Error> {
    let request = Request::post("/api/session")
        .header("host", SERVER)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from_static(
            br#"{"user":"bench","password":"bench-password"}"#,
        )))?;
    let response = sender.send_request(request).await?;
    let cookie = response
        .headers()
        .get("set-cookie")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .map(str::to_owned)
        .ok_or_else(|| format!("signing in answered {}", response.status()))?;
    response.into_body().collect().await?;
    Ok(cookie)
}

type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

async fn connect(addr: SocketAddr) -> Result<Sender, Error> {
    let stream = TcpStream::connect(addr).await?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    Ok(sender)
}

async fn open_stream(addr: SocketAddr) -> Result<hyper::body::Incoming, Error> {
    let stream = TcpStream::connect(addr).await?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake::<_, Empty<Bytes>>(TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    let request = Request::get("/api/blog")
        .header("host", SERVER)
        .header("accept", "text/event-stream")
        .body(Empty::new())?;
    let response = sender.send_request(request).await?;
    if response.status() != 200 {
        return Err(format!("stream refused: {}", response.status()).into());
    }
    Ok(response.into_body())
}

/// Reads `post` events until EVENTS have come (or nothing, not even a keep-alive, arrives for
/// [`SILENCE`]), returning each one's delivery latency in microseconds, and how the stream ended.
async fn receive(mut body: hyper::body::Incoming) -> (Vec<u64>, &'static str) {
    let mut parser = Parser::new();
    let mut latencies = Vec::with_capacity(EVENTS);
    let started = Instant::now();
    let mut frames = 0;
    let mut last_frame = started;
    while latencies.len() < EVENTS {
        let frame = match tokio::time::timeout(SILENCE, body.frame()).await {
            Err(_) => {
                if std::env::var_os("SSE_LOAD_DEBUG").is_some() {
                    eprintln!(
                        "silent: {frames} frames, last {:.1} s after start, now {:.1} s, {} events",
                        (last_frame - started).as_secs_f64(),
                        started.elapsed().as_secs_f64(),
                        latencies.len()
                    );
                }
                return (latencies, "silent for 60 s");
            }
            Ok(None) => return (latencies, "stream ended"),
            Ok(Some(Err(_))) => return (latencies, "body error"),
            Ok(Some(Ok(frame))) => frame,
        };
        frames += 1;
        last_frame = Instant::now();
        let Ok(data) = frame.into_data() else {
            continue;
        };
        let received = now_micros();
        parser.feed(&data, |event| {
            if let Ok(event) = event
                && event.event_type == Post::NAME
                && let Ok(post) = Post::decode(event.data)
                && let Ok(sent) = post.title.parse::<u64>()
            {
                latencies.push(received.saturating_sub(sent));
            }
        });
    }
    (latencies, "complete")
}

async fn wait_for_server(addr: SocketAddr) -> Result<(), Error> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(addr).await.is_err() {
        if Instant::now() > deadline {
            return Err(format!("the demo server did not start on {addr}").into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

/// The resident memory of process `pid`, in KiB.
fn rss_kib(pid: u32) -> Result<u64, Error> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| "no VmRSS in /proc status".into())
}

fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| {
            u64::try_from(since.as_micros()).unwrap_or(u64::MAX)
        })
}
