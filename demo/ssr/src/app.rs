//! The pages: the ticker, rendered on the server beside a `<Suspense>` (a page as Leptos apps
//! write them), then live in the browser.

use demo_events::Tick;
use leptos::prelude::*;
use leptos_router::components::{Route, Router, Routes};
use leptos_router::path;
use tidings::{ConnectionBadge, use_sse};

/// The HTML document around [`App`], rendered on the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <title>"tidings — server-rendered"</title>
                <HydrationScripts options/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// The app: its routes.
#[component]
pub fn App() -> impl IntoView {
    view! {
        <Router>
            <main>
                <Routes fallback=|| "Not found.">
                    <Route path=path!("/") view=TickerPage/>
                </Routes>
            </main>
        </Router>
    }
}

/// The market's opening note: data a page loads once, through a [`Resource`].
async fn market_note() -> String {
    // A slow source on the server, so the page streams a `<Suspense>` chunk after the shell.
    #[cfg(feature = "ssr")]
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    "Markets are open.".to_owned()
}

/// Live prices from `/api/ticker`, beside a note loaded through a resource.
#[component]
fn TickerPage() -> impl IntoView {
    let sse = use_sse("/api/ticker");
    let latest = sse.latest::<Tick>();
    let history = sse.history::<Tick>(20);
    let note = Resource::new(|| (), |()| market_note());
    view! {
        <section class="panel">
            <h2>"Ticker"</h2>
            <ConnectionBadge sse=sse/>
            <Suspense fallback=|| view! { <p class="note">"Loading the market note…"</p> }>
                <p class="note" data-testid="note">{move || note.get()}</p>
            </Suspense>
            <p class="latest" data-testid="latest-tick">
                {move || match latest.get() {
                    Some(tick) => format!("#{} {} {:.2}", tick.seq, tick.symbol, tick.price),
                    None => "waiting for the first tick…".to_owned(),
                }}
            </p>
            <p class="meta"><span data-testid="history">{move || history.with(|h| h.len())}</span>" recent ticks"</p>
        </section>
    }
}
