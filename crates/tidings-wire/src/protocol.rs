//! The contract between a `tidings` client and a server beyond the event-stream format itself:
//! how a client names where to resume, where a stream's polling endpoint is, and the resync
//! event a server sends when it cannot resume. Both `tidings` and `tidings-axum` take these from
//! here, so that they cannot drift apart.
//!
//! Only the header is standard; a spec server needs nothing else. The rest is what a
//! `tidings-axum` server adds, and a `tidings` client uses when it finds it.

use std::fmt;

/// The request header in which a reconnecting client names the last event it saw, as the
/// standard's `EventSource` does: a server resumes after it.
pub const LAST_EVENT_ID_HEADER: &str = "Last-Event-ID";

/// The query parameter that `tidings-axum` also reads the last event ID from, for clients that
/// are told to resume through the URL (`tidings`' `ResumeVia::Query`). The standard knows only
/// the header.
pub const LAST_EVENT_ID_PARAM: &str = "lastEventId";

/// The path segment of a stream's polling endpoint, below the stream's own path: the stream
/// `/api/ticker` is polled at `/api/ticker/poll` (see [`poll_url_for`]).
pub const POLL_SEGMENT: &str = "poll";

/// The event type of the resync signal: a `tidings-axum` channel sends it, instead of a silent
/// gap, to a client whose last event ID it can no longer resume from. Its data is
/// [`ResyncReason::to_data`], its ID the newest event's, so that the next resume starts there;
/// the client should reload its state.
pub const RESYNC_EVENT: &str = "tidings-resync";

/// The polling endpoint that goes with the stream at `url`: [`POLL_SEGMENT`] added to its path.
///
/// ```
/// use tidings_wire::protocol::poll_url_for;
///
/// assert_eq!(poll_url_for("/api/ticker?symbol=ACME"), "/api/ticker/poll?symbol=ACME");
/// ```
#[must_use]
pub fn poll_url_for(url: &str) -> String {
    let end = url.find(['?', '#']).unwrap_or(url.len());
    let (path, rest) = url.split_at(end);
    format!("{}/{POLL_SEGMENT}{rest}", path.trim_end_matches('/'))
}

/// Why a server could not resume a stream, as a resync event's data says.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ResyncReason {
    /// The events after the client's ID have left the server's replay window.
    TooOld,
    /// The server does not know the ID (another run of the server, or another stream's ID).
    UnknownId,
    /// A reason this version does not know, as the server wrote it (or the event's whole data,
    /// if it was not the JSON expected).
    Other(String),
}

impl ResyncReason {
    /// The reason as it is written in the event's data: `too-old`, `unknown-id`, or the other
    /// reason's text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        match self {
            Self::TooOld => "too-old",
            Self::UnknownId => "unknown-id",
            Self::Other(reason) => reason,
        }
    }

    /// The resync event's data: `{"reason":"too-old"}`.
    #[must_use]
    pub fn to_data(&self) -> String {
        let mut data = String::from("{\"reason\":");
        push_json_string(&mut data, self.as_str());
        data.push('}');
        data
    }

    /// Reads a resync event's data; a reason this version does not know, or data that is not
    /// the JSON expected, is [`ResyncReason::Other`].
    #[cfg(feature = "json")]
    #[cfg_attr(docsrs, doc(cfg(feature = "json")))]
    #[must_use]
    pub fn from_data(data: &str) -> Self {
        #[derive(serde::Deserialize)]
        struct Body {
            reason: String,
        }
        match serde_json::from_str::<Body>(data) {
            Ok(body) => match body.reason.as_str() {
                "too-old" => Self::TooOld,
                "unknown-id" => Self::UnknownId,
                _ => Self::Other(body.reason),
            },
            Err(_) => Self::Other(data.to_owned()),
        }
    }
}

impl fmt::Display for ResyncReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooOld => f.write_str("the stream's replay window has moved past this client"),
            Self::UnknownId => f.write_str("the server does not know the client's last event ID"),
            Self::Other(reason) => write!(f, "resync: {reason}"),
        }
    }
}

/// Appends `text` as a JSON string literal.
fn push_json_string(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poll_urls_add_the_segment_to_the_path() {
        assert_eq!(poll_url_for("/api/ticker"), "/api/ticker/poll");
        assert_eq!(poll_url_for("/api/ticker/"), "/api/ticker/poll");
        assert_eq!(
            poll_url_for("http://h:1/s?x=1#f"),
            "http://h:1/s/poll?x=1#f"
        );
    }

    #[test]
    fn resync_data_is_what_the_server_writes() {
        assert_eq!(ResyncReason::TooOld.to_data(), r#"{"reason":"too-old"}"#);
        assert_eq!(
            ResyncReason::UnknownId.to_data(),
            r#"{"reason":"unknown-id"}"#
        );
        assert_eq!(
            ResyncReason::Other("a \"b\"\n".into()).to_data(),
            r#"{"reason":"a \"b\"\u000a"}"#
        );
    }

    #[cfg(feature = "json")]
    #[test]
    fn resync_data_round_trips_and_keeps_what_it_does_not_know() {
        for reason in [
            ResyncReason::TooOld,
            ResyncReason::UnknownId,
            ResyncReason::Other("shard \"moved\"\n".into()),
        ] {
            assert_eq!(ResyncReason::from_data(&reason.to_data()), reason);
        }
        assert_eq!(
            ResyncReason::from_data(r#"{"reason":"shard-moved","extra":1}"#),
            ResyncReason::Other("shard-moved".into())
        );
        assert_eq!(
            ResyncReason::from_data("not json"),
            ResyncReason::Other("not json".into())
        );
    }
}
