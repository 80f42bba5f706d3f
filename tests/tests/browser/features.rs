//! The rest of the client's features: a reactive URL, pause and resume, the stall watchdog,
//! resuming after a reload, and decode errors per type.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use demo_events::{Tick, Trade};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use tidings::{
    ConnectionState, DisconnectReason, PauseReason, Sharing, TypedEvent, use_sse,
    use_sse_with_options,
};
use tidings_tests::browser::{
    assert_consecutive, burst, clear_faults, fault, quick, sleep, tick_seqs, wait_for, with_owner,
};
use wasm_bindgen_test::wasm_bindgen_test;

use crate::{PATIENCE, url};

fn ticks_of(sse: tidings::Sse) -> Rc<RefCell<Vec<Tick>>> {
    let ticks = Rc::new(RefCell::new(Vec::new()));
    let sink = ticks.clone();
    sse.on::<Tick>(move |tick| sink.borrow_mut().push(tick));
    ticks
}

#[wasm_bindgen_test]
async fn a_reactive_url_moves_the_stream_and_an_empty_one_disconnects() {
    clear_faults().await;
    with_owner(|| async {
        let address = RwSignal::new(url("/api/ticker"));
        let sse = use_sse(address);
        let ticks = ticks_of(sse);
        wait_for(
            "ticker ticks",
            PATIENCE,
            || {
                ticks
                    .borrow()
                    .iter()
                    .any(|t| t.symbol != "FIRE")
                    .then_some(())
            },
            || format!("{:?}", sse.state().get_untracked()),
        )
        .await;

        address.set(url("/api/firehose"));
        wait_for(
            "the new stream open",
            PATIENCE,
            || sse.state().get_untracked().is_open().then_some(()),
            || format!("{:?}", sse.state().get_untracked()),
        )
        .await;
        sleep(Duration::from_millis(200)).await;
        ticks.borrow_mut().clear();
        burst(5).await;
        wait_for(
            "firehose ticks",
            PATIENCE,
            || (ticks.borrow().len() >= 5).then_some(()),
            || format!("{:?}", ticks.borrow()),
        )
        .await;
        assert!(
            ticks.borrow().iter().all(|t| t.symbol == "FIRE"),
            "only the new stream's events: {:?}",
            ticks.borrow()
        );

        address.set(String::new());
        wait_for(
            "idle",
            PATIENCE,
            || (sse.state().get_untracked() == ConnectionState::Idle).then_some(()),
            || format!("{:?}", sse.state().get_untracked()),
        )
        .await;
    })
    .await;
}

#[wasm_bindgen_test]
async fn pause_and_resume_miss_nothing() {
    clear_faults().await;
    with_owner(|| async {
        // Its own connection: pause acts per component, and tests running meanwhile may hold
        // the ticker open.
        let sse = use_sse_with_options(url("/api/ticker"), quick().sharing(Sharing::Own));
        let ticks = tick_seqs(sse);
        wait_for(
            "ticks",
            PATIENCE,
            || (ticks.borrow().len() >= 5).then_some(()),
            || "no ticks".into(),
        )
        .await;
        sse.pause();
        assert_eq!(
            sse.state().get_untracked(),
            ConnectionState::Paused {
                reason: PauseReason::App
            }
        );
        let at_pause = ticks.borrow().len();
        sleep(Duration::from_millis(400)).await; // ticks go on at the server meanwhile
        assert_eq!(
            ticks.borrow().len(),
            at_pause,
            "nothing arrives while paused"
        );
        sse.resume();
        wait_for(
            "ticks after resuming",
            PATIENCE,
            || (ticks.borrow().len() >= at_pause + 15).then_some(()),
            || format!("{:?}", sse.state().get_untracked()),
        )
        .await;
        // The paused stretch was replayed: nothing missing, nothing twice.
        assert_consecutive(&ticks.borrow());
    })
    .await;
}

