//! The browser benchmarks, each printing a table (`cargo xtask bench <name>` runs one):
//!
//! - `throughput` (`bench browser`): events per second delivered from one fast stream of small
//!   JSON ticks (with `id` and `event`), for each tidings transport and, in the same page and
//!   run, for the JavaScript peers: the native `EventSource` with a listener doing `JSON.parse`,
//!   and `fetch` + the npm `eventsource-parser` + `JSON.parse`. Each client replays the same kind
//!   of burst from the demo server's firehose (published before it connects, so the server is
//!   never the one waiting).
//! - `latency`: publish → typed callback at 1,000 events/s, per transport, next to the native
//!   `EventSource`.
//! - `memory`: wasm memory and JS heap over 1,000 reconnect cycles per transport.
//! - `soak` (`bench soak [minutes]`): a steady stream with periodic faults, sampled.
//! - `chaos`: chaos resume at bench length.
//! - `frames` (`bench frames`): a view of the latest tick and a 50-tick history under 20 000
//!   ticks at 10 000 a second, its signals telling their readers once per animation frame (the
//!   default) and at every event (what a signal set from each event gives, as in a hand-written
//!   wrapper or leptos-use's `use_event_source`), and at every event of a stream the server
//!   paces (`?pace=30`: 30 writes a second, the newest tick in each): ticks received,
//!   re-renders, main-thread time in long tasks (over 50 ms), frames the page painted and
//!   dropped, and how late the events reached the page.
//! - `codecs` (`bench codecs`): the same series of sensor readings (64 floats and 32 bytes a
//!   batch) as JSON and as postcard in base64: bytes per event, decoding alone (next to the
//!   browser's `JSON.parse` on the same JSON), and whole streams from the server through each
//!   transport (next to the native `EventSource` with `JSON.parse`).
//!
//! - `http2` (`bench http2`): 12 streams of the firehose in one page, over HTTP/1.1 and over
//!   HTTP/2 (the fixture server's HTTPS twin), 1 000 ticks at 500 a second: streams live,
//!   events delivered, and how late.
//!
//! They assert only that every client got every event (`http2`: every live stream).
#![cfg(target_arch = "wasm32")]

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use demo_events::Tick;
use tidings::{SseOptions, TransportMode, use_sse_with_options};
use tidings_tests::TEST_SERVER;
use tidings_tests::browser::{burst, wait_for, with_owner};
use tidings_tests::proof;
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
    #[wasm_bindgen(catch)]
    async fn native_latency(url: &str, n: u32) -> Result<JsValue, JsValue>;
    fn json_parse_all(texts: Vec<String>) -> f64;
    fn long_tasks_start();
    fn long_tasks_stop() -> f64;
    #[wasm_bindgen(catch)]
    async fn native_samples(url: &str, n: u32) -> Result<JsValue, JsValue>;
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

/// The `throughput` benchmark.
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

fn epoch_now() -> f64 {
    web_sys::window()
        .and_then(|w| w.performance())
        .map_or_else(js_sys::Date::now, |p| p.time_origin() + p.now())
}

/// The `p`-th percentile of sorted `values`.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = (p / 100.0 * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

const TRANSPORTS: [TransportMode; 3] = [
    TransportMode::EventSource,
    TransportMode::Fetch,
    TransportMode::Polling,
];

/// Publish → tidings typed callback, in milliseconds, for each of `events` ticks at `rate`/s.
async fn tidings_latency(mode: TransportMode, events: u32, rate: u32) -> Vec<f64> {
    let published = proof::paced(events, rate).await;
    let delays = Rc::new(std::cell::RefCell::new(Vec::with_capacity(events as usize)));
    let (sink, seen) = (delays.clone(), delays.clone());
    with_owner(|| async move {
        let sse = use_sse_with_options(proof::firehose(), proof::options(mode, &published.after));
        sse.on::<Tick>(move |tick| sink.borrow_mut().push(epoch_now() - tick.price));
        wait_for(
            "every event",
            Duration::from_secs(120),
            || (seen.borrow().len() >= events as usize).then_some(()),
            || format!("{mode:?}: {} of {events}", seen.borrow().len()),
        )
        .await;
    })
    .await;
    delays.take()
}

