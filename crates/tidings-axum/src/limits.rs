//! [`ConnectionLimiter`]: caps on open streams, globally and per client address.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
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
    /// The proxies whose `X-Forwarded-For` is believed.
    trusted: RwLock<Vec<Network>>,
    counts: Mutex<Counts>,
}

/// An address range: the first `prefix` bits of `bits`, IPv4 or IPv6.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Network {
    bits: u128,
    prefix: u8,
    v4: bool,
}

impl Network {
    fn contains(&self, address: IpAddr) -> bool {
        let (bits, v4) = match address {
            IpAddr::V4(v4) => (u128::from(u32::from(v4)), true),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => (u128::from(u32::from(v4)), true),
                None => (u128::from(v6), false),
            },
        };
        let width = if self.v4 { 32 } else { 128 };
        let mask = match self.prefix {
            0 => 0,
            prefix => (u128::MAX >> (128 - width)) & !((1u128 << (width - u32::from(prefix))) - 1),
        };
        v4 == self.v4 && bits & mask == self.bits & mask
    }
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
                trusted: RwLock::new(Vec::new()),
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

    /// Believes the `X-Forwarded-For` header of requests from the proxies in `network`/`prefix`
    /// (`10.0.0.0`/8, say, or one address with /32 or /128), for this limiter and every clone:
    /// see [`ConnectionLimiter::client_address`]. Without it, no header is believed: a client
    /// could otherwise name any address it likes and escape the per-address cap.
    ///
    /// # Panics
    ///
    /// If `prefix` is longer than the address (32 bits for IPv4, 128 for IPv6).
    #[must_use]
    #[track_caller]
    pub fn trust_proxy(self, network: IpAddr, prefix: u8) -> Self {
        let (bits, v4, width) = match network {
            IpAddr::V4(v4) => (u128::from(u32::from(v4)), true, 32),
            IpAddr::V6(v6) => (u128::from(v6), false, 128),
        };
        assert!(
            prefix <= width,
            "a /{prefix} prefix is longer than the address"
        );
        self.shared
            .trusted
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Network { bits, prefix, v4 });
        self
    }

    /// The address a request comes from: `peer` (the connection's), unless `peer` is a
    /// trusted proxy ([`ConnectionLimiter::trust_proxy`]); then the right-most address in
    /// `X-Forwarded-For` that is not a trusted proxy (the left-most, if every one is). Proxies
    /// append the address they saw, so entries left of the first untrusted one may be forged.
    #[must_use]
    pub fn client_address(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let trusted = self
            .shared
            .trusted
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        let is_trusted = |address: IpAddr| trusted.iter().any(|network| network.contains(address));
        if !is_trusted(peer) {
            return peer;
        }
        let forwarded: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .map(str::trim)
            .collect();
        let mut client = peer;
        for hop in forwarded.iter().rev() {
            // A hop that is not an address ("unknown", garbage): nothing further left is known.
            let Ok(address) = hop.parse::<IpAddr>() else {
                break;
            };
            client = address;
            if !is_trusted(address) {
                break;
            }
        }
        client
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

/// Counts every request through the routes it is a layer of against the limiter in its
/// state, streams and long-polls alike, holding the place until the response body ends (the
/// client disconnects, or the poll is answered); a request over a cap gets the
/// [`LimitExceeded`] answer. The client's address is the connection's
/// (`ConnectInfo<SocketAddr>`, or `ConnectInfo<PeerAddr>` behind a
/// [`WriteDeadline`](crate::deadline::WriteDeadline) listener) as
/// [`ConnectionLimiter::client_address`] resolves it (`MockConnectInfo<SocketAddr>` in tests);
/// without connect info, every request
/// counts as one unknown client (`0.0.0.0`).
///
/// ```
/// use axum::{Router, middleware};
/// use tidings_axum::{Channel, ConnectionLimiter, limit_connections};
///
/// let limiter = ConnectionLimiter::new(10_000, 8);
/// let channel = Channel::new();
/// // GET /events and GET /events/poll, counted together.
/// let app: Router = channel
///     .routes("/events")
///     .route_layer(middleware::from_fn_with_state(limiter, limit_connections));
/// ```
pub async fn limit_connections(
    State(limiter): State<ConnectionLimiter>,
    request: Request,
    next: Next,
) -> Response {
    let extensions = request.extensions();
    let peer = extensions
        .get::<ConnectInfo<std::net::SocketAddr>>()
        .map(|info| info.0.ip())
        .or_else(|| {
            extensions
                .get::<ConnectInfo<crate::deadline::PeerAddr>>()
                .map(|info| info.0.0.ip())
        })
        // What tests put in place of a connection.
        .or_else(|| {
            extensions
                .get::<axum::extract::connect_info::MockConnectInfo<std::net::SocketAddr>>()
                .map(|info| info.0.ip())
        })
        .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
    let address = limiter.client_address(peer, request.headers());
    match limiter.try_acquire(address) {
        Ok(permit) => next.run(request).await.map(|body| {
            axum::body::Body::new(Holding {
                body,
                permit: Some(permit),
            })
        }),
        Err(refused) => refused.into_response(),
    }
}

pin_project_lite::pin_project! {
    /// A response body that holds a permit until it ends or is dropped.
    struct Holding {
        #[pin]
        body: axum::body::Body,
        permit: Option<ConnectionPermit>,
    }
}

impl http_body::Body for Holding {
    type Data = bytes::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let frame = this.body.poll_frame(cx);
        if matches!(frame, std::task::Poll::Ready(None | Some(Err(_)))) {
            // Ended: the place is free now, not when the server gets round to dropping it.
            this.permit.take();
        }
        frame
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
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
