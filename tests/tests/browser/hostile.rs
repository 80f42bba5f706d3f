//! The bad-input table: what the client does with hostile or broken servers
//! (`/api/hostile/...` and the fault injector), for each streaming transport.
//! The README's table points at these tests.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use demo_events::Tick;
use leptos::prelude::*;
use tidings::wire::ParseError;
use tidings::{
    ConnectionState, DisconnectReason, FailReason, ReconnectPolicy, Sse, TransportMode,
    use_sse_with_options,
};
use tidings_tests::browser::{clear_faults, failure, fault, quick, sleep, wait_for, with_owner};
use tidings_tests::proof::wasm_memory;
use wasm_bindgen_test::wasm_bindgen_test;

use crate::{PATIENCE, url};

/// The streaming transports: each row of the table holds for both.
const STREAMING: [TransportMode; 2] = [TransportMode::EventSource, TransportMode::Fetch];

/// Every tick `sse` delivers, whole.
fn ticks(sse: Sse) -> Rc<RefCell<Vec<Tick>>> {
    let seen = Rc::new(RefCell::new(Vec::new()));
    let sink = seen.clone();
    sse.on::<Tick>(move |tick| sink.borrow_mut().push(tick));
    seen
}

/// Waits until `ticks` holds `count` ticks.
async fn wait_for_ticks(ticks: &Rc<RefCell<Vec<Tick>>>, count: usize, mode: TransportMode) {
    wait_for(
        "the ticks",
        PATIENCE,
        || (ticks.borrow().len() >= count).then_some(()),
        || format!("{mode:?}: {:?}", ticks.borrow()),
    )
    .await;
}

fn seqs(ticks: &Rc<RefCell<Vec<Tick>>>) -> Vec<u64> {
    ticks.borrow().iter().map(|tick| tick.seq).collect()
}

#[wasm_bindgen_test]
async fn invalid_utf8_is_replaced_and_the_stream_goes_on() {
    for mode in STREAMING {
        with_owner(|| async {
            let sse =
                use_sse_with_options(url("/api/hostile/invalid-utf8"), quick().transport(mode));
            let ticks = ticks(sse);
            wait_for_ticks(&ticks, 2, mode).await;
            assert_eq!(ticks.borrow()[0].symbol, "\u{FFFD}\u{FFFD}", "{mode:?}");
            assert_eq!(seqs(&ticks), [1, 2], "{mode:?}");
            assert!(sse.decode_error().get_untracked().is_none(), "{mode:?}");
        })
        .await;
        clear_faults().await;
    }
}

fn is_firefox() -> bool {
    web_sys::window()
        .and_then(|window| window.navigator().user_agent().ok())
        .is_some_and(|agent| agent.contains("Firefox"))
}

#[wasm_bindgen_test]
async fn an_id_with_nul_is_ignored_and_nul_in_data_is_kept() {
    for mode in STREAMING {
        with_owner(|| async {
            let sse = use_sse_with_options(url("/api/hostile/nul"), quick().transport(mode));
            let ticks = ticks(sse);
            let notes = Rc::new(RefCell::new(Vec::new()));
            let sink = notes.clone();
            sse.on_raw("note", move |event| {
                sink.borrow_mut()
                    .push((event.data.to_owned(), event.last_event_id.to_owned()));
            });
            wait_for(
                "the note",
                PATIENCE,
                || (!notes.borrow().is_empty()).then_some(()),
                || format!("{mode:?}: {:?}", ticks.borrow()),
            )
            .await;
            // The standard says to ignore the `id` field but dispatch the event, and to keep
            // NUL in data. Firefox's own EventSource (ESR 153) drops that event and strips NUL
            // from data: with that transport, the browser decides.
            let (expected_seqs, note): (&[u64], &str) =
                if mode == TransportMode::EventSource && is_firefox() {
                    (&[1], "ab")
                } else {
                    (&[1, 2], "a\0b")
                };
            assert_eq!(seqs(&ticks), expected_seqs, "{mode:?}");
            // `id: 2<NUL>x` is ignored: the ID stays that of tick 1.
            assert_eq!(*notes.borrow(), [(note.to_owned(), "1".to_owned())]);
            sleep(Duration::from_millis(20)).await;
            assert_eq!(sse.last_event_id().get_untracked().as_deref(), Some("1"));
        })
        .await;
        clear_faults().await;
    }
}

#[wasm_bindgen_test]
async fn a_huge_event_is_skipped_reported_and_its_id_kept() {
    for mode in STREAMING {
        with_owner(|| async {
            // 2 MiB against the default limit of 1 MiB.
            let sse = use_sse_with_options(url("/api/hostile/huge-event"), quick().transport(mode));
            let ticks = ticks(sse);
            wait_for_ticks(&ticks, 2, mode).await;
            assert_eq!(
                seqs(&ticks),
                [1, 2],
                "{mode:?}: the huge one is not delivered"
            );
            assert_eq!(
                sse.stream_error().get_untracked(),
                Some(ParseError::EventTooLarge { limit: 1 << 20 }),
                "{mode:?}"
            );
            assert!(sse.state().get_untracked().is_open(), "{mode:?}");
        })
        .await;
        clear_faults().await;
    }
    // Below the limit it is an ordinary event.
    for mode in STREAMING {
        with_owner(|| async {
            let options = quick().transport(mode).max_event_size(4 << 20);
            let sse = use_sse_with_options(url("/api/hostile/huge-event"), options);
            let sizes = Rc::new(RefCell::new(Vec::new()));
            let sink = sizes.clone();
            sse.on_raw("tick", move |event| {
                sink.borrow_mut().push(event.data.len())
            });
            wait_for(
                "three events",
                PATIENCE,
                || (sizes.borrow().len() >= 3).then_some(()),
                || format!("{mode:?}: {:?}", sizes.borrow()),
            )
            .await;
            let sizes = sizes.borrow().clone();
            // 2,048 lines of 1,023 bytes, joined by line feeds.
            assert_eq!(sizes[1], (2 << 20) - 1, "{mode:?}: {sizes:?}");
            assert_eq!(sse.stream_error().get_untracked(), None);
        })
        .await;
        clear_faults().await;
    }
}

