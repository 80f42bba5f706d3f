//! tidings against a standard SSE server nobody on the project wrote: Python's sse-starlette on
//! uvicorn (`tests/interop/peer_server.py`), which resumes from the `Last-Event-ID` header only
//! and has no polling endpoint. Its supervisor SIGKILLs it mid-stream and restarts it; events
//! fall due meanwhile, and the restarted server has them all. Each test holds tidings to its own
//! criteria: every event once and in order, and a state that never says open while the server
//! is down.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use tidings::{
    ConnectionState, DisconnectReason, FallbackPolicy, Transport, TransportMode, TypedEvent,
    use_sse_with_options,
};
use tidings_tests::browser::{assert_consecutive, quick, wait_for, with_owner};
use tidings_tests::{PEER_CONTROL, PEER_SERVER};
use wasm_bindgen_test::{console_log, wasm_bindgen_test};

/// The peer's event: type `tick`, ID `n`, data `{"seq": n}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct PeerTick {
    seq: u64,
}

impl TypedEvent for PeerTick {
    const NAME: &'static str = "tick";
}

/// The peer publishes one event every this long (`--interval-ms`, the supervisor's default).
const INTERVAL_MS: f64 = 20.0;

/// A restart as the supervisor reports it: when the server died and when it listened again.
#[derive(Debug, Deserialize)]
struct Restart {
    killed_at: f64,
    restarted_at: f64,
}

/// Kills the peer server mid-stream, leaves it down for `down`, and starts it again.
async fn restart_peer(down: Duration) -> Restart {
    let url = format!("{PEER_CONTROL}/restart?down_ms={}", down.as_millis());
    let response = gloo_net::http::Request::post(&url)
        .send()
        .await
        .unwrap_or_else(|error| panic!("cannot reach the peer's supervisor at {url}: {error}"));
    assert!(response.ok(), "{url} answered {}", response.status());
    response.json().await.expect("the supervisor's JSON")
}

/// Every state, with the time it was seen.
fn timed_states(state: Signal<ConnectionState>) -> Rc<RefCell<Vec<(f64, ConnectionState)>>> {
    let seen = Rc::new(RefCell::new(Vec::new()));
    let sink = seen.clone();
    Effect::new(move |_| {
        let state = state.get();
        sink.borrow_mut().push((js_sys::Date::now(), state));
    });
    seen
}

fn peer_seqs(sse: tidings::Sse) -> Rc<RefCell<Vec<u64>>> {
    let seqs = Rc::new(RefCell::new(Vec::new()));
    let sink = seqs.clone();
    sse.on::<PeerTick>(move |tick| sink.borrow_mut().push(tick.seq));
    seqs
}

/// Reads the peer under `mode` through two restarts, a short one (the browser's own
/// EventSource reconnect is due after it) and a long one (the browser's reconnect finds the
/// server still down, or is late, and tidings takes over); returns the transport at the end of
/// each.
async fn survives_restarts(mode: TransportMode) -> Vec<Transport> {
    let mut transports = Vec::new();
    with_owner(|| async {
        let sse = use_sse_with_options(format!("{PEER_SERVER}/events"), quick().transport(mode));
        let seqs = peer_seqs(sse);
        let states = timed_states(sse.state());
        let describe = || {
            format!(
                "{} events, {:?}",
                seqs.borrow().len(),
                sse.state().get_untracked()
            )
        };
        wait_for(
            "events from the peer",
            Duration::from_secs(15),
            || (seqs.borrow().len() >= 10 && sse.state().get_untracked().is_open()).then_some(()),
            describe,
        )
        .await;

        for down in [Duration::from_millis(600), Duration::from_millis(6_500)] {
            let before = seqs.borrow().len();
            let restart = restart_peer(down).await;
            let missed = ((restart.restarted_at - restart.killed_at) / INTERVAL_MS) as usize;
            // Every event due while it was down, and some after.
            wait_for(
                "the events from while the server was down",
                Duration::from_secs(20),
                || {
                    (seqs.borrow().len() >= before + missed + 20
                        && sse.state().get_untracked().is_open())
                    .then_some(())
                },
                describe,
            )
            .await;
            assert_consecutive(&seqs.borrow());

            // Honest throughout: nothing could be open while the server was down.
            let states = states.borrow();
            let down_window = restart.killed_at + 300.0..restart.restarted_at;
            let opened_while_down: Vec<_> = states
                .iter()
                .filter(|(at, state)| down_window.contains(at) && state.is_open())
                .collect();
            assert!(
                opened_while_down.is_empty(),
                "open while the server was down: {opened_while_down:?}"
            );
            let left_open = states.iter().any(|(at, state)| {
                *at >= restart.killed_at && *at < restart.restarted_at && !state.is_open()
            });
            assert!(left_open, "the state never left open: {states:?}");
            let ConnectionState::Open { transport, .. } = sse.state().get_untracked() else {
                unreachable!("waited for open");
            };
            transports.push(transport);
            console_log!(
                "{mode:?}: down {:.0} ms, {missed} events due meanwhile, {} received in all, \
                 0 lost, 0 duplicated; open again on {transport}",
                restart.restarted_at - restart.killed_at,
                seqs.borrow().len()
            );
        }
        if mode == TransportMode::Polling {
            let no_polling = states.borrow().iter().any(|(_, state)| {
                matches!(
                    state,
                    ConnectionState::Reconnecting {
                        reason: DisconnectReason::PollingUnavailable(404),
                        ..
                    }
                )
            });
            assert!(no_polling, "the missing poll endpoint was not reported");
        }
    })
    .await;
    transports
}

