//! What every feed's stream and poll endpoints share: connection limits, the retry hint and
//! keep-alive, pacing and compression on request, and ending at shutdown.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tidings_axum::compress::{AcceptEncoding, Compression};
use tidings_axum::deadline::PeerAddr;
use tidings_axum::{AnyChannel, LastEventId, Pace};

use crate::AppState;

/// How long a long-poll waits for an event, unless the client asks for less.
pub const POLL_WAIT: Duration = Duration::from_secs(25);

/// The client's address, when the server knows it (it does when served over TCP).
#[derive(Debug, Clone, Copy)]
pub struct PeerIp(pub IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for PeerIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        // Behind a write deadline (the demo's own servers), or axum's plain listener.
        let extensions = &parts.extensions;
        let ip = extensions
            .get::<ConnectInfo<PeerAddr>>()
            .map(|info| info.0.0.ip())
            .or_else(|| {
                extensions
                    .get::<ConnectInfo<SocketAddr>>()
                    .map(|info| info.0.ip())
            })
            .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
        Ok(Self(ip))
    }
}

impl PeerIp {
    /// The client, as quotas count it: an IPv6 address by its /64 (what one host is usually
    /// given), an IPv4 one as it is.
    #[must_use]
    pub fn client(self) -> IpAddr {
        match self.0 {
            IpAddr::V6(ip) => {
                let bits = u128::from(ip) & !((1u128 << 64) - 1);
                IpAddr::V6(std::net::Ipv6Addr::from(bits))
            }
            ip @ IpAddr::V4(_) => ip,
        }
    }
}

/// Paced writes at most, a second: a client asking for more gets every event anyway.
pub const MAX_PACE: u32 = 1_000;

/// What a stream request brings: the last event ID it resumes after, the pace it asks for
/// (`?pace=N`: at most N writes a second, see [`Pace`]), the compression its `Accept-Encoding`
/// allows, and the client's address. Extracting it answers `400` for a pace out of range.
#[derive(Debug, Clone)]
pub struct StreamRequest {
    /// The `Last-Event-ID` header, or the `lastEventId` query parameter.
    pub last_event_id: Option<String>,
    /// `?pace=N`, 1 to [`MAX_PACE`].
    pub pace: Option<Pace>,
    /// The coding the client offered that the server likes best (used with `--compress`).
    pub coding: Option<Compression>,
    /// Who asks.
    pub peer: PeerIp,
}

#[derive(Debug, Deserialize)]
struct PaceQuery {
    pace: Option<u32>,
}

impl<S: Send + Sync> FromRequestParts<S> for StreamRequest {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let pace = match axum::extract::Query::<PaceQuery>::from_request_parts(parts, state).await {
            Ok(query) => query.0.pace,
            // An unknown parameter is no concern of ours; a pace that is not a number is.
            Err(refused) => return Err(refused.into_response()),
        };
        let pace = match pace {
            None => None,
            Some(writes @ 1..=MAX_PACE) => Some(Pace::per_second(writes)),
            Some(_) => {
                return Err((
                    StatusCode::BAD_REQUEST,
                    format!("pace must be 1 to {MAX_PACE} writes a second"),
                )
                    .into_response());
            }
        };
        let Ok(LastEventId(last_event_id)) = LastEventId::from_request_parts(parts, state).await;
        let Ok(AcceptEncoding(coding)) = AcceptEncoding::from_request_parts(parts, state).await;
        let Ok(peer) = PeerIp::from_request_parts(parts, state).await;
        Ok(Self {
            last_event_id,
            pace,
            coding,
            peer,
        })
    }
}

/// A stream of `feed` for one client, as `request` asks: resuming after its last event ID, at
/// its pace, compressed if the server is run with `--compress` and the client offered a coding.
pub fn open(state: &AppState, feed: &AnyChannel, request: &StreamRequest) -> Response {
    let permit = match state.limiter.try_acquire(request.peer.0) {
        Ok(permit) => permit,
        Err(refused) => return refused.into_response(),
    };
    let last_event_id = request.last_event_id.as_deref();
    let stream = match request.pace {
        None => feed.subscribe(last_event_id),
        Some(pace) => feed.subscribe_paced(last_event_id, pace),
    };
    let coding = request.coding.filter(|_| state.config.compress);
    let stream = stream
        .compress(coding)
        .retry(state.config.retry)
        .keep_alive(state.config.keep_alive)
        .hold(permit);
    state.until_closing(stream.into_response())
}

/// The query of a poll request.
#[derive(Debug, Deserialize)]
pub struct PollQuery {
    /// How long to wait for an event, in milliseconds (at most [`POLL_WAIT`]).
    pub wait_ms: Option<u64>,
}

/// One long-poll of `channel`: the events after `last_event_id`, or the first to come. It
/// counts against the client's cap while it waits, as a stream does.
pub async fn poll(
    state: &AppState,
    feed: &AnyChannel,
    last_event_id: Option<&str>,
    query: &PollQuery,
    peer: PeerIp,
) -> Response {
    let permit = match state.limiter.try_acquire(peer.0) {
        Ok(permit) => permit,
        Err(refused) => return refused.unavailable(),
    };
    let wait = query.wait_ms.map_or(POLL_WAIT, |millis| {
        Duration::from_millis(millis).min(POLL_WAIT)
    });
    let response = feed.poll(last_event_id, wait).hold(permit).into_response();
    state.until_closing(response)
}
