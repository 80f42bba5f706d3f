//! Server-side rendering: with the `ssr` feature, `use_sse` and `ConnectionBadge` render their
//! initial values without touching the browser (`cargo test -p tidings --features ssr`).
#![cfg(feature = "ssr")]

use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use tidings::{ConnectionBadge, TypedEvent, use_sse};

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Tick {
    symbol: String,
}

impl TypedEvent for Tick {
    const NAME: &'static str = "tick";
}

#[component]
fn Ticker() -> impl IntoView {
    let sse = use_sse("/api/ticker");
    let latest = sse.latest::<Tick>();
    let history = sse.history::<Tick>(10);
    view! {
        <ConnectionBadge sse=sse/>
        <p class="latest">{move || latest.get().map_or_else(|| "no tick yet".to_owned(), |t| t.symbol)}</p>
        <p class="count">{move || history.with(|h| h.len())}</p>
    }
}

#[test]
fn renders_initial_values_without_a_browser() {
    let owner = Owner::new();
    let html = owner.with(|| view! { <Ticker/> }.to_html());
    assert!(html.contains("no tick yet"), "{html}");
    assert!(html.contains(r#"data-state="idle""#), "{html}");
    assert!(html.contains("tidings-badge--idle"), "{html}");
    assert!(html.contains(r#"<p class="count">0</p>"#), "{html}");
    owner.cleanup();
}
