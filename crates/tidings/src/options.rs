//! How a connection behaves: [`SseOptions`].

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::time::Duration;

#[cfg(feature = "polling")]
use crate::sans_io::fallback::FallbackPolicy;
use crate::sans_io::fallback::TransportMode;
use crate::sans_io::reconnect::ReconnectPolicy;
use crate::sans_io::resume::ResumeVia;

/// Computes headers for one connection.
pub(crate) type HeaderFn = Rc<dyn Fn() -> Pin<Box<dyn Future<Output = Vec<(String, String)>>>>>;

/// The request the fetch-based transports send.
#[derive(Clone, Default)]
pub(crate) struct RequestOptions {
    pub(crate) method: Option<String>,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) header_fn: Option<HeaderFn>,
    pub(crate) body: Option<String>,
}

impl RequestOptions {
    pub(crate) fn method(&self) -> &str {
        self.method.as_deref().unwrap_or("GET")
    }

    /// Whether anything here needs `fetch` (an `EventSource` can send none of it).
    pub(crate) fn needs_fetch(&self) -> bool {
        self.method.is_some()
            || !self.headers.is_empty()
            || self.header_fn.is_some()
            || self.body.is_some()
    }
}

impl PartialEq for RequestOptions {
    fn eq(&self, other: &Self) -> bool {
        self.method == other.method
            && self.headers == other.headers
            && self.body == other.body
            && match (&self.header_fn, &other.header_fn) {
                (None, None) => true,
                (Some(a), Some(b)) => Rc::ptr_eq(a, b),
                _ => false,
            }
    }
}

impl fmt::Debug for RequestOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestOptions")
            .field("method", &self.method())
            .field(
                "headers",
                &self
                    .headers
                    .iter()
                    .map(|(name, _)| name)
                    .collect::<Vec<_>>(),
            )
            .field("header_fn", &self.header_fn.as_ref().map(|_| "Fn()"))
            .field("body", &self.body.as_ref().map(String::len))
            .finish()
    }
}

/// Options for [`use_sse_with_options`](crate::use_sse_with_options). The defaults suit most
/// pages; set what you need with the builder methods.
///
/// ```
/// use std::time::Duration;
/// use tidings::{ReconnectPolicy, SseOptions};
///
/// let options = SseOptions::default()
///     .with_credentials(true)
///     .last_event_id("1041")
///     .reconnect(ReconnectPolicy::default().max_attempts(10))
///     .stale_after(Duration::from_secs(45))
///     .pause_when_hidden(true)
///     .on_give_up(|| leptos::logging::warn!("the stream is gone for good"));
/// ```
#[derive(Clone)]
#[must_use]
pub struct SseOptions {
    pub(crate) with_credentials: bool,
    pub(crate) last_event_id: Option<String>,
    pub(crate) policy: ReconnectPolicy,
    pub(crate) stale_after: Option<Duration>,
    pub(crate) pause_when_hidden: bool,
    pub(crate) per_frame: bool,
    pub(crate) on_give_up: Option<Rc<dyn Fn()>>,
    pub(crate) persist_key: Option<String>,
    pub(crate) mode: TransportMode,
    pub(crate) request: RequestOptions,
    #[cfg(feature = "polling")]
    pub(crate) polling: PollOptions,
    pub(crate) max_event_size: usize,
    pub(crate) resume: ResumeVia,
    pub(crate) sharing: Sharing,
}

/// The polling transport's settings (feature `polling`).
#[cfg(feature = "polling")]
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PollOptions {
    pub(crate) url: Option<String>,
    pub(crate) interval: Duration,
    pub(crate) fallback: FallbackPolicy,
}

#[cfg(feature = "polling")]
impl Default for PollOptions {
    fn default() -> Self {
        Self {
            url: None,
            interval: Duration::from_millis(100),
            fallback: FallbackPolicy::default(),
        }
    }
}

