//! How a connection behaves: [`SseOptions`].

use std::fmt;
use std::rc::Rc;
use std::time::Duration;

use crate::ReconnectPolicy;

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
///     .reconnect(ReconnectPolicy::default().max_attempts(Some(10)))
///     .stale_after(Some(Duration::from_secs(45)))
///     .pause_when_hidden(true)
///     .on_give_up(|| leptos::logging::warn!("the stream is gone for good"));
/// ```
#[derive(Clone, Default)]
#[must_use]
pub struct SseOptions {
    pub(crate) with_credentials: bool,
    pub(crate) last_event_id: Option<String>,
    pub(crate) policy: ReconnectPolicy,
    pub(crate) stale_after: Option<Duration>,
    pub(crate) pause_when_hidden: bool,
    pub(crate) on_give_up: Option<Rc<dyn Fn()>>,
    pub(crate) persist_key: Option<String>,
}

impl fmt::Debug for SseOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SseOptions")
            .field("with_credentials", &self.with_credentials)
            .field("last_event_id", &self.last_event_id)
            .field("policy", &self.policy)
            .field("stale_after", &self.stale_after)
            .field("pause_when_hidden", &self.pause_when_hidden)
            .field("on_give_up", &self.on_give_up.as_ref().map(|_| "Fn()"))
            .field("persist_key", &self.persist_key)
            .finish()
    }
}

/// Options are equal when every setting is; callbacks are equal when they are the same one
/// (clones of one `SseOptions`). Users of one URL with equal options share a connection.
impl PartialEq for SseOptions {
    fn eq(&self, other: &Self) -> bool {
        self.with_credentials == other.with_credentials
            && self.last_event_id == other.last_event_id
            && self.policy == other.policy
            && self.stale_after == other.stale_after
            && self.pause_when_hidden == other.pause_when_hidden
            && self.persist_key == other.persist_key
            && match (&self.on_give_up, &other.on_give_up) {
                (None, None) => true,
                (Some(a), Some(b)) => Rc::ptr_eq(a, b),
                _ => false,
            }
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
    pub fn stale_after(mut self, after: Option<Duration>) -> Self {
        self.stale_after = after;
        self
    }

    /// Closes the connection while the page is hidden, and resumes from the last event ID when
    /// it is shown again. Default: `false`.
    pub fn pause_when_hidden(mut self, pause: bool) -> Self {
        self.pause_when_hidden = pause;
        self
    }

    /// Keeps the last event ID in the browser's session storage under `key`, so that a reload
    /// of the page (in the same tab) resumes the stream where it was, instead of starting
    /// afresh. An explicit [`SseOptions::last_event_id`] takes precedence. Default: off.
    pub fn persist_last_event_id(mut self, key: impl Into<String>) -> Self {
        self.persist_key = Some(key.into());
        self
    }

    /// Calls `callback` when the attempt limit of the [`ReconnectPolicy`] is reached.
    pub fn on_give_up(mut self, callback: impl Fn() + 'static) -> Self {
        self.on_give_up = Some(Rc::new(callback));
        self
    }
}
