//! tidings-axum against SSE clients nobody on the tidings project wrote, each a real process:
//! the npm `eventsource` and `@microsoft/fetch-event-source` in Node, and Python's `httpx-sse`
//! driven by the reconnect loop from its README (`tests/interop/`).
//!
//! The server is a tidings-axum [`Channel`] on a real socket. While a peer reads, it publishes
//! paced events whose data is hard to carry (blank lines, CR and CRLF, leading spaces, lines that
//! look like fields or comments, empty data, non-ASCII), and it gets in the way: every stream is
//! dropped after 150 to 400 ms, every fifth connection is refused as over the limit (the
//! `ConnectionLimiter` answer), and every seventh resume is forced into a resync (its
//! `Last-Event-ID` replaced by one the channel does not know). The pass criteria are tidings'
//! own: every event once, in order, byte-exact, except those a resync covers; no event the server
//! did not send (no keep-alive or `retry` hint taken for one).
//!
//! The peers need `cargo xtask setup` (npm packages, the Python venv), so these tests are ignored
//! by a plain `cargo test`; `cargo xtask test` runs them with `--ignored`.
#![cfg(not(target_arch = "wasm32"))]

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures_util::StreamExt;
use tidings_axum::{Channel, ChannelConfig, ConnectionLimiter, ConnectionPermit, LastEventId};

/// Events published for each peer; each peer reads until the last.
const EVENTS: u64 = 3_000;
/// One event every this long.
const PACE: Duration = Duration::from_millis(3);
/// The reconnection delay the streams suggest (`retry:`), and the limiter's.
const RETRY: Duration = Duration::from_millis(40);

/// The data of event `seq`, as published.
fn payload(seq: u64) -> String {
    match seq % 8 {
        0 => format!("{seq}"),
        1 => format!("# Post {seq}\n\nA paragraph.\n\n- one\n- two\n"),
        2 => String::new(),
        3 => format!("  indented {seq}\r\nwindows line\rold mac line"),
        4 => format!("data: not a field {seq}\n: not a comment\nid: not an id\n\nretry: 1"),
        5 => format!("héllo ✓ {seq} — 😀"),
        6 => format!("{{\"token\":\" the\",\"seq\":{seq}}}"),
        _ => format!("\n\n{seq}\n\n"),
    }
}

/// The data of event `seq` as every client must hand it over: the standard turns CR and CRLF
/// into LF.
fn expected_data(seq: u64) -> String {
    payload(seq).replace("\r\n", "\n").replace('\r', "\n")
}

#[derive(Default)]
struct Counts {
    connections: AtomicU64,
    drops: AtomicU64,
    refused: AtomicU64,
    forced_resyncs: AtomicU64,
}

#[derive(Clone)]
struct App {
    channel: Channel,
    /// Always full: its refusals are the over-limit answer.
    full: ConnectionLimiter,
    _held: Arc<ConnectionPermit>,
    counts: Arc<Counts>,
    first_connection: Arc<tokio::sync::Notify>,
}

async fn events(State(app): State<App>, LastEventId(id): LastEventId) -> Response {
    let n = app.counts.connections.fetch_add(1, Ordering::SeqCst) + 1;
    if n == 1 {
        app.first_connection.notify_one();
    }
    if n % 5 == 0 {
        app.counts.refused.fetch_add(1, Ordering::SeqCst);
        let refused = match app.full.try_acquire(IpAddr::from([127, 0, 0, 1])) {
            Err(refused) => refused,
            Ok(_) => unreachable!("the limiter is kept full"),
        };
        return refused.into_response();
    }
    let id = match id {
        Some(_) if n % 7 == 0 => {
            app.counts.forced_resyncs.fetch_add(1, Ordering::SeqCst);
            Some("not-an-id-of-this-channel".to_owned())
        }
        id => id,
    };
    // A life of 150 to 400 ms, varied by a small LCG on the connection's number.
    let life = Duration::from_millis(150 + (n.wrapping_mul(6_364_136_223_846_793_005) >> 33) % 250);
    let response = app
        .channel
        .subscribe(id.as_deref())
        .retry(RETRY)
        .into_response();
    let (parts, body) = response.into_parts();
    let counts = app.counts.clone();
    let dropped = async move {
        tokio::time::sleep(life).await;
        counts.drops.fetch_add(1, Ordering::SeqCst);
    };
    let body = body.into_data_stream().take_until(Box::pin(dropped));
    Response::from_parts(parts, Body::from_stream(body))
}