/// Which connection a [`use_sse`](crate::use_sse) call uses: one it shares with other calls in
/// the page for the same URL, or one of its own. See [`SseOptions::sharing`].
///
/// ```
/// use tidings::{Sharing, SseOptions};
///
/// // Every component that names the group shares one connection, made with the options of
/// // the first one to connect, whatever the others pass (callbacks included).
/// let options = SseOptions::default()
///     .on_give_up(|| leptos::logging::warn!("gone"))
///     .sharing(Sharing::group("ticker"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Sharing {
    /// Shares with the calls for the same URL whose options are equal (the default). Options
    /// are equal when every setting is, and callbacks only when they are the same one (clones
    /// of one `SseOptions`): two components that each pass their own closure get two
    /// connections. Debug builds log a warning naming the settings that differ when that
    /// happens; name a [`Sharing::Group`] to share anyway.
    #[default]
    EqualOptions,
    /// Shares with every call for the same URL that names this group, with the options of the
    /// one that opened the connection.
    Group(String),
    /// A connection of its own, shared with no other call.
    Own,
}

impl Sharing {
    /// [`Sharing::Group`] named `name`.
    #[must_use]
    pub fn group(name: impl Into<String>) -> Self {
        Self::Group(name.into())
    }
}

impl Default for SseOptions {
    fn default() -> Self {
        Self {
            with_credentials: false,
            last_event_id: None,
            policy: ReconnectPolicy::default(),
            stale_after: None,
            pause_when_hidden: false,
            per_frame: true,
            on_give_up: None,
            persist_key: None,
            mode: TransportMode::default(),
            request: RequestOptions::default(),
            #[cfg(feature = "polling")]
            polling: PollOptions::default(),
            max_event_size: tidings_wire::DEFAULT_MAX_EVENT_SIZE,
            resume: ResumeVia::default(),
            sharing: Sharing::default(),
        }
    }
}

impl fmt::Debug for SseOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("SseOptions");
        debug
            .field("with_credentials", &self.with_credentials)
            .field("last_event_id", &self.last_event_id)
            .field("policy", &self.policy)
            .field("stale_after", &self.stale_after)
            .field("pause_when_hidden", &self.pause_when_hidden)
            .field("per_frame", &self.per_frame)
            .field("on_give_up", &self.on_give_up.as_ref().map(|_| "Fn()"))
            .field("persist_key", &self.persist_key)
            .field("mode", &self.mode)
            .field("request", &self.request);
        #[cfg(feature = "polling")]
        debug.field("polling", &self.polling);
        debug
            .field("max_event_size", &self.max_event_size)
            .field("resume", &self.resume)
            .field("sharing", &self.sharing)
            .finish()
    }
}

/// Options are equal when every setting is; callbacks are equal when they are the same one
/// (clones of one `SseOptions`). See [`Sharing::EqualOptions`].
impl PartialEq for SseOptions {
    fn eq(&self, other: &Self) -> bool {
        self.differences(other).is_empty()
    }
}

impl SseOptions {
    /// The names of the settings in which `self` and `other` differ.
    pub(crate) fn differences(&self, other: &Self) -> Vec<&'static str> {
        let same_callback = match (&self.on_give_up, &other.on_give_up) {
            (None, None) => true,
            (Some(a), Some(b)) => Rc::ptr_eq(a, b),
            _ => false,
        };
        let mut settings = vec![
            (
                "with_credentials",
                self.with_credentials == other.with_credentials,
            ),
            ("last_event_id", self.last_event_id == other.last_event_id),
            ("reconnect", self.policy == other.policy),
            ("stale_after", self.stale_after == other.stale_after),
            (
                "pause_when_hidden",
                self.pause_when_hidden == other.pause_when_hidden,
            ),
            ("signals_per_frame", self.per_frame == other.per_frame),
            (
                "persist_last_event_id",
                self.persist_key == other.persist_key,
            ),
            ("transport", self.mode == other.mode),
            ("method, headers or body", self.request == other.request),
            (
                "max_event_size",
                self.max_event_size == other.max_event_size,
            ),
            ("resume_via", self.resume == other.resume),
            ("on_give_up", same_callback),
            ("sharing", self.sharing == other.sharing),
        ];
        #[cfg(feature = "polling")]
        settings.extend([
            ("poll_url", self.polling.url == other.polling.url),
            (
                "poll_interval",
                self.polling.interval == other.polling.interval,
            ),
            ("fallback", self.polling.fallback == other.polling.fallback),
        ]);
        settings.retain(|(_, same)| !same);
        settings.into_iter().map(|(name, _)| name).collect()
    }
}

