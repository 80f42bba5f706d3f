//! The connection state a page shows: [`ConnectionState`] and its reasons.
//!
//! Pure data, with no browser types, so that it can be matched, rendered and tested anywhere.

use std::fmt;

/// Which way events reach the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Transport {
    /// The browser's own [`EventSource`](https://developer.mozilla.org/en-US/docs/Web/API/EventSource).
    EventSource,
    /// `fetch` with a streamed body, parsed in wasm: custom headers, methods and bodies, and the
    /// HTTP status in view.
    Fetch,
    /// Repeated (long-)polls of the server's polling endpoint, for when streaming is impossible.
    Polling,
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::EventSource => "EventSource",
            Self::Fetch => "fetch",
            Self::Polling => "polling",
        })
    }
}

/// Why `TransportMode::Auto` (feature `polling`) is polling rather than streaming.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FallbackReason {
    /// The browser cannot stream (no `EventSource`, or no readable `fetch` bodies).
    Unsupported,
    /// Streaming failed several times in a row.
    StreamingFailed,
    /// A stream stayed open but brought nothing, as behind a buffering proxy.
    Stalled,
}

impl fmt::Display for FallbackReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Unsupported => "streaming unsupported",
            Self::StreamingFailed => "streaming kept failing",
            Self::Stalled => "stream stalled",
        })
    }
}

/// A point in time, in milliseconds since the Unix epoch (as JavaScript's `Date.now()`).
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Timestamp(pub f64);

/// Why a connection was lost, while the library reconnects.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DisconnectReason {
    /// The connection dropped, or could not be made.
    Network,
    /// The server answered with an error status that may pass (5xx, 408, 429).
    Status(u16),
    /// Nothing arrived, not even a keep-alive, for the watchdog's time.
    Stalled,
    /// The server has no polling endpoint (it answered this status, 404 or 405): the
    /// connection streams instead, from now on.
    PollingUnavailable(u16),
}

impl fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Network => f.write_str("connection lost"),
            Self::Status(status) => write!(f, "server error (HTTP {status})"),
            Self::Stalled => f.write_str("stream stalled"),
            Self::PollingUnavailable(status) => {
                write!(f, "no polling endpoint (HTTP {status}), streaming instead")
            }
        }
    }
}

/// Why the connection is paused: it resumes by itself, from the last event ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PauseReason {
    /// The page is hidden (with [`SseOptions::pause_when_hidden`](crate::SseOptions::pause_when_hidden)).
    Hidden,
    /// The browser is offline.
    Offline,
    /// The app paused it ([`Sse::pause`](crate::Sse::pause)); [`Sse::resume`](crate::Sse::resume)
    /// resumes it.
    App,
}

impl fmt::Display for PauseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Hidden => "page hidden",
            Self::Offline => "offline",
            Self::App => "paused by the app",
        })
    }
}

/// Why the library gave up: retrying would not help, or the app's limit was reached.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FailReason {
    /// The server answered `204 No Content`: the standard's way to say "stop reconnecting".
    ServerSaidStop,
    /// The server answered `401` or `403`.
    Unauthorized {
        /// The status.
        status: u16,
        /// The start of the answer's body, when the transport could read it.
        body: String,
    },
    /// The server answered another client error (404, 410, …).
    Status {
        /// The status.
        status: u16,
        /// The start of the answer's body, when the transport could read it.
        body: String,
    },
    /// The server answered with a type other than `text/event-stream`.
    WrongContentType {
        /// The type it sent.
        content_type: String,
    },
    /// [`ReconnectPolicy::max_attempts`](crate::ReconnectPolicy::max_attempts) failed attempts
    /// in a row.
    AttemptsExhausted {
        /// How many.
        attempts: u32,
    },
    /// The URL could not be used.
    InvalidUrl {
        /// The browser's message.
        message: String,
    },
    /// The browser would not make the request: the method or a header (one computed by
    /// [`SseOptions::headers_with`](crate::SseOptions::headers_with), say) is not valid HTTP.
    InvalidRequest {
        /// What was wrong, and the browser's message.
        message: String,
    },
}

impl fmt::Display for FailReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ServerSaidStop => f.write_str("the server ended the stream (HTTP 204)"),
            Self::Unauthorized { status, body } => {
                write!(f, "not authorised (HTTP {status})")?;
                excerpt(f, body)
            }
            Self::Status { status, body } => {
                write!(f, "the server refused the stream (HTTP {status})")?;
                excerpt(f, body)
            }
            Self::WrongContentType { content_type } if content_type.is_empty() => {
                f.write_str("not an event stream (no content type)")
            }
            Self::WrongContentType { content_type } => {
                write!(f, "not an event stream (content type {content_type})")
            }
            Self::AttemptsExhausted { attempts } => write!(f, "gave up after {attempts} attempts"),
            Self::InvalidUrl { message } => write!(f, "invalid URL: {message}"),
            Self::InvalidRequest { message } => write!(f, "invalid request: {message}"),
        }
    }
}