#[wasm_bindgen_test]
async fn latency() {
    const RATE: u32 = 1_000;
    const EVENTS: u32 = 10_000;
    let mut rows = Vec::new();
    let published = proof::paced(EVENTS, RATE).await;
    let native = native_latency(&url_after(&published.after), EVENTS)
        .await
        .unwrap_or_else(|error| panic!("the peer failed: {error:?}"));
    rows.push((
        "native EventSource + JSON.parse (JS)".to_owned(),
        js_sys::Float64Array::from(native).to_vec(),
    ));
    for mode in TRANSPORTS {
        let delays = tidings_latency(mode, EVENTS, RATE).await;
        rows.push((format!("tidings, {mode:?} (typed callback)"), delays));
    }
    console_log!("{EVENTS} ticks at {RATE}/s, publish (server clock) to callback (page clock):");
    console_log!("| client | p50 ms | p99 ms | max ms |");
    console_log!("| --- | ---: | ---: | ---: |");
    for (name, mut delays) in rows {
        delays.sort_by(f64::total_cmp);
        console_log!(
            "| {name} | {:.2} | {:.2} | {:.2} |",
            percentile(&delays, 50.0),
            percentile(&delays, 99.0),
            delays[delays.len() - 1]
        );
    }
}

/// Resolves at the next animation frame.
async fn next_frame() {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        if let Some(window) = web_sys::window() {
            let _ = window.request_animation_frame(&resolve);
        }
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}

/// What one `frames` run saw.
struct FrameRun {
    /// Ticks of the run that reached the page.
    received: usize,
    /// Milliseconds the main thread spent in tasks over 50 ms (negative: not reported).
    long_tasks: f64,
    renders: u32,
    frames: u32,
    dropped: u32,
    worst_frame: f64,
    late: Vec<f64>,
    millis: f64,
}

/// Mounts a view of the firehose's latest tick and last 50 ticks, with
/// `signals_per_frame(per_frame)`, the stream paced by the server at `pace` writes a second
/// if given, and publishes `events` ticks at `rate`/s to it.
async fn frame_run(per_frame: bool, pace: Option<u32>, events: u32, rate: u32) -> FrameRun {
    use leptos::prelude::*;
    with_owner(|| async move {
        let url = match pace {
            None => proof::firehose(),
            Some(pace) => format!("{}?pace={pace}", proof::firehose()),
        };
        let sse = use_sse_with_options(
            url,
            tidings_tests::browser::quick()
                .sharing(tidings::Sharing::Own)
                .signals_per_frame(per_frame),
        );
        let latest = sse.latest::<Tick>();
        let history = sse.history::<Tick>(50);
        // Counted from the view, whose closures must be `Send`.
        let renders = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
        let counted = renders.clone();
        let host = web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.body())
            .expect("a body");
        let mounted = leptos::mount::mount_to(host, move || {
            view! {
                <p>{move || {
                    counted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    latest.get().map(|tick| format!("{} {:.0}", tick.seq, tick.price))
                }}</p>
                <ul>{move || {
                    history
                        .get()
                        .iter()
                        .map(|tick| view! { <li>{tick.seq} " " {tick.price}</li> })
                        .collect_view()
                }}</ul>
            }
        });
        wait_for(
            "the firehose open",
            Duration::from_secs(30),
            || sse.state().get_untracked().is_open().then_some(()),
            || format!("{:?}", sse.state().get_untracked()),
        )
        .await;
        // Every tick from now on, with how late it came; the run's are told apart by `seq` once
        // the firehose says where it starts (it may publish before it answers).
        let late = Rc::new(std::cell::RefCell::new(Vec::with_capacity(events as usize)));
        let seen = late.clone();
        sse.on::<Tick>(move |tick| seen.borrow_mut().push((tick.seq, epoch_now() - tick.price)));
        // The frames the page paints meanwhile, by a loop of its own.
        let painting = Rc::new(Cell::new(true));
        let frames = Rc::new(std::cell::RefCell::new(Vec::new()));
        let (on, times) = (painting.clone(), frames.clone());
        wasm_bindgen_futures::spawn_local(async move {
            while on.get() {
                next_frame().await;
                times.borrow_mut().push(now());
            }
        });
        let before = renders.load(std::sync::atomic::Ordering::Relaxed);
        long_tasks_start();
        let started = now();
        let first = proof::paced(events, rate).await.first;
        let last = first + u64::from(events) - 1;
        let arrived = || {
            late.borrow()
                .iter()
                .filter(|(seq, _)| (first..=last).contains(seq))
                .count()
        };
        // Every tick; paced, the last one (the ones before it it may supersede).
        let done = || match pace {
            None => arrived() >= events as usize,
            Some(_) => late.borrow().iter().any(|(seq, _)| *seq == last),
        };
        wait_for(
            "every tick, or the last",
            Duration::from_secs(120),
            || done().then_some(()),
            || format!("{} of {events}", arrived()),
        )
        .await;
        let received = arrived();
        let long_tasks = long_tasks_stop();
        let millis = now() - started;
        painting.set(false);
        let renders = renders.load(std::sync::atomic::Ordering::Relaxed) - before;
        drop(mounted);
        let frames = frames.take();
        let gaps: Vec<f64> = frames.windows(2).map(|pair| pair[1] - pair[0]).collect();
        // A frame is due every 1/60 s: a longer gap is that many frames not painted.
        let dropped = gaps
            .iter()
            .map(|gap| ((gap / (1000.0 / 60.0)).round() as u32).saturating_sub(1))
            .sum();
        FrameRun {
            received,
            long_tasks,
            renders,
            frames: frames.len() as u32,
            dropped,
            worst_frame: gaps.iter().copied().fold(0.0, f64::max),
            late: late
                .take()
                .into_iter()
                .filter(|(seq, _)| *seq >= first)
                .map(|(_, late)| late)
                .collect(),
            millis,
        }
    })
    .await
}