impl SseOptions {
    /// Sends cookies and HTTP authentication with cross-origin requests (the `EventSource`'s
    /// `withCredentials`). Default: `false`; same-origin requests always send them.
    pub fn with_credentials(mut self, with_credentials: bool) -> Self {
        self.with_credentials = with_credentials;
        self
    }

    /// Resumes from this event ID: the first connection asks the server for the events after it.
    /// Default: none, the stream starts wherever the server starts it.
    pub fn last_event_id(mut self, id: impl Into<String>) -> Self {
        self.last_event_id = Some(id.into());
        self
    }

    /// How to reconnect after the connection is lost: see [`ReconnectPolicy`] for the defaults.
    ///
    /// The library reconnects by itself (rather than leaving it to the browser) so that it can
    /// back off, resume from the last event ID and report each step. A server's `retry:` field is
    /// honoured by the transports that can see it; the browser's `EventSource` hides it from
    /// scripts, so with that transport the policy's delays apply.
    pub fn reconnect(mut self, policy: ReconnectPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Treats a connection on which nothing arrived for `after` as dead, and reconnects.
    /// Default: off.
    ///
    /// The browser's `EventSource` shows scripts events only, not the keep-alive comments
    /// servers send, so with that transport set this above the longest quiet spell between
    /// events.
    pub fn stale_after(mut self, after: Duration) -> Self {
        self.stale_after = Some(after);
        self
    }

    /// The largest event accepted, in bytes of data (default 1 MiB). A larger event is skipped
    /// and reported by [`Sse::stream_error`](crate::Sse::stream_error); the stream goes on, and
    /// its ID still counts for resuming, so it is not asked for again.
    ///
    /// With the fetch and polling transports this also bounds memory: the event is never
    /// buffered, nor is a line that never ends. The browser's `EventSource` buffers an event
    /// before the page sees it, so with that transport the limit only keeps it from the
    /// subscribers. At least one byte (0 counts as 1).
    pub fn max_event_size(mut self, bytes: usize) -> Self {
        self.max_event_size = bytes.max(1);
        self
    }

    /// Closes the connection while the page is hidden, and resumes from the last event ID when
    /// it is shown again. Default: `false`.
    pub fn pause_when_hidden(mut self, pause: bool) -> Self {
        self.pause_when_hidden = pause;
        self
    }

    /// Whether [`Sse::latest`](crate::Sse::latest) and [`Sse::history`](crate::Sse::history)
    /// tell their readers of new events at most once per animation frame (default `true`), so
    /// that a burst of 10 000 events a second re-renders a view some 60 times a second, not
    /// 10 000. Their values are current at once (`get_untracked` sees every event as it
    /// lands, and a history keeps every one); [`Sse::on`](crate::Sse::on) callbacks see
    /// every event as it arrives, whatever this says.
    ///
    /// A browser runs no animation frames for a hidden page: there, readers hear of new events
    /// when it is shown again. For work that must happen at every event, even in a background
    /// tab (a sound for a notification, say), use `on`, or `false` here to notify at once.
    pub fn signals_per_frame(mut self, per_frame: bool) -> Self {
        self.per_frame = per_frame;
        self
    }

    /// Keeps the last event ID in the browser's session storage under `key`, so that a reload
    /// of the page (in the same tab) resumes the stream where it was, instead of starting
    /// afresh. An explicit [`SseOptions::last_event_id`] takes precedence. Default: off.
    pub fn persist_last_event_id(mut self, key: impl Into<String>) -> Self {
        self.persist_key = Some(key.into());
        self
    }

    /// How the reconnects the library makes itself tell the server where to resume (default
    /// [`ResumeVia::Header`], the standard `Last-Event-ID` header). See
    /// [`resume`](crate::resume) for exactly what goes over the wire on each reconnect.
    pub fn resume_via(mut self, resume: ResumeVia) -> Self {
        self.resume = resume;
        self
    }

    /// Which transport carries the stream (default [`TransportMode::EventSource`], or
    /// [`TransportMode::Fetch`] as soon as a header, method or body is set).
    pub fn transport(mut self, mode: TransportMode) -> Self {
        self.mode = mode;
        self
    }

    /// Sends this request method (default `GET`); `POST` with [`SseOptions::body`], as LLM APIs
    /// use. Needs the fetch transport, which it selects unless another was chosen.
    pub fn method(mut self, method: impl Into<String>) -> Self {
        self.request.method = Some(method.into());
        self
    }

    /// Sends this header with every request (fetch and polling transports).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.request.headers.push((name.into(), value.into()));
        self
    }

