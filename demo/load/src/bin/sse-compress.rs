//! `sse-compress`: compressed event streams, measured on loopback (`cargo xtask bench
//! compression`). Two streams, published at a steady rate:
//!
//! - `ticker`: JSON price ticks (`demo_events::Tick`, three symbols), 1 000 at 500 a second;
//! - `tokens`: an LLM answer as token deltas (`{"delta":" word"}`), 1 000 at 250 a second;
//!
//! each read by one client per coding (none, gzip, Brotli, zstd) from tidings-axum
//! (`EventStream::compress`, flushed per write), and from the peer a user writes by hand: axum's
//! `Sse` over a `broadcast` channel behind tower-http's `CompressionLayer` (gzip), told to
//! compress event streams too (by default it leaves them alone, for the reason this shows).
//! For each: body bytes received, the ratio to the uncompressed stream, and publish → decoded
//! event latency (p50, p99, max); then the heap each server holds per idle stream, counted by
//! the allocator.
//!
//! The client counts the bytes of the response body as hyper hands them over (after HTTP/1.1
//! chunking), decodes them incrementally with the same crates browsers' decoders agree with
//! (flate2, brotli, zstd), and parses with tidings-wire. Server and client share the process
//! and its clock; publish times are kept per event ID, not sent.

use std::alloc::System;
use std::collections::HashMap;
use std::convert::Infallible;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, HttpBody as _};
use axum::extract::{Path, State};
use axum::http::{Request, header};
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures_util::StreamExt;
use http_body_util::BodyExt;
use stats_alloc::{INSTRUMENTED_SYSTEM, StatsAlloc};
use tidings_axum::Channel;
use tidings_axum::compress::{AcceptEncoding, Compression};
use tidings_wire::Parser;
use tokio::sync::broadcast;
use tokio_stream::wrappers::BroadcastStream;

/// Counts what is allocated and freed (`stats_alloc`: the unsafe part is in that crate).
#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Events per run.
const EVENTS: u64 = 1_000;
/// How long a client waits for the last event after the publisher is done.
const GRACE: Duration = Duration::from_secs(3);

/// One stream to publish: its name, rate, and the data of event `n`.
struct Workload {
    name: &'static str,
    per_second: u64,
    data: fn(u64) -> String,
}

const WORDS: [&str; 16] = [
    " the", " stream", " of", " tokens", " arrives", " one", " word", " at", " a", " time", ",",
    " and", " each", " is", " small", ".",
];

const WORKLOADS: [Workload; 2] = [
    Workload {
        name: "ticker",
        per_second: 500,
        data: |n| {
            let symbols = [("ACME", 120.0), ("GLOBX", 48.5), ("INITECH", 310.25)];
            let (symbol, base) = symbols[(n % 3) as usize];
            let tick = demo_events::Tick {
                symbol: symbol.to_owned(),
                price: base + ((n * 37) % 200) as f64 / 100.0,
                seq: n,
            };
            serde_json::to_string(&tick).unwrap_or_default()
        },
    },
    Workload {
        name: "tokens",
        per_second: 250,
        data: |n| {
            let word = WORDS[(n * 7 % WORDS.len() as u64) as usize];
            serde_json::json!({ "delta": word }).to_string()
        },
    },
];

/// What both servers share: tidings' channel, the peer's broadcast, and when each event was
/// published.
#[derive(Clone)]
struct Servers {
    channel: Channel,
    broadcast: broadcast::Sender<(String, String)>,
    published: Arc<Mutex<HashMap<String, Instant>>>,
}

async fn tidings_stream(
    State(servers): State<Servers>,
    AcceptEncoding(coding): AcceptEncoding,
) -> Response {
    servers
        .channel
        .subscribe(None)
        .compress(coding)
        .into_response()
}

async fn peer_stream(State(servers): State<Servers>) -> Response {
    let events = BroadcastStream::new(servers.broadcast.subscribe()).filter_map(|message| async {
        let (id, data) = message.ok()?;
        Some(Ok::<_, Infallible>(
            Event::default().event("e").id(id).data(data),
        ))
    });
    Sse::new(events).into_response()
}