/// The `frames` benchmark.
#[wasm_bindgen_test]
async fn frames() {
    const EVENTS: u32 = 20_000;
    const RATE: u32 = 10_000;
    console_log!(
        "{EVENTS} ticks at {RATE}/s (EventSource) to a view of the latest tick and a 50-tick history:"
    );
    console_log!(
        "| signals tell their readers | ticks received | re-renders | main thread in long tasks ms | frames painted | frames dropped | worst frame ms | run ms | late p50 ms | late p99 ms |"
    );
    console_log!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for (name, per_frame, pace) in [
        ("once per frame (default)", true, None),
        ("at every event (signals_per_frame(false))", false, None),
        (
            "at every event, the server pacing the stream at 30 writes/s (`?pace=30`)",
            false,
            Some(30),
        ),
    ] {
        let mut run = frame_run(per_frame, pace, EVENTS, RATE).await;
        if pace.is_none() {
            assert_eq!(run.received, EVENTS as usize, "every tick arrived");
        }
        run.late.sort_by(f64::total_cmp);
        console_log!(
            "| {name} | {} | {} | {:.0} | {} | {} | {:.0} | {:.0} | {:.1} | {:.1} |",
            run.received,
            run.renders,
            run.long_tasks,
            run.frames,
            run.dropped,
            run.worst_frame,
            run.millis,
            percentile(&run.late, 50.0),
            percentile(&run.late, 99.0)
        );
    }
}

/// The best of [`ROUNDS`] runs of `run`, in milliseconds.
async fn best_of(mut run: impl AsyncFnMut() -> f64) -> f64 {
    let mut best = f64::INFINITY;
    for _ in 0..ROUNDS {
        best = best.min(run().await);
    }
    best
}

/// Milliseconds to stream the whole `encoding` series of `count` batches through tidings over
/// `mode`, decoding each as `T`, until the server says it is over.
async fn tidings_samples<T>(encoding: &str, mode: TransportMode, count: u64) -> f64
where
    T: tidings::TypedEvent + Clone + 'static,
{
    use leptos::prelude::GetUntracked;
    with_owner(|| async {
        let received = Rc::new(Cell::new(0_u64));
        let started = now();
        let sse = use_sse_with_options(
            format!("{TEST_SERVER}/api/samples/{encoding}?count={count}"),
            tidings_tests::browser::quick()
                .sharing(tidings::Sharing::Own)
                .transport(mode),
        );
        let seen = received.clone();
        sse.on::<T>(move |_| seen.set(seen.get() + 1));
        wait_for(
            "every batch",
            Duration::from_secs(120),
            || (received.get() == count).then_some(()),
            || {
                format!(
                    "{} of {count}: {:?}",
                    received.get(),
                    sse.state().get_untracked()
                )
            },
        )
        .await;
        let millis = now() - started;
        assert_eq!(
            sse.decode_error().get_untracked().map(|e| e.to_string()),
            None
        );
        sse.close();
        millis
    })
    .await
}

