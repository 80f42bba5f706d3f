//! `limit_connections` in front of a channel's routes: streams and long-polls counted together,
//! places freed when bodies end, clients behind a trusted proxy counted by their own address.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::connect_info::MockConnectInfo;
use axum::http::{HeaderMap, Request};
use axum::middleware::from_fn_with_state;
use tidings_axum::testing::EventReader;
use tidings_axum::{Channel, ConnectionLimiter, limit_connections};
use tower::ServiceExt;

fn app(channel: &Channel, limiter: &ConnectionLimiter, peer: [u8; 4]) -> Router {
    channel
        .routes("/events")
        .route_layer(from_fn_with_state(limiter.clone(), limit_connections))
        .layer(MockConnectInfo(SocketAddr::from((peer, 40_000))))
}

async fn get(app: Router, path: &str, forwarded_for: Option<&str>) -> axum::response::Response {
    let mut request = Request::get(path).header("last-event-id", "nonsense");
    if let Some(forwarded) = forwarded_for {
        request = request.header("x-forwarded-for", forwarded);
    }
    app.oneshot(request.body(Body::empty()).expect("valid"))
        .await
        .expect("infallible")
}

/// Whether the answer is the limiter's refusal (a stream that only says when to come back).
fn refused(response: &axum::response::Response) -> bool {
    response.headers().contains_key("retry-after")
}

#[tokio::test]
async fn streams_and_long_polls_share_the_caps_and_free_them_when_they_end() {
    let channel = Channel::new();
    let limiter = ConnectionLimiter::new(2, 1);
    let a = [192, 0, 2, 1];
    let stream = get(app(&channel, &limiter, a), "/events", None).await;
    assert!(!refused(&stream));
    assert_eq!(limiter.open(), 1);
    // The same client's long-poll counts against the same cap.
    let poll = get(app(&channel, &limiter, a), "/events/poll?wait_ms=0", None).await;
    assert!(refused(&poll));
    // Another client's long-poll holds its place while it waits...
    let waiting = get(
        app(&channel, &limiter, [192, 0, 2, 2]),
        "/events/poll?wait_ms=200",
        None,
    )
    .await;
    assert!(
        !refused(&waiting),
        "{:?} open {}",
        waiting.headers(),
        limiter.open()
    );
    assert_eq!(limiter.open(), 2);
    assert!(refused(
        &get(app(&channel, &limiter, [192, 0, 2, 3]), "/events", None).await
    ));
    // ...and frees it once answered.
    let mut answer = EventReader::new(waiting.into_body()).patience(Duration::from_secs(5));
    answer.rest().await;
    assert_eq!(limiter.open(), 1);
    // A client that goes away frees its stream's place.
    drop(stream);
    assert_eq!(limiter.open(), 0);
    assert!(!refused(
        &get(app(&channel, &limiter, a), "/events/poll?wait_ms=0", None).await
    ));
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_client_counts_for_itself() {
    let channel = Channel::new();
    let limiter = ConnectionLimiter::new(100, 1).trust_proxy([10, 0, 0, 0].into(), 8);
    let proxy = [10, 1, 2, 3];
    let first = get(
        app(&channel, &limiter, proxy),
        "/events",
        Some("203.0.113.7"),
    )
    .await;
    let second = get(
        app(&channel, &limiter, proxy),
        "/events",
        Some("203.0.113.8"),
    )
    .await;
    assert!(
        !refused(&first) && !refused(&second),
        "two clients, one proxy"
    );
    // A forged entry left of the proxy's own does not help the first client again.
    let forged = get(
        app(&channel, &limiter, proxy),
        "/events",
        Some("198.51.100.1, 203.0.113.7"),
    )
    .await;
    assert!(refused(&forged));
    // An untrusted peer's header is not believed at all.
    let direct = [198, 51, 100, 9];
    let _held = get(
        app(&channel, &limiter, direct),
        "/events",
        Some("203.0.113.50"),
    )
    .await;
    let again = get(
        app(&channel, &limiter, direct),
        "/events",
        Some("203.0.113.51"),
    )
    .await;
    assert!(refused(&again));
}

#[test]
fn client_address_reads_the_right_most_untrusted_hop() {
    let limiter = ConnectionLimiter::new(1, 1)
        .trust_proxy([10, 0, 0, 0].into(), 8)
        .trust_proxy("2001:db8::".parse().expect("an address"), 32);
    let headers = |value: &str| {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", value.parse().expect("a header value"));
        headers
    };
    let address = |text: &str| text.parse::<IpAddr>().expect("an address");
    let from_proxy = address("10.9.9.9");
    for (forwarded, client) in [
        ("203.0.113.7", "203.0.113.7"),
        ("203.0.113.7, 10.0.0.5", "203.0.113.7"),
        ("1.1.1.1, 203.0.113.7, 10.0.0.5", "203.0.113.7"),
        ("2001:db8:1::1, 2001:db9::5", "2001:db9::5"),
        ("10.0.0.1, 10.0.0.2", "10.0.0.1"),
        ("unknown, 10.0.0.2", "10.0.0.2"),
        ("garbage", "10.9.9.9"),
    ] {
        assert_eq!(
            limiter.client_address(from_proxy, &headers(forwarded)),
            address(client),
            "{forwarded}"
        );
    }
    assert_eq!(
        limiter.client_address(from_proxy, &HeaderMap::new()),
        from_proxy
    );
    let direct = address("192.0.2.1");
    assert_eq!(
        limiter.client_address(direct, &headers("203.0.113.7")),
        direct
    );
    assert_eq!(
        limiter.client_address(address("2001:db8:ffff::1"), &headers("192.0.2.44")),
        address("192.0.2.44"),
        "an IPv6 proxy range"
    );
}
