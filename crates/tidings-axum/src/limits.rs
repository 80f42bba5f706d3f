//! [`ConnectionLimiter`]: caps on open streams, globally and per client address.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tidings_wire::Frame;

/// Caps the number of open streams, in all and per client address.
///
/// Clients are counted by address, an IPv6 client by its /64 (one end site gets a whole /64, so
/// counting each address would let it open 2^64 times the cap); an IPv4 address mapped into
/// IPv6 counts as the IPv4 address. Clones share the counts.
///
/// A stream over a cap is refused with an answer every standard client comes back from by
/// itself: `200` with a short event stream that carries only a `retry:` hint and a comment, and
/// then ends (see [`LimitExceeded`]). A `503`, the obvious answer, ends a browser's
/// `EventSource` for good, as the standard says: one busy moment would disconnect such clients
/// until the page is reloaded.
///
/// ```
/// use std::net::SocketAddr;
/// use axum::{extract::{ConnectInfo, State}, response::{IntoResponse, Response}};
/// use tidings_axum::{Channel, ConnectionLimiter, LastEventId};
///
/// #[derive(Clone)]
/// struct App { channel: Channel, limiter: ConnectionLimiter }
///
/// async fn events(
///     State(app): State<App>,
///     ConnectInfo(peer): ConnectInfo<SocketAddr>,
///     LastEventId(id): LastEventId,
/// ) -> Response {
///     match app.limiter.try_acquire(peer.ip()) {
///         Ok(permit) => app.channel.subscribe(id.as_deref()).hold(permit).into_response(),
///         Err(refused) => refused.into_response(),
///     }
/// }
/// ```
#[derive(Debug, Clone)]
pub struct ConnectionLimiter {
    shared: Arc<LimiterShared>,
}

#[derive(Debug)]
struct LimiterShared {
    global: usize,
    per_address: usize,
    /// The `Retry-After` of refusals, in milliseconds: set on every clone at once.
    retry_after_ms: AtomicU64,
    counts: Mutex<Counts>,
}

#[derive(Debug, Default)]
struct Counts {
    total: usize,
    by_address: HashMap<IpAddr, usize>,
}

impl ConnectionLimiter {
    /// At most `global` streams in all, and `per_address` from one client address. Refused
    /// clients are told to retry after 5 seconds.
    ///
    /// # Panics
    ///
    /// If either cap is zero.
    #[must_use]
    #[track_caller]
    pub fn new(global: usize, per_address: usize) -> Self {
        assert!(
            global > 0 && per_address > 0,
            "connection caps must be at least 1"
        );
        Self {
            shared: Arc::new(LimiterShared {
                global,
                per_address,
                retry_after_ms: AtomicU64::new(5_000),
                counts: Mutex::new(Counts::default()),
            }),
        }
    }

    /// Sets the `Retry-After` sent with refusals (rounded up to whole seconds, and to the
    /// millisecond in the `retry:` hint), for this limiter and every clone of it: they share
    /// one set of counts.
    #[must_use]
    pub fn retry_after(self, delay: Duration) -> Self {
        let millis = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        self.shared.retry_after_ms.store(millis, Ordering::Relaxed);
        self
    }

    /// A permit for one more stream from `address`, or the refusal to send. Hold the permit for
    /// as long as the stream ([`EventStream::hold`](crate::EventStream::hold)).
    ///
    /// # Errors
    ///
    /// [`LimitExceeded`] when a cap is reached.
    pub fn try_acquire(&self, address: IpAddr) -> Result<ConnectionPermit, LimitExceeded> {
        let address = client_key(address);
        let mut counts = self.lock();
        let from_address = counts.by_address.get(&address).copied().unwrap_or(0);
        let which = if counts.total >= self.shared.global {
            Some(Cap::Global)
        } else if from_address >= self.shared.per_address {
            Some(Cap::PerAddress)
        } else {
            None
        };
        if let Some(cap) = which {
            let millis = self.shared.retry_after_ms.load(Ordering::Relaxed);
            return Err(LimitExceeded {
                cap,
                retry_after: Duration::from_millis(millis),
            });
        }
        counts.total += 1;
        *counts.by_address.entry(address).or_insert(0) += 1;
        Ok(ConnectionPermit {
            limiter: self.clone(),
            address,
        })
    }