/// The `codecs` benchmark.
#[wasm_bindgen_test]
async fn codecs() {
    use demo_events::{BinarySamples, Samples};
    use tidings::TypedEvent;
    const BATCHES: u64 = 20_000;

    let series: Vec<Samples> = (1..=BATCHES).map(Samples::nth).collect();
    let json: Vec<String> = series
        .iter()
        .map(|s| s.encode().expect("serialisable"))
        .collect();
    let postcard: Vec<String> = series
        .iter()
        .map(|s| BinarySamples(s.clone()).encode().expect("serialisable"))
        .collect();
    let bytes = |texts: &[String]| texts.iter().map(String::len).sum::<usize>() as f64;
    let (json_bytes, postcard_bytes) = (bytes(&json), bytes(&postcard));

    console_log!(
        "{BATCHES} batches of {} readings (f32) and 32 bytes, decoded in the page (best of {ROUNDS}):",
        demo_events::SAMPLES_PER_EVENT
    );
    console_log!("| decoder | bytes of data per event | µs per event | events/s | MB of data/s |");
    console_log!("| --- | ---: | ---: | ---: | ---: |");
    let row = |name: &str, data: f64, millis: f64| {
        let n = BATCHES as f64;
        console_log!(
            "| {name} | {:.0} | {:.2} | {:.0} | {:.1} |",
            data / n,
            millis * 1000.0 / n,
            n / millis * 1000.0,
            data / millis / 1000.0
        );
    };
    let decode_all = async |decode: &dyn Fn(&str) -> bool, texts: &[String]| {
        best_of(async || {
            let started = now();
            assert!(texts.iter().all(|text| decode(text)), "every batch decodes");
            now() - started
        })
        .await
    };
    let millis = decode_all(&|text| Samples::decode(text).is_ok(), &json).await;
    row(
        "tidings, JSON (`Samples::decode`, serde_json)",
        json_bytes,
        millis,
    );
    let millis = decode_all(&|text| BinarySamples::decode(text).is_ok(), &postcard).await;
    row(
        "tidings, postcard in base64 (`Encoding::Postcard`)",
        postcard_bytes,
        millis,
    );
    let millis = best_of(async || json_parse_all(json.clone())).await;
    row(
        "the browser's `JSON.parse` (peer, same JSON)",
        json_bytes,
        millis,
    );

    console_log!(
        "The same {BATCHES} batches streamed from the server, until the last is decoded (best of {ROUNDS}):"
    );
    console_log!("| client | encoding | bytes of data | ms | events/s |");
    console_log!("| --- | --- | ---: | ---: | ---: |");
    let stream_row = |client: &str, encoding: &str, data: f64, millis: f64| {
        console_log!(
            "| {client} | {encoding} | {:.1} MB | {millis:.0} | {:.0} |",
            data / 1e6,
            BATCHES as f64 / millis * 1000.0
        );
    };
    for (client, mode) in [
        ("tidings, EventSource", TransportMode::EventSource),
        ("tidings, fetch", TransportMode::Fetch),
    ] {
        let millis =
            best_of(async || tidings_samples::<Samples>("json", mode, BATCHES).await).await;
        stream_row(client, "JSON", json_bytes, millis);
        let millis =
            best_of(async || tidings_samples::<BinarySamples>("postcard", mode, BATCHES).await)
                .await;
        stream_row(client, "postcard", postcard_bytes, millis);
    }
    let url = format!("{TEST_SERVER}/api/samples/json?count={BATCHES}");
    let millis = best_of(async || {
        let elapsed = native_samples(&url, BATCHES as u32)
            .await
            .unwrap_or_else(|error| panic!("the peer failed: {error:?}"));
        elapsed.as_f64().expect("milliseconds")
    })
    .await;
    stream_row(
        "native EventSource + JSON.parse (peer)",
        "JSON",
        json_bytes,
        millis,
    );
}

/// The ticks one stream got: `seq` and how late, in milliseconds.
type Arrivals = Rc<std::cell::RefCell<Vec<(u64, f64)>>>;

