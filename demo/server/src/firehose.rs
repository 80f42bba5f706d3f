//! The firehose, for tests and benchmarks (with `--faults` only): `POST /api/firehose`
//! `{"count":N}` publishes a `marker` event and then N `tick` events at once (symbol `FIRE`, `seq`
//! counting up), answering `{"first","count","after"}` where `after` is the marker's ID (resume
//! after it to replay exactly the burst); `POST /api/firehose/paced` `{"count":N,"rate":R}` does the same in the
//! background at R events per second, each tick's `price` holding the time it was published
//! (milliseconds since the Unix epoch, to the microsecond), for latency measurements; and
//! `GET /api/firehose` streams them, `/api/firehose/poll` polls them.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use demo_events::Tick;
use serde::Deserialize;
use std::sync::atomic::{AtomicU64, Ordering};
use tidings_axum::LastEventId;

use crate::AppState;
use crate::streams::{self, PeerIp, PollQuery};

/// The firehose's sequence counter: `seq` keeps counting across bursts.
static SEQ: AtomicU64 = AtomicU64::new(0);

/// `/api/firehose`: stream, burst, poll.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(stream).post(burst))
        .route("/paced", axum::routing::post(paced))
        .route("/poll", get(poll))
}

#[derive(Debug, Deserialize)]
struct Burst {
    count: u32,
}

async fn burst(State(state): State<AppState>, Json(request): Json<Burst>) -> Response {
    if !state.config.faults {
        return (StatusCode::NOT_FOUND, "the firehose needs --faults").into_response();
    }
    let count = request.count.min(1_000_000);
    // A marker before the burst: a client that resumes after it replays exactly the burst.
    let after = state.firehose.publish_data(Some("marker"), "");
    let first = SEQ.fetch_add(u64::from(count), Ordering::Relaxed) + 1;
    for seq in first..first + u64::from(count) {
        let tick = Tick {
            symbol: "FIRE".to_owned(),
            price: 1.0,
            seq,
        };
        if let Err(error) = state.firehose.publish(&tick) {
            return (StatusCode::INTERNAL_SERVER_ERROR, error.to_string()).into_response();
        }
    }
    Json(serde_json::json!({"first": first, "count": count, "after": after})).into_response()
}

#[derive(Debug, Deserialize)]
struct Paced {
    count: u32,
    rate: u32,
}

/// Milliseconds since the Unix epoch, to the microsecond.
fn now_millis() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |since| since.as_secs_f64() * 1000.0)
}

async fn paced(State(state): State<AppState>, Json(request): Json<Paced>) -> Response {
    if !state.config.faults {
        return (StatusCode::NOT_FOUND, "the firehose needs --faults").into_response();
    }
    if request.rate == 0 || request.rate > 100_000 {
        return (
            StatusCode::BAD_REQUEST,
            "rate must be 1 to 100000 per second",
        )
            .into_response();
    }
    let count = request.count.min(1_000_000);
    let after = state.firehose.publish_data(Some("marker"), "");
    let first = SEQ.fetch_add(u64::from(count), Ordering::Relaxed) + 1;
    let channel = state.firehose.clone();
    let rate = f64::from(request.rate);
    tokio::spawn(async move {
        let start = tokio::time::Instant::now();
        let mut published = 0u32;
        let mut ticker = tokio::time::interval(std::time::Duration::from_millis(1));
        while published < count {
            ticker.tick().await;
            // Catch up with the schedule: as many as are due by now.
            let due = (start.elapsed().as_secs_f64() * rate)
                .ceil()
                .min(f64::from(count));
            while f64::from(published) < due {
                let tick = Tick {
                    symbol: "FIRE".to_owned(),
                    price: now_millis(),
                    seq: first + u64::from(published),
                };
                if let Err(error) = channel.publish(&tick) {
                    tracing::error!("paced firehose: {error}");
                    return;
                }
                published += 1;
            }
        }
    });
    Json(serde_json::json!({"first": first, "count": count, "after": after})).into_response()
}

async fn stream(
    State(state): State<AppState>,
    LastEventId(id): LastEventId,
    peer: PeerIp,
) -> Response {
    if !state.config.faults {
        return (StatusCode::NOT_FOUND, "the firehose needs --faults").into_response();
    }
    streams::open(&state, &state.firehose, id.as_deref(), peer)
}

async fn poll(
    State(state): State<AppState>,
    LastEventId(id): LastEventId,
    Query(query): Query<PollQuery>,
) -> Response {
    if !state.config.faults {
        return (StatusCode::NOT_FOUND, "the firehose needs --faults").into_response();
    }
    streams::poll(&state, &state.firehose, id.as_deref(), &query).await
}