/// Appends `: "body"` when there is a body to show.
fn excerpt(f: &mut fmt::Formatter<'_>, body: &str) -> fmt::Result {
    if body.is_empty() {
        Ok(())
    } else {
        write!(f, ": {body:?}")
    }
}

/// Where a connection stands, precise enough for a reconnect indicator.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ConnectionState {
    /// Not connected and not trying: no URL yet (or an empty one), or rendering on the server.
    Idle,
    /// Opening a connection.
    Connecting {
        /// 1 for a first attempt; counts up while attempts keep failing.
        attempt: u32,
    },
    /// Connected: events flow.
    Open {
        /// The transport that carries them.
        transport: Transport,
        /// When the connection opened.
        since: Timestamp,
        /// Why it is polling, when `TransportMode::Auto` fell back.
        fallback: Option<FallbackReason>,
    },
    /// The connection was lost; the next attempt is scheduled.
    Reconnecting {
        /// How many attempts in a row have failed.
        attempt: u32,
        /// When the next attempt starts. While the browser's own `EventSource` reconnects (the
        /// first attempt after an open stream drops, carrying `Last-Event-ID`), when it is due:
        /// after the server's `retry:`, or 3 s (Chromium's default; Firefox waits 5 s).
        at: Timestamp,
        /// Why the connection was lost.
        reason: DisconnectReason,
    },
    /// Paused: resumes by itself (when the page is shown, or the browser is back online).
    Paused {
        /// Why.
        reason: PauseReason,
    },
    /// Closed by the application ([`Sse::close`](crate::Sse::close)); [`Sse::open`](crate::Sse::open)
    /// opens it again.
    Closed,
    /// Given up: no further attempt is made until [`Sse::open`](crate::Sse::open).
    Failed {
        /// Why.
        reason: FailReason,
    },
}

impl ConnectionState {
    /// Whether events can arrive now.
    #[must_use]
    pub fn is_open(&self) -> bool {
        matches!(self, Self::Open { .. })
    }

    /// A short label for a status badge: "connecting", "open", "reconnecting", …
    #[must_use]
    pub fn label(&self) -> &'static str {
        match self {
            Self::Idle => "idle",
            Self::Connecting { .. } => "connecting",
            Self::Open { .. } => "open",
            Self::Reconnecting { .. } => "reconnecting",
            Self::Paused { .. } => "paused",
            Self::Closed => "closed",
            Self::Failed { .. } => "failed",
        }
    }
}

impl fmt::Display for ConnectionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Idle => f.write_str("idle"),
            Self::Connecting { attempt: 1 } => f.write_str("connecting"),
            Self::Connecting { attempt } => write!(f, "connecting (attempt {attempt})"),
            Self::Open {
                transport,
                fallback: Some(reason),
                ..
            } => write!(f, "open ({transport}: {reason})"),
            Self::Open { transport, .. } => write!(f, "open ({transport})"),
            Self::Reconnecting {
                attempt, reason, ..
            } => {
                write!(f, "reconnecting ({reason}, attempt {attempt})")
            }
            Self::Paused {
                reason: PauseReason::App,
            } => f.write_str("paused"),
            Self::Paused { reason } => write!(f, "paused ({reason})"),
            Self::Closed => f.write_str("closed"),
            Self::Failed { reason } => write!(f, "failed: {reason}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_and_display_read_well() {
        let open = ConnectionState::Open {
            transport: Transport::EventSource,
            since: Timestamp(0.0),
            fallback: None,
        };
        assert!(open.is_open());
        assert_eq!(open.label(), "open");
        assert_eq!(open.to_string(), "open (EventSource)");
        let reconnecting = ConnectionState::Reconnecting {
            attempt: 2,
            at: Timestamp(0.0),
            reason: DisconnectReason::Status(503),
        };
        assert!(!reconnecting.is_open());
        assert_eq!(
            reconnecting.to_string(),
            "reconnecting (server error (HTTP 503), attempt 2)"
        );
        let failed = ConnectionState::Failed {
            reason: FailReason::WrongContentType {
                content_type: "text/html".into(),
            },
        };
        assert_eq!(
            failed.to_string(),
            "failed: not an event stream (content type text/html)"
        );
        assert_eq!(
            ConnectionState::Connecting { attempt: 1 }.to_string(),
            "connecting"
        );
    }
}
