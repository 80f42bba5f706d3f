//! The basics: typed events in order, history, failure instead of a hang, close.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use demo_events::Tick;
use leptos::prelude::*;
use tidings::{ConnectionState, use_sse};
use tidings_tests::browser::{failure, sleep, wait_for, with_owner};
use wasm_bindgen_test::wasm_bindgen_test;

use crate::{PATIENCE, url};

#[wasm_bindgen_test]
async fn typed_ticks_arrive_in_order_with_their_ids() {
    with_owner(|| async {
        let sse = use_sse(url("/api/ticker"));
        let ticks = Rc::new(RefCell::new(Vec::<Tick>::new()));
        let sink = ticks.clone();
        sse.on::<Tick>(move |tick| sink.borrow_mut().push(tick));
        let latest = sse.latest::<Tick>();
        let state = sse.state();
        // The ticker's IDs are opaque: note the raw ID of every event, ticks and trades alike.
        let last_raw_id = Rc::new(RefCell::new(String::new()));
        for event_type in ["tick", "trade"] {
            let last_raw_id = last_raw_id.clone();
            sse.on_raw(event_type, move |event| {
                *last_raw_id.borrow_mut() = event.last_event_id.to_owned()
            });
        }

        let received = wait_for(
            "five ticks",
            PATIENCE,
            || (ticks.borrow().len() >= 5).then(|| ticks.borrow().clone()),
            || {
                format!(
                    "{} ticks, state {}",
                    ticks.borrow().len(),
                    state.get_untracked()
                )
            },
        )
        .await;

        for pair in received.windows(2) {
            assert_eq!(
                pair[1].seq,
                pair[0].seq + 1,
                "ticks out of order or missing: {received:?}"
            );
        }
        assert!(matches!(
            state.get_untracked(),
            ConnectionState::Open { .. }
        ));
        // The signals agree with the callbacks.
        let latest = latest.get_untracked().expect("latest is set");
        assert!(latest.seq >= received[4].seq, "latest {latest:?} is behind");
        // The ID signal is updated once per turn of the event loop, not per event: it catches up
        // with the raw IDs (a tick can arrive between the two reads, so poll for agreement).
        let last_event_id = sse.last_event_id();
        wait_for(
            "the last-event-ID signal to match the last raw ID",
            PATIENCE,
            || (last_event_id.get_untracked() == Some(last_raw_id.borrow().clone())).then_some(()),
            || {
                format!(
                    "signal {:?}, raw {:?}",
                    last_event_id.get_untracked(),
                    last_raw_id.borrow()
                )
            },
        )
        .await;
    })
    .await;
}

#[wasm_bindgen_test]
async fn history_keeps_the_last_n_in_order() {
    with_owner(|| async {
        let sse = use_sse(url("/api/ticker"));
        let history = sse.history::<Tick>(3);
        let seen = Rc::new(RefCell::new(0usize));
        let counter = seen.clone();
        sse.on::<Tick>(move |_| *counter.borrow_mut() += 1);
        wait_for(
            "six ticks",
            PATIENCE,
            || (*seen.borrow() >= 6).then_some(()),
            || format!("{} ticks", seen.borrow()),
        )
        .await;
        let kept: Vec<u64> = history.with_untracked(|h| h.iter().map(|t| t.seq).collect());
        assert_eq!(kept.len(), 3, "capacity is 3: {kept:?}");
        assert!(
            kept.windows(2).all(|w| w[1] == w[0] + 1),
            "in order: {kept:?}"
        );
    })
    .await;
}

#[wasm_bindgen_test]
async fn a_missing_stream_fails_instead_of_hanging() {
    with_owner(|| async {
        let sse = use_sse(url("/api/no-such-stream"));
        let state = sse.state();
        let reason = failure(state).await;
        assert_eq!(
            reason,
            tidings::FailReason::Status {
                status: 404,
                body: String::new()
            }
        );
    })
    .await;
}

#[wasm_bindgen_test]
async fn close_stops_delivery() {
    with_owner(|| async {
        let sse = use_sse(url("/api/ticker"));
        let count = Rc::new(RefCell::new(0usize));
        let counter = count.clone();
        sse.on::<Tick>(move |_| *counter.borrow_mut() += 1);
        wait_for(
            "a tick",
            PATIENCE,
            || (*count.borrow() > 0).then_some(()),
            || "no tick".into(),
        )
        .await;
        sse.close();
        assert_eq!(sse.state().get_untracked(), ConnectionState::Closed);
        let at_close = *count.borrow();
        sleep(Duration::from_millis(300)).await;
        assert_eq!(*count.borrow(), at_close, "ticks arrived after close");
    })
    .await;
}

#[wasm_bindgen_test]
async fn asking_for_the_state_in_a_loop_costs_no_memory() {
    with_owner(|| async {
        let sse = use_sse(url("/api/ticker"));
        let before = tidings_tests::proof::wasm_memory();
        for _ in 0..100_000 {
            let _ = sse.state().get_untracked();
            let _ = sse.last_event_id().get_untracked();
        }
        // Each leptos `Signal` made is kept until its owner goes: these are made once.
        assert_eq!(tidings_tests::proof::wasm_memory(), before);
    })
    .await;
}