fn app(servers: Servers) -> Router {
    // The peer's compression, told to take event streams as well: what a hand-written server
    // with a compression middleware does (tower-http leaves `text/event-stream` alone unless
    // told otherwise).
    let compress_everything = tower_http::compression::CompressionLayer::new()
        .gzip(true)
        .no_br()
        .no_deflate()
        .no_zstd()
        .compress_when(tower_http::compression::predicate::SizeAbove::new(0));
    Router::new()
        .route("/tidings", get(tidings_stream))
        .route("/peer", get(peer_stream).layer(compress_everything))
        .route("/peer-plain", get(peer_stream))
        .route("/{any}", get(|Path(_): Path<String>| async { "" }))
        .with_state(servers)
}

/// A streaming decoder of a content coding.
enum Decoder {
    Identity(Vec<u8>),
    Gzip(flate2::write::GzDecoder<Vec<u8>>),
    Brotli(Box<brotli::DecompressorWriter<Vec<u8>>>),
    Zstd(zstd::stream::write::Decoder<'static, Vec<u8>>),
}

impl Decoder {
    fn new(coding: Option<&str>) -> Self {
        match coding {
            Some("gzip") => Self::Gzip(flate2::write::GzDecoder::new(Vec::new())),
            Some("br") => Self::Brotli(Box::new(brotli::DecompressorWriter::new(Vec::new(), 4096))),
            Some("zstd") => match zstd::stream::write::Decoder::new(Vec::new()) {
                Ok(decoder) => Self::Zstd(decoder),
                Err(error) => panic!("zstd decoder: {error}"),
            },
            _ => Self::Identity(Vec::new()),
        }
    }