#[wasm_bindgen_test]
async fn an_endless_line_is_reported_in_bounded_memory_with_fetch() {
    // EventSource buffers the line inside the browser, where the page cannot see or limit it:
    // the fetch transport is the one that bounds it.
    with_owner(|| async {
        let before = wasm_memory();
        let options = quick()
            .transport(TransportMode::Fetch)
            .max_event_size(256 << 10);
        let sse = use_sse_with_options(url("/api/hostile/endless-line"), options);
        wait_for(
            "the stream error",
            PATIENCE,
            || sse.stream_error().get_untracked(),
            || sse.state().get_untracked().to_string(),
        )
        .await;
        // The server goes on sending, up to 64 MiB.
        sleep(Duration::from_secs(2)).await;
        let grown = wasm_memory() - before;
        assert!(
            grown < f64::from(4 << 20),
            "wasm memory grew by {grown} bytes while the line went on"
        );
    })
    .await;
    clear_faults().await;
}

#[wasm_bindgen_test]
async fn a_reset_mid_event_drops_the_half_and_resumes() {
    for mode in STREAMING {
        with_owner(|| async {
            let sse = use_sse_with_options(url("/api/hostile/reset"), quick().transport(mode));
            let ticks = ticks(sse);
            wait_for_ticks(&ticks, 2, mode).await;
            sleep(Duration::from_millis(200)).await;
            assert_eq!(
                seqs(&ticks),
                [1, 2],
                "{mode:?}: each once, the half one dropped"
            );
        })
        .await;
        clear_faults().await;
    }
}

#[wasm_bindgen_test]
async fn a_redirect_loop_is_a_network_failure_that_backs_off_then_gives_up() {
    for mode in STREAMING {
        with_owner(|| async {
            let options = quick().transport(mode).reconnect(
                ReconnectPolicy::default()
                    .initial_delay(Duration::from_millis(100))
                    .jitter(0.0)
                    .max_attempts(2),
            );
            let sse = use_sse_with_options(url("/api/hostile/redirect-loop"), options);
            let reason = failure(sse.state()).await;
            assert_eq!(
                reason,
                FailReason::AttemptsExhausted { attempts: 2 },
                "{mode:?}"
            );
        })
        .await;
    }
}

#[wasm_bindgen_test]
async fn a_503_with_retry_after_waits_as_told() {
    // EventSource cannot read the status: its probe asks again, and both are refused.
    for (mode, refusals) in [(TransportMode::Fetch, 1), (TransportMode::EventSource, 2)] {
        clear_faults().await;
        fault(
            "fail",
            &format!(r#"{{"count":{refusals},"status":503,"retry_after":2}}"#),
        )
        .await;
        with_owner(|| async {
            let sse = use_sse_with_options(url("/api/ticker"), quick().transport(mode));
            let (at, asked) = wait_for(
                "the backoff",
                PATIENCE,
                || match sse.state().get_untracked() {
                    ConnectionState::Reconnecting {
                        at,
                        reason: DisconnectReason::Status(503),
                        ..
                    } => Some((at.0, js_sys::Date::now())),
                    _ => None,
                },
                || sse.state().get_untracked().to_string(),
            )
            .await;
            // Without Retry-After, `quick()` would wait 100 ms.
            assert!(at - asked > 1500.0, "{mode:?}: waits {} ms", at - asked);
        })
        .await;
    }
    clear_faults().await;
}

#[wasm_bindgen_test]
async fn a_500_backs_off_and_recovers() {
    for (mode, refusals) in [(TransportMode::Fetch, 1), (TransportMode::EventSource, 2)] {
        clear_faults().await;
        fault("fail", &format!(r#"{{"count":{refusals},"status":500}}"#)).await;
        with_owner(|| async {
            let sse = use_sse_with_options(url("/api/ticker"), quick().transport(mode));
            let saw_500 = Rc::new(RefCell::new(false));
            let seen = saw_500.clone();
            let state = sse.state();
            Effect::new(move |_| {
                if let ConnectionState::Reconnecting {
                    reason: DisconnectReason::Status(500),
                    ..
                } = state.get()
                {
                    *seen.borrow_mut() = true;
                }
            });
            let ticks = ticks(sse);
            wait_for_ticks(&ticks, 1, mode).await;
            assert!(
                *saw_500.borrow(),
                "{mode:?}: the 500 was shown while backing off"
            );
        })
        .await;
    }
    clear_faults().await;
}

#[wasm_bindgen_test]
async fn with_fetch_a_wrong_content_type_and_204_fail_for_good_at_once() {
    let cases = [
        (
            "wrong-content-type",
            r#"{"count":1000}"#,
            FailReason::WrongContentType {
                content_type: "text/plain".into(),
            },
        ),
        (
            "fail",
            r#"{"count":1000,"status":204}"#,
            FailReason::ServerSaidStop,
        ),
    ];
    for (order, json, expected) in cases {
        clear_faults().await;
        fault(order, json).await;
        with_owner(|| async {
            let options = quick().transport(TransportMode::Fetch);
            let sse = use_sse_with_options(url("/api/ticker"), options);
            assert_eq!(failure(sse.state()).await, expected);
        })
        .await;
    }
    clear_faults().await;
}
