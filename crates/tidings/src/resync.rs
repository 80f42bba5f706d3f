//! The resync signal: what a server sends, instead of a silent gap, to a client it cannot resume.
//!
//! A `tidings-axum` channel keeps a bounded window of events for replay. A client whose last
//! event ID has left that window, or that the server does not know (another server run, say),
//! gets one event of type [`RESYNC_EVENT`](tidings_wire::RESYNC_EVENT) first, then live events.
//! [`Sse::on_resync`](crate::Sse::on_resync) and [`Sse::resync`](crate::Sse::resync) surface it,
//! so that the app can reload what it shows (refetch a snapshot) and carry on.

use serde::Deserialize;

/// A server could not resume the stream from the client's last event ID: events were missed,
/// and what the page shows should be reloaded.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Resync {
    /// Why the server could not resume.
    pub reason: ResyncReason,
    /// The event ID the stream goes on from: the newest event the server had when it sent the
    /// resync. The events after it follow; a snapshot fetched now covers the ones before it.
    /// `None` when the server had no event yet.
    pub position: Option<String>,
}

/// Why a server could not resume a stream: see [`Resync`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResyncReason {
    /// The events after the client's ID have left the server's replay window.
    TooOld,
    /// The server does not know the ID (another run of the server, or another stream's ID).
    UnknownId,
    /// A reason this version does not know, as the server wrote it (or the event's data, if it
    /// was not the JSON expected).
    Other(String),
}

impl Resync {
    /// Reads a resync event's `data` (`{"reason":"…"}`) and its ID.
    pub(crate) fn parse(data: &str, id: &str) -> Self {
        #[derive(Deserialize)]
        struct Body {
            reason: String,
        }
        let reason = match serde_json::from_str::<Body>(data) {
            Ok(body) => match body.reason.as_str() {
                "too-old" => ResyncReason::TooOld,
                "unknown-id" => ResyncReason::UnknownId,
                _ => ResyncReason::Other(body.reason),
            },
            Err(_) => ResyncReason::Other(data.to_owned()),
        };
        Self {
            reason,
            position: (!id.is_empty()).then(|| id.to_owned()),
        }
    }
}

impl std::fmt::Display for ResyncReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::TooOld => f.write_str("the stream's replay window has moved past this client"),
            Self::UnknownId => f.write_str("the server does not know the client's last event ID"),
            Self::Other(reason) => write!(f, "resync: {reason}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_tidings_axum_sends_and_keeps_what_it_does_not_know() {
        assert_eq!(
            Resync::parse(r#"{"reason":"too-old"}"#, "abc-42"),
            Resync {
                reason: ResyncReason::TooOld,
                position: Some("abc-42".into()),
            }
        );
        assert_eq!(
            Resync::parse(r#"{"reason":"unknown-id"}"#, ""),
            Resync {
                reason: ResyncReason::UnknownId,
                position: None,
            }
        );
        assert_eq!(
            Resync::parse(r#"{"reason":"shard-moved","extra":1}"#, "7").reason,
            ResyncReason::Other("shard-moved".into())
        );
        assert_eq!(
            Resync::parse("not json", "7").reason,
            ResyncReason::Other("not json".into())
        );
    }
}
