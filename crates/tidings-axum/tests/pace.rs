//! Paced subscribers ([`Channel::subscribe_paced`]): at most one write per interval, the newest
//! event per group of a coalescing type, every other event, and resumes that stay exact. Time
//! is Tokio's paused clock, so the intervals are exact and the tests quick.

use std::collections::HashMap;
use std::time::Duration;

use axum::body::Body;
use axum::response::IntoResponse;
use http_body_util::BodyExt;
use serde::{Deserialize, Serialize};
use tidings_axum::{Channel, ChannelConfig, Pace, TypedEvent};
use tidings_wire::{Event, Parser};
use tokio::time::Instant;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Tick {
    symbol: String,
    seq: u32,
}

impl TypedEvent for Tick {
    const NAME: &'static str = "tick";
}

const SYMBOLS: [&str; 3] = ["ACME", "BOLT", "CORE"];

fn channel() -> Channel {
    Channel::with_config(ChannelConfig::default().coalesce(|tick: &Tick| tick.symbol.clone()))
}

/// Publishes tick `seq` (symbols in turn) and, every `trade_every`, a `trade` (no coalescing).
fn publish(channel: &Channel, seq: u32, trade_every: u32) {
    let tick = Tick {
        symbol: SYMBOLS[seq as usize % SYMBOLS.len()].to_owned(),
        seq,
    };
    channel.publish(&tick).expect("serialisable");
    if seq.is_multiple_of(trade_every) {
        channel.publish_data(Some("trade"), &seq.to_string());
    }
}

/// One write as the client got it: when, and the events in it.
struct Write {
    at: Instant,
    events: Vec<Event>,
}

/// Reads `body` until `until`, write by write.
async fn read_writes(body: Body, until: Instant) -> Vec<Write> {
    let mut body = body;
    let mut parser = Parser::new();
    let mut writes = Vec::new();
    while let Ok(Some(frame)) = tokio::time::timeout_at(until, body.frame()).await {
        let data = frame.expect("infallible").into_data().expect("data");
        let mut events = Vec::new();
        parser.feed(&data, |event| events.push(event.expect("small").to_event()));
        if !events.is_empty() {
            writes.push(Write {
                at: Instant::now(),
                events,
            });
        }
    }
    writes
}

fn body(stream: tidings_axum::EventStream) -> Body {
    stream.into_response().into_body()
}

/// The newest tick per symbol among `events`.
fn newest_ticks(events: &[Event]) -> HashMap<String, u32> {
    let mut newest = HashMap::new();
    for event in events.iter().filter(|e| e.event_type == "tick") {
        let tick = Tick::decode(&event.data).expect("a tick");
        newest.insert(tick.symbol, tick.seq);
    }
    newest
}