#[wasm_bindgen_test]
async fn event_source_resumes_a_standard_server_across_restarts() {
    let transports = survives_restarts(TransportMode::EventSource).await;
    // After the short restart the browser's own reconnect carried Last-Event-ID.
    assert_eq!(transports[0], Transport::EventSource, "{transports:?}");
}

#[wasm_bindgen_test]
async fn fetch_resumes_a_standard_server_across_restarts() {
    let transports = survives_restarts(TransportMode::Fetch).await;
    assert_eq!(transports, [Transport::Fetch, Transport::Fetch]);
}

#[wasm_bindgen_test]
async fn polling_without_a_poll_endpoint_streams_and_resumes_across_restarts() {
    let transports = survives_restarts(TransportMode::Polling).await;
    assert_eq!(transports, [Transport::Fetch, Transport::Fetch]);
}

#[wasm_bindgen_test]
async fn auto_against_a_stalled_standard_stream_goes_back_to_streaming_never_failed() {
    with_owner(|| async {
        let options = quick().transport(TransportMode::Auto).fallback(
            FallbackPolicy::default()
                .stall_after(Duration::from_millis(800))
                .retry_streaming_after(Duration::from_secs(2)),
        );
        let sse = use_sse_with_options(format!("{PEER_SERVER}/stall"), options);
        let seqs = peer_seqs(sse);
        let states = timed_states(sse.state());
        // Each stream brings one event and stalls; Auto tries polling (404 here), then streams
        // again, resuming after the last event each time.
        wait_for(
            "several stalls and resumes",
            Duration::from_secs(20),
            || (seqs.borrow().len() >= 4).then_some(()),
            || format!("{:?}", states.borrow().last()),
        )
        .await;
        assert_consecutive(&seqs.borrow());
        let states = states.borrow();
        assert!(
            !states
                .iter()
                .any(|(_, state)| matches!(state, ConnectionState::Failed { .. })),
            "Auto gave up: {states:?}"
        );
        let no_polling = states.iter().position(|(_, state)| {
            matches!(
                state,
                ConnectionState::Reconnecting {
                    reason: DisconnectReason::PollingUnavailable(404),
                    ..
                }
            )
        });
        let no_polling = no_polling.unwrap_or_else(|| panic!("no poll attempt seen: {states:?}"));
        let streamed_again = states[no_polling..].iter().any(|(_, state)| {
            matches!(
                state,
                ConnectionState::Open {
                    transport: Transport::Fetch,
                    ..
                }
            )
        });
        assert!(streamed_again, "not streaming again: {states:?}");
        let stalls = states
            .iter()
            .filter(|(_, state)| {
                matches!(
                    state,
                    ConnectionState::Reconnecting {
                        reason: DisconnectReason::Stalled,
                        ..
                    }
                )
            })
            .count();
        console_log!(
            "Auto on a stalled stream: {} events, {stalls} stalls, polling endpoint missing \
             (404) once, never failed",
            seqs.borrow().len()
        );
    })
    .await;
}
