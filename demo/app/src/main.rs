//! The tidings demo app: a Leptos CSR dashboard fed by typed Server-Sent Events.
//!
//! Built by trunk from the repository's `index.html`; `cargo xtask demo` serves it.

#![allow(
    unreachable_pub,
    reason = "#[component] generates a pub props struct, even in a binary"
)]

mod ticker;

use leptos::prelude::*;
use tidings::{ConnectionBadge, use_sse};

fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(App);
}

/// The whole page.
#[component]
fn App() -> impl IntoView {
    let sse = use_sse("/api/ticker");
    view! {
        <header class="top">
            <div class="brand">
                <span class="brand__name">"tidings"</span>
                <span class="brand__tagline">"typed, reactive Server-Sent Events for Leptos"</span>
            </div>
            <ConnectionBadge sse=sse/>
        </header>
        <main class="page">
            <ticker::TickerPanel sse=sse/>
        </main>
    }
}
