//! Compressed streams: the browser tests' server runs with `--compress`, so every stream of
//! the suite comes compressed, in the coding the browser likes (Chromium and Firefox offer
//! zstd and Brotli to loopback, a secure context, and gzip to any server); here, that it does,
//! and that a lone small event is not held back by the compressor on either transport.

use leptos::prelude::*;
use tidings::{Sharing, TransportMode, use_sse_with_options};
use tidings_tests::browser::{burst, clear_faults, quick, tick_seqs, wait_for, with_owner};
use wasm_bindgen_test::wasm_bindgen_test;

use crate::{PATIENCE, url};

/// The `Content-Encoding` of a stream from the test server, its body left unread.
async fn content_encoding(path: &str) -> Option<String> {
    let abort = web_sys::AbortController::new().expect("an AbortController");
    let response = gloo_net::http::Request::get(&url(path))
        .abort_signal(Some(&abort.signal()))
        .send()
        .await
        .expect("the stream answers");
    let coding = response.headers().get("content-encoding");
    abort.abort();
    coding
}

#[wasm_bindgen_test]
async fn streams_come_compressed_and_a_lone_event_is_not_held_back() {
    clear_faults().await;
    let coding = content_encoding("/api/firehose").await;
    assert!(
        matches!(coding.as_deref(), Some("zstd" | "br" | "gzip")),
        "a compressed stream: {coding:?}"
    );
    wasm_bindgen_test::console_log!("streams come in {coding:?}");
    for mode in [TransportMode::EventSource, TransportMode::Fetch] {
        with_owner(|| async {
            let sse = use_sse_with_options(
                url("/api/firehose"),
                quick().transport(mode).sharing(Sharing::Own),
            );
            let seqs = tick_seqs(sse);
            wait_for(
                "open",
                PATIENCE,
                || sse.state().get_untracked().is_open().then_some(()),
                || format!("{:?}", sse.state().get_untracked()),
            )
            .await;
            // One tick at a time (some 60 bytes, a few once compressed): each must come on its
            // own, not when a compressor's buffer fills.
            for n in 1..=5 {
                burst(1).await;
                wait_for(
                    "the lone tick",
                    std::time::Duration::from_secs(3),
                    || (seqs.borrow().len() >= n).then_some(()),
                    || format!("{mode:?}: {} of {n} ticks", seqs.borrow().len()),
                )
                .await;
            }
        })
        .await;
    }
}
