//! How a reconnecting client names the last event it saw, so that the server resumes after it.
//!
//! The standard way is the `Last-Event-ID` request header, which every spec server reads: a
//! browser's `EventSource` sends it when it reconnects by itself, and `fetch` can send it. A
//! *new* `EventSource` cannot be given a header, so a reconnect the library makes itself goes
//! over `fetch` when there is an ID to resume from ([`ResumeVia::Header`], the default), or,
//! for servers that read it there, carries the ID in a query parameter ([`ResumeVia::Query`]).
//!
//! What goes over the wire on each reconnect:
//!
//! | transport | reconnect made by | resume ID sent as |
//! | --- | --- | --- |
//! | EventSource | the browser (the first after an open stream drops) | `Last-Event-ID` header |
//! | EventSource | the library, [`ResumeVia::Header`] | `Last-Event-ID` header, the stream carried on by fetch |
//! | EventSource | the library, [`ResumeVia::Query`] | query parameter, on a new `EventSource` |
//! | fetch, polling | the library | `Last-Event-ID` header (and the query parameter with [`ResumeVia::Query`]) |

use super::state::Transport;

pub use tidings_wire::LAST_EVENT_ID_PARAM;
pub use tidings_wire::protocol::poll_url_for;

/// How the library tells the server where to resume on the reconnects it makes itself: see the
/// [module documentation](self).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ResumeVia {
    /// The standard `Last-Event-ID` header (the default), which every spec server reads. With
    /// [`TransportMode::EventSource`](crate::TransportMode::EventSource), the browser's own
    /// first reconnect sends it; a reconnect the library makes itself, having an ID to resume
    /// from, goes over `fetch` (a new `EventSource` cannot send headers), and the connection
    /// stays on fetch. Cross-origin, the server must then allow the header by CORS
    /// (`Access-Control-Allow-Headers: Last-Event-ID`), as for every fetch-based client.
    #[default]
    Header,
    /// The header, and the ID also in the query parameter of this name: a new `EventSource`
    /// resumes through the URL, for servers that read it there (`tidings-axum` reads
    /// [`LAST_EVENT_ID_PARAM`], `lastEventId`; Mercure reads `lastEventID`).
    Query(String),
}

impl ResumeVia {
    /// [`ResumeVia::Query`] with the parameter `tidings-axum` reads, [`LAST_EVENT_ID_PARAM`].
    #[must_use]
    pub fn query() -> Self {
        Self::Query(LAST_EVENT_ID_PARAM.to_owned())
    }

    /// The query parameter to carry the ID in, if any.
    pub(crate) fn param(&self) -> Option<&str> {
        match self {
            Self::Header => None,
            Self::Query(name) => Some(name),
        }
    }

    /// The transport that carries a connection the library opens, `chosen` being the one the
    /// mode asks for, and `resuming` whether there is an ID to resume from: an `EventSource`
    /// cannot send the header, so with [`ResumeVia::Header`] fetch carries the resume.
    pub(crate) fn transport_for(&self, chosen: Transport, resuming: bool) -> Transport {
        match (chosen, self) {
            (Transport::EventSource, Self::Header) if resuming => Transport::Fetch,
            (chosen, _) => chosen,
        }
    }
}

/// `url` with `<param>=<id>` set in its query, replacing any value it had, and keeping any
/// fragment last.
#[must_use]
pub fn url_with_last_event_id(url: &str, param: &str, id: &str) -> String {
    let (before_fragment, fragment) = match url.find('#') {
        Some(i) => url.split_at(i),
        None => (url, ""),
    };
    let (path, query) = match before_fragment.find('?') {
        Some(i) => (&before_fragment[..i], &before_fragment[i + 1..]),
        None => (before_fragment, ""),
    };
    let mut out = String::with_capacity(url.len() + param.len() + id.len() + 2);
    out.push_str(path);
    let mut separator = '?';
    for pair in query.split('&').filter(|pair| !pair.is_empty()) {
        let name = pair.split('=').next().unwrap_or_default();
        if name == param {
            continue;
        }
        out.push(separator);
        out.push_str(pair);
        separator = '&';
    }
    out.push(separator);
    percent_encode_into(&mut out, param);
    out.push('=');
    percent_encode_into(&mut out, id);
    out.push_str(fragment);
    out
}

/// Percent-encodes everything but the unreserved characters of RFC 3986.
fn percent_encode_into(out: &mut String, text: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0xF)]));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_replaces_and_encodes() {
        let table = [
            ("/api/ticker", "42", "/api/ticker?lastEventId=42"),
            (
                "/api/ticker?symbol=ACME",
                "42",
                "/api/ticker?symbol=ACME&lastEventId=42",
            ),
            ("/s?lastEventId=1&a=b", "2", "/s?a=b&lastEventId=2"),
            ("/s?", "7", "/s?lastEventId=7"),
            ("/s#top", "7", "/s?lastEventId=7#top"),
            (
                "http://h:1/s?x=1#f",
                "a b/é",
                "http://h:1/s?x=1&lastEventId=a%20b%2F%C3%A9#f",
            ),
            ("/s", "", "/s?lastEventId="),
        ];
        for (url, id, expected) in table {
            assert_eq!(
                url_with_last_event_id(url, LAST_EVENT_ID_PARAM, id),
                expected,
                "{url} + {id}"
            );
        }
        // Mercure's spelling.
        assert_eq!(
            url_with_last_event_id("/hub?topic=a&lastEventID=1", "lastEventID", "2"),
            "/hub?topic=a&lastEventID=2"
        );
    }

    #[test]
    fn an_event_source_cannot_resume_by_header_so_fetch_does() {
        let header = ResumeVia::Header;
        let query = ResumeVia::query();
        assert_eq!(
            header.transport_for(Transport::EventSource, true),
            Transport::Fetch
        );
        assert_eq!(
            header.transport_for(Transport::EventSource, false),
            Transport::EventSource
        );
        assert_eq!(
            query.transport_for(Transport::EventSource, true),
            Transport::EventSource
        );
        for mode in [Transport::Fetch, Transport::Polling] {
            assert_eq!(header.transport_for(mode, true), mode);
            assert_eq!(query.transport_for(mode, true), mode);
        }
        assert_eq!(header.param(), None);
        assert_eq!(query.param(), Some("lastEventId"));
    }
}
