//! Server-side rendering with live data in the page, resumed in the browser with no gap.
//!
//! On the server, [`provide_replay_log`] hands `use_sse` the stream's recent events (any
//! [`ReplayLog`]: a `tidings-axum` `Channel` or `RedisChannel` is one). Each
//! [`Sse::latest`](crate::Sse::latest) and [`Sse::history`](crate::Sse::history) then renders
//! with the newest events of its type already in it, and the page carries the position they
//! reflect (the stream's newest event ID when the page was made). The browser hydrates with the
//! same values, so nothing flashes empty, and connects with that position as its
//! `Last-Event-ID`: the server replays exactly the events published since, so none is lost
//! between render and connect, and none is shown twice.
//!
//! ```
//! use leptos::prelude::*;
//! use tidings::wire::ReplayLog;
//!
//! /// What the server's router runs for each request before the app renders, with
//! /// leptos_axum's `leptos_routes_with_context(&options, routes, context(ticker), shell)`;
//! /// `ticker` being, for example, the `tidings_axum::Channel` that serves `/api/ticker`.
//! fn context(ticker: impl ReplayLog + Clone + 'static) -> impl Fn() + Clone {
//!     move || tidings::ssr::provide_replay_log("/api/ticker", ticker.clone())
//! }
//! ```
//!
//! Only [`Sse::latest`](crate::Sse::latest) and [`Sse::history`](crate::Sse::history) render
//! events: [`Sse::on`](crate::Sse::on) callbacks see the live events after the position, in
//! the browser. Streams without a log render empty and connect as in a client-rendered app.
//!
//! The values travel in the page as Leptos's [`SharedValue`]s
//! do, so they are there during hydration whatever the streaming mode.

use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use leptos::prelude::*;

use crate::wire::ReplayLog;

/// The logs pages render from, by stream URL: one set per request, in context.
#[derive(Clone, Default)]
struct ReplayLogs(Arc<Mutex<Vec<Source>>>);

struct Source {
    url: String,
    log: Arc<dyn ReplayLog>,
    /// Read once per request: every component on the page shows the stream at one position.
    position: Arc<OnceLock<Option<String>>>,
}

/// Renders the stream at `url` (exactly as the components pass it to `use_sse`) from `log`, on
/// the server: see the [module documentation](self).
///
/// Call it where the app's context is made for each request (leptos_axum's
/// `leptos_routes_with_context` or `render_app_to_stream_with_context`), or in a component
/// above the ones that use the stream; once per stream. In the browser it has no effect.
pub fn provide_replay_log(url: impl Into<String>, log: impl ReplayLog + 'static) {
    let logs = use_context::<ReplayLogs>().unwrap_or_else(|| {
        let logs = ReplayLogs::default();
        provide_context(logs.clone());
        logs
    });
    let url = url.into();
    let mut sources = logs.0.lock().unwrap_or_else(PoisonError::into_inner);
    sources.retain(|source| source.url != url);
    sources.push(Source {
        url,
        log: Arc::new(log),
        position: Arc::default(),
    });
}

/// What a page rendered on the server shows of one stream.
#[derive(Clone)]
pub(crate) struct Rendered {
    log: Arc<dyn ReplayLog>,
    /// The ID of the newest event the page reflects: where the browser resumes.
    pub(crate) position: String,
}

impl Rendered {
    /// The stream at `url` as this request renders it, if the app gave its log.
    pub(crate) fn of(url: &str) -> Option<Self> {
        let logs = use_context::<ReplayLogs>()?;
        let sources = logs.0.lock().unwrap_or_else(PoisonError::into_inner);
        let source = sources.iter().find(|source| source.url == url)?;
        let position = source
            .position
            .get_or_init(|| source.log.position())
            .clone()?;
        Some(Self {
            log: source.log.clone(),
            position,
        })
    }

    /// The data of up to `count` of the newest events of `event_type` the page shows, oldest
    /// first.
    pub(crate) fn recent(&self, event_type: &str, count: usize) -> Vec<String> {
        self.log
            .recent(event_type, count, &self.position)
            .into_iter()
            .map(|event| event.data)
            .collect()
    }
}
