//! The connection state a page shows: [`ConnectionState`].
//!
//! Pure data, with no browser types, so that it can be matched, rendered and tested anywhere.

use std::fmt;

/// Which way events reach the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Transport {
    /// The browser's own [`EventSource`](https://developer.mozilla.org/en-US/docs/Web/API/EventSource).
    EventSource,
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::EventSource => "EventSource",
        })
    }
}

/// A point in time, in milliseconds since the Unix epoch (as JavaScript's `Date.now()`).
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Timestamp(pub f64);

/// Where a connection stands, precise enough for a reconnect indicator.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ConnectionState {
    /// Not connected and not trying: no URL yet (or an empty one), or rendering on the server.
    Idle,
    /// Opening a connection.
    Connecting {
        /// 1 for the first connection; counts up while connections keep failing.
        attempt: u32,
    },
    /// Connected: events flow.
    Open {
        /// The transport that carries them.
        transport: Transport,
        /// When the connection opened.
        since: Timestamp,
    },
    /// The connection was lost and is being re-established.
    Reconnecting {
        /// Which attempt this is since the connection was lost (1 for the first).
        attempt: u32,
        /// Why the connection was lost.
        reason: String,
    },
    /// Closed by the application ([`Sse::close`](crate::Sse::close)); [`Sse::open`](crate::Sse::open)
    /// opens it again.
    Closed,
    /// Given up: no further attempt is made until [`Sse::open`](crate::Sse::open).
    Failed {
        /// Why, for people.
        reason: String,
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
            Self::Open { transport, .. } => write!(f, "open ({transport})"),
            Self::Reconnecting { attempt, reason } => {
                write!(f, "reconnecting (attempt {attempt}): {reason}")
            }
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
        };
        assert!(open.is_open());
        assert_eq!(open.label(), "open");
        assert_eq!(open.to_string(), "open (EventSource)");
        let reconnecting = ConnectionState::Reconnecting {
            attempt: 2,
            reason: "connection lost".into(),
        };
        assert!(!reconnecting.is_open());
        assert_eq!(
            reconnecting.to_string(),
            "reconnecting (attempt 2): connection lost"
        );
        assert_eq!(
            ConnectionState::Connecting { attempt: 1 }.to_string(),
            "connecting"
        );
    }
}
