//! The pages: the ticker, rendered on the server beside a `<Suspense>` (a page as Leptos apps
//! write them), then live in the browser.

use demo_events::Tick;
use leptos::prelude::*;
use leptos_router::components::{A, Route, Router, Routes};
use leptos_router::path;
use tidings::{ConnectionBadge, use_sse};

use crate::blog::BlogPage;

/// The ticker's stream, as its components name it.
pub const TICKER: &str = "/api/ticker";

/// Records what reaches `console.error` and `console.warn` in `window.__consoleErrors`.
const CONSOLE_RECORDER: &str = r#"
window.__consoleErrors = [];
for (const level of ["error", "warn"]) {
  const report = console[level].bind(console);
  console[level] = (...args) => { window.__consoleErrors.push(level + ": " + args.map(String).join(" ")); report(...args); };
}
window.addEventListener("error", (event) => window.__consoleErrors.push(String(event.message)));
"#;

/// The HTML document around [`App`], rendered on the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <title>"tidings — server-rendered"</title>
                // Console errors and warnings (hydration mismatches are reported as either),
                // kept for the end-to-end tests, which assert there are none.
                <script>{CONSOLE_RECORDER}</script>
                <link rel="stylesheet" href="/pkg/style.css"/>
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
            <nav class="tabs">
                <A href="/">"Ticker"</A>
                <A href="/blog">"Blog"</A>
            </nav>
            <main>
                <Routes fallback=|| "Not found.">
                    <Route path=path!("/") view=TickerPage/>
                    <Route path=path!("/blog") view=BlogPage/>
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

/// Live prices from `/api/ticker`, beside a note loaded through a resource. Rendered on the
/// server with the newest ticks already in it; in the browser, every tick after them arrives
/// live, and the page counts any that went missing or came twice across hydration.
#[component]
fn TickerPage() -> impl IntoView {
    let sse = use_sse(TICKER);
    let latest = sse.latest::<Tick>();
    let history = sse.history::<Tick>(20);
    let note = Resource::new(|| (), |()| market_note());
    // The newest tick the page was rendered with: each live one must follow on from it.
    let rendered = latest.get_untracked().map(|tick| tick.seq);
    let last_seq = StoredValue::new(rendered);
    let first_live = RwSignal::new(None::<u64>);
    let (gaps, repeats) = (RwSignal::new(0u64), RwSignal::new(0u64));
    sse.on::<Tick>(move |tick| {
        if first_live.get_untracked().is_none() {
            first_live.set(Some(tick.seq));
        }
        match last_seq.get_value() {
            Some(last) if tick.seq <= last => repeats.update(|n| *n += 1),
            Some(last) if tick.seq > last + 1 => gaps.update(|n| *n += tick.seq - last - 1),
            _ => {}
        }
        last_seq.set_value(Some(tick.seq.max(last_seq.get_value().unwrap_or(0))));
    });
    // What the browser itself started from when it hydrated (effects run only there): the same
    // tick as the server's, or the page would have flashed to another value.
    let hydrated = RwSignal::new(None::<u64>);
    Effect::new(move |_| hydrated.set(rendered));
    let shown = |seq: Option<u64>| seq.map_or_else(|| "none".to_owned(), |seq| seq.to_string());
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
            <ol class="history" data-testid="history">
                {move || history.get().into_iter().rev().map(|tick| view! {
                    <li>{format!("#{} {} {:.2}", tick.seq, tick.symbol, tick.price)}</li>
                }).collect_view()}
            </ol>
            <dl class="meta">
                <dt>"rendered up to"</dt>
                <dd data-testid="rendered-seq">{shown(rendered)}</dd>
                <dt>"hydrated with"</dt>
                <dd data-testid="hydrated-seq">{move || shown(hydrated.get())}</dd>
                <dt>"last event ID"</dt>
                <dd data-testid="last-event-id">{move || sse.last_event_id().get().unwrap_or_default()}</dd>
                <dt>"first live tick"</dt>
                <dd data-testid="first-live">{move || shown(first_live.get())}</dd>
                <dt>"missing"</dt>
                <dd data-testid="gaps">{gaps}</dd>
                <dt>"repeated"</dt>
                <dd data-testid="repeats">{repeats}</dd>
            </dl>
        </section>
    }
}