#[tokio::test(start_paused = true)]
async fn a_busy_channel_reaches_a_paced_client_ten_writes_a_second_with_the_latest_prices() {
    let channel = channel();
    let start = Instant::now();
    let until = start + Duration::from_millis(2_100);
    let paced = tokio::spawn(read_writes(
        body(channel.subscribe_paced(None, Pace::per_second(10))),
        until,
    ));
    let unpaced = tokio::spawn(read_writes(body(channel.subscribe(None)), until));
    tokio::task::yield_now().await;
    // 2 000 ticks over 2 s, and a trade every 100th.
    for seq in 1..=2_000 {
        publish(&channel, seq, 100);
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let writes = paced.await.expect("reader");
    let all: Vec<Event> = unpaced
        .await
        .expect("reader")
        .into_iter()
        .flat_map(|w| w.events)
        .collect();
    let got: Vec<Event> = writes.iter().flat_map(|w| w.events.clone()).collect();

    println!(
        "2 000 ticks and 20 trades in 2 s: {} writes and {} events paced at 10/s, {} events unpaced",
        writes.len(),
        got.len(),
        all.len()
    );
    assert_eq!(
        all.len(),
        2_020,
        "a subscriber that is not paced gets every event"
    );
    assert!(
        writes.len() <= 22,
        "{} writes in 2 s at 10 a second",
        writes.len()
    );
    for pair in writes.windows(2) {
        assert!(
            pair[1].at - pair[0].at >= Duration::from_millis(100),
            "writes 100 ms apart"
        );
    }
    let trades = |events: &[Event]| -> Vec<String> {
        events
            .iter()
            .filter(|e| e.event_type == "trade")
            .map(|e| e.data.clone())
            .collect()
    };
    assert_eq!(trades(&got), trades(&all), "every trade, in order");
    assert!(
        got.len() <= writes.len() * SYMBOLS.len() + 20,
        "at most a tick per symbol a write"
    );
    assert_eq!(
        newest_ticks(&got),
        newest_ticks(&all),
        "the latest price of each symbol"
    );
    assert_eq!(
        got.last().map(|e| e.last_event_id.clone()),
        channel.last_id(),
        "the last write ends with the newest event: a resume starts after it"
    );
    // Order kept: IDs only go up.
    let seqs: Vec<u64> = got
        .iter()
        .map(|e| {
            e.last_event_id
                .rsplit('-')
                .next()
                .and_then(|n| n.parse().ok())
                .expect("an ID")
        })
        .collect();
    assert!(
        seqs.windows(2).all(|pair| pair[0] < pair[1]),
        "in the order published"
    );
}

#[tokio::test(start_paused = true)]
async fn a_quiet_channel_is_not_delayed_and_a_resume_is_exact() {
    let channel = channel();
    for seq in 1..=300 {
        publish(&channel, seq, 10);
    }
    let ids: Vec<String> = {
        let all = read_writes(
            body(channel.subscribe(Some(&first_id(&channel)))),
            Instant::now() + Duration::from_millis(10),
        )
        .await;
        all.into_iter()
            .flat_map(|w| w.events)
            .map(|e| e.last_event_id)
            .collect()
    };
    // Resume after the 100th event: the backlog at once, in one write, coalesced.
    let from = &ids[98];
    let start = Instant::now();
    let writes = read_writes(
        body(channel.subscribe_paced(Some(from), Pace::every(Duration::from_secs(1)))),
        start + Duration::from_millis(10),
    )
    .await;
    let unpaced: Vec<Event> = read_writes(
        body(channel.subscribe(Some(from))),
        start + Duration::from_millis(10),
    )
    .await
    .into_iter()
    .flat_map(|w| w.events)
    .collect();
    assert_eq!(writes.len(), 1, "the backlog in one write");
    assert_eq!(writes[0].at, start, "at once");
    let got = &writes[0].events;
    assert_eq!(newest_ticks(got), newest_ticks(&unpaced));
    let trades = |events: &[Event]| events.iter().filter(|e| e.event_type == "trade").count();
    assert_eq!(trades(got), trades(&unpaced));
    assert_eq!(got.len(), SYMBOLS.len() + trades(&unpaced));
    assert_eq!(
        got.last().map(|e| e.last_event_id.clone()),
        channel.last_id()
    );

    // Resumed from the end: nothing, until an event comes; a lone event goes out at once.
    let last = channel.last_id().expect("published");
    let reader = tokio::spawn(read_writes(
        body(channel.subscribe_paced(Some(&last), Pace::every(Duration::from_secs(1)))),
        start + Duration::from_secs(5),
    ));
    tokio::time::sleep(Duration::from_secs(2)).await;
    publish(&channel, 301, 1_000);
    let published = Instant::now();
    let writes = reader.await.expect("reader");
    assert_eq!(writes.len(), 1);
    assert_eq!(writes[0].at, published, "no wait after a quiet interval");
    assert_eq!(writes[0].events[0].data, r#"{"symbol":"BOLT","seq":301}"#);
}

/// The ID of the channel's first event (the one before it is made up from it).
fn first_id(channel: &Channel) -> String {
    let last = channel.last_id().expect("published");
    let (epoch, _) = last.rsplit_once('-').expect("<epoch>-<seq>");
    format!("{epoch}-0")
}

#[tokio::test(start_paused = true)]
async fn events_that_do_not_decode_are_never_superseded() {
    let channel = channel();
    let reader = tokio::spawn(read_writes(
        body(channel.subscribe_paced(None, Pace::every(Duration::from_millis(100)))),
        Instant::now() + Duration::from_millis(500),
    ));
    tokio::task::yield_now().await;
    publish(&channel, 1, 1_000);
    for n in 0..3 {
        channel.publish_data(Some("tick"), &format!("not a tick {n}"));
    }
    // ACME: another symbol, so BOLT's tick 1 is not superseded.
    publish(&channel, 3, 1_000);
    let got: Vec<String> = reader
        .await
        .expect("reader")
        .into_iter()
        .flat_map(|w| w.events)
        .map(|e| e.data)
        .collect();
    assert_eq!(
        got,
        [
            r#"{"symbol":"BOLT","seq":1}"#,
            "not a tick 0",
            "not a tick 1",
            "not a tick 2",
            r#"{"symbol":"ACME","seq":3}"#,
        ]
    );
}
