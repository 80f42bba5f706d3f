//! The reliability and resource runs behind the README's figures, shared by the browser tests
//! (short, in CI) and the benchmarks (`cargo xtask bench chaos | soak | memory`, long): chaos
//! resume, soak, and memory over reconnect cycles.

use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::rc::Rc;
use std::time::Duration;

use leptos::prelude::*;
use tidings::{ConnectionState, SseOptions, TransportMode, diagnostics, use_sse_with_options};
use wasm_bindgen::{JsCast, JsValue};

use crate::TEST_SERVER;
use crate::browser::{
    clear_faults, fault, post_json, quick, sleep, tick_seqs, wait_for, with_owner,
};

/// The bytes of wasm memory the page has.
pub fn wasm_memory() -> f64 {
    wasm_bindgen::memory()
        .unchecked_into::<js_sys::WebAssembly::Memory>()
        .buffer()
        .unchecked_into::<js_sys::ArrayBuffer>()
        .byte_length()
        .into()
}

/// The bytes of JavaScript heap in use, where the browser tells (Chromium's
/// `performance.memory`; exact with `--enable-precise-memory-info`).
pub fn js_heap() -> Option<f64> {
    let performance = web_sys::window()?.performance()?;
    let memory = js_sys::Reflect::get(&performance, &JsValue::from_str("memory")).ok()?;
    js_sys::Reflect::get(&memory, &JsValue::from_str("usedJSHeapSize"))
        .ok()?
        .as_f64()
}

/// Asks the JavaScript engine to collect garbage, where it lets the page (Chromium started with
/// `--js-flags=--expose-gc`), so that heap figures are comparable.
pub fn collect_garbage() {
    let global = js_sys::global();
    if let Ok(gc) = js_sys::Reflect::get(&global, &JsValue::from_str("gc"))
        && let Some(gc) = gc.dyn_ref::<js_sys::Function>()
    {
        let _ = gc.call0(&JsValue::NULL);
    }
}

/// What the firehose answered to a burst: the first `seq`, and the ID to resume after.
#[derive(Debug, Clone)]
pub struct Published {
    /// The first tick's `seq`.
    pub first: u64,
    /// The marker's ID, just before the first tick.
    pub after: String,
}