    /// How many streams are open now.
    #[must_use]
    pub fn open(&self) -> usize {
        self.lock().total
    }

    fn release(&self, address: IpAddr) {
        let mut counts = self.lock();
        counts.total = counts.total.saturating_sub(1);
        if let Some(count) = counts.by_address.get_mut(&address) {
            *count -= 1;
            if *count == 0 {
                counts.by_address.remove(&address);
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Counts> {
        self.shared
            .counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// What a client is counted by: its IPv4 address (also when mapped into IPv6), or its IPv6 /64.
fn client_key(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V4(_) => address,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !u128::from(u64::MAX))),
        },
    }
}

/// One open stream counted by a [`ConnectionLimiter`]; dropping it frees the place.
#[derive(Debug)]
pub struct ConnectionPermit {
    limiter: ConnectionLimiter,
    address: IpAddr,
}

impl Drop for ConnectionPermit {
    fn drop(&mut self) {
        self.limiter.release(self.address);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cap {
    Global,
    PerAddress,
}

/// A stream refused by a [`ConnectionLimiter`].
///
/// As a response it is `200 OK`, `Content-Type: text/event-stream`, a `Retry-After` header, and
/// a body of two lines that dispatch no event, `retry: <ms>` and a comment saying why, after
/// which the stream ends. Every standard client (a browser's `EventSource`, the npm
/// `eventsource`, `httpx-sse`'s reconnect loop, `tidings`) then reconnects after the hint, with
/// its `Last-Event-ID`, so nothing is lost. For an endpoint that is not an event stream, answer
/// [`LimitExceeded::unavailable`] instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("too many open streams ({}); retry after {retry_after:?}", match cap { Cap::Global => "server-wide", Cap::PerAddress => "from this address" })]
pub struct LimitExceeded {
    cap: Cap,
    retry_after: Duration,
}

impl LimitExceeded {
    /// How long the client is asked to wait.
    #[must_use]
    pub fn retry_after(&self) -> Duration {
        self.retry_after
    }

    /// The refusal as `503 Service Unavailable` with `Retry-After`, for endpoints that are not
    /// event streams (a standard `EventSource` gives up on it: streams get the
    /// [`IntoResponse`] answer).
    #[must_use]
    pub fn unavailable(&self) -> Response {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, self.retry_after_header())],
            self.to_string(),
        )
            .into_response()
    }

    /// `Retry-After` in whole seconds, rounded up.
    fn retry_after_header(&self) -> HeaderValue {
        let seconds = self.retry_after.as_secs() + u64::from(self.retry_after.subsec_nanos() > 0);
        HeaderValue::from(seconds)
    }
}

