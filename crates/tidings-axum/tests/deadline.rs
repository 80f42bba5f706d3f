//! Clients that stop reading, over real sockets on loopback: with a [`WriteDeadline`] listener
//! they are cut off within the deadline (their streams and permits released while they still
//! read nothing), and each then resumes from its last event ID with nothing lost. Without it,
//! measured in the same run, they stay connected.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{ConnectInfo, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tidings_axum::deadline::{PeerAddr, WriteDeadline};
use tidings_axum::{Channel, ChannelConfig, ConnectionLimiter, LastEventId};
use tidings_wire::Parser;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};

const CLIENTS: usize = 20;
const DEADLINE: Duration = Duration::from_millis(500);
/// How long the clients read nothing.
const STALL: Duration = Duration::from_secs(3);

#[derive(Clone)]
struct App {
    feed: Channel,
    limiter: ConnectionLimiter,
}

async fn events(State(app): State<App>, addr: SocketAddr, id: Option<String>) -> Response {
    match app.limiter.try_acquire(addr.ip()) {
        Ok(permit) => app
            .feed
            .subscribe(id.as_deref())
            .hold(permit)
            .into_response(),
        Err(refused) => refused.into_response(),
    }
}

fn router(app: App, deadline: bool) -> Router {
    let router = Router::new();
    let router = if deadline {
        router.route(
            "/events",
            get(
                |State(app): State<App>, ConnectInfo(PeerAddr(addr)), LastEventId(id)| {
                    events(State(app), addr, id)
                },
            ),
        )
    } else {
        router.route(
            "/events",
            get(
                |State(app): State<App>,
                 ConnectInfo(addr): ConnectInfo<SocketAddr>,
                 LastEventId(id)| { events(State(app), addr, id) },
            ),
        )
    };
    router.with_state(app)
}

/// A client: sends the request, reads the response's start, and returns the socket. The ones
/// that will stop reading get a small receive buffer, as a stuck phone would have.
async fn client(addr: SocketAddr, last_event_id: Option<&str>) -> (TcpStream, Vec<u8>) {
    let socket = TcpSocket::new_v4().expect("a socket");
    if last_event_id.is_none() {
        socket.set_recv_buffer_size(4096).expect("a small buffer");
    }
    let mut stream = socket.connect(addr).await.expect("connects");
    let resume = last_event_id.map_or_else(String::new, |id| format!("Last-Event-ID: {id}\r\n"));
    let request = format!("GET /events HTTP/1.1\r\nHost: {addr}\r\n{resume}\r\n");
    stream.write_all(request.as_bytes()).await.expect("sends");
    let mut start = vec![0; 1024];
    let n = stream.read(&mut start).await.expect("reads the start");
    start.truncate(n);
    (stream, start)
}

/// Reads what is left on `stream` after `bytes`, until it ends, `idle` passes without a byte
/// or `limit` passes. It only reads: a client that parsed as it went would stop reading while it parses
/// (here, in a debug build, on the server's own threads), and could be cut off for it.
async fn drain(
    mut stream: TcpStream,
    mut bytes: Vec<u8>,
    idle: Duration,
    limit: Duration,
) -> Vec<u8> {
    let end = tokio::time::Instant::now() + limit;
    let mut buffer = vec![0; 64 * 1024];
    while let Ok(Ok(n)) = tokio::time::timeout(idle, stream.read(&mut buffer)).await {
        if n == 0 || tokio::time::Instant::now() > end {
            break;
        }
        bytes.extend_from_slice(&buffer[..n]);
    }
    bytes
}

/// The event data in a response, as numbers, and the last event ID.
fn events_in(bytes: &[u8]) -> (Vec<u64>, String) {
    // The body is chunk-encoded: feed the parser only what is between the HTTP framing. Event
    // data here is digits, and no chunk-size line is a valid SSE line on its own, so parsing
    // the raw bytes after the headers would mis-read chunk sizes as lines: strip them.
    let body = match bytes.windows(4).position(|w| w == b"\r\n\r\n") {
        Some(end) => dechunk(&bytes[end + 4..]),
        None => Vec::new(),
    };
    let mut parser = Parser::new();
    let mut seqs = Vec::new();
    parser.feed(&body, |event| {
        if let Ok(event) = event
            && let Ok(seq) = event.data.parse()
        {
            seqs.push(seq);
        }
    });
    (seqs, parser.last_event_id().to_owned())
}

/// The payload of a chunked body (as far as it goes: a cut-off body gives what came whole).
fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(line) = body.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size = std::str::from_utf8(&body[..line])
            .ok()
            .and_then(|s| usize::from_str_radix(s.trim(), 16).ok());
        let Some(size) = size.filter(|&size| size > 0) else {
            return out;
        };
        let rest = &body[line + 2..];
        let Some(chunk) = rest.get(..size) else {
            out.extend_from_slice(rest);
            return out;
        };
        out.extend_from_slice(chunk);
        body = rest.get(size + 2..).unwrap_or_default();
    }
}

