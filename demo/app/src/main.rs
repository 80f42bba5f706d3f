//! The tidings demo app: a Leptos CSR dashboard fed by typed Server-Sent Events.
//!
//! Built by trunk from the repository's `index.html`; `cargo xtask demo` serves it. Every page
//! follows its own stream through `tidings`; the header shows that stream's state and lets a
//! visitor pick the transport; the side panel breaks the server on purpose (the chaos panel) and
//! shows every raw event (the inspector).

#![allow(
    unreachable_pub,
    reason = "#[component] generates a pub props struct, even in a binary"
)]

mod account;
mod api;
mod blog;
mod chaos;
mod inspector;
mod jobs;
mod notifications;
mod ticker;

use std::time::Duration;

use leptos::prelude::*;
use tidings::{
    ConnectionBadge, FallbackPolicy, ReconnectPolicy, Sse, SseOptions, TransportMode,
    use_sse_with_options,
};

fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(App);
}

/// The pages, as tabs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Page {
    Ticker,
    Blog,
    Notifications,
    Jobs,
}

impl Page {
    const ALL: [Page; 4] = [Page::Ticker, Page::Blog, Page::Notifications, Page::Jobs];

    fn title(self) -> &'static str {
        match self {
            Page::Ticker => "Ticker",
            Page::Blog => "Live blog",
            Page::Notifications => "Notifications",
            Page::Jobs => "Jobs",
        }
    }

    fn id(self) -> &'static str {
        match self {
            Page::Ticker => "ticker",
            Page::Blog => "blog",
            Page::Notifications => "notifications",
            Page::Jobs => "jobs",
        }
    }
}

/// What every page shares: the chosen transport, the stream shown in the header, the inspector.
#[derive(Clone, Copy)]
pub(crate) struct Demo {
    mode: RwSignal<TransportMode>,
    current: RwSignal<Option<Sse>>,
    pub(crate) inspector: inspector::Log,
}

/// Opens `url` for the current page with the chosen transport, shows it in the header and logs
/// its raw events of `event_types` in the inspector.
pub(crate) fn page_stream(url: impl Into<Signal<String>>, event_types: &[&'static str]) -> Sse {
    let demo = expect_context::<Demo>();
    let options = SseOptions::default()
        .transport(demo.mode.get_untracked())
        .reconnect(
            ReconnectPolicy::default()
                .initial_delay(Duration::from_millis(500))
                .max_delay(Duration::from_secs(8)),
        )
        .fallback(
            FallbackPolicy::default()
                .stall_after(Duration::from_secs(5))
                .retry_streaming_after(Duration::from_secs(10)),
        );
    let sse = use_sse_with_options(url, options);
    demo.current.set(Some(sse));
    demo.inspector.follow(sse, event_types);
    sse
}

/// The whole page.
#[component]
fn App() -> impl IntoView {
    let demo = Demo {
        mode: RwSignal::new(TransportMode::EventSource),
        current: RwSignal::new(None),
        inspector: inspector::Log::new(),
    };
    provide_context(demo);
    provide_context(account::Session::load());
    let page = RwSignal::new(Page::Ticker);
    let choose_mode = move |event: leptos::ev::Event| {
        let mode = match event_target_value(&event).as_str() {
            "fetch" => TransportMode::Fetch,
            "polling" => TransportMode::Polling,
            "auto" => TransportMode::Auto,
            _ => TransportMode::EventSource,
        };
        demo.mode.set(mode);
    };
    view! {
        <header class="top">
            <div class="brand">
                <span class="brand__name">"tidings"</span>
                <span class="brand__tagline">"typed, reactive Server-Sent Events for Leptos"</span>
            </div>
            <nav class="tabs" role="tablist" aria-label="Demo pages">
                {Page::ALL.map(|p| view! {
                    <button
                        role="tab"
                        id=format!("tab-{}", p.id())
                        data-testid=format!("tab-{}", p.id())
                        aria-selected=move || (page.get() == p).to_string()
                        class=move || if page.get() == p { "tab tab--active" } else { "tab" }
                        on:click=move |_| page.set(p)
                    >
                        {p.title()}
                    </button>
                })}
            </nav>
            <div class="controls">
                <label class="transport">
                    "Transport "
                    <select data-testid="transport" on:change=choose_mode>
                        <option value="eventsource">"EventSource"</option>
                        <option value="fetch">"fetch"</option>
                        <option value="polling">"polling"</option>
                        <option value="auto">"automatic"</option>
                    </select>
                </label>
                {move || demo.current.get().map(|sse| view! { <ConnectionBadge sse=sse/> })}
            </div>
        </header>
        <div class="layout">
            <main class="page" role="tabpanel" aria-labelledby=move || format!("tab-{}", page.get().id())>
                // Keyed by page and transport: changing either opens the page's stream anew.
                {move || {
                    let _ = demo.mode.get();
                    match page.get() {
                        Page::Ticker => view! { <ticker::TickerPage/> }.into_any(),
                        Page::Blog => view! { <blog::BlogPage/> }.into_any(),
                        Page::Notifications => view! { <notifications::NotificationsPage/> }.into_any(),
                        Page::Jobs => view! { <jobs::JobsPage/> }.into_any(),
                    }
                }}
            </main>
            <aside class="side">
                <account::AccountPanel/>
                <chaos::ChaosPanel/>
                <inspector::Inspector/>
            </aside>
        </div>
    }
}