/// Has the firehose publish `count` ticks at `rate` per second, in the background; each tick's
/// `price` is the time it was published (milliseconds since the Unix epoch).
pub async fn paced(count: u32, rate: u32) -> Published {
    let json = format!(r#"{{"count":{count},"rate":{rate}}}"#);
    let answer = post_json("/api/firehose/paced", &json).await;
    Published {
        first: answer["first"].as_u64().expect("the first seq"),
        after: answer["after"]
            .as_str()
            .expect("the marker's ID")
            .to_owned(),
    }
}

/// The firehose's stream.
pub fn firehose() -> String {
    format!("{TEST_SERVER}/api/firehose")
}

/// Options for `mode` that reconnect quickly, resuming after `after`.
pub fn options(mode: TransportMode, after: &str) -> SseOptions {
    quick()
        .transport(mode)
        .poll_interval(Duration::ZERO)
        .last_event_id(after)
}

/// Counts the times `state` goes into reconnecting.
fn count_reconnects(state: Signal<ConnectionState>) -> Rc<Cell<u32>> {
    let count = Rc::new(Cell::new(0));
    let counter = count.clone();
    Effect::new(move |was_reconnecting: Option<bool>| {
        let reconnecting = matches!(state.get(), ConnectionState::Reconnecting { .. });
        if reconnecting && was_reconnecting != Some(true) {
            counter.set(counter.get() + 1);
        }
        reconnecting
    });
    count
}

/// What one chaos run saw.
#[derive(Debug, Clone)]
pub struct ChaosReport {
    /// The transport.
    pub mode: TransportMode,
    /// Events published.
    pub events: u32,
    /// Times every open stream was dropped.
    pub drops: u32,
    /// Reconnect attempts refused with 503.
    pub refusals: u32,
    /// Times the client went into reconnecting.
    pub reconnects: u32,
    /// Published events never delivered.
    pub lost: usize,
    /// Events delivered more than once.
    pub duplicates: usize,
    /// Deliveries out of order.
    pub out_of_order: usize,
    /// Milliseconds from the first publish to the last delivery.
    pub millis: f64,
}

impl ChaosReport {
    /// The README's table row.
    pub fn row(&self) -> String {
        format!(
            "| {:?} | {} | {} | {} | {} | {} | {} | {} | {:.1} s |",
            self.mode,
            self.events,
            self.drops,
            self.refusals,
            self.reconnects,
            self.lost,
            self.duplicates,
            self.out_of_order,
            self.millis / 1000.0
        )
    }
}

/// Publishes `events` ticks at `rate` per second while dropping every stream at random
/// intervals (100 to 500 ms) and refusing about a third of the reconnects with 503; then waits
/// for every event and counts what was lost, repeated or out of order.
pub async fn chaos(mode: TransportMode, events: u32, rate: u32) -> ChaosReport {
    clear_faults().await;
    let report = Rc::new(RefCell::new(None));
    let out = report.clone();
    with_owner(|| async move {
        let start = js_sys::Date::now();
        let published = paced(events, rate).await;
        let sse = use_sse_with_options(firehose(), options(mode, &published.after));
        let seqs = tick_seqs(sse);
        let reconnects = count_reconnects(sse.state());
        let (mut drops, mut refusals) = (0, 0);
        let chaos_ends = start + f64::from(events) / f64::from(rate) * 1000.0;
        while js_sys::Date::now() < chaos_ends {
            let pause = 100.0 + js_sys::Math::random() * 400.0;
            sleep(Duration::from_millis(pause as u64)).await;
            if js_sys::Math::random() < 0.33 {
                fault("fail", r#"{"count":1,"status":503}"#).await;
                refusals += 1;
            }
            fault("drop", "{}").await;
            drops += 1;
        }
        let wanted = events as usize;
        wait_for(
            "every event",
            Duration::from_secs(60),
            || {
                let seqs = seqs.borrow();
                let last = published.first + u64::from(events) - 1;
                (seqs.len() >= wanted || seqs.last() == Some(&last)).then_some(())
            },
            || format!("{mode:?}: {} of {events}", seqs.borrow().len()),
        )
        .await;
        // Anything still to come would be a duplicate.
        sleep(Duration::from_millis(300)).await;
        let millis = js_sys::Date::now() - start;
        let seqs = seqs.borrow();
        let unique: HashSet<u64> = seqs.iter().copied().collect();
        let expected = published.first..published.first + u64::from(events);
        *out.borrow_mut() = Some(ChaosReport {
            mode,
            events,
            drops,
            refusals,
            reconnects: reconnects.get(),
            lost: expected.filter(|seq| !unique.contains(seq)).count(),
            duplicates: seqs.len() - unique.len(),
            out_of_order: seqs.windows(2).filter(|pair| pair[1] <= pair[0]).count(),
            millis,
        });
    })
    .await;
    clear_faults().await;
    report.take().expect("the run reported")
}

/// One sample of a soak run.
#[derive(Debug, Clone)]
pub struct Sample {
    /// Seconds since the run started.
    pub seconds: f64,
    /// Events delivered so far.
    pub events: usize,
    /// Wasm memory, in bytes.
    pub wasm: f64,
    /// JavaScript heap in use, in bytes, where the browser tells.
    pub heap: Option<f64>,
    /// tidings' live transports, event listeners, connections and background tasks.
    pub live: (usize, usize, usize, usize),
}

impl Sample {
    fn take(seconds: f64, events: usize) -> Self {
        collect_garbage();
        Self {
            seconds,
            events,
            wasm: wasm_memory(),
            heap: js_heap(),
            live: (
                diagnostics::live_transports(),
                diagnostics::live_listeners(),
                diagnostics::live_connections(),
                diagnostics::live_tasks(),
            ),
        }
    }

    /// The README's table row.
    pub fn row(&self) -> String {
        let heap = self.heap.map_or_else(
            || "n/a".to_owned(),
            |heap| format!("{:.2}", heap / 1048576.0),
        );
        format!(
            "| {:.0} s | {} | {:.2} | {heap} | {} / {} / {} / {} |",
            self.seconds,
            self.events,
            self.wasm / 1048576.0,
            self.live.0,
            self.live.1,
            self.live.2,
            self.live.3
        )
    }
}

/// A steady stream of `rate` ticks per second for `duration`, into a typed history of 100,
/// with every stream dropped every `fault_every` (and every third reconnect refused with 503),
/// sampled `samples` times. Checks that every event arrived once, in order.
pub async fn soak(
    mode: TransportMode,
    duration: Duration,
    rate: u32,
    fault_every: Duration,
    samples: u32,
) -> Vec<Sample> {
    clear_faults().await;
    let events = (duration.as_secs_f64() * f64::from(rate)) as u32;
    let taken = Rc::new(RefCell::new(Vec::new()));
    let out = taken.clone();
    with_owner(|| async move {
        let published = paced(events, rate).await;
        let start = js_sys::Date::now();
        let sse = use_sse_with_options(firehose(), options(mode, &published.after));
        let _history = sse.history::<demo_events::Tick>(100);
        // Checked as they come, in constant memory: a soak that kept every event would measure
        // its own list.
        let order = Rc::new(Cell::new((0usize, published.first - 1, 0usize)));
        let checker = order.clone();
        sse.on::<demo_events::Tick>(move |tick| {
            let (count, last, broken) = checker.get();
            let broken = broken + usize::from(tick.seq != last + 1);
            checker.set((count + 1, tick.seq, broken));
        });
        let count = || order.get().0;
        out.borrow_mut().push(Sample::take(0.0, count()));
        let sample_every = duration.as_secs_f64() * 1000.0 / f64::from(samples.max(1));
        let (mut next_sample, mut next_fault, mut faults) =
            (sample_every, fault_every.as_secs_f64() * 1000.0, 0);
        loop {
            sleep(Duration::from_millis(250)).await;
            let elapsed = js_sys::Date::now() - start;
            if elapsed >= next_fault {
                next_fault += fault_every.as_secs_f64() * 1000.0;
                faults += 1;
                if faults % 3 == 0 {
                    fault("fail", r#"{"count":1,"status":503}"#).await;
                }
                fault("drop", "{}").await;
            }
            if elapsed >= next_sample {
                next_sample += sample_every;
                out.borrow_mut()
                    .push(Sample::take(elapsed / 1000.0, count()));
            }
            if elapsed >= duration.as_secs_f64() * 1000.0 && count() >= events as usize {
                break;
            }
            assert!(
                elapsed < duration.as_secs_f64() * 1000.0 + 60_000.0,
                "{mode:?}: {} of {events} events a minute after the end",
                count()
            );
        }
        let (count, last, broken) = order.get();
        assert_eq!(count, events as usize, "{mode:?}: every event, once");
        assert_eq!(
            broken, 0,
            "{mode:?}: events missing, repeated or out of order"
        );
        assert_eq!(last, published.first + u64::from(events) - 1, "{mode:?}");
    })
    .await;
    clear_faults().await;
    taken.take()
}

/// Connects, then reconnects `cycles` times (each time waiting for the stream to open again),
/// sampling memory every `every` cycles.
pub async fn reconnect_cycles(mode: TransportMode, cycles: u32, every: u32) -> Vec<Sample> {
    clear_faults().await;
    let taken = Rc::new(RefCell::new(Vec::new()));
    let out = taken.clone();
    with_owner(|| async move {
        let url = format!("{TEST_SERVER}/api/ticker");
        let sse = use_sse_with_options(url, quick().transport(mode));
        let _latest = sse.latest::<demo_events::Tick>();
        let state = sse.state();
        let start = js_sys::Date::now();
        for cycle in 0..=cycles {
            wait_for(
                "the stream to open",
                Duration::from_secs(10),
                || state.get_untracked().is_open().then_some(()),
                || state.get_untracked().to_string(),
            )
            .await;
            if cycle % every == 0 {
                let seconds = (js_sys::Date::now() - start) / 1000.0;
                out.borrow_mut().push(Sample::take(seconds, cycle as usize));
            }
            if cycle < cycles {
                sse.open();
            }
        }
    })
    .await;
    taken.take()
}
