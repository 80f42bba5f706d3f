//! `sse-scale`: the Redis scale-out benchmark (`cargo xtask bench scale [N]`).
//!
//! In one run, on loopback, it measures the same broadcast two ways:
//! - **in memory**: one demo server, 2·N clients on its firehose;
//! - **Redis**: a `redis-server` of its own (temporary directory), two demo servers with
//!   `--redis`, N clients on each; the events are published through the first server.
//!
//! For each, the firehose publishes `EVENTS` ticks at `RATE` per second, each stamped with its
//! publish time, and every client measures each tick's delay; then a burst of `BURST` ticks at
//! once measures throughput (deliveries per second until every client has every tick). Every
//! process is stopped by its PID; everything is bounded in time.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use demo_events::Tick;
use http_body_util::{BodyExt, Empty, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use tidings_wire::{Parser, TypedEvent};
use tokio::net::TcpStream;

/// Ticks published at a steady rate, for latency.
const EVENTS: u32 = 1_000;
/// Their rate, per second.
const RATE: u32 = 100;
/// Ticks published at once, for throughput.
const BURST: u32 = 10_000;
/// How long a client waits for any frame before it gives up.
const SILENCE: Duration = Duration::from_secs(60);
const CONNECT_BATCH: usize = 250;
const REDIS_PORT: u16 = 6398;

type Error = Box<dyn std::error::Error + Send + Sync>;

/// A child process, killed by its PID when dropped.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let per_instance: usize = match std::env::args().nth(1) {
        Some(n) => n.parse()?,
        None => 1_000,
    };
    rlimit::increase_nofile_limit(u64::MAX)?;
    println!(
        "| log | servers | clients | steady: deliveries | lost | p50 | p99 | burst of {BURST}: published/s | delivered/s | lost |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");

    let memory = start_server(3971, None)?;
    let row = measure(&[3971], 2 * per_instance).await?;
    drop(memory);
    println!("| in memory | 1 | {} | {row} |", 2 * per_instance);

    let dir = std::env::temp_dir().join(format!("sse-scale-redis-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let redis = start_redis(&dir)?;
    let url = format!("redis://127.0.0.1:{REDIS_PORT}/");
    let a = start_server(3972, Some(&url))?;
    let b = start_server(3973, Some(&url))?;
    let row = measure(&[3972, 3973], per_instance).await;
    drop((a, b, redis));
    let _ = std::fs::remove_dir_all(&dir);
    println!("| Redis stream | 2 | {} | {} |", 2 * per_instance, row?);
    Ok(())
}

fn start_server(port: u16, redis: Option<&str>) -> Result<Process, Error> {
    let binary = std::env::current_exe()?.with_file_name("fixture-server");
    let addr = format!("127.0.0.1:{port}");
    let mut command = Command::new(&binary);
    command
        .args(["--addr", &addr, "--no-ticker"])
        .args(["--keep-alive-secs", "60"])
        // Every stream comes from this one address.
        .args(["--max-streams-per-client", "100000"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null());
    if let Some(url) = redis {
        command.args(["--redis", url, "--redis-prefix", "sse-scale"]);
    }
    let child = command
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
    Ok(Process(child))
}

fn start_redis(dir: &PathBuf) -> Result<Process, Error> {
    let child = Command::new("redis-server")
        .args(["--bind", "127.0.0.1", "--port", &REDIS_PORT.to_string()])
        .args(["--save", "", "--appendonly", "no"])
        .arg("--dir")
        .arg(dir)
        .stdout(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start redis-server (run `cargo xtask setup`): {e}"))?;
    Ok(Process(child))
}

/// Opens `clients` streams on each of `ports`, publishes through the first, and measures.
async fn measure(ports: &[u16], clients: usize) -> Result<String, Error> {
    let addrs: Vec<SocketAddr> = ports
        .iter()
        .map(|port| SocketAddr::from(([127, 0, 0, 1], *port)))
        .collect();
    for addr in &addrs {
        wait_for_health(*addr).await?;
    }
    // The steady part: EVENTS at RATE.
    let streams = open_all(&addrs, clients).await?;
    let (first, _) = publish(addrs[0], "/api/firehose/paced", EVENTS, Some(RATE)).await?;
    let receivers: Vec<_> = streams
        .into_iter()
        .map(|body| tokio::spawn(receive(body, first, EVENTS)))
        .collect();
    let mut delays = Vec::new();
    let mut lost = 0;
    for receiver in receivers {
        let (got, _) = receiver.await?;
        lost += EVENTS as usize - got.len();
        delays.extend(got);
    }
    delays.sort_unstable_by(f64::total_cmp);
    let percentile = |p: f64| {
        let index = ((delays.len() as f64 * p).ceil() as usize).saturating_sub(1);
        delays.get(index).map_or(f64::NAN, |millis| *millis)
    };
    let steady = format!(
        "{} | {lost} | {:.2} ms | {:.2} ms",
        delays.len(),
        percentile(0.5),
        percentile(0.99)
    );

    // The burst: BURST at once, timed until every client has them all.
    let streams = open_all(&addrs, clients).await?;
    let started = Instant::now();
    let (first, _) = publish(addrs[0], "/api/firehose", BURST, None).await?;
    let published = f64::from(BURST) / started.elapsed().as_secs_f64();
    let receivers: Vec<_> = streams
        .into_iter()
        .map(|body| tokio::spawn(receive(body, first, BURST)))
        .collect();
    let mut delivered = 0;
    for receiver in receivers {
        delivered += receiver.await?.0.len();
    }
    let seconds = started.elapsed().as_secs_f64();
    let expected = BURST as usize * clients * addrs.len();
    Ok(format!(
        "{steady} | {published:.0} | {:.0} | {}",
        delivered as f64 / seconds,
        expected - delivered
    ))
}

async fn open_all(
    addrs: &[SocketAddr],
    per_addr: usize,
) -> Result<Vec<hyper::body::Incoming>, Error> {
    let mut streams = Vec::with_capacity(per_addr * addrs.len());
    for addr in addrs {
        for batch in (0..per_addr).collect::<Vec<_>>().chunks(CONNECT_BATCH) {
            let opening: Vec<_> = batch
                .iter()
                .map(|_| tokio::spawn(open_stream(*addr)))
                .collect();
            for handle in opening {
                streams.push(handle.await??);
            }
        }
    }
    Ok(streams)
}

async fn open_stream(addr: SocketAddr) -> Result<hyper::body::Incoming, Error> {
    let stream = TcpStream::connect(addr).await?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake::<_, Empty<Bytes>>(TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    let request = Request::get("/api/firehose")
        .header("host", addr.to_string())
        .header("accept", "text/event-stream")
        .body(Empty::new())?;
    let response = sender.send_request(request).await?;
    if response.status() != 200 {
        return Err(format!("stream refused: {}", response.status()).into());
    }
    Ok(response.into_body())
}

/// Asks the firehose at `path` for `count` ticks (at `rate`/s if given); returns the first seq.
async fn publish(
    addr: SocketAddr,
    path: &str,
    count: u32,
    rate: Option<u32>,
) -> Result<(u64, String), Error> {
    let stream = TcpStream::connect(addr).await?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake::<_, Full<Bytes>>(TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    let body = match rate {
        Some(rate) => format!(r#"{{"count":{count},"rate":{rate}}}"#),
        None => format!(r#"{{"count":{count}}}"#),
    };
    let request = Request::post(path)
        .header("host", addr.to_string())
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body)))?;
    let response = sender.send_request(request).await?;
    let status = response.status();
    let body = response.into_body().collect().await?.to_bytes();
    if status != 200 {
        return Err(format!(
            "{path} answered {status}: {}",
            String::from_utf8_lossy(&body)
        )
        .into());
    }
    let answer: serde_json::Value = serde_json::from_slice(&body)?;
    let first = answer["first"].as_u64().ok_or("no first seq")?;
    Ok((
        first,
        answer["after"].as_str().unwrap_or_default().to_owned(),
    ))
}

/// Reads ticks `first..first + count`; returns each one's delay from publish in milliseconds
/// (from the tick's `price`, its publish time) and how the stream ended.
async fn receive(
    mut body: hyper::body::Incoming,
    first: u64,
    count: u32,
) -> (Vec<f64>, &'static str) {
    let mut parser = Parser::new();
    let mut delays = Vec::with_capacity(count as usize);
    let last = first + u64::from(count) - 1;
    loop {
        let frame = match tokio::time::timeout(SILENCE, body.frame()).await {
            Err(_) => return (delays, "silent"),
            Ok(None) => return (delays, "ended"),
            Ok(Some(Err(_))) => return (delays, "body error"),
            Ok(Some(Ok(frame))) => frame,
        };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        let received = now_millis();
        let mut done = false;
        parser.feed(&data, |event| {
            if let Ok(event) = event
                && event.event_type == Tick::NAME
                && let Ok(tick) = Tick::decode(event.data)
                && (first..=last).contains(&tick.seq)
            {
                delays.push(received - tick.price);
                done |= tick.seq == last;
            }
        });
        if done {
            return (delays, "complete");
        }
    }
}

async fn wait_for_health(addr: SocketAddr) -> Result<(), Error> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(stream) = TcpStream::connect(addr).await
            && let Ok((mut sender, connection)) =
                hyper::client::conn::http1::handshake::<_, Empty<Bytes>>(TokioIo::new(stream)).await
        {
            tokio::spawn(connection);
            let request = Request::get("/api/health")
                .header("host", addr.to_string())
                .body(Empty::new())?;
            if let Ok(response) = sender.send_request(request).await
                && response.status() == 200
            {
                return Ok(());
            }
        }
        if Instant::now() > deadline {
            return Err(format!("the demo server on {addr} did not become healthy").into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn now_millis() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |since| since.as_secs_f64() * 1000.0)
}
