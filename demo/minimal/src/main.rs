//! A minimal Leptos app for the size benchmark (`cargo xtask bench size`): a counter, and
//! with feature `serde` a typed value decoded from JSON, or with feature `tidings` a typed live
//! stream and its state (`tidings-badge`: shown by its `ConnectionBadge`; `tidings-polling`:
//! with every transport); `leptos-use` and `websys` show the same stream and its state through
//! leptos-use's `use_event_source` and through a hand-written `EventSource` wrapper. The
//! difference between the builds is what each costs.

use leptos::prelude::*;

/// A ticker price, as the demo server sends it.
#[cfg(any(
    feature = "serde",
    feature = "tidings",
    feature = "leptos-use",
    feature = "websys"
))]
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct Tick {
    symbol: String,
    price: f64,
}

#[cfg(feature = "tidings")]
impl tidings::TypedEvent for Tick {
    const NAME: &'static str = "tick";
}

#[component]
fn Counter() -> impl IntoView {
    let count = RwSignal::new(0);
    view! {
        <button on:click=move |_| count.update(|n| *n += 1)>"clicked " {count} " times"</button>
    }
}

/// The typed part of the `serde` build: one value decoded from JSON.
#[cfg(all(
    feature = "serde",
    not(any(feature = "tidings", feature = "leptos-use", feature = "websys"))
))]
#[component]
fn Typed() -> impl IntoView {
    let text = RwSignal::new(String::from(r#"{"symbol":"ACME","price":1.5}"#));
    let tick = move || serde_json::from_str::<Tick>(&text.get()).ok();
    view! { <p>{move || tick().map(|t| format!("{} {:.2}", t.symbol, t.price))}</p> }
}

/// The typed part of the `tidings` build: the latest tick of a live stream, and its state.
#[cfg(feature = "tidings")]
#[component]
fn Typed() -> impl IntoView {
    let sse = tidings::use_sse("/api/ticker");
    let tick = sse.latest::<Tick>();
    view! {
        <State sse=sse />
        <p>{move || tick.get().map(|t| format!("{} {:.2}", t.symbol, t.price))}</p>
    }
}

/// The state, as a word (what leptos-use's build shows of its own).
#[cfg(all(feature = "tidings", not(feature = "tidings-badge")))]
#[component]
fn State(sse: tidings::Sse) -> impl IntoView {
    let state = sse.state();
    view! { <span>{move || state.with(tidings::ConnectionState::label)}</span> }
}

/// The state, in tidings' badge.
#[cfg(feature = "tidings-badge")]
#[component]
fn State(sse: tidings::Sse) -> impl IntoView {
    view! { <tidings::ConnectionBadge sse=sse /> }
}

/// The typed part of the `leptos-use` build: the same, through `use_event_source`.
#[cfg(all(feature = "leptos-use", not(feature = "tidings")))]
#[component]
fn Typed() -> impl IntoView {
    use leptos_use_event_source::{UseEventSourceOptions, use_event_source_with_options};
    let stream = use_event_source_with_options::<Tick, codee::string::JsonSerdeCodec>(
        "/api/ticker",
        UseEventSourceOptions::default().named_events(["tick".to_owned()]),
    );
    let message = stream.message;
    let state = stream.ready_state;
    view! {
        <span>{move || format!("{:?}", state.get())}</span>
        <p>{move || message.get().map(|m| format!("{} {:.2}", m.data.symbol, m.data.price))}</p>
    }
}

/// The typed part of the `websys` build: the same, through `web_sys::EventSource` by hand,
/// its listener owned by the component and dropped with it.
#[cfg(all(
    feature = "websys",
    not(any(feature = "tidings", feature = "leptos-use"))
))]
#[component]
fn Typed() -> impl IntoView {
    use wasm_bindgen::JsCast as _;
    use wasm_bindgen::closure::Closure;

    let tick = RwSignal::new(None::<Tick>);
    let open = RwSignal::new(false);
    if let Ok(source) = web_sys::EventSource::new("/api/ticker") {
        let on_tick =
            Closure::<dyn Fn(web_sys::MessageEvent)>::new(move |event: web_sys::MessageEvent| {
                open.set(true);
                if let Some(data) = event.data().as_string() {
                    tick.set(serde_json::from_str(&data).ok());
                }
            });
        if source
            .add_event_listener_with_callback("tick", on_tick.as_ref().unchecked_ref())
            .is_ok()
        {
            let held = send_wrapper::SendWrapper::new((source, on_tick));
            on_cleanup(move || {
                let (source, _on_tick) = held.take();
                source.close();
            });
        } else {
            source.close();
        }
    }
    view! {
        <span>{move || if open.get() { "open" } else { "connecting" }}</span>
        <p>{move || tick.get().map(|t| format!("{} {:.2}", t.symbol, t.price))}</p>
    }
}

#[cfg(not(any(
    feature = "serde",
    feature = "tidings",
    feature = "leptos-use",
    feature = "websys"
)))]
#[component]
fn Typed() -> impl IntoView {}

fn main() {
    leptos::mount::mount_to_body(|| view! { <Counter /> <Typed /> });
}
