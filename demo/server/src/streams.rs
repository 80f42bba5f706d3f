//! What every feed's stream and poll endpoints share: connection limits, the retry hint and
//! keep-alive, and ending at shutdown.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tidings_axum::deadline::PeerAddr;
use tidings_axum::{AnyChannel, Pace};

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

/// The query of a stream that can be paced: `?pace=N` asks for at most N writes a second,
/// each with the newest tick per symbol and every other event (see [`Pace`]).
#[derive(Debug, Deserialize)]
pub struct PaceQuery {
    /// Writes a second, 1 to [`MAX_PACE`].
    pub pace: Option<u32>,
}

impl PaceQuery {
    /// The pace asked for, or the `400` to answer.
    ///
    /// # Errors
    ///
    /// A pace of 0 or over [`MAX_PACE`].
    pub fn pace(&self) -> Result<Option<Pace>, (StatusCode, String)> {
        match self.pace {
            None => Ok(None),
            Some(writes @ 1..=MAX_PACE) => Ok(Some(Pace::per_second(writes))),
            Some(_) => Err((
                StatusCode::BAD_REQUEST,
                format!("pace must be 1 to {MAX_PACE} writes a second"),
            )),
        }
    }
}

/// A stream of `channel` for one client, resuming after `last_event_id`, at `pace` if given.
pub fn open(
    state: &AppState,
    feed: &AnyChannel,
    last_event_id: Option<&str>,
    pace: Option<Pace>,
    peer: PeerIp,
) -> Response {
    let permit = match state.limiter.try_acquire(peer.0) {
        Ok(permit) => permit,
        Err(refused) => return refused.into_response(),
    };
    let stream = match pace {
        None => feed.subscribe(last_event_id),
        Some(pace) => feed.subscribe_paced(last_event_id, pace),
    };
    let stream = stream
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