/// Serves a fresh channel on a loopback port; publishes [`EVENTS`] paced events once the first
/// client connects.
async fn serve() -> (SocketAddr, Arc<Counts>) {
    let channel = Channel::with_config(ChannelConfig::default().capacity(100_000));
    let full = ConnectionLimiter::new(1, 1).retry_after(RETRY);
    let held = full
        .try_acquire(IpAddr::from([127, 0, 0, 1]))
        .expect("an empty limiter has room");
    let app = App {
        channel: channel.clone(),
        full,
        _held: Arc::new(held),
        counts: Arc::default(),
        first_connection: Arc::default(),
    };
    let counts = app.counts.clone();
    let first_connection = app.first_connection.clone();
    tokio::spawn(async move {
        first_connection.notified().await;
        let mut pace = tokio::time::interval(PACE);
        // A little past the end, so that a peer resynced near it still reaches it.
        for seq in 1..=EVENTS + 200 {
            pace.tick().await;
            channel.publish_data(Some("n"), &payload(seq));
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let addr = listener.local_addr().expect("bound");
    let router = Router::new().route("/events", get(events)).with_state(app);
    tokio::spawn(async move {
        axum::serve(listener, router)
            .await
            .expect("the server runs");
    });
    (addr, counts)
}

/// One event as a peer printed it.
#[derive(serde::Deserialize)]
struct Seen {
    #[serde(rename = "type")]
    event_type: String,
    id: String,
    data: String,
}

/// What a peer saw, judged by tidings' own criteria.
#[derive(Debug, Default, PartialEq)]
struct Verdict {
    events: u64,
    resyncs: u64,
    lost: u64,
    duplicated: u64,
    corrupted: u64,
    /// Events the server never sent: a keep-alive, a `retry` hint or a blank line dispatched.
    phantom: u64,
}

fn seq_of(id: &str) -> Option<u64> {
    id.rsplit('-').next()?.parse().ok()
}

/// How a peer is known to alter data that no server can send otherwise (SSE has no escaping),
/// applied to what it must hand over. Only upstream bugs belong here, each named.
type Quirk = fn(String) -> String;

/// No known alteration.
fn exact(data: String) -> String {
    data
}

/// `@microsoft/fetch-event-source` 2.0.1 joins data lines with
/// `message.data ? message.data + '\n' + value : value`, so leading empty data lines vanish:
/// `"\n\nx"` arrives as `"x"`.
fn leading_blank_lines_lost(data: String) -> String {
    data.trim_start_matches('\n').to_owned()
}

fn judge(output: &str, quirk: Quirk) -> Verdict {
    let mut verdict = Verdict::default();
    let mut next: Option<u64> = None;
    for line in output.lines() {
        let seen: Seen = serde_json::from_str(line)
            .unwrap_or_else(|error| panic!("a peer's line {line:?}: {error}"));
        match (seen.event_type.as_str(), seq_of(&seen.id)) {
            ("n", Some(seq)) => {
                verdict.events += 1;
                match next {
                    Some(expected) if seq < expected => verdict.duplicated += 1,
                    Some(expected) if seq > expected => verdict.lost += seq - expected,
                    None if seq != 1 => verdict.lost += seq - 1,
                    _ => {}
                }
                let expected = quirk(expected_data(seq));
                if seen.data != expected {
                    verdict.corrupted += 1;
                    eprintln!("event {seq}: got {:?}, expected {expected:?}", seen.data);
                }
                next = Some(next.map_or(seq + 1, |expected| expected.max(seq + 1)));
            }
            ("tidings-resync", Some(position)) => {
                verdict.resyncs += 1;
                // The events up to the resync's position are covered by it: the app reloads.
                next = Some(position + 1);
            }
            _ => {
                verdict.phantom += 1;
                eprintln!("an event the server never sent: {line}");
            }
        }
    }
    verdict
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is in the workspace")
        .to_path_buf()
}

/// The venv's Python, set up by `cargo xtask setup` (or `TIDINGS_INTEROP_PYTHON`).
fn python() -> PathBuf {
    std::env::var_os("TIDINGS_INTEROP_PYTHON").map_or_else(
        || root().join("target/xtask/venv/bin/python"),
        PathBuf::from,
    )
}

/// Runs `program args…` to its end (it bounds itself to 120 s) and returns what it printed.
fn run_peer(name: &str, program: &Path, args: &[String]) -> String {
    let output = Command::new(program)
        .args(args)
        .current_dir(root())
        .output()
        .unwrap_or_else(|error| {
            panic!(
                "cannot run {name} ({}): {error}; run `cargo xtask setup`",
                program.display()
            )
        });
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{name} failed ({}): {stderr}",
        output.status
    );
    String::from_utf8(output.stdout).expect("peers print UTF-8")
}

/// Serves one peer and judges what it saw.
async fn against(
    name: &str,
    quirk: Quirk,
    program: PathBuf,
    args: impl FnOnce(&str) -> Vec<String>,
) {
    let (addr, counts) = serve().await;
    let url = format!("http://{addr}/events");
    let args = args(&url);
    let label = name.to_owned();
    let output = tokio::task::spawn_blocking(move || run_peer(&label, &program, &args))
        .await
        .expect("the peer's thread");
    let verdict = judge(&output, quirk);
    let drops = counts.drops.load(Ordering::SeqCst);
    let refused = counts.refused.load(Ordering::SeqCst);
    let forced = counts.forced_resyncs.load(Ordering::SeqCst);
    println!(
        "{name}: {} events, {drops} drops, {refused} over-limit refusals, {} resyncs ({forced} forced), {} lost, {} duplicated, {} corrupted, {} phantom",
        verdict.events,
        verdict.resyncs,
        verdict.lost,
        verdict.duplicated,
        verdict.corrupted,
        verdict.phantom
    );
    assert!(
        drops >= 5,
        "{name}: the streams were dropped only {drops} times"
    );
    assert!(refused >= 1, "{name}: no over-limit refusal was tried");
    assert!(forced >= 1, "{name}: no resync was forced");
    assert_eq!(
        (
            verdict.lost,
            verdict.duplicated,
            verdict.corrupted,
            verdict.phantom
        ),
        (0, 0, 0, 0),
        "{name}: lost, duplicated, corrupted, phantom"
    );
    assert_eq!(
        verdict.resyncs, forced,
        "{name}: every forced resync, and only those, reached the client"
    );
    assert!(
        verdict.events > EVENTS / 2,
        "{name}: too few events to judge"
    );
}

fn node_peer(client: &str, url: &str) -> Vec<String> {
    vec![
        root()
            .join("tests/interop/node_peer.mjs")
            .to_string_lossy()
            .into_owned(),
        client.to_owned(),
        url.to_owned(),
        EVENTS.to_string(),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the npm peers: cargo xtask test runs it"]
async fn npm_eventsource_loses_nothing() {
    against("npm eventsource 4.1.1", exact, "node".into(), |url| {
        node_peer("eventsource", url)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the npm peers: cargo xtask test runs it"]
async fn microsoft_fetch_event_source_loses_nothing() {
    against(
        "@microsoft/fetch-event-source 2.0.1",
        leading_blank_lines_lost,
        "node".into(),
        |url| node_peer("fetch-event-source", url),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the Python peers: cargo xtask test runs it"]
async fn python_httpx_sse_loses_nothing() {
    against("httpx-sse 0.4.3", exact, python(), |url| {
        vec![
            root()
                .join("tests/interop/httpx_peer.py")
                .to_string_lossy()
                .into_owned(),
            url.to_owned(),
            EVENTS.to_string(),
        ]
    })
    .await;
}

/// The judge itself: it must catch what it is there to catch.
#[test]
fn the_judge_counts_losses_duplicates_corruption_and_phantoms() {
    let line = |event_type: &str, seq: u64, data: &str| {
        serde_json::json!({"type": event_type, "id": format!("e-{seq}"), "data": data}).to_string()
    };
    let good = [
        line("n", 1, &expected_data(1)),
        line("n", 2, &expected_data(2)),
        line("tidings-resync", 9, "{}"),
        line("n", 10, &expected_data(10)),
    ]
    .join("\n");
    let verdict = judge(&good, exact);
    assert_eq!((verdict.events, verdict.resyncs), (3, 1));
    assert_eq!(
        (verdict.lost, verdict.duplicated, verdict.phantom),
        (0, 0, 0)
    );

    let bad = [
        line("n", 1, &expected_data(1)),
        line("n", 3, &expected_data(3)),
        line("n", 3, &expected_data(3)),
        line("n", 4, "wrong"),
        line("message", 0, ""),
    ]
    .join("\n");
    let verdict = judge(&bad, exact);
    assert_eq!(
        (
            verdict.lost,
            verdict.duplicated,
            verdict.corrupted,
            verdict.phantom
        ),
        (1, 1, 1, 1)
    );
    // A quirk excuses exactly what it names.
    let trimmed = line("n", 7, expected_data(7).trim_start_matches('\n'));
    assert_eq!(judge(&trimmed, exact).corrupted, 1);
    assert_eq!(judge(&trimmed, leading_blank_lines_lost).corrupted, 0);
    assert_eq!(
        judge(&line("n", 1, "x"), leading_blank_lines_lost).corrupted,
        1
    );
}
