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

/// How often the readers of `latest` and `history` re-ran while 2000 events arrived at
/// 10 000 a second, what `on` saw meanwhile, and how long the page took to take them in.
struct Renders {
    latest: u32,
    history: u32,
    events: usize,
    millis: f64,
}

/// Opens the firehose with `signals_per_frame(per_frame)`, has it publish 2000 ticks at
/// 10 000 a second, and counts the runs of an effect on each signal.
async fn renders(per_frame: bool) -> Renders {
    with_owner(|| async move {
        let sse = use_sse_with_options(
            url("/api/firehose"),
            quick().sharing(Sharing::Own).signals_per_frame(per_frame),
        );
        let seqs = tick_seqs(sse);
        let times = Rc::new(RefCell::new(Vec::new()));
        let sink = times.clone();
        sse.on::<Tick>(move |_| sink.borrow_mut().push(js_sys::Date::now()));
        let latest = sse.latest::<Tick>();
        let history = sse.history::<Tick>(50);
        let runs = Rc::new([std::cell::Cell::new(0u32), std::cell::Cell::new(0u32)]);
        let counted = runs.clone();
        Effect::new(move |_| {
            latest.track();
            counted[0].set(counted[0].get() + 1);
        });
        let counted = runs.clone();
        Effect::new(move |_| {
            history.track();
            counted[1].set(counted[1].get() + 1);
        });
        wait_for(
            "the firehose open",
            PATIENCE,
            || sse.state().get_untracked().is_open().then_some(()),
            || format!("{:?}", sse.state().get_untracked()),
        )
        .await;
        sleep(Duration::from_millis(100)).await;
        let before = seqs.borrow().len();
        let (runs_before_latest, runs_before_history) = (runs[0].get(), runs[1].get());
        let published = tidings_tests::proof::paced(2000, 10_000).await;
        let last = published.first + 1999;
        wait_for(
            "2000 ticks",
            PATIENCE,
            || (seqs.borrow().last() == Some(&last)).then_some(()),
            || format!("{} ticks", seqs.borrow().len() - before),
        )
        .await;
        // The values are current at once; their readers hear of them by the next frame.
        assert_eq!(latest.get_untracked().map(|tick| tick.seq), Some(last));
        sleep(Duration::from_millis(100)).await;
        let kept: Vec<u64> = history.with_untracked(|h| h.iter().map(|tick| tick.seq).collect());
        assert_eq!(kept.len(), 50);
        assert_eq!(kept.last(), Some(&last));
        assert_consecutive(&kept);
        assert_consecutive(&seqs.borrow()[before..]);
        let times = times.borrow();
        Renders {
            latest: runs[0].get() - runs_before_latest,
            history: runs[1].get() - runs_before_history,
            events: seqs.borrow().len() - before,
            millis: times[times.len() - 1] - times[times.len() - 2000],
        }
    })
    .await
}

/// Under a burst, `latest` and `history` tell their readers once per animation frame, while
/// `on` sees every event; with `signals_per_frame(false)` they tell them at every event.
#[wasm_bindgen_test]
async fn signals_tell_their_readers_once_per_frame_under_a_burst() {
    clear_faults().await;
    let per_frame = renders(true).await;
    let per_event = renders(false).await;
    wasm_bindgen_test::console_log!(
        "2000 events published at 10 000/s: readers of latest re-ran {} times once per frame, \
         {} at every event (of history {} and {}); the page took them in in {:.0} ms and \
         {:.0} ms",
        per_frame.latest,
        per_event.latest,
        per_frame.history,
        per_event.history,
        per_frame.millis,
        per_event.millis
    );
    assert_eq!(per_frame.events, 2000);
    assert_eq!(per_event.events, 2000);
    // 2000 events at 10 000 a second take at least 0.2 s: about a dozen frames.
    assert!(per_frame.latest <= 200, "{}", per_frame.latest);
    assert!(per_frame.history <= 200, "{}", per_frame.history);
    assert!(
        per_event.latest > 5 * per_frame.latest,
        "{} vs {}",
        per_event.latest,
        per_frame.latest
    );
}

#[wasm_bindgen_test]
async fn a_paced_stream_brings_the_newest_tick_in_a_few_writes_and_resumes_exactly() {
    clear_faults().await;
    with_owner(|| async {
        // Four writes a second at most, the firehose's ticks coalescing (one symbol), beside a
        // stream of every event.
        let paced =
            use_sse_with_options(url("/api/firehose?pace=4"), quick().sharing(Sharing::Own));
        let every = use_sse_with_options(url("/api/firehose"), quick().sharing(Sharing::Own));
        let (paced_seqs, all_seqs) = (tick_seqs(paced), tick_seqs(every));
        wait_for(
            "both open",
            PATIENCE,
            || {
                (paced.state().get_untracked().is_open() && every.state().get_untracked().is_open())
                    .then_some(())
            },
            || {
                format!(
                    "{:?} {:?}",
                    paced.state().get_untracked(),
                    every.state().get_untracked()
                )
            },
        )
        .await;
        for round in ["live", "resumed after a drop"] {
            let (paced_before, all_before) = (paced_seqs.borrow().len(), all_seqs.borrow().len());
            if round != "live" {
                // Every stream ends; the burst goes out before the clients are back.
                fault("drop", "{}").await;
            }
            burst(2_000).await;
            wait_for(
                "every tick on one stream, the newest on the other, the same last ID",
                PATIENCE,
                || {
                    let all = all_seqs.borrow();
                    let done = all.len() >= all_before + 2_000
                        && paced_seqs.borrow().last() == all.last()
                        && paced.last_event_id().get_untracked()
                            == every.last_event_id().get_untracked();
                    done.then_some(())
                },
                || {
                    format!(
                        "{round}: paced {:?} at {:?}, every {} to {:?} at {:?}",
                        &paced_seqs.borrow()[paced_before..],
                        paced.last_event_id().get_untracked(),
                        all_seqs.borrow().len() - all_before,
                        all_seqs.borrow().last(),
                        every.last_event_id().get_untracked()
                    )
                },
            )
            .await;
            let paced_got = paced_seqs.borrow().len() - paced_before;
            assert!(
                (1..=6).contains(&paced_got),
                "{round}: {paced_got} of 2000 ticks in a paced stream"
            );
            assert_consecutive(&all_seqs.borrow()[all_before..]);
        }
    })
    .await;
}
