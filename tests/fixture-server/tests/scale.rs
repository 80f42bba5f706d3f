//! Several fixture servers (the demo and its firehose) sharing their feeds through a real Redis, as separate processes: a
//! client whose server is killed mid-stream resumes on another with every event exactly once.

use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use demo_events::Tick;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use tidings_axum::testing::{EventReader, RedisServer};
use tidings_wire::TypedEvent;
use tokio::net::TcpStream;

/// A demo server process, killed (SIGKILL, as a crash) by its PID when dropped.
struct Server {
    addr: SocketAddr,
    child: Child,
}

impl Server {
    fn start(redis: &RedisServer) -> Self {
        let addr = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port");
        let child = Command::new(env!("CARGO_BIN_EXE_fixture-server"))
            .args(["--addr", &addr.to_string(), "--no-ticker"])
            .args(["--redis", &redis.url()])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .expect("the demo server starts");
        Self { addr, child }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn request(
    addr: SocketAddr,
    request: Request<Full<Bytes>>,
) -> hyper::Response<hyper::body::Incoming> {
    let stream = TcpStream::connect(addr).await.expect("the server listens");
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("an HTTP connection");
    tokio::spawn(connection);
    sender.send_request(request).await.expect("an answer")
}

async fn healthy(addr: SocketAddr) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if TcpStream::connect(addr).await.is_ok() {
            let answer = request(
                addr,
                Request::get("/api/health")
                    .body(Full::default())
                    .expect("valid"),
            )
            .await;
            if answer.status() == 200 {
                return;
            }
        }
        assert!(Instant::now() < deadline, "{addr} did not become healthy");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn firehose(addr: SocketAddr, last_event_id: Option<&str>) -> EventReader {
    let mut builder = Request::get("/api/firehose").header("accept", "text/event-stream");
    if let Some(id) = last_event_id {
        builder = builder.header("last-event-id", id);
    }
    let answer = request(addr, builder.body(Full::default()).expect("valid")).await;
    assert_eq!(answer.status(), 200);
    EventReader::new(Body::new(answer.into_body())).patience(Duration::from_secs(10))
}

fn seqs(events: &[tidings_wire::Event]) -> Vec<u64> {
    events
        .iter()
        .filter(|event| event.event_type == Tick::NAME)
        .map(|event| Tick::decode(&event.data).expect("a tick").seq)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_of_a_killed_server_resumes_on_another_with_every_event_once() {
    let redis = RedisServer::start();
    let mut a = Server::start(&redis);
    let b = Server::start(&redis);
    healthy(a.addr).await;
    healthy(b.addr).await;

    let mut on_a = firehose(a.addr, None).await;
    // 3,000 ticks over 3 seconds, published through server B.
    let publish = Request::post("/api/firehose/paced")
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(r#"{"count":3000,"rate":1000}"#)))
        .expect("valid");
    let answer = request(b.addr, publish).await;
    assert_eq!(answer.status(), 200);
    let answer: serde_json::Value = serde_json::from_slice(
        &answer
            .into_body()
            .collect()
            .await
            .expect("a body")
            .to_bytes(),
    )
    .expect("JSON");
    let first = answer["first"].as_u64().expect("the first seq");

    // The marker, then some ticks; then server A crashes mid-stream.
    let before = on_a.events(500).await;
    let _ = a.child.kill();
    let _ = a.child.wait();
    let last_id = before.last().expect("events").last_event_id.clone();
    let seen = seqs(&before);
    assert!(seen.len() < 3000, "the crash came before the end");

    let mut on_b = firehose(b.addr, Some(&last_id)).await;
    let after = seqs(&on_b.events(3000 - seen.len()).await);
    let all: Vec<u64> = seen.into_iter().chain(after).collect();
    let expected: Vec<u64> = (first..first + 3000).collect();
    assert!(
        all == expected,
        "every tick once, in order: got {} ticks",
        all.len()
    );
}
