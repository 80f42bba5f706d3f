//! A channel's stream and its polling endpoint, mounted together where the `tidings` client
//! looks for them: see [`Channel::routes`](crate::Channel::routes).

use std::convert::Infallible;
use std::time::Duration;

use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::routing::get;
use tidings_wire::protocol::poll_url_for;

use crate::{EventStream, LastEventId};

/// How long a long-poll mounted by [`Channel::routes`](crate::Channel::routes) waits for an
/// event, at most and by default: under the 30 s idle time-out of common proxies.
pub const MAX_POLL_WAIT: Duration = Duration::from_secs(25);

/// What [`mount`] serves: a channel that streams and answers long-polls.
pub(crate) trait Serve: Clone + Send + Sync + 'static {
    fn stream(&self, last_event_id: Option<&str>) -> EventStream;
    fn long_poll(&self, last_event_id: Option<&str>, wait: Duration) -> EventStream;
}

/// `GET path` streams `source`, resuming after the request's [`LastEventId`]; `GET path/poll`
/// (as [`poll_url_for`] lays it out, the client's own function) answers one long-poll.
pub(crate) fn mount<S, C>(source: C, path: &str) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    C: Serve,
{
    let streams = source.clone();
    Router::new()
        .route(
            path,
            get(move |LastEventId(id): LastEventId| {
                let source = streams.clone();
                async move { source.stream(id.as_deref()) }
            }),
        )
        .route(
            &poll_url_for(path),
            get(
                move |LastEventId(id): LastEventId, PollWait(wait): PollWait| {
                    let source = source.clone();
                    async move { source.long_poll(id.as_deref(), wait) }
                },
            ),
        )
}

/// How long a poll may wait: `?wait_ms=N` from the request, at most [`MAX_POLL_WAIT`], which is
/// also the default (and what an unreadable value gets).
struct PollWait(Duration);

impl<S: Send + Sync> FromRequestParts<S> for PollWait {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let asked = parts.uri.query().and_then(|query| {
            form_urlencoded::parse(query.as_bytes())
                .find(|(name, _)| name == "wait_ms")
                .and_then(|(_, value)| value.parse::<u64>().ok())
        });
        Ok(Self(asked.map_or(MAX_POLL_WAIT, |millis| {
            Duration::from_millis(millis).min(MAX_POLL_WAIT)
        })))
    }
}

impl Serve for crate::Channel {
    fn stream(&self, last_event_id: Option<&str>) -> EventStream {
        self.subscribe(last_event_id)
    }

    fn long_poll(&self, last_event_id: Option<&str>, wait: Duration) -> EventStream {
        self.poll(last_event_id, wait)
    }
}

#[cfg(feature = "redis")]
impl Serve for crate::redis::RedisChannel {
    fn stream(&self, last_event_id: Option<&str>) -> EventStream {
        self.subscribe(last_event_id)
    }

    fn long_poll(&self, last_event_id: Option<&str>, wait: Duration) -> EventStream {
        self.poll(last_event_id, wait)
    }
}