impl IntoResponse for LimitExceeded {
    fn into_response(self) -> Response {
        let body = Frame::new()
            .retry(self.retry_after)
            .comment(&self.to_string())
            .into_string();
        (
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static(tidings_wire::CONTENT_TYPE),
                ),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
                (header::RETRY_AFTER, self.retry_after_header()),
            ],
            body,
        )
            .into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_hold_and_permits_free_their_place() {
        let limiter = ConnectionLimiter::new(3, 2);
        let a: IpAddr = [127, 0, 0, 1].into();
        let b: IpAddr = [127, 0, 0, 2].into();
        let first = limiter.try_acquire(a).expect("room");
        let _second = limiter.try_acquire(a).expect("room");
        let refused = limiter.try_acquire(a).expect_err("two per address");
        assert_eq!(refused.cap, Cap::PerAddress);
        let _third = limiter.try_acquire(b).expect("room for another address");
        let refused = limiter.try_acquire(b).expect_err("three in all");
        assert_eq!(refused.cap, Cap::Global);
        assert_eq!(limiter.open(), 3);
        drop(first);
        assert_eq!(limiter.open(), 2);
        assert!(
            limiter.try_acquire(b).is_ok(),
            "a dropped permit frees its place"
        );
    }

    /// A clone made before `retry_after` shares the counts (it used to start a second set).
    #[test]
    fn clones_share_the_counts_and_the_retry_delay() {
        let limiter = ConnectionLimiter::new(1, 1);
        let clone = limiter.clone();
        let limiter = limiter.retry_after(Duration::from_secs(9));
        let _held = clone.try_acquire([10, 0, 0, 1].into()).expect("room");
        let refused = limiter
            .try_acquire([10, 0, 0, 2].into())
            .expect_err("one stream in all, whichever clone counted it");
        assert_eq!(refused.retry_after(), Duration::from_secs(9));
        let refused = clone.try_acquire([10, 0, 0, 3].into()).expect_err("full");
        assert_eq!(refused.retry_after(), Duration::from_secs(9));
    }

    /// Every address of one IPv6 /64 is one client; another /64 is another; an IPv4-mapped
    /// address is its IPv4 address.
    #[test]
    fn an_ipv6_client_is_its_slash_64() {
        let limiter = ConnectionLimiter::new(100, 2);
        let in_one_64 = |n: u16| IpAddr::from([0x2001, 0xdb8, 0, 1, 0, 0, 0, n]);
        let _a = limiter.try_acquire(in_one_64(1)).expect("room");
        let _b = limiter.try_acquire(in_one_64(0xffff)).expect("room");
        let refused = limiter
            .try_acquire(IpAddr::from([0x2001, 0xdb8, 0, 1, 0xdead, 0xbeef, 0, 9]))
            .expect_err("a third from the same /64");
        assert_eq!(refused.cap, Cap::PerAddress);
        let _c = limiter
            .try_acquire(IpAddr::from([0x2001, 0xdb8, 0, 2, 0, 0, 0, 1]))
            .expect("another /64 is another client");

        let v4: IpAddr = [192, 0, 2, 7].into();
        let mapped = IpAddr::V6(std::net::Ipv4Addr::new(192, 0, 2, 7).to_ipv6_mapped());
        let _d = limiter.try_acquire(v4).expect("room");
        let _e = limiter.try_acquire(mapped).expect("room");
        assert!(
            limiter.try_acquire(v4).is_err(),
            "the mapped address counted as the IPv4 one"
        );
        drop((_a, _b, _c, _d, _e));
        assert_eq!(limiter.open(), 0, "permits free the place they took");
    }

    #[tokio::test]
    async fn refusal_is_a_stream_that_asks_to_come_back_later() {
        use http_body_util::BodyExt;
        let limiter = ConnectionLimiter::new(1, 1).retry_after(Duration::from_millis(2500));
        let _held = limiter.try_acquire([10, 0, 0, 1].into()).expect("room");
        let refused = limiter.try_acquire([10, 0, 0, 1].into()).expect_err("full");

        let unavailable = refused.unavailable();
        assert_eq!(unavailable.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(unavailable.headers()[header::RETRY_AFTER], "3");

        let response = refused.into_response();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            "text/event-stream"
        );
        assert_eq!(response.headers()[header::RETRY_AFTER], "3");
        let body = response
            .into_body()
            .collect()
            .await
            .expect("a whole body")
            .to_bytes();
        assert_eq!(
            body,
            "retry: 2500\n: too many open streams (server-wide); retry after 2.5s\n"
        );
        // Nothing in it dispatches an event, and the hint is read.
        let mut parser = tidings_wire::Parser::new();
        assert!(parser.feed_owned(&body).is_empty());
        assert_eq!(parser.retry(), Some(Duration::from_millis(2500)));
    }
}
