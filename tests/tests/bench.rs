//! The browser benchmark (`cargo xtask bench browser`): events per second delivered from one
//! fast stream of small JSON ticks (with `id` and `event`), for each tidings transport and, in
//! the same page and run, for the JavaScript peers: the native `EventSource` with a listener
//! doing `JSON.parse`, and `fetch` + the npm `eventsource-parser` + `JSON.parse`.
//!
//! Each client replays the same kind of burst from the demo server's firehose (published before
//! it connects, so the server is never the one waiting). It prints a table; it asserts only that
//! every client got every event.
#![cfg(target_arch = "wasm32")]

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use demo_events::Tick;
use tidings::{SseOptions, TransportMode, use_sse_with_options};
use tidings_tests::TEST_SERVER;
use tidings_tests::browser::{burst, wait_for, with_owner};
use wasm_bindgen::prelude::*;
use wasm_bindgen_test::{console_log, wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

/// Events per run.
const EVENTS: u32 = 50_000;
/// Runs per client; the best is reported (the least disturbed by the machine).
const ROUNDS: usize = 3;

#[wasm_bindgen(module = "/js/native-peer.js")]
extern "C" {
    #[wasm_bindgen(catch)]
    async fn native_event_source(url: &str, n: u32) -> Result<JsValue, JsValue>;
}

// Made by `cargo xtask bench browser`: the npm parser and js/fetch-peer.js in one module.
#[wasm_bindgen(module = "/js/fetch-peer.generated.js")]
extern "C" {
    #[wasm_bindgen(catch)]
    async fn fetch_with_parser(url: &str, n: u32) -> Result<JsValue, JsValue>;
}

fn now() -> f64 {
    web_sys::window()
        .and_then(|w| w.performance())
        .map_or_else(js_sys::Date::now, |p| p.now())
}

fn url_after(after: &str) -> String {
    format!("{TEST_SERVER}/api/firehose?lastEventId={after}")
}

/// Milliseconds for tidings, with `mode`, to deliver `EVENTS` typed ticks to a callback.
async fn tidings(mode: TransportMode) -> f64 {
    let after = burst(EVENTS).await;
    let elapsed = Rc::new(Cell::new(0.0));
    let result = elapsed.clone();
    with_owner(|| async move {
        let count = Rc::new(Cell::new(0u32));
        let sum = Rc::new(Cell::new(0u64));
        let start = now();
        let options = SseOptions::default().transport(mode).last_event_id(after);
        let sse = use_sse_with_options(format!("{TEST_SERVER}/api/firehose"), options);
        let (counter, total) = (count.clone(), sum.clone());
        sse.on::<Tick>(move |tick| {
            total.set(total.get() + tick.seq);
            counter.set(counter.get() + 1);
            if counter.get() == EVENTS {
                result.set(now() - start);
            }
        });
        wait_for(
            "every event",
            Duration::from_secs(120),
            || (count.get() >= EVENTS).then_some(()),
            || format!("{} of {EVENTS}", count.get()),
        )
        .await;
        assert_eq!(count.get(), EVENTS);
    })
    .await;
    elapsed.get()
}

async fn peer(run: impl AsyncFn(&str) -> Result<JsValue, JsValue>) -> f64 {
    let after = burst(EVENTS).await;
    let elapsed = run(&url_after(&after))
        .await
        .unwrap_or_else(|error| panic!("the peer failed: {error:?}"));
    elapsed.as_f64().expect("milliseconds")
}

#[wasm_bindgen_test]
async fn throughput() {
    let mut best = [f64::MAX; 4];
    for _ in 0..ROUNDS {
        let runs = [
            peer(async |url| native_event_source(url, EVENTS).await).await,
            peer(async |url| fetch_with_parser(url, EVENTS).await).await,
            tidings(TransportMode::EventSource).await,
            tidings(TransportMode::Fetch).await,
        ];
        for (best, run) in best.iter_mut().zip(runs) {
            *best = best.min(run);
        }
    }
    let rate = |ms: f64| f64::from(EVENTS) / (ms / 1000.0);
    let names = [
        "native EventSource + JSON.parse (JS)",
        "fetch + eventsource-parser 3.1.1 + JSON.parse (JS)",
        "tidings, EventSource transport (typed callback)",
        "tidings, fetch transport (typed callback)",
    ];
    console_log!("| client | events/s | ms for {EVENTS} |");
    console_log!("| --- | ---: | ---: |");
    for (name, ms) in names.iter().zip(best) {
        console_log!("| {name} | {:.0} | {ms:.0} |", rate(ms));
    }
    console_log!(
        "ratios: tidings EventSource / native = {:.2}; tidings fetch / JS fetch parser = {:.2}",
        best[0] / best[2],
        best[1] / best[3]
    );
}
