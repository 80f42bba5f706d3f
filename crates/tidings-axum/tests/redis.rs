//! `RedisChannel` against a real `redis-server` (feature `redis`; `cargo xtask test` installs the
//! server and runs these). Each test starts its own Redis on a free loopback port with a
//! temporary directory, and stops it by PID. Several "instances" are several `RedisChannel`s on
//! one stream key, each with its own mirror, its own connections and its own router, as separate
//! servers would have.
#![cfg(feature = "redis")]

use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{Request, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use tidings_axum::redis::{RedisChannel, RedisConfig, RedisHealth};
use tidings_axum::testing::{EventReader, RedisServer as Redis};
use tidings_axum::{ChannelConfig, EventStream, LastEventId, RESYNC_EVENT};
use tidings_wire::Event;
use tower::ServiceExt;

fn app(channel: &RedisChannel) -> Router {
    async fn events(
        State(channel): State<RedisChannel>,
        LastEventId(id): LastEventId,
    ) -> EventStream {
        channel.subscribe(id.as_deref())
    }
    Router::new()
        .route("/events", get(events))
        .with_state(channel.clone())
}

async fn connect(instance: &RedisChannel, last_event_id: Option<&str>) -> EventReader {
    let mut request = Request::get("/events");
    if let Some(id) = last_event_id {
        request = request.header("last-event-id", id);
    }
    let response = app(instance)
        .oneshot(request.body(Body::empty()).expect("valid request"))
        .await
        .expect("infallible");
    assert_eq!(response.status(), StatusCode::OK);
    EventReader::new(response.into_body()).patience(Duration::from_secs(10))
}

fn instance(redis: &Redis, key: &str, capacity: usize) -> RedisChannel {
    let config =
        RedisConfig::new(redis.url(), key).channel(ChannelConfig::default().capacity(capacity));
    RedisChannel::open(config).expect("a Redis URL")
}

async fn wait_until_up(instances: &[&RedisChannel]) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while instances.iter().any(|i| i.health() != RedisHealth::Up) {
        assert!(
            Instant::now() < deadline,
            "Redis not up: {:?}",
            instances.iter().map(|i| i.health()).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn publish(instance: &RedisChannel, range: std::ops::RangeInclusive<u32>) -> Vec<String> {
    let mut ids = Vec::new();
    for n in range {
        ids.push(
            instance
                .publish_data(Some("n"), &n.to_string())
                .await
                .expect("published"),
        );
    }
    ids
}

fn datas(events: &[Event]) -> Vec<String> {
    events.iter().map(|event| event.data.clone()).collect()
}

fn numbered(range: std::ops::RangeInclusive<u32>) -> Vec<String> {
    range.map(|n| n.to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn published_on_one_instance_delivered_by_all() {
    let redis = Redis::start();
    let instances: Vec<RedisChannel> = (0..3).map(|_| instance(&redis, "feed", 1_000)).collect();
    wait_until_up(&instances.iter().collect::<Vec<_>>()).await;
    let mut readers = Vec::new();
    for instance in &instances {
        readers.push(connect(instance, None).await);
    }
    // Each instance publishes a third.
    let mut ids = publish(&instances[0], 1..=100).await;
    ids.extend(publish(&instances[1], 101..=200).await);
    ids.extend(publish(&instances[2], 201..=300).await);
    for reader in &mut readers {
        let events = reader.events(300).await;
        assert_eq!(datas(&events), numbered(1..=300));
        let seen: Vec<&str> = events.iter().map(|e| e.last_event_id.as_str()).collect();
        assert_eq!(seen, ids, "the same IDs on every instance");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_resumes_on_another_instance_with_exactly_the_missed_events() {
    let redis = Redis::start();
    let a = instance(&redis, "feed", 1_000);
    let b = instance(&redis, "feed", 1_000);
    wait_until_up(&[&a, &b]).await;
    let mut on_a = connect(&a, None).await;
    let publisher = instance(&redis, "feed", 1_000);
    wait_until_up(&[&publisher]).await;
    publish(&publisher, 1..=50).await;
    let first = on_a.events(30).await;
    // Instance A dies mid-stream: its client's connection and the instance go.
    drop(on_a);
    drop(a);
    publish(&publisher, 51..=100).await;
    let last_id = first
        .last()
        .map(|event| event.last_event_id.clone())
        .expect("an event");
    let mut on_b = connect(&b, Some(&last_id)).await;
    // `events(n)` reads whole chunks: the first read may have brought more than 30.
    let rest = on_b.events(100 - first.len()).await;
    let mut all = datas(&first);
    all.extend(datas(&rest));
    assert_eq!(all, numbered(1..=100), "every event exactly once, in order");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_started_later_resumes_clients_from_its_backfill() {
    let redis = Redis::start();
    let a = instance(&redis, "feed", 100);
    wait_until_up(&[&a]).await;
    let ids = publish(&a, 1..=150).await;
    // Started after the events: it loads the last 100 from Redis.
    let late = instance(&redis, "feed", 100);
    wait_until_up(&[&late]).await;
    let mut resumed = connect(&late, Some(&ids[119])).await;
    assert_eq!(datas(&resumed.events(30).await), numbered(121..=150));
    // The 100th-newest is the oldest kept: resuming right after the one before it works...
    let mut edge = connect(&late, Some(&ids[49])).await;
    assert_eq!(datas(&edge.events(100).await), numbered(51..=150));
    // ...and from before that, the client is told to resync.
    let mut too_old = connect(&late, Some(&ids[48])).await;
    let resync = too_old.events(1).await;
    assert_eq!(resync[0].event_type, RESYNC_EVENT);
    assert_eq!(resync[0].data, r#"{"reason":"too-old"}"#);
    assert_eq!(resync[0].last_event_id, ids[149]);
    // Not an ID of this stream at all.
    let mut unknown = connect(&late, Some("not-an-id")).await;
    assert_eq!(
        unknown.events(1).await[0].data,
        r#"{"reason":"unknown-id"}"#
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_restart_loses_nothing_inside_the_window() {
    let mut redis = Redis::start();
    let a = instance(&redis, "feed", 1_000);
    let b = instance(&redis, "feed", 1_000);
    wait_until_up(&[&a, &b]).await;
    let mut on_a = connect(&a, None).await;
    let mut on_b = connect(&b, None).await;
    publish(&a, 1..=20).await;
    assert_eq!(datas(&on_a.events(20).await), numbered(1..=20));
    assert_eq!(datas(&on_b.events(20).await), numbered(1..=20));

    redis.shut_down().await;
    let deadline = Instant::now() + Duration::from_secs(15);
    while !matches!(a.health(), RedisHealth::Down { .. }) {
        assert!(
            Instant::now() < deadline,
            "the fault was not reported: {:?}",
            a.health()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Publishing fails clearly meanwhile; the clients' streams stay open.
    assert!(b.publish_data(Some("n"), "lost").await.is_err());
    assert!(!on_a.ended() && !on_b.ended());

    redis.run();
    wait_until_up(&[&a, &b]).await;
    publish(&b, 21..=40).await;
    assert_eq!(datas(&on_a.events(20).await), numbered(21..=40));
    assert_eq!(datas(&on_b.events(20).await), numbered(21..=40));
    // A client resuming from before the restart misses nothing either.
    let mut from_start = connect(&a, Some("0-0")).await;
    assert_eq!(datas(&from_start.events(40).await), numbered(1..=40));
}

/// An entry written into the stream by something else, with an event type that would corrupt
/// the SSE stream, is skipped and logged: the mirror, its health and its clients go on. (It used
/// to panic inside the mirror task.) Publishing such a type is an error, not a panic.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poisoned_entry_is_skipped_and_the_mirror_goes_on() {
    let redis = Redis::start();
    let server = instance(&redis, "poisoned", 100);
    wait_until_up(&[&server]).await;
    let mut client = connect(&server, None).await;

    let raw = redis::Client::open(redis.url()).expect("a Redis URL");
    let mut connection = raw
        .get_multiplexed_async_connection()
        .await
        .expect("Redis is up");
    let _: String = redis::cmd("XADD")
        .arg("poisoned")
        .arg("*")
        .arg("t")
        .arg("evil\nevent: injected")
        .arg("d")
        .arg("boom")
        .query_async(&mut connection)
        .await
        .expect("written");
    publish(&server, 1..=2).await;
    assert_eq!(datas(&client.events(2).await), numbered(1..=2));
    assert_eq!(server.health(), RedisHealth::Up);

    let refused = server.publish_data(Some("a\nb"), "x").await;
    assert!(
        matches!(
            refused,
            Err(tidings_axum::redis::PublishError::InvalidEventType(_))
        ),
        "{refused:?}"
    );
}

/// A page rendered by one server from its mirror resumes on another: both mirrors hold the same
/// events under the same IDs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_rendered_on_one_instance_resumes_on_another() {
    use tidings_wire::ReplayLog;

    let redis = Redis::start();
    let (a, b) = (
        instance(&redis, "feed", 1_000),
        instance(&redis, "feed", 1_000),
    );
    wait_until_up(&[&a, &b]).await;
    let ids = publish(&a, 1..=20).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while a.position().as_ref() != ids.last() {
        assert!(Instant::now() < deadline, "A never mirrored its own events");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let position = a.position().expect("mirrored");
    assert_eq!(datas(&a.recent("n", 3, &position)), numbered(18..=20));
    publish(&a, 21..=25).await;
    // The page was rendered by A; the browser's resume lands on B.
    let mut on_b = connect(&b, Some(&position)).await;
    assert_eq!(datas(&on_b.events(5).await), numbered(21..=25));
    assert_eq!(datas(&b.recent("n", 3, &position)), numbered(18..=20));
}

/// A Redis that accepts connections and never answers, as a hung one does.
async fn hung_redis() -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let url = format!("redis://{}/", listener.local_addr().expect("bound"));
    let accepting = tokio::spawn(async move {
        let mut held = Vec::new();
        // Bounded: a test never makes more.
        for _ in 0..64 {
            match listener.accept().await {
                Ok((socket, _)) => held.push(socket),
                Err(_) => return,
            }
        }
    });
    (url, accepting)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishes_to_a_hung_redis_fail_together_not_one_after_another() {
    let (url, accepting) = hung_redis().await;
    let channel = RedisChannel::open(RedisConfig::new(url, "hung")).expect("a Redis URL");
    let started = Instant::now();
    let publishes: Vec<_> = (0..10)
        .map(|n| {
            let channel = channel.clone();
            tokio::spawn(async move {
                let outcome = channel.publish_data(Some("n"), &n.to_string()).await;
                (outcome, started.elapsed())
            })
        })
        .collect();
    let mut slowest = Duration::ZERO;
    for publish in publishes {
        let (outcome, took) = publish.await.expect("joined");
        assert!(
            matches!(outcome, Err(tidings_axum::PublishError::Unavailable(_))),
            "{outcome:?}"
        );
        slowest = slowest.max(took);
    }
    // One connect attempt (2 s time-out) serves them all: before, each waited for the lock
    // and made its own, answering after 2, 4, ... 20 s.
    assert!(
        slowest < Duration::from_secs(5),
        "the last answered after {slowest:?}"
    );
    // Right after, publishing fails at once instead of connecting again.
    let again = Instant::now();
    assert!(channel.publish_data(Some("n"), "x").await.is_err());
    assert!(
        again.elapsed() < Duration::from_millis(500),
        "{:?}",
        again.elapsed()
    );
    accepting.abort();
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Reading {
    sensor: u32,
    value: u32,
}

impl tidings_axum::TypedEvent for Reading {
    const NAME: &'static str = "reading";
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paced_client_of_a_mirror_gets_the_newest_reading_per_sensor() {
    let redis = Redis::start();
    let publisher = instance(&redis, "readings", 1_000);
    let coalescing =
        ChannelConfig::default().coalesce(|reading: &Reading| reading.sensor.to_string());
    let mirror = RedisChannel::open(RedisConfig::new(redis.url(), "readings").channel(coalescing))
        .expect("a Redis URL");
    wait_until_up(&[&publisher, &mirror]).await;
    let mut ids = Vec::new();
    for value in 0..300 {
        let reading = Reading {
            sensor: value % 4,
            value,
        };
        ids.push(publisher.publish(&reading).await.expect("published"));
    }
    // The mirror has all 300 once a plain subscriber resuming from the first has them.
    let all = connect(&mirror, Some(&ids[0])).await.events(299).await;
    assert_eq!(all.len(), 299);

    let response = mirror
        .subscribe_paced(Some(&ids[0]), tidings_axum::Pace::per_second(2))
        .into_response();
    let mut paced = EventReader::new(response.into_body());
    let got = paced.events(4).await;
    let more = tokio::time::timeout(Duration::from_millis(700), paced.events(1)).await;
    assert!(more.is_err(), "nothing more: {more:?}");
    let values: Vec<&str> = got.iter().map(|e| e.data.as_str()).collect();
    assert_eq!(
        values,
        [
            r#"{"sensor":0,"value":296}"#,
            r#"{"sensor":1,"value":297}"#,
            r#"{"sensor":2,"value":298}"#,
            r#"{"sensor":3,"value":299}"#,
        ],
        "coalesced where mirrored, though the publisher does not coalesce"
    );
    assert_eq!(
        got.last().map(|e| e.last_event_id.as_str()),
        ids.last().map(String::as_str)
    );
}
