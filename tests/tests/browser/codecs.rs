//! Typed events in both encodings: the same fixed series of sensor readings as JSON (with a
//! base64 bytes field) and as postcard in base64, over each streaming transport, every value
//! checked against the series.

use std::cell::RefCell;
use std::rc::Rc;

use demo_events::{BinarySamples, Samples};
use leptos::prelude::*;
use tidings::{ConnectionState, FailReason, TransportMode, TypedEvent, use_sse_with_options};
use tidings_tests::browser::{quick, wait_for, with_owner};
use wasm_bindgen_test::wasm_bindgen_test;

use crate::{PATIENCE, url};

/// Batches per stream.
const COUNT: u64 = 500;

/// Streams the series in `encoding` over `mode` until the server says it is over (`204` on the
/// reconnect after the last batch), and returns what `on::<T>` saw, as `Samples`.
async fn receive<T>(encoding: &str, mode: TransportMode, unwrap: fn(T) -> Samples) -> Vec<Samples>
where
    T: TypedEvent + Clone + 'static,
{
    with_owner(|| async {
        let sse = use_sse_with_options(
            url(&format!("/api/samples/{encoding}?count={COUNT}")),
            quick().transport(mode),
        );
        let received = Rc::new(RefCell::new(Vec::new()));
        let sink = received.clone();
        sse.on::<T>(move |batch| sink.borrow_mut().push(unwrap(batch)));
        wait_for(
            "the end of the series",
            PATIENCE,
            || {
                matches!(
                    sse.state().get_untracked(),
                    ConnectionState::Failed {
                        reason: FailReason::ServerSaidStop,
                        ..
                    }
                )
                .then_some(())
            },
            || {
                format!(
                    "{:?}, {} batches",
                    sse.state().get_untracked(),
                    received.borrow().len()
                )
            },
        )
        .await;
        assert_eq!(
            sse.decode_error().get_untracked().map(|e| e.to_string()),
            None
        );
        assert_eq!(sse.last_event_id().get_untracked(), Some(COUNT.to_string()));
        received.take()
    })
    .await
}

fn assert_the_series(encoding: &str, mode: TransportMode, received: &[Samples]) {
    assert_eq!(
        received.len() as u64,
        COUNT,
        "{encoding} over {mode:?}: every batch once"
    );
    for (batch, seq) in received.iter().zip(1..) {
        assert!(
            *batch == Samples::nth(seq),
            "{encoding} over {mode:?}: batch {seq} decoded as {batch:?}"
        );
    }
}

#[wasm_bindgen_test]
async fn json_and_postcard_events_decode_to_the_values_sent() {
    for mode in [TransportMode::EventSource, TransportMode::Fetch] {
        let json = receive::<Samples>("json", mode, |samples| samples).await;
        assert_the_series("json", mode, &json);
        let postcard = receive::<BinarySamples>("postcard", mode, |binary| binary.0).await;
        assert_the_series("postcard", mode, &postcard);
    }
}
