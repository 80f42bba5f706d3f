//! The fetch and polling transports, and the automatic fallback between them.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use leptos::prelude::*;
use tidings::{
    ConnectionState, FailReason, FallbackPolicy, FallbackReason, Transport, TransportMode,
    use_sse_with_options,
};
use tidings_tests::browser::{
    assert_consecutive, burst, clear_faults, failure, fault, quick, tick_seqs, wait_for, with_owner,
};
use wasm_bindgen_test::wasm_bindgen_test;

use crate::{PATIENCE, url};

#[wasm_bindgen_test]
async fn headers_method_and_body_reach_the_server_and_headers_are_fresh_on_each_reconnect() {
    clear_faults().await;
    with_owner(|| async {
        let calls = Rc::new(Cell::new(0));
        let counter = calls.clone();
        let options = quick()
            .method("POST")
            .body(r#"{"prompt":"hello"}"#)
            .header("X-Custom", "static")
            .headers_with(move || {
                let n = counter.get() + 1;
                counter.set(n);
                async move { vec![("Authorization".to_owned(), format!("Bearer token-{n}"))] }
            });
        let sse = use_sse_with_options(url("/api/echo"), options);
        let echoes = Rc::new(RefCell::new(Vec::<serde_json::Value>::new()));
        let sink = echoes.clone();
        sse.on_raw("echo", move |event| {
            sink.borrow_mut()
                .push(serde_json::from_str(event.data).expect("JSON"))
        });
        // The echo stream ends after one event: the client reconnects, with a fresh token.
        wait_for(
            "two echoes",
            PATIENCE,
            || (echoes.borrow().len() >= 2).then_some(()),
            || format!("{:?}", sse.state().get_untracked()),
        )
        .await;
        let echoes = echoes.borrow();
        assert_eq!(echoes[0]["method"], "POST");
        assert_eq!(echoes[0]["body"], r#"{"prompt":"hello"}"#);
        assert_eq!(echoes[0]["custom"], "static");
        assert_eq!(echoes[0]["authorization"], "Bearer token-1");
        assert_eq!(
            echoes[1]["authorization"], "Bearer token-2",
            "computed again for the reconnect"
        );
        assert_eq!(
            echoes[1]["last_event_id"], "echo-1",
            "Last-Event-ID sent as a header"
        );
        assert!(calls.get() >= 2);
    })
    .await;
}

#[wasm_bindgen_test]
async fn fetch_shows_the_status_and_fails_on_401_without_retrying() {
    clear_faults().await;
    with_owner(|| async {
        let sse = use_sse_with_options(
            url("/api/notifications"),
            quick().transport(TransportMode::Fetch),
        );
        let state = sse.state();
        let reason = failure(state).await;
        assert_eq!(
            reason,
            FailReason::Unauthorized {
                status: 401,
                body: "sign in first (POST /api/session)".into()
            }
        );
    })
    .await;
}

/// A request the browser will not make is reported at once, named, and not retried: an invalid
/// method, or a computed header whose value has a line break (which used to throw inside the
/// request's task and leave the connection "connecting" for ever).
#[wasm_bindgen_test]
async fn fetch_fails_clearly_on_an_invalid_method_or_header() {
    clear_faults().await;
    with_owner(|| async {
        let bad_method = use_sse_with_options(url("/api/ticker"), quick().method("G ET"));
        let bad_header = use_sse_with_options(
            url("/api/ticker"),
            quick().headers_with(|| async {
                vec![("Authorization".to_owned(), "Bearer a\nb".to_owned())]
            }),
        );
        for (sse, expected) in [
            (bad_method, "\"G ET\" is not an HTTP method"),
            (bad_header, "the header \"Authorization\""),
        ] {
            match failure(sse.state()).await {
                FailReason::InvalidRequest { message } => {
                    assert!(message.starts_with(expected), "{message}");
                }
                other => panic!("expected an invalid request, got {other:?}"),
            }
        }
    })
    .await;
}

#[wasm_bindgen_test]
async fn fetch_streaming_resumes_exactly_once_across_drops() {
    clear_faults().await;
    with_owner(|| async {
        let sse = use_sse_with_options(url("/api/ticker"), quick().transport(TransportMode::Fetch));
        let seqs = tick_seqs(sse);
        wait_for(
            "ticks",
            PATIENCE,
            || (seqs.borrow().len() >= 5).then_some(()),
            || "no ticks".into(),
        )
        .await;
        assert!(matches!(
            sse.state().get_untracked(),
            ConnectionState::Open {
                transport: Transport::Fetch,
                ..
            }
        ));
        let before = seqs.borrow().len();
        fault("drop", "{}").await;
        wait_for(
            "ticks after the drop",
            PATIENCE,
            || (seqs.borrow().len() >= before + 10).then_some(()),
            || format!("{:?}", sse.state().get_untracked()),
        )
        .await;
        assert_consecutive(&seqs.borrow());
    })
    .await;
}

#[wasm_bindgen_test]
async fn polling_alone_delivers_1000_events_in_order() {
    clear_faults().await;
    with_owner(|| async {
        let sse = use_sse_with_options(
            url("/api/firehose"),
            quick().transport(TransportMode::Polling),
        );
        let seqs = tick_seqs(sse);
        let state = sse.state();
        // A long-poll with nothing to return answers only when something comes (or after 25 s):
        // publish once the first poll is at the server.
        tidings_tests::browser::sleep(Duration::from_millis(300)).await;
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
        assert!(matches!(
            state.get_untracked(),
            ConnectionState::Open {
                transport: Transport::Polling,
                ..
            }
        ));
    })
    .await;
}

#[wasm_bindgen_test]
async fn a_stalled_stream_falls_back_to_polling_and_streams_again_when_lifted() {
    clear_faults().await;
    with_owner(|| async {
        let fallback = FallbackPolicy::default()
            .stall_after(Duration::from_millis(600))
            .retry_streaming_after(Duration::from_millis(1500));
        let sse = use_sse_with_options(
            url("/api/ticker"),
            quick().transport(TransportMode::Auto).fallback(fallback),
        );
        let seqs = tick_seqs(sse);
        let states = Rc::new(RefCell::new(Vec::new()));
        let sink = states.clone();
        let state = sse.state();
        Effect::new(move |_| sink.borrow_mut().push(state.get()));
        wait_for(
            "ticks by streaming",
            PATIENCE,
            || (seqs.borrow().len() >= 5).then_some(()),
            || "no ticks".into(),
        )
        .await;
        assert!(matches!(
            state.get_untracked(),
            ConnectionState::Open {
                transport: Transport::Fetch,
                ..
            }
        ));

        // A buffering proxy appears: streams get their headers, then nothing.
        fault("stall", r#"{"on":true}"#).await;
        fault("drop", "{}").await;
        wait_for(
            "polling",
            PATIENCE,
            || {
                matches!(
                    state.get_untracked(),
                    ConnectionState::Open {
                        transport: Transport::Polling,
                        fallback: Some(FallbackReason::Stalled),
                        ..
                    }
                )
                .then_some(())
            },
            || state.get_untracked().to_string(),
        )
        .await;
        let while_polling = seqs.borrow().len();
        wait_for(
            "ticks by polling",
            PATIENCE,
            || (seqs.borrow().len() >= while_polling + 10).then_some(()),
            || state.get_untracked().to_string(),
        )
        .await;

        // The proxy is gone: the next try at streaming sticks.
        clear_faults().await;
        wait_for(
            "streaming again",
            Duration::from_secs(15),
            || {
                matches!(
                    state.get_untracked(),
                    ConnectionState::Open {
                        transport: Transport::Fetch,
                        ..
                    }
                )
                .then_some(())
            },
            || state.get_untracked().to_string(),
        )
        .await;
        let streaming_again = seqs.borrow().len();
        wait_for(
            "ticks by streaming again",
            PATIENCE,
            || (seqs.borrow().len() >= streaming_again + 10).then_some(()),
            || state.get_untracked().to_string(),
        )
        .await;
        assert_consecutive(&seqs.borrow());
    })
    .await;
}
