//! How a connection behaves: [`SseOptions`].

/// Options for [`use_sse_with_options`](crate::use_sse_with_options). The defaults suit most
/// pages; set what you need with the builder methods.
///
/// ```
/// use tidings::SseOptions;
///
/// let options = SseOptions::default()
///     .with_credentials(true)
///     .last_event_id("1041");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[must_use]
pub struct SseOptions {
    pub(crate) with_credentials: bool,
    pub(crate) last_event_id: Option<String>,
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
}
