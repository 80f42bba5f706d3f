//! HTTP/2: the test server's HTTPS twin speaks HTTP/2 (ALPN), where a browser opens any number
//! of streams to one origin over one connection. Over HTTP/1.1 it opens six per origin, and the
//! seventh waits (a seventh tab of an SSE app is frozen): the second test shows that limit, so
//! that the first shows something.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use leptos::prelude::*;
use tidings::{Sharing, use_sse_with_options};
use tidings_tests::browser::{quick, sleep, wait_for, with_owner};
use tidings_tests::{TEST_SERVER, TLS_TEST_SERVER};
use wasm_bindgen_test::wasm_bindgen_test;

use crate::PATIENCE;

/// Streams opened at once: more than HTTP/1.1's six.
const STREAMS: usize = 8;

/// The HTTP version `base`'s echo saw this page's request arrive in.
async fn version_seen_by(base: &str) -> String {
    let url = format!("{base}/api/echo");
    let text = gloo_net::http::Request::get(&url)
        .send()
        .await
        .unwrap_or_else(|error| panic!("cannot reach {url}: {error}"))
        .text()
        .await
        .expect("the echo");
    let data = text
        .lines()
        .find_map(|line| line.strip_prefix("data: "))
        .expect("an echo event");
    let echo: serde_json::Value = serde_json::from_str(data).expect("JSON");
    echo["version"].as_str().unwrap_or_default().to_owned()
}

/// Opens [`STREAMS`] streams of `base`'s ticker, each its own connection's worth, and returns
/// their handles and how many ticks each has had.
fn open_streams(base: &str) -> Vec<(tidings::Sse, Rc<Cell<u32>>)> {
    (0..STREAMS)
        .map(|_| {
            let sse =
                use_sse_with_options(format!("{base}/api/ticker"), quick().sharing(Sharing::Own));
            let ticks = Rc::new(Cell::new(0));
            let count = ticks.clone();
            sse.on::<demo_events::Tick>(move |_| count.set(count.get() + 1));
            (sse, ticks)
        })
        .collect()
}

fn live(streams: &[(tidings::Sse, Rc<Cell<u32>>)]) -> usize {
    streams
        .iter()
        .filter(|(sse, ticks)| sse.state().get_untracked().is_open() && ticks.get() >= 2)
        .count()
}

#[wasm_bindgen_test]
async fn over_http2_eight_streams_to_one_origin_are_live_at_once() {
    assert_eq!(version_seen_by(TLS_TEST_SERVER).await, "HTTP/2.0");
    with_owner(|| async {
        let streams = open_streams(TLS_TEST_SERVER);
        wait_for(
            "every stream open and ticking",
            PATIENCE,
            || (live(&streams) == STREAMS).then_some(()),
            || format!("{} of {STREAMS} live", live(&streams)),
        )
        .await;
    })
    .await;
}

#[wasm_bindgen_test]
async fn over_http1_the_browser_holds_streams_past_the_sixth_back() {
    assert_eq!(version_seen_by(TEST_SERVER).await, "HTTP/1.1");
    with_owner(|| async {
        let streams = open_streams(TEST_SERVER);
        wait_for(
            "six streams live",
            PATIENCE,
            || (live(&streams) >= 6).then_some(()),
            || format!("{} of {STREAMS} live", live(&streams)),
        )
        .await;
        // Ticks come every 50 ms: two seconds more, and the others are still held back.
        sleep(Duration::from_secs(2)).await;
        assert_eq!(live(&streams), 6, "HTTP/1.1: six connections per origin");
    })
    .await;
}