/// The `http2` benchmark.
#[wasm_bindgen_test]
async fn http2() {
    use leptos::prelude::GetUntracked;
    const STREAMS: usize = 12;
    const EVENTS: u32 = 1_000;
    const RATE: u32 = 500;
    console_log!(
        "{STREAMS} streams of the firehose in one page (EventSource), {EVENTS} ticks at {RATE}/s:"
    );
    console_log!(
        "| protocol | streams live | events delivered | late p50 ms | late p99 ms | late max ms |"
    );
    console_log!("| --- | ---: | ---: | ---: | ---: | ---: |");
    for (name, base) in [
        ("HTTP/1.1", TEST_SERVER),
        ("HTTP/2 (TLS)", tidings_tests::TLS_TEST_SERVER),
    ] {
        with_owner(|| async {
            let lates: Vec<Arrivals> = (0..STREAMS)
                .map(|_| Rc::new(std::cell::RefCell::new(Vec::new())))
                .collect();
            let streams: Vec<tidings::Sse> = lates
                .iter()
                .map(|late| {
                    let sse = use_sse_with_options(
                        format!("{base}/api/firehose"),
                        tidings_tests::browser::quick().sharing(tidings::Sharing::Own),
                    );
                    let late = late.clone();
                    sse.on::<Tick>(move |tick| {
                        late.borrow_mut().push((tick.seq, epoch_now() - tick.price));
                    });
                    sse
                })
                .collect();
            // As many open as the protocol lets open.
            tidings_tests::browser::sleep(Duration::from_secs(2)).await;
            let open = streams
                .iter()
                .filter(|sse| sse.state().get_untracked().is_open())
                .count();
            // Asked under another name of the same server: over HTTP/1.1, the six connections
            // to `base` are taken by streams, and the request would wait behind them.
            let other_name = base.replace("127.0.0.1", "localhost");
            let answer: serde_json::Value =
                gloo_net::http::Request::post(&format!("{other_name}/api/firehose/paced"))
                    .header("Content-Type", "application/json")
                    .body(format!(r#"{{"count":{EVENTS},"rate":{RATE}}}"#))
                    .expect("a request")
                    .send()
                    .await
                    .expect("the firehose answers")
                    .json()
                    .await
                    .expect("JSON");
            let first = answer["first"].as_u64().expect("the first seq");
            let run = first..first + u64::from(EVENTS);
            let delivered = |late: &Arrivals| {
                late.borrow()
                    .iter()
                    .filter(|(seq, _)| run.contains(seq))
                    .count()
            };
            wait_for(
                "every open stream's ticks",
                Duration::from_secs(30),
                || {
                    let full = lates
                        .iter()
                        .filter(|l| delivered(l) >= EVENTS as usize)
                        .count();
                    (full >= open).then_some(())
                },
                || format!("{name}: {open} open"),
            )
            .await;
            let live = lates.iter().filter(|l| delivered(l) > 0).count();
            let total: usize = lates.iter().map(delivered).sum();
            let mut late: Vec<f64> = lates
                .iter()
                .flat_map(|l| {
                    l.borrow()
                        .iter()
                        .filter(|(seq, _)| run.contains(seq))
                        .map(|(_, late)| *late)
                        .collect::<Vec<_>>()
                })
                .collect();
            late.sort_by(f64::total_cmp);
            console_log!(
                "| {name} | {live} of {STREAMS} | {total} of {} | {:.1} | {:.1} | {:.1} |",
                STREAMS * EVENTS as usize,
                percentile(&late, 50.0),
                percentile(&late, 99.0),
                late.last().copied().unwrap_or(f64::NAN)
            );
        })
        .await;
    }
}

fn mib(bytes: f64) -> String {
    format!("{:.2}", bytes / 1_048_576.0)
}

#[wasm_bindgen_test]
async fn memory() {
    const CYCLES: u32 = 1_000;
    console_log!(
        "| transport | cycles | wasm MiB | JS heap MiB | live transports / listeners / connections |"
    );
    console_log!("| --- | ---: | ---: | ---: | --- |");
    for mode in TRANSPORTS {
        for sample in proof::reconnect_cycles(mode, CYCLES, 250).await {
            console_log!(
                "| {mode:?} | {} | {} | {} | {} / {} / {} |",
                sample.events,
                mib(sample.wasm),
                sample.heap.map_or_else(|| "n/a".to_owned(), mib),
                sample.live.0,
                sample.live.1,
                sample.live.2
            );
        }
    }
}

#[wasm_bindgen_test]
async fn soak() {
    let minutes: u64 = option_env!("TIDINGS_SOAK_MINUTES")
        .and_then(|m| m.parse().ok())
        .unwrap_or(10);
    let duration = Duration::from_secs(minutes * 60);
    // One transport per run would take three times as long: the soak alternates them.
    let mode = match option_env!("TIDINGS_SOAK_TRANSPORT") {
        Some("eventsource") => TransportMode::EventSource,
        Some("polling") => TransportMode::Polling,
        _ => TransportMode::Fetch,
    };
    let samples = proof::soak(mode, duration, 100, Duration::from_secs(30), 10).await;
    console_log!("soak, {mode:?}, {minutes} min, 100 events/s, streams dropped every 30 s:");
    console_log!(
        "| time | events | wasm MiB | JS heap MiB | live transports / listeners / connections |"
    );
    console_log!("| --- | ---: | ---: | ---: | --- |");
    for sample in samples {
        console_log!("{}", sample.row());
    }
}

#[wasm_bindgen_test]
async fn chaos() {
    console_log!(
        "| transport | events | drops | 503s | reconnects | lost | duplicates | out of order | time |"
    );
    console_log!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for mode in TRANSPORTS {
        let report = proof::chaos(mode, 10_000, 1_000).await;
        console_log!("{}", report.row());
        assert_eq!(
            (report.lost, report.duplicates, report.out_of_order),
            (0, 0, 0)
        );
    }
}
