//! The [`LastEventId`] extractor.

use std::convert::Infallible;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

/// The request header a reconnecting client names its last event in (a browser's `EventSource`
/// sends it when it reconnects by itself): [`tidings_wire::LAST_EVENT_ID_HEADER`], lowercased as
/// HTTP/2 and `axum`'s header names are.
pub const LAST_EVENT_ID_HEADER: &str = "last-event-id";

pub use tidings_wire::LAST_EVENT_ID_PARAM;

/// The ID of the last event a client saw, if it sent one: the events to send it start after it.
///
/// Taken from the `Last-Event-ID` header, else from the `lastEventId` query parameter. The header
/// wins when both are present: a browser that reconnects by itself sends the header with the
/// newest ID, while the URL still carries the ID it first resumed from. An empty value counts as
/// none, as the standard has it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LastEventId(pub Option<String>);

impl LastEventId {
    /// Reads the ID from a request's parts: see [`LastEventId`].
    #[must_use]
    pub fn from_parts(parts: &Parts) -> Self {
        let from_header = parts
            .headers
            .get(LAST_EVENT_ID_HEADER)
            .and_then(|value| value.to_str().ok())
            .filter(|id| !id.is_empty())
            .map(str::to_owned);
        let id = from_header.or_else(|| {
            let query = parts.uri.query()?;
            form_urlencoded::parse(query.as_bytes())
                .find(|(name, _)| name == LAST_EVENT_ID_PARAM)
                .map(|(_, value)| value.into_owned())
                .filter(|id| !id.is_empty())
        });
        Self(id)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for LastEventId {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self::from_parts(parts))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Request;

    fn id_of(uri: &str, header: Option<&str>) -> Option<String> {
        let mut request = Request::builder().uri(uri);
        if let Some(value) = header {
            request = request.header(LAST_EVENT_ID_HEADER, value);
        }
        let (parts, ()) = request.body(()).expect("valid request").into_parts();
        LastEventId::from_parts(&parts).0
    }

    #[test]
    fn header_then_query_then_none() {
        assert_eq!(id_of("/s", Some("9")), Some("9".into()));
        assert_eq!(id_of("/s?lastEventId=4", None), Some("4".into()));
        assert_eq!(
            id_of("/s?lastEventId=4", Some("9")),
            Some("9".into()),
            "the header is newer"
        );
        assert_eq!(
            id_of("/s?x=1&lastEventId=a%20b%2F%C3%A9", None),
            Some("a b/é".into())
        );
        assert_eq!(id_of("/s?lastEventId=", None), None);
        assert_eq!(id_of("/s", Some("")), None);
        assert_eq!(id_of("/s", None), None);
    }
}
