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

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Trade {
    quantity: u32,
}

impl TypedEvent for Trade {
    const NAME: &'static str = "trade";
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
    // Nothing to retry while idle: the badge's button is rendered hidden.
    assert!(
        html.contains(r#"<button type="button" hidden class="tidings-badge__retry">"#),
        "{html}"
    );
    assert!(html.contains(r#"<p class="count">0</p>"#), "{html}");
    owner.cleanup();
}

/// With the stream's log in context, the page renders with its newest events and the ID they
/// reflect; events of other types and a bad one do not get in the way.
#[test]
fn renders_the_newest_events_from_the_replay_log() {
    use tidings_axum::Channel;

    #[component]
    fn Live() -> impl IntoView {
        let sse = use_sse("/api/ticker");
        let latest = sse.latest::<Tick>();
        let history = sse.history::<Tick>(3);
        let trade = sse.latest::<Trade>();
        let error = sse.decode_error_of::<Trade>();
        view! {
            <p class="latest">{move || latest.get().map(|t| t.symbol)}</p>
            <p class="history">{move || history.get().iter().map(|t| t.symbol.clone()).collect::<Vec<_>>().join(",")}</p>
            <p class="trade">{move || trade.get().map(|t| t.quantity)}</p>
            <p class="error">{move || error.get().is_some()}</p>
            <p class="id">{move || sse.last_event_id().get()}</p>
        }
    }

    let channel = Channel::new();
    for symbol in ["A", "B", "C", "D"] {
        channel
            .publish(&Tick {
                symbol: symbol.into(),
            })
            .expect("serialises");
    }
    channel.publish_data(Some("trade"), "not json");
    let position = channel.last_id().expect("published");
    let owner = Owner::new();
    let html = owner.with(|| {
        tidings::ssr::provide_replay_log("/api/ticker", channel.clone());
        view! { <Live/> }.to_html()
    });
    assert!(html.contains(r#"<p class="latest">D</p>"#), "{html}");
    assert!(html.contains(r#"<p class="history">B,C,D</p>"#), "{html}");
    assert!(html.contains(r#"<p class="trade"><!></p>"#), "{html}");
    assert!(html.contains(r#"<p class="error">true</p>"#), "{html}");
    assert!(
        html.contains(&format!(r#"<p class="id">{position}</p>"#)),
        "{html}"
    );
    owner.cleanup();

    // Another stream, or no log at all: nothing rendered, nothing named.
    let owner = Owner::new();
    let html = owner.with(|| {
        tidings::ssr::provide_replay_log("/api/other", channel);
        view! { <Live/> }.to_html()
    });
    assert!(html.contains(r#"<p class="latest"><!></p>"#), "{html}");
    assert!(html.contains(r#"<p class="id"><!></p>"#), "{html}");
    owner.cleanup();
}