/// Serves a busy feed to `CLIENTS` clients that stop reading; returns how many streams are still
/// open after `STALL`, and when the last one closed (if they all did).
async fn run(
    deadline: bool,
) -> (
    usize,
    Option<Duration>,
    Vec<(Vec<u64>, String)>,
    Channel,
    SocketAddr,
) {
    let feed = Channel::with_config(ChannelConfig::default().capacity(20_000));
    let limiter = ConnectionLimiter::new(1_000, 1_000);
    let app = App {
        feed: feed.clone(),
        limiter: limiter.clone(),
    };
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let addr = listener.local_addr().expect("an address");
    let router = router(app, deadline);
    if deadline {
        let listener = WriteDeadline::new(listener, DEADLINE);
        tokio::spawn(
            axum::serve(
                listener,
                router.into_make_service_with_connect_info::<PeerAddr>(),
            )
            .into_future(),
        );
    } else {
        tokio::spawn(
            axum::serve(
                listener,
                router.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .into_future(),
        );
    }
    // A busy feed: a numbered event and 8 KiB of padding every millisecond, enough to fill any
    // send buffer a kernel grows for a client that reads nothing.
    let publisher = {
        let feed = feed.clone();
        tokio::spawn(async move {
            let padding = "x".repeat(8 * 1024);
            for n in 1u64.. {
                feed.publish_data(Some("n"), &format!("{n}"));
                feed.publish_data(Some("pad"), &padding);
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        })
    };
    let mut clients = Vec::new();
    for _ in 0..CLIENTS {
        clients.push(client(addr, None).await);
    }
    let started = Instant::now();
    let mut all_closed = None;
    while started.elapsed() < STALL {
        if limiter.open() == 0 && all_closed.is_none() {
            all_closed = Some(started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let open = limiter.open();
    // Each client its own task, as each would be its own process.
    let seen = futures_util::future::join_all(clients.into_iter().map(|(stream, start)| {
        tokio::spawn(drain(
            stream,
            start,
            Duration::from_millis(200),
            Duration::from_secs(1),
        ))
    }))
    .await;
    let seen: Vec<Vec<u8>> = seen.into_iter().map(|read| read.expect("reads")).collect();
    let seen = seen.iter().map(|bytes| events_in(bytes)).collect();
    publisher.abort();
    (open, all_closed, seen, feed, addr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_that_stop_reading_are_cut_off_and_resume_with_nothing_lost() {
    let (open_without, _, _, _, _) = run(false).await;
    let (open_with, closed_after, seen, feed, addr) = run(true).await;
    println!(
        "{CLIENTS} clients that stopped reading on a 1 ms feed, after {STALL:?}: without a write \
         deadline {open_without} still open; with a {DEADLINE:?} deadline {open_with} open, \
         all cut off after {closed_after:?}"
    );
    assert_eq!(
        open_without, CLIENTS,
        "the control run: nothing cuts them off"
    );
    assert_eq!(open_with, 0, "every stuck client cut off");
    let closed_after = closed_after.expect("all closed");
    assert!(closed_after < STALL, "cut off after {closed_after:?}");

    // Each resumes from the last event it got (nothing is published any more: the replay has
    // an end), and gets every event after it.
    let newest: u64 = {
        use tidings_wire::ReplayLog;
        let position = feed.position().expect("a position");
        let last = feed.recent("n", 1, &position);
        last.first()
            .and_then(|event| event.data.parse().ok())
            .expect("events were published")
    };
    let resumed = futures_util::future::join_all(seen.into_iter().map(|(seqs, last_id)| {
        tokio::spawn(async move {
            assert!(
                !last_id.is_empty(),
                "every client got some events before it stopped reading"
            );
            let (stream, start) = client(addr, Some(&last_id)).await;
            // Nothing is published any more: the replay ends, then the stream idles.
            let more = drain(
                stream,
                start,
                Duration::from_millis(500),
                Duration::from_secs(20),
            )
            .await;
            (seqs, more)
        })
    }))
    .await;
    let resumed: Vec<(Vec<u64>, Vec<u64>)> = resumed
        .into_iter()
        .map(|resumed| resumed.expect("reads"))
        .map(|(seqs, more)| (seqs, events_in(&more).0))
        .collect();
    let (mut before, mut after, mut gaps, mut short) = (0, 0, 0, 0);
    for (seqs, more) in resumed {
        assert!(
            !more.is_empty(),
            "the resumed stream replays what was missed"
        );
        before += seqs.len();
        after += more.len();
        let all: Vec<u64> = seqs.into_iter().chain(more).collect();
        gaps += all.windows(2).filter(|w| w[1] != w[0] + 1).count();
        short += usize::from(all.last() != Some(&newest));
    }
    println!("resumed: {before} events before the cut-off, {after} replayed after it, {gaps} gaps");
    assert_eq!(gaps, 0, "gaps across the cut-off");
    assert_eq!(
        short, 0,
        "clients whose replay stopped before the newest event, #{newest}"
    );
}
