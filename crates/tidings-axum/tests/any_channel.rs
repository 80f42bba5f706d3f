//! [`AnyChannel`]: the same scenario through its routes, on memory and (feature `redis`) on a
//! real `redis-server`, with the same results: streams resume, long-polls answer the rest,
//! the replay log renders, bad event types are refused, and an unreachable Redis says why.

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use tidings_axum::testing::EventReader;
use tidings_axum::{AnyChannel, ChannelConfig, PublishError};
use tidings_wire::{Event, ReplayLog};
use tower::ServiceExt;

async fn get(app: &Router, path: &str, last_event_id: Option<&str>) -> EventReader {
    let mut request = Request::get(path);
    if let Some(id) = last_event_id {
        request = request.header("last-event-id", id);
    }
    let response = app
        .clone()
        .oneshot(request.body(Body::empty()).expect("valid request"))
        .await
        .expect("infallible");
    assert_eq!(response.status(), StatusCode::OK, "{path}");
    EventReader::new(response.into_body()).patience(Duration::from_secs(10))
}

fn datas(events: &[Event]) -> Vec<&str> {
    events.iter().map(|event| event.data.as_str()).collect()
}

/// Runs the scenario on `channel`; `settle` waits until what was published can be read (at
/// once in memory; after the mirror caught up with Redis).
async fn scenario(channel: AnyChannel) {
    let app: Router = channel.routes("/events");
    let mut live = get(&app, "/events", None).await;
    let mut ids = Vec::new();
    for n in 1..=3 {
        ids.push(
            channel
                .publish_data(Some("n"), &n.to_string())
                .await
                .expect("published"),
        );
    }
    ids.extend(
        channel
            .publish_batch(&[(Some("n"), "4"), (None, "5")])
            .await
            .expect("published"),
    );
    let events = live.events(5).await;
    assert_eq!(datas(&events), ["1", "2", "3", "4", "5"]);
    assert_eq!(events[4].event_type, "message");
    let shown: Vec<&str> = events.iter().map(|e| e.last_event_id.as_str()).collect();
    assert_eq!(shown, ids);

    // A client back from the second event gets the rest, by stream and by long-poll.
    let mut resumed = get(&app, "/events", Some(&ids[1])).await;
    assert_eq!(datas(&resumed.events(3).await), ["3", "4", "5"]);
    let mut polled = get(&app, "/events/poll", Some(&ids[1])).await;
    assert_eq!(datas(&polled.rest().await), ["3", "4", "5"]);

    // Rendering on the server reads the same log.
    assert_eq!(channel.position().as_deref(), Some(ids[4].as_str()));
    assert_eq!(channel.last_id().as_deref(), Some(ids[4].as_str()));
    let recent = channel.recent("n", 2, &ids[4]);
    assert_eq!(datas(&recent), ["3", "4"]);

    // A type with a line break is refused, whole batches with it, and nothing is published.
    for refused in [
        channel.publish_data(Some("a\nb"), "x").await.map(|_| ()),
        channel
            .publish_batch(&[(Some("n"), "6"), (Some("c\rd"), "7")])
            .await
            .map(|_| ()),
    ] {
        assert!(
            matches!(refused, Err(PublishError::InvalidEventType(_))),
            "{refused:?}"
        );
    }
    channel
        .publish_data(Some("n"), "8")
        .await
        .expect("published");
    assert_eq!(datas(&live.events(1).await), ["8"]);
}

#[tokio::test]
async fn in_memory() {
    let channel = AnyChannel::memory(ChannelConfig::default());
    assert!(channel.as_memory().is_some());
    scenario(channel).await;
}

#[cfg(feature = "redis")]
mod redis {
    use std::time::Instant;

    use tidings_axum::redis::{RedisChannel, RedisConfig, RedisHealth};
    use tidings_axum::testing::RedisServer;

    use super::*;

    async fn up(channel: &AnyChannel) {
        let deadline = Instant::now() + Duration::from_secs(15);
        while channel.redis_health() != Some(RedisHealth::Up) {
            assert!(Instant::now() < deadline, "{:?}", channel.redis_health());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    #[tokio::test]
    async fn in_redis() {
        let server = RedisServer::start();
        let config = RedisConfig::new(server.url(), "any-channel");
        let channel = AnyChannel::from(RedisChannel::open(config).expect("a Redis URL"));
        assert!(channel.as_memory().is_none() && channel.as_redis().is_some());
        up(&channel).await;
        scenario(channel).await;
    }

    #[tokio::test]
    async fn an_unreachable_redis_is_an_error_with_its_cause() {
        let mut server = RedisServer::start();
        let config = RedisConfig::new(server.url(), "gone");
        let channel = AnyChannel::from(RedisChannel::open(config).expect("a Redis URL"));
        up(&channel).await;
        server.shut_down().await;
        let error = channel
            .publish_data(Some("n"), "1")
            .await
            .expect_err("Redis is down");
        assert!(matches!(error, PublishError::Unavailable(_)), "{error:?}");
        let cause = std::error::Error::source(&error).map(ToString::to_string);
        assert!(cause.is_some_and(|cause| !cause.is_empty()), "{error:?}");
    }
}
