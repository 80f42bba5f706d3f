//! The resync signal: what a server sends, instead of a silent gap, to a client it cannot resume.
//!
//! A `tidings-axum` channel keeps a bounded window of events for replay. A client whose last
//! event ID has left that window, or that the server does not know (another server run, say),
//! gets one event of type [`RESYNC_EVENT`](tidings_wire::RESYNC_EVENT) first, then live events.
//! [`Sse::on_resync`](crate::Sse::on_resync) and [`Sse::resync`](crate::Sse::resync) surface it,
//! so that the app can reload what it shows (refetch a snapshot) and carry on.

pub use tidings_wire::protocol::ResyncReason;

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

impl Resync {
    /// Reads a resync event's `data` (`{"reason":"…"}`) and its ID.
    pub(crate) fn parse(data: &str, id: &str) -> Self {
        Self {
            reason: ResyncReason::from_data(data),
            position: (!id.is_empty()).then(|| id.to_owned()),
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
            Resync::parse("not json", "7").reason,
            ResyncReason::Other("not json".into())
        );
    }
}
