//! The replay log through a real axum router: resume without gap or duplicate, resync, long-poll,
//! slow clients. Response bodies are read as a client would and parsed with tidings-wire.

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{Request, StatusCode};
use axum::routing::get;
use tidings_axum::testing::EventReader;
use tidings_axum::{Channel, ChannelConfig, EventStream, LastEventId, RESYNC_EVENT};
use tidings_wire::Event;
use tower::ServiceExt;

fn app(channel: &Channel) -> Router {
    async fn events(State(channel): State<Channel>, LastEventId(id): LastEventId) -> EventStream {
        channel.subscribe(id.as_deref())
    }
    #[derive(serde::Deserialize)]
    struct PollQuery {
        wait_ms: u64,
    }
    async fn poll(
        State(channel): State<Channel>,
        LastEventId(id): LastEventId,
        Query(query): Query<PollQuery>,
    ) -> EventStream {
        channel.poll(id.as_deref(), Duration::from_millis(query.wait_ms))
    }
    Router::new()
        .route("/events", get(events))
        .route("/poll", get(poll))
        .with_state(channel.clone())
}

/// Opens `uri` as a client would, optionally resuming after `last_event_id` (as a header).
async fn connect(channel: &Channel, uri: &str, last_event_id: Option<&str>) -> EventReader {
    let mut request = Request::get(uri);
    if let Some(id) = last_event_id {
        request = request.header("last-event-id", id);
    }
    let response = app(channel)
        .oneshot(request.body(Body::empty()).expect("valid request"))
        .await
        .expect("infallible");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    EventReader::new(response.into_body())
}

fn datas(events: &[Event]) -> Vec<String> {
    events.iter().map(|event| event.data.clone()).collect()
}

fn numbered(range: std::ops::RangeInclusive<u32>) -> Vec<String> {
    range.map(|n| n.to_string()).collect()
}

fn publish(channel: &Channel, range: std::ops::RangeInclusive<u32>) {
    for n in range {
        channel.publish_data(Some("n"), &n.to_string());
    }
}