#[wasm_bindgen_test]
async fn a_stalled_stream_is_detected_and_recovered() {
    clear_faults().await;
    with_owner(|| async {
        // Ticks come every 50 ms: 600 ms of silence means the stream is stuck.
        let sse = use_sse_with_options(
            url("/api/ticker"),
            quick().stale_after(Duration::from_millis(600)),
        );
        let ticks = tick_seqs(sse);
        let stalls = Rc::new(RefCell::new(0));
        let counter = stalls.clone();
        let state = sse.state();
        Effect::new(move |_| {
            if let ConnectionState::Reconnecting {
                reason: DisconnectReason::Stalled,
                ..
            } = state.get()
            {
                *counter.borrow_mut() += 1;
            }
        });
        wait_for(
            "ticks",
            PATIENCE,
            || (ticks.borrow().len() >= 3).then_some(()),
            || "no ticks".into(),
        )
        .await;

        // From now on streams send headers, then nothing; the current one is dropped.
        fault("stall", r#"{"on":true}"#).await;
        fault("drop", "{}").await;
        wait_for(
            "a stall detected",
            PATIENCE,
            || (*stalls.borrow() > 0).then_some(()),
            || format!("{:?}", state.get_untracked()),
        )
        .await;

        clear_faults().await;
        let before = ticks.borrow().len();
        wait_for(
            "ticks again",
            PATIENCE,
            || (ticks.borrow().len() > before + 5).then_some(()),
            || format!("{:?}", state.get_untracked()),
        )
        .await;
        // Nothing lost across the stall.
        assert_consecutive(&ticks.borrow());
    })
    .await;
}

#[wasm_bindgen_test]
async fn a_reload_resumes_from_session_storage() {
    clear_faults().await;
    let key = format!("test-{}", js_sys::Math::random());
    let options = || quick().persist_last_event_id(key.clone());
    // The first "page": follows the ticker for a while, then goes away.
    let last_seen = {
        let owner = Owner::new();
        let ticks = owner.with(|| tick_seqs(use_sse_with_options(url("/api/ticker"), options())));
        let _ = any_spawner::Executor::init_wasm_bindgen();
        wait_for(
            "ticks",
            PATIENCE,
            || (ticks.borrow().len() >= 3).then_some(()),
            || "no ticks".into(),
        )
        .await;
        owner.cleanup();
        ticks.borrow().last().copied().expect("ticks")
    };
    sleep(Duration::from_millis(300)).await; // the ticker goes on without us
    // The "reloaded page": same key, and it resumes right after the last tick seen.
    with_owner(|| async {
        let sse = use_sse_with_options(url("/api/ticker"), options());
        let ticks = tick_seqs(sse);
        wait_for(
            "ticks",
            PATIENCE,
            || (!ticks.borrow().is_empty()).then_some(()),
            || "no ticks".into(),
        )
        .await;
        assert_eq!(
            ticks.borrow()[0],
            last_seen + 1,
            "resumed after the last tick of the first page"
        );
    })
    .await;
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct TradeWithWrongShape {
    quantity: String,
}

impl TypedEvent for TradeWithWrongShape {
    const NAME: &'static str = "trade";
}

#[wasm_bindgen_test]
async fn decode_errors_are_reported_per_type() {
    clear_faults().await;
    with_owner(|| async {
        let sse = use_sse(url("/api/ticker"));
        let _ticks = sse.latest::<Tick>();
        let _trades = sse.latest::<Trade>();
        let _bad = sse.latest::<TradeWithWrongShape>();
        let trade_errors = sse.decode_error_of::<TradeWithWrongShape>();
        let tick_errors = sse.decode_error_of::<Tick>();
        wait_for(
            "a trade decode error",
            PATIENCE,
            || trade_errors.get_untracked(),
            || "none yet".into(),
        )
        .await;
        assert!(tick_errors.get_untracked().is_none(), "ticks decode fine");
        assert_eq!(
            trade_errors.get_untracked().map(|e| e.event()),
            Some("trade")
        );
    })
    .await;
}