    /// Feeds `bytes`; returns what they decode to.
    fn feed(&mut self, bytes: &[u8]) -> std::io::Result<Vec<u8>> {
        let out = match self {
            Self::Identity(out) => {
                out.extend_from_slice(bytes);
                out
            }
            Self::Gzip(decoder) => {
                decoder.write_all(bytes)?;
                decoder.flush()?;
                decoder.get_mut()
            }
            Self::Brotli(decoder) => {
                decoder.write_all(bytes)?;
                decoder.flush()?;
                decoder.get_mut()
            }
            Self::Zstd(decoder) => {
                decoder.write_all(bytes)?;
                decoder.flush()?;
                decoder.get_mut()
            }
        };
        Ok(std::mem::take(out))
    }
}

/// What one client saw.
struct Run {
    coding: Option<String>,
    bytes: u64,
    events: u64,
    late: Vec<f64>,
}

/// Reads `path` offering `accept` until `EVENTS` events or `deadline`.
async fn client(
    addr: std::net::SocketAddr,
    path: &str,
    accept: &str,
    published: Arc<Mutex<HashMap<String, Instant>>>,
    ready: tokio::sync::oneshot::Sender<()>,
    deadline: Arc<Mutex<Option<Instant>>>,
) -> Run {
    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .expect("handshake");
    tokio::spawn(connection);
    let mut request = Request::get(path).header(header::HOST, "127.0.0.1");
    if !accept.is_empty() {
        request = request.header(header::ACCEPT_ENCODING, accept);
    }
    let response = sender
        .send_request(request.body(Body::empty()).expect("a request"))
        .await
        .expect("a response");
    let coding = response
        .headers()
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let mut decoder = Decoder::new(coding.as_deref());
    let mut parser = Parser::new();
    let mut body = response.into_body();
    let _ = ready.send(());
    let (mut bytes, mut events, mut late) = (0, 0, Vec::new());
    while events < EVENTS {
        let wait = deadline
            .lock()
            .ok()
            .and_then(|d| *d)
            .map_or(Duration::from_secs(60), |d| {
                d.saturating_duration_since(Instant::now())
            });
        let Ok(Some(Ok(frame))) = tokio::time::timeout(wait, body.frame()).await else {
            break;
        };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        bytes += data.len() as u64;
        let now = Instant::now();
        let Ok(text) = decoder.feed(&data) else { break };
        parser.feed(&text, |event| {
            let Ok(event) = event else { return };
            events += 1;
            if let Some(at) = published
                .lock()
                .ok()
                .and_then(|p| p.get(event.last_event_id).copied())
            {
                late.push(now.duration_since(at).as_secs_f64() * 1000.0);
            }
        });
    }
    Run {
        coding,
        bytes,
        events,
        late,
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// The bytes live on the heap now.
fn live() -> isize {
    let stats = GLOBAL.stats();
    stats.bytes_allocated.cast_signed() - stats.bytes_deallocated.cast_signed()
        + stats.bytes_reallocated
}

/// The heap per compressed stream of `channel`, over `n` of them, each having sent one event.
fn heap_per_stream(channel: &Channel, first: &str, coding: Option<Compression>, n: usize) -> f64 {
    let waker = futures_util::task::noop_waker();
    let mut context = std::task::Context::from_waker(&waker);
    let mut bodies: Vec<Body> = Vec::with_capacity(n);
    let before = live();
    for _ in 0..n {
        let mut body = channel
            .subscribe(Some(first))
            .compress(coding)
            .into_response()
            .into_body();
        while let std::task::Poll::Ready(Some(_)) =
            std::pin::Pin::new(&mut body).poll_frame(&mut context)
        {}
        bodies.push(body);
    }
    let held = live() - before;
    drop(bodies);
    held as f64 / n as f64
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    println!(
        "{EVENTS} events per stream, each stream read by one client per coding on loopback (body bytes as received; latency publish -> decoded event):"
    );
    println!(
        "| stream | server | coding | body bytes | of uncompressed | events | p50 | p99 | max |"
    );
    println!("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |");
    let clients: [(&str, &str, &str); 6] = [
        ("tidings", "/tidings", ""),
        ("tidings", "/tidings", "gzip"),
        ("tidings", "/tidings", "br"),
        ("tidings", "/tidings", "zstd"),
        ("axum + tower-http", "/peer-plain", ""),
        ("axum + tower-http `CompressionLayer`", "/peer", "gzip"),
    ];
    for workload in &WORKLOADS {
        let servers = Servers {
            channel: Channel::new(),
            broadcast: broadcast::channel(4096).0,
            published: Arc::new(Mutex::new(HashMap::new())),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("an address");
        let server = tokio::spawn(axum::serve(listener, app(servers.clone())).into_future());
        let deadline = Arc::new(Mutex::new(None));
        let mut runs = Vec::new();
        for (_, path, accept) in clients {
            let (ready, is_ready) = tokio::sync::oneshot::channel();
            runs.push(tokio::spawn(client(
                addr,
                path,
                accept,
                servers.published.clone(),
                ready,
                deadline.clone(),
            )));
            let _ = is_ready.await;
        }
        // Publish at the workload's rate, to both servers, the same data under the same ID.
        let start = Instant::now();
        let interval = Duration::from_secs(1) / u32::try_from(workload.per_second).unwrap_or(1);
        for n in 1..=EVENTS {
            tokio::time::sleep_until((start + interval * u32::try_from(n).unwrap_or(0)).into())
                .await;
            let data = (workload.data)(n);
            let id = servers.channel.publish_data(Some("e"), &data);
            if let Ok(mut published) = servers.published.lock() {
                published.insert(id.clone(), Instant::now());
            }
            let _ = servers.broadcast.send((id, data));
        }
        if let Ok(mut deadline) = deadline.lock() {
            *deadline = Some(Instant::now() + GRACE);
        }
        let mut baseline = None;
        for ((server_name, _, _), run) in clients.iter().zip(runs) {
            let mut run = run.await.expect("a client");
            run.late.sort_by(f64::total_cmp);
            let base = *baseline.get_or_insert(run.bytes);
            println!(
                "| {} | {server_name} | {} | {} | {:.0}% | {} | {:.2} ms | {:.2} ms | {:.1} ms |",
                workload.name,
                run.coding.as_deref().unwrap_or("none"),
                run.bytes,
                run.bytes as f64 * 100.0 / base as f64,
                run.events,
                percentile(&run.late, 50.0),
                percentile(&run.late, 99.0),
                run.late.last().copied().unwrap_or(f64::NAN),
            );
        }
        server.abort();
    }

    // The heap each compressed stream holds, once it has sent an event.
    let channel = Channel::new();
    let first = channel.publish_data(Some("e"), "{}");
    channel.publish_data(Some("e"), &(WORKLOADS[0].data)(1));
    drop(channel.subscribe(None).into_response());
    println!("Heap per idle stream that has sent one event, 200 streams each (allocator-counted):");
    println!("| coding | heap per stream |");
    println!("| --- | ---: |");
    for coding in [
        None,
        Some(Compression::Gzip),
        Some(Compression::Brotli),
        Some(Compression::Zstd),
    ] {
        let heap = heap_per_stream(&channel, &first, coding, 200);
        println!(
            "| {} | {:.1} KiB |",
            coding.map_or("none", Compression::token),
            heap / 1024.0
        );
    }
}