#[tokio::test]
async fn resume_after_a_dropped_connection_delivers_every_event_once_in_order() {
    for by_query in [false, true] {
        let channel = Channel::new();
        let mut client = connect(&channel, "/events", None).await;
        publish(&channel, 1..=5);
        let first = client.events(5).await;
        assert_eq!(datas(&first), numbered(1..=5));
        drop(client); // the connection drops

        publish(&channel, 6..=10); // missed while away
        let last = first[4].last_event_id.clone();
        let mut client = if by_query {
            let uri = format!("/events?lastEventId={last}");
            connect(&channel, &uri, None).await
        } else {
            connect(&channel, "/events", Some(&last)).await
        };
        assert_eq!(
            datas(&client.events(5).await),
            numbered(6..=10),
            "by query: {by_query}"
        );
        publish(&channel, 11..=12); // and then live
        assert_eq!(
            datas(&client.events(2).await),
            numbered(11..=12),
            "by query: {by_query}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishing_during_replay_leaves_no_gap_and_no_duplicate() {
    let channel = Channel::new();
    publish(&channel, 1..=3000);
    let first_id = {
        let mut peek = connect(&channel, "/events", None).await;
        publish(&channel, 3001..=3001);
        peek.events(1).await[0].last_event_id.clone()
    };
    // Resume from the very first event while another task publishes 3000 more.
    let resume_from = first_id.replace("-3001", "-1");
    let publisher = {
        let channel = channel.clone();
        tokio::spawn(async move {
            for n in 3002..=6000 {
                channel.publish_data(Some("n"), &n.to_string());
                if n % 100 == 0 {
                    tokio::task::yield_now().await;
                }
            }
        })
    };
    let mut client = connect(&channel, "/events", Some(&resume_from)).await;
    let got = client.events(5999).await;
    publisher.await.expect("publisher finished");
    assert_eq!(datas(&got), numbered(2..=6000));
}

#[tokio::test]
async fn an_id_too_old_for_the_window_gets_a_resync_then_live_events() {
    let channel = Channel::with_config(ChannelConfig::default().capacity(10));
    let mut client = connect(&channel, "/events", None).await;
    publish(&channel, 1..=3);
    let old_id = client.events(3).await[0].last_event_id.clone();
    drop(client);
    publish(&channel, 4..=30); // event 2 leaves the window

    let mut client = connect(&channel, "/events", Some(&old_id)).await;
    let resync = &client.events(1).await[0];
    assert_eq!(resync.event_type, RESYNC_EVENT);
    assert_eq!(resync.data, r#"{"reason":"too-old"}"#);
    assert_eq!(
        Some(resync.last_event_id.clone()),
        channel.last_id(),
        "resumes from the head next time"
    );
    publish(&channel, 31..=31);
    assert_eq!(datas(&client.events(1).await), numbered(31..=31));
}

#[tokio::test]
async fn unknown_ids_get_a_resync() {
    let channel = Channel::new();
    publish(&channel, 1..=3);
    let other_run = Channel::new(); // another epoch, as after a server restart
    let foreign = other_run.publish_data(None, "x");
    for id in ["garbage", "abc-1", foreign.as_str()] {
        let mut client = connect(&channel, "/events", Some(id)).await;
        let resync = &client.events(1).await[0];
        assert_eq!(resync.event_type, RESYNC_EVENT, "id {id:?}");
        assert_eq!(resync.data, r#"{"reason":"unknown-id"}"#, "id {id:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn long_poll_waits_for_an_event_then_answers() {
    let channel = Channel::new();
    publish(&channel, 1..=2);
    let head = channel.last_id().expect("two events");

    // Nothing new: the poll waits, and answers as soon as something is published.
    let publisher = {
        let channel = channel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(2)).await;
            channel.publish_data(Some("n"), "3");
        })
    };
    let started = tokio::time::Instant::now();
    let mut poll = connect(&channel, "/poll?wait_ms=25000", Some(&head)).await;
    let got = poll.rest().await;
    assert_eq!(datas(&got), numbered(3..=3));
    assert_eq!(started.elapsed(), Duration::from_secs(2));
    publisher.await.expect("published");

    // Events already there: answered at once, all of them.
    let before = tokio::time::Instant::now();
    let first = channel.last_id().expect("kept").replace("-3", "-1");
    let mut poll = connect(&channel, "/poll?wait_ms=25000", Some(&first)).await;
    assert_eq!(datas(&poll.rest().await), numbered(2..=3));
    assert_eq!(before.elapsed(), Duration::ZERO);

    // Nothing at all: an empty answer after the wait.
    let before = tokio::time::Instant::now();
    let head = channel.last_id().expect("kept");
    let mut poll = connect(&channel, "/poll?wait_ms=5000", Some(&head)).await;
    assert!(poll.rest().await.is_empty());
    assert_eq!(before.elapsed(), Duration::from_secs(5));
}

#[tokio::test]
async fn a_slow_client_slows_no_one_and_loses_nothing_within_the_window() {
    let channel = Channel::with_config(ChannelConfig::default().capacity(2000));
    let mut slow = connect(&channel, "/events", None).await;
    let mut fast = connect(&channel, "/events", None).await;
    publish(&channel, 1..=10);
    assert_eq!(datas(&slow.events(10).await), numbered(1..=10));
    // The slow client stops reading while 1000 events go out.
    publish(&channel, 11..=1010);
    assert_eq!(datas(&fast.events(1010).await), numbered(1..=1010));
    // It catches up with every one, in order.
    assert_eq!(datas(&slow.events(1000).await), numbered(11..=1010));
}

#[tokio::test]
async fn a_client_that_falls_out_of_the_window_is_cut_off_and_told_to_resync() {
    let channel = Channel::with_config(ChannelConfig::default().capacity(100));
    let mut slow = connect(&channel, "/events", None).await;
    let mut fast = connect(&channel, "/events", None).await;
    publish(&channel, 1..=10);
    let seen = slow.events(10).await;
    assert_eq!(fast.events(10).await.len(), 10);
    // The fast client keeps up, batch after batch, while the slow one reads nothing.
    for batch in 0..20 {
        let from = 11 + batch * 50;
        publish(&channel, from..=from + 49);
        assert_eq!(
            datas(&fast.events(50).await),
            numbered(from..=from + 49),
            "not held back"
        );
    }
    // The slow one's next event has left the log: its stream ends...
    assert!(slow.rest().await.is_empty());
    // ...and resuming from where it was says so explicitly.
    let last = &seen[9].last_event_id;
    let mut again = connect(&channel, "/events", Some(last)).await;
    assert_eq!(again.events(1).await[0].event_type, RESYNC_EVENT);
}

/// The resync event's ID must cover exactly the events before the first one delivered after it:
/// an event published while a client is being subscribed is either before the resync's ID (and
/// not sent) or after it (and sent), never both. A client that reloads its snapshot on resync
/// would otherwise apply it twice. Before the ID was taken under the log's lock, 7 to 10 of
/// 3 000 subscriptions showed the race.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resync_covers_exactly_the_events_before_the_next_one_sent() {
    let channel = Channel::new();
    publish(&channel, 1..=1);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let publisher = {
        let (channel, stop) = (channel.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut n = 1u32;
            // Bounded: stops when told, or after 2 million events.
            while !stop.load(std::sync::atomic::Ordering::Relaxed) && n < 2_000_000 {
                n += 1;
                channel.publish_data(Some("n"), &n.to_string());
            }
        })
    };
    let seq = |id: &str| -> u64 {
        id.rsplit('-')
            .next()
            .and_then(|seq| seq.parse().ok())
            .unwrap_or_else(|| panic!("a local ID: {id:?}"))
    };
    let mut overlaps = 0;
    for (stream, attempt) in [false, true].into_iter().cycle().zip(0..3_000) {
        let (uri, id) = if stream {
            ("/events", "garbage")
        } else {
            ("/poll?wait_ms=1000", "garbage")
        };
        let mut client = connect(&channel, uri, Some(id)).await;
        let events = client.events(2).await;
        assert_eq!(events[0].event_type, RESYNC_EVENT, "attempt {attempt}");
        let Some(next) = events.get(1) else {
            // A poll that ended with the resync alone: nothing to compare.
            continue;
        };
        if seq(&next.last_event_id) != seq(&events[0].last_event_id) + 1 {
            overlaps += 1;
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    publisher.join().expect("the publisher ends");
    assert_eq!(
        overlaps, 0,
        "events delivered after a resync that claimed to cover them, or skipped"
    );
}

/// `Channel::routes` mounts the stream and its polling endpoint where the tidings client looks
/// (`poll_url_for`, the client's own function): resume by header on both, the wait bounded.
#[tokio::test]
async fn routes_mount_the_stream_and_its_poll_endpoint_where_the_client_looks() {
    let channel = Channel::new();
    let app: Router = Router::new().merge(channel.routes("/api/ticker"));
    let ids: Vec<String> = (1..=3)
        .map(|n| channel.publish_data(Some("n"), &n.to_string()))
        .collect();
    let get = |uri: String, id: &str| {
        Request::get(uri)
            .header("last-event-id", id)
            .body(Body::empty())
            .expect("valid request")
    };

    let response = app
        .clone()
        .oneshot(get("/api/ticker".into(), &ids[0]))
        .await
        .expect("infallible");
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut stream = EventReader::new(response.into_body());
    assert_eq!(datas(&stream.events(2).await), numbered(2..=3));

    let poll_uri = tidings_wire::protocol::poll_url_for("/api/ticker");
    assert_eq!(poll_uri, "/api/ticker/poll");
    let response = app
        .clone()
        .oneshot(get(poll_uri.clone(), &ids[1]))
        .await
        .expect("infallible");
    let mut poll = EventReader::new(response.into_body());
    assert_eq!(
        datas(&poll.events(10).await),
        numbered(3..=3),
        "the poll ends"
    );

    // Nothing new: the poll waits as long as asked, then answers empty.
    let started = tokio::time::Instant::now();
    let response = app
        .oneshot(get(format!("{poll_uri}?wait_ms=150"), &ids[2]))
        .await
        .expect("infallible");
    assert!(
        EventReader::new(response.into_body())
            .events(1)
            .await
            .is_empty()
    );
    let waited = started.elapsed();
    assert!(
        (Duration::from_millis(150)..Duration::from_secs(5)).contains(&waited),
        "waited {waited:?}"
    );
}

/// An event type from outside the program cannot kill the server: the fallible form refuses it
/// and publishes nothing, and the IDs go on without a hole.
#[tokio::test]
async fn an_event_type_with_a_line_break_is_refused_not_a_panic() {
    let channel = Channel::new();
    let first = channel.publish_data(Some("n"), "1");
    for bad in ["a\nb", "x\r", "\r\n"] {
        let error = channel
            .try_publish_data(Some(bad), "data")
            .expect_err("a line break in the type");
        assert_eq!(error.name(), bad);
    }
    assert_eq!(channel.len(), 1, "nothing published");
    let second = channel
        .try_publish_data(Some("n"), "2")
        .expect("a valid type");
    let mut client = connect(&channel, "/events", Some(&first)).await;
    let events = client.events(1).await;
    assert_eq!(datas(&events), ["2"]);
    assert_eq!(events[0].last_event_id, second);
}

/// A page rendered from the log shows the newest events of each type up to the position it
/// names, and a client resuming from that position gets exactly the events after it, even those
/// published while the page was being made.
#[tokio::test]
async fn a_page_rendered_from_the_log_resumes_with_no_gap_and_no_repeat() {
    use tidings_wire::ReplayLog;

    let channel = Channel::new();
    for n in 1..=10 {
        channel.publish_data(
            Some(if n % 2 == 0 { "even" } else { "odd" }),
            &n.to_string(),
        );
    }
    channel.publish_data(None, "untyped");
    let position = channel.position().expect("events were published");
    // Published after the position was read, while the page renders: not in the page.
    channel.publish_data(Some("even"), "12");

    let rendered = channel.recent("even", 3, &position);
    assert_eq!(datas(&rendered), ["6", "8", "10"]);
    assert!(rendered.iter().all(|event| event.event_type == "even"));
    assert_eq!(
        datas(&channel.recent("odd", 100, &position)),
        ["1", "3", "5", "7", "9"]
    );
    assert_eq!(datas(&channel.recent("message", 1, &position)), ["untyped"]);
    assert!(channel.recent("even", 0, &position).is_empty());
    assert!(channel.recent("none-of-these", 5, &position).is_empty());
    assert!(channel.recent("even", 5, "not-an-id").is_empty());
    // Each event knows its own ID, as a client would have seen it.
    assert_eq!(
        rendered.last().map(|event| event.last_event_id.as_str()),
        channel
            .recent("even", 1, &position)
            .first()
            .map(|e| e.last_event_id.as_str())
    );

    let mut client = connect(&channel, "/events", Some(&position)).await;
    let resumed = client.events(1).await;
    assert_eq!(datas(&resumed), ["12"]);
}

/// A page rendered while the log is empty still names a position: the browser resuming from it
/// gets the events published since, the first one included.
#[tokio::test]
async fn an_empty_log_names_a_position_before_its_next_event() {
    use tidings_wire::ReplayLog;

    let channel = Channel::new();
    let position = channel.position().expect("a channel always names one");
    assert!(channel.recent("n", 5, &position).is_empty());
    publish(&channel, 1..=3);
    let mut client = connect(&channel, "/events", Some(&position)).await;
    assert_eq!(datas(&client.events(3).await), numbered(1..=3));

    // Emptied by age: the position is the last event evicted, and resuming there loses nothing.
    let config = ChannelConfig::default().max_age(Some(Duration::from_millis(1)));
    let aged = Channel::with_config(config);
    publish(&aged, 1..=2);
    tokio::time::sleep(Duration::from_millis(5)).await;
    aged.publish_data(Some("n"), "3");
    tokio::time::sleep(Duration::from_millis(5)).await;
    // Subscribing evicts what has expired; the log is now empty.
    drop(connect(&aged, "/events", None).await);
    assert!(aged.is_empty());
    let position = aged.position().expect("a channel always names one");
    publish(&aged, 4..=4);
    let mut client = connect(&aged, "/events", Some(&position)).await;
    assert_eq!(datas(&client.events(1).await), ["4"]);
}

#[tokio::test]
async fn a_long_poll_answers_at_most_about_a_mebibyte_and_the_next_polls_get_the_rest() {
    let channel = Channel::new();
    let post = "p".repeat(100_000);
    let first = channel.publish_data(Some("post"), "start");
    let ids: Vec<String> = (0..40)
        .map(|_| channel.publish_data(Some("post"), &post))
        .collect();
    // A backlog of 4 MB: each answer carries part of it; polling on from the last ID
    // received gets the rest, each event once.
    let (mut from, mut seen, mut answers) = (first, Vec::new(), 0);
    while seen.len() < ids.len() {
        let mut poll = connect(&channel, "/poll?wait_ms=0", Some(&from)).await;
        let events = poll.rest().await;
        let size: usize = events.iter().map(|event| event.data.len()).sum();
        assert!(size <= 1_100_000, "one answer carried {size} bytes");
        let last = events.last().expect("an answer with events");
        from = last.last_event_id.clone();
        seen.extend(events.into_iter().map(|event| event.last_event_id));
        answers += 1;
    }
    assert_eq!(seen, ids);
    assert!(answers >= 4, "{answers} answers");
}
