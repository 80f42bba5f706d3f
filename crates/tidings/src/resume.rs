//! Resuming a stream from a Last-Event-ID when headers cannot be set.
//!
//! A new `EventSource` cannot be given a `Last-Event-ID` header (the browser sends one only on
//! its own reconnects), so the library passes the ID as the `lastEventId` query parameter, which
//! `tidings-axum` reads too. A server that sees both takes the header: it is the newer.

/// The query parameter that carries the last event ID.
pub const LAST_EVENT_ID_PARAM: &str = "lastEventId";

/// `url` with `lastEventId=<id>` set in its query, replacing any value it had, and keeping any
/// fragment last.
#[must_use]
pub fn url_with_last_event_id(url: &str, id: &str) -> String {
    let (before_fragment, fragment) = match url.find('#') {
        Some(i) => url.split_at(i),
        None => (url, ""),
    };
    let (path, query) = match before_fragment.find('?') {
        Some(i) => (&before_fragment[..i], &before_fragment[i + 1..]),
        None => (before_fragment, ""),
    };
    let mut out = String::with_capacity(url.len() + LAST_EVENT_ID_PARAM.len() + id.len() + 2);
    out.push_str(path);
    let mut separator = '?';
    for pair in query.split('&').filter(|pair| !pair.is_empty()) {
        let name = pair.split('=').next().unwrap_or_default();
        if name == LAST_EVENT_ID_PARAM {
            continue;
        }
        out.push(separator);
        out.push_str(pair);
        separator = '&';
    }
    out.push(separator);
    out.push_str(LAST_EVENT_ID_PARAM);
    out.push('=');
    percent_encode_into(&mut out, id);
    out.push_str(fragment);
    out
}

/// The polling endpoint that goes with the stream at `url`: `/poll` added to its path, as
/// `tidings-axum` apps lay it out (`/api/ticker` streams, `/api/ticker/poll` polls).
#[must_use]
pub fn poll_url_for(url: &str) -> String {
    let end = url.find(['?', '#']).unwrap_or(url.len());
    let (path, rest) = url.split_at(end);
    format!("{}/poll{rest}", path.trim_end_matches('/'))
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
    fn poll_urls_add_poll_to_the_path() {
        assert_eq!(poll_url_for("/api/ticker"), "/api/ticker/poll");
        assert_eq!(poll_url_for("/api/ticker/"), "/api/ticker/poll");
        assert_eq!(
            poll_url_for("http://h:1/s?x=1#f"),
            "http://h:1/s/poll?x=1#f"
        );
    }

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
            assert_eq!(url_with_last_event_id(url, id), expected, "{url} + {id}");
        }
    }
}