    /// Computes headers afresh for each connection and reconnection: a fresh auth token, say.
    /// The function may be async.
    ///
    /// ```
    /// use tidings::SseOptions;
    ///
    /// async fn fresh_token() -> String {
    ///     "token".to_owned() // ask your auth library
    /// }
    ///
    /// let options = SseOptions::default().headers_with(|| async {
    ///     vec![("Authorization".to_owned(), format!("Bearer {}", fresh_token().await))]
    /// });
    /// ```
    pub fn headers_with<F, Fut>(mut self, compute: F) -> Self
    where
        F: Fn() -> Fut + 'static,
        Fut: Future<Output = Vec<(String, String)>> + 'static,
    {
        self.request.header_fn = Some(Rc::new(move || Box::pin(compute())));
        self
    }

    /// Sends this body with every request (with [`SseOptions::method`] `POST`, typically).
    pub fn body(mut self, body: impl Into<String>) -> Self {
        self.request.body = Some(body.into());
        self
    }

    /// The server's polling endpoint, for [`TransportMode::Polling`] and the fallback of
    /// [`TransportMode::Auto`]. Default: the stream's URL with `/poll` added to its path, as
    /// `tidings-axum` apps lay it out.
    #[cfg(feature = "polling")]
    #[cfg_attr(docsrs, doc(cfg(feature = "polling")))]
    pub fn poll_url(mut self, url: impl Into<String>) -> Self {
        self.polling.url = Some(url.into());
        self
    }

    /// The pause between two polls (default 100 ms). Against a long-polling server, the wait
    /// happens at the server; against one that answers at once, this is the polling interval.
    /// A server's `retry:` longer than this is honoured.
    #[cfg(feature = "polling")]
    #[cfg_attr(docsrs, doc(cfg(feature = "polling")))]
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.polling.interval = interval;
        self
    }

    /// When [`TransportMode::Auto`] falls back to polling: see [`FallbackPolicy`].
    #[cfg(feature = "polling")]
    #[cfg_attr(docsrs, doc(cfg(feature = "polling")))]
    pub fn fallback(mut self, policy: FallbackPolicy) -> Self {
        self.polling.fallback = policy;
        self
    }

    /// Calls `callback` when the attempt limit of the [`ReconnectPolicy`] is reached.
    pub fn on_give_up(mut self, callback: impl Fn() + 'static) -> Self {
        self.on_give_up = Some(Rc::new(callback));
        self
    }

    /// Which connection this call uses: shared with the calls for the same URL with equal
    /// options (the default), with those naming the same group, or its own: see [`Sharing`].
    pub fn sharing(mut self, sharing: Sharing) -> Self {
        self.sharing = sharing;
        self
    }
}
