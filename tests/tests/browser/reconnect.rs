//! Reconnects, failures and resource use, against the server's fault injection.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use demo_events::Tick;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use tidings::{
    ConnectionState, DisconnectReason, FailReason, Sharing, SseOptions, TypedEvent, diagnostics,
    use_sse, use_sse_with_options,
};
use tidings_tests::browser::{
    assert_consecutive, burst, clear_faults, failure, fault, faults, quick, sleep, tick_seqs,
    wait_for, with_owner,
};
use wasm_bindgen::JsCast;
use wasm_bindgen_test::{console_log, wasm_bindgen_test};

use crate::{PATIENCE, url};

/// Every state the connection goes through, as seen by an effect.
fn record_states(state: Signal<ConnectionState>) -> Rc<RefCell<Vec<ConnectionState>>> {
    let seen = Rc::new(RefCell::new(Vec::new()));
    let sink = seen.clone();
    Effect::new(move |_| sink.borrow_mut().push(state.get()));
    seen
}

#[wasm_bindgen_test]
async fn dropped_streams_reconnect_and_resume_every_event_exactly_once() {
    clear_faults().await;
    with_owner(|| async {
        let sse = use_sse_with_options(url("/api/ticker"), quick());
        let seqs = tick_seqs(sse);
        let states = record_states(sse.state());
        wait_for(
            "ten ticks",
            PATIENCE,
            || (seqs.borrow().len() >= 10).then_some(()),
            || format!("{:?}", sse.state().get_untracked()),
        )
        .await;

        // Drop every stream twice; ticks keep being published meanwhile.
        for _ in 0..2 {
            let before = seqs.borrow().len();
            fault("drop", "{}").await;
            wait_for(
                "ticks after the drop",
                PATIENCE,
                || {
                    (seqs.borrow().len() >= before + 10 && sse.state().get_untracked().is_open())
                        .then_some(())
                },
                || {
                    format!(
                        "{} ticks, {:?}",
                        seqs.borrow().len(),
                        sse.state().get_untracked()
                    )
                },
            )
            .await;
        }
        assert_consecutive(&seqs.borrow());
        let reconnects = states
            .borrow()
            .iter()
            .filter(|s| {
                matches!(
                    s,
                    ConnectionState::Reconnecting {
                        reason: DisconnectReason::Network,
                        ..
                    }
                )
            })
            .count();
        assert!(
            reconnects >= 2,
            "reconnecting was shown: {:?}",
            states.borrow()
        );
        assert!(
            !states
                .borrow()
                .iter()
                .any(|s| matches!(s, ConnectionState::Closed | ConnectionState::Failed { .. })),
            "a transient loss never shows as closed or failed: {:?}",
            states.borrow()
        );
    })
    .await;
}

/// Orders `fault` for the next `count` requests, opens the ticker, and waits for it to fail.
async fn fails_for_good(order: (&str, String), expected: FailReason, counter: &str) {
    clear_faults().await;
    fault(order.0, &order.1).await;
    with_owner(|| async {
        let sse = use_sse_with_options(url("/api/ticker"), quick());
        let state = sse.state();
        let reason = failure(state).await;
        assert_eq!(reason, expected);
        // No retry storm: the stream was asked for once, and once more by the probe.
        sleep(Duration::from_millis(600)).await;
        let left = faults().await[counter].as_i64().unwrap_or(-1);
        assert_eq!(1000 - left, 2, "requests made to the stream");
        assert!(matches!(
            state.get_untracked(),
            ConnectionState::Failed { .. }
        ));
    })
    .await;
    clear_faults().await;
}

