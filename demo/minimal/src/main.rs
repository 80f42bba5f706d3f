//! A minimal Leptos app for the size benchmark (`cargo xtask bench size`): a counter, and
//! with feature `serde` a typed value decoded from JSON, or with feature `tidings` a typed live
//! stream with its connection badge. The difference between the builds is what each costs.

use leptos::prelude::*;

/// A ticker price, as the demo server sends it.
#[cfg(any(feature = "serde", feature = "tidings"))]
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
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
#[cfg(all(feature = "serde", not(feature = "tidings")))]
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
        <tidings::ConnectionBadge sse=sse />
        <p>{move || tick.get().map(|t| format!("{} {:.2}", t.symbol, t.price))}</p>
    }
}

#[cfg(not(any(feature = "serde", feature = "tidings")))]
#[component]
fn Typed() -> impl IntoView {}

fn main() {
    leptos::mount::mount_to_body(|| view! { <Counter /> <Typed /> });
}