#[wasm_bindgen_test]
async fn a_wrong_content_type_fails_without_retrying() {
    fails_for_good(
        ("wrong-content-type", r#"{"count":1000}"#.to_owned()),
        FailReason::WrongContentType {
            content_type: "text/plain".into(),
        },
        "wrong_type_next",
    )
    .await;
}

#[wasm_bindgen_test]
async fn no_content_means_stop() {
    fails_for_good(
        ("fail", r#"{"count":1000,"status":204}"#.to_owned()),
        FailReason::ServerSaidStop,
        "fail_next",
    )
    .await;
}

#[wasm_bindgen_test]
async fn forbidden_fails_without_retrying() {
    fails_for_good(
        ("fail", r#"{"count":1000,"status":403}"#.to_owned()),
        // The probe that explains the EventSource's failure reads the start of the body too.
        FailReason::Unauthorized {
            status: 403,
            body: "injected failure".into(),
        },
        "fail_next",
    )
    .await;
}

#[wasm_bindgen_test]
async fn unauthorized_fails() {
    clear_faults().await;
    with_owner(|| async {
        // No session cookie: the server answers 401.
        let sse = use_sse_with_options(url("/api/notifications"), quick());
        let state = sse.state();
        wait_for(
            "401",
            PATIENCE,
            || {
                (state.get_untracked()
                    == ConnectionState::Failed {
                        reason: FailReason::Unauthorized {
                            status: 401,
                            body: "sign in first (POST /api/session)".into(),
                        },
                    })
                .then_some(())
            },
            || state.get_untracked().to_string(),
        )
        .await;
    })
    .await;
}

#[wasm_bindgen_test]
async fn server_errors_back_off_then_recover() {
    clear_faults().await;
    // Four failures: two attempts, each followed by its probe.
    fault("fail", r#"{"count":4,"status":503}"#).await;
    with_owner(|| async {
        let sse = use_sse_with_options(url("/api/ticker"), quick());
        let states = record_states(sse.state());
        let seqs = tick_seqs(sse);
        wait_for(
            "ticks after recovering",
            PATIENCE,
            || (!seqs.borrow().is_empty()).then_some(()),
            || format!("{:?}", states.borrow()),
        )
        .await;
        let waits: Vec<(u32, f64)> = states
            .borrow()
            .iter()
            .filter_map(|s| match s {
                ConnectionState::Reconnecting {
                    attempt,
                    at,
                    reason: DisconnectReason::Status(503),
                } => Some((*attempt, at.0)),
                _ => None,
            })
            .collect();
        let attempts: Vec<u32> = waits.iter().map(|(attempt, _)| *attempt).collect();
        assert_eq!(
            attempts,
            [1, 2],
            "two backoffs, then open: {:?}",
            states.borrow()
        );
        assert!(sse.state().get_untracked().is_open());
    })
    .await;
    clear_faults().await;
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct TickWithNumericSymbol {
    symbol: u64,
}

impl TypedEvent for TickWithNumericSymbol {
    const NAME: &'static str = "tick";
}

#[wasm_bindgen_test]
async fn decode_errors_surface_and_the_stream_goes_on() {
    clear_faults().await;
    with_owner(|| async {
        let sse = use_sse(url("/api/ticker"));
        // A subscriber whose type does not match the server's: every tick fails to decode for it.
        let wrong = sse.latest::<TickWithNumericSymbol>();
        let seqs = tick_seqs(sse);
        wait_for(
            "five ticks",
            PATIENCE,
            || (seqs.borrow().len() >= 5).then_some(()),
            || "no ticks".into(),
        )
        .await;
        let error = sse
            .decode_error()
            .get_untracked()
            .expect("a decode error is reported");
        assert_eq!(error.event(), "tick");
        assert!(error.to_string().contains("expected u64"), "{error}");
        assert!(wrong.with_untracked(Option::is_none));
        assert_consecutive(&seqs.borrow());
    })
    .await;
}

#[wasm_bindgen_test]
async fn a_burst_of_1000_events_loses_none() {
    clear_faults().await;
    with_owner(|| async {
        let sse = use_sse(url("/api/firehose"));
        let history = sse.history::<Tick>(1000);
        let seqs = tick_seqs(sse);
        let state = sse.state();
        wait_for(
            "open",
            PATIENCE,
            || state.get_untracked().is_open().then_some(()),
            || state.get_untracked().to_string(),
        )
        .await;
        burst(1000).await;
        wait_for(
            "1000 events",
            PATIENCE,
            || (seqs.borrow().len() >= 1000).then_some(()),
            || format!("{} events", seqs.borrow().len()),
        )
        .await;
        assert_eq!(seqs.borrow().len(), 1000);
        assert_consecutive(&seqs.borrow());
        let kept: Vec<u64> = history.with_untracked(|h| h.iter().map(|t| t.seq).collect());
        assert_eq!(kept, *seqs.borrow(), "the history holds all 1000, in order");
    })
    .await;
}

#[wasm_bindgen_test]
async fn open_close_cycles_leave_nothing_behind() {
    clear_faults().await;
    let _ = any_spawner::Executor::init_wasm_bindgen();
    let memory = || {
        wasm_bindgen::memory()
            .unchecked_into::<js_sys::WebAssembly::Memory>()
            .buffer()
            .unchecked_into::<js_sys::ArrayBuffer>()
            .byte_length()
    };
    let cycle = || async {
        let owner = Owner::new();
        owner.set();
        let sse = use_sse(url("/api/ticker"));
        sse.on::<Tick>(|_| {});
        let _latest = sse.latest::<Tick>();
        // Let the effect connect.
        sleep(Duration::from_millis(1)).await;
        owner.cleanup();
    };
    // Warm up the allocator, then measure (against what other tests may have left).
    for _ in 0..50 {
        cycle().await;
    }
    let (transports, listeners) = (
        diagnostics::live_transports(),
        diagnostics::live_listeners(),
    );
    let before = memory();
    for _ in 0..500 {
        cycle().await;
    }
    let after = memory();
    console_log!(
        "500 open/close cycles: wasm memory {before} -> {after} bytes; \
         live transports {transports} -> {}, live listeners {listeners} -> {}",
        diagnostics::live_transports(),
        diagnostics::live_listeners()
    );
    assert_eq!(
        diagnostics::live_transports(),
        transports,
        "every transport released"
    );
    assert_eq!(
        diagnostics::live_listeners(),
        listeners,
        "every listener removed"
    );
    assert!(
        after - before <= 64 * 1024,
        "wasm memory grew by {} bytes",
        after - before
    );
}

#[wasm_bindgen_test]
async fn components_on_one_url_share_one_connection() {
    clear_faults().await;
    let _ = any_spawner::Executor::init_wasm_bindgen();
    let before = diagnostics::live_connections();
    // Two components, each with its own reactive owner, on the same URL and options.
    let (first, second) = (Owner::new(), Owner::new());
    // Equal options, but unlike any other test's, so that no test running meanwhile shares
    // their connection and the count below is theirs alone.
    let options = || SseOptions::default().stale_after(Duration::from_secs(3599));
    let seen_by_first =
        first.with(|| tick_seqs(use_sse_with_options(url("/api/ticker"), options())));
    let second_sse = second.with(|| use_sse_with_options(url("/api/ticker"), options()));
    let seen_by_second = second.with(|| tick_seqs(second_sse));
    wait_for(
        "ticks in both",
        PATIENCE,
        || (seen_by_first.borrow().len() >= 3 && seen_by_second.borrow().len() >= 3).then_some(()),
        || {
            format!(
                "{} and {}",
                seen_by_first.borrow().len(),
                seen_by_second.borrow().len()
            )
        },
    )
    .await;
    assert_eq!(
        diagnostics::live_connections(),
        before + 1,
        "one connection for two users"
    );

    // The first unmounts: the second keeps receiving on the same connection.
    first.cleanup();
    let count = seen_by_second.borrow().len();
    wait_for(
        "more ticks",
        PATIENCE,
        || (seen_by_second.borrow().len() > count + 3).then_some(()),
        || "no more ticks".into(),
    )
    .await;
    assert!(second_sse.state().get_untracked().is_open());
    assert_eq!(diagnostics::live_connections(), before + 1);

    // The last user unmounts: the connection closes.
    second.cleanup();
    assert_eq!(diagnostics::live_connections(), before);
}

#[wasm_bindgen_test]
async fn one_component_closing_or_pausing_leaves_a_shared_connection_to_the_others() {
    clear_faults().await;
    let _ = any_spawner::Executor::init_wasm_bindgen();
    let before = diagnostics::live_connections();
    let (first, second) = (Owner::new(), Owner::new());
    // These two only: tests running meanwhile may hold their own ticker connections.
    let options = || SseOptions::default().sharing(Sharing::group("closing-or-pausing"));
    let first_sse = first.with(|| use_sse_with_options(url("/api/ticker"), options()));
    let second_sse = second.with(|| use_sse_with_options(url("/api/ticker"), options()));
    let seen_by_second = second.with(|| tick_seqs(second_sse));
    wait_for(
        "ticks",
        PATIENCE,
        || (seen_by_second.borrow().len() >= 3).then_some(()),
        || "no ticks".into(),
    )
    .await;
    assert_eq!(diagnostics::live_connections(), before + 1);

    // The first closes, then pauses: the second goes on receiving, with no gap.
    first_sse.close();
    first_sse.pause();
    let count = seen_by_second.borrow().len();
    wait_for(
        "ticks after the first closed",
        PATIENCE,
        || (seen_by_second.borrow().len() > count + 5).then_some(()),
        || format!("{:?}", second_sse.state().get_untracked()),
    )
    .await;
    assert!(second_sse.state().get_untracked().is_open());
    assert!(first_sse.state().get_untracked().is_open());
    assert_consecutive(&seen_by_second.borrow());

    // The second closes too: now the connection closes, for both.
    second_sse.close();
    assert_eq!(second_sse.state().get_untracked(), ConnectionState::Closed);
    assert_eq!(first_sse.state().get_untracked(), ConnectionState::Closed);
    let at_close = seen_by_second.borrow().len();
    sleep(Duration::from_millis(300)).await;
    assert_eq!(
        seen_by_second.borrow().len(),
        at_close,
        "ticks after both closed"
    );

    // Either opening again reconnects it, resuming where it stopped.
    first_sse.open();
    wait_for(
        "ticks after reopening",
        PATIENCE,
        || (seen_by_second.borrow().len() > at_close + 5).then_some(()),
        || format!("{:?}", second_sse.state().get_untracked()),
    )
    .await;
    assert_consecutive(&seen_by_second.borrow());
    first.cleanup();
    second.cleanup();
    assert_eq!(diagnostics::live_connections(), before);
}
