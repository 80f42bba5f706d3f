//! The firehose, for tests and benchmarks: `POST /api/firehose`
//! `{"count":N}` publishes a `marker` event and then N `tick` events at once (symbol `FIRE`, `seq`
//! counting up), answering `{"first","count","after"}` where `after` is the marker's ID (resume
//! after it to replay exactly the burst); `POST /api/firehose/paced` `{"count":N,"rate":R}` does the same in the
//! background at R events per second, each tick's `price` holding the time it was published
//! (milliseconds since the Unix epoch, to the microsecond), for latency measurements; and
//! `GET /api/firehose` streams them (`?pace=N`: at most N writes a second, with the newest
//! tick and every marker), `/api/firehose/poll` polls them. At most
//! [`MAX_PACED`](crate::MAX_PACED) paced runs go at once; more get `503`.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use demo_events::Tick;
use serde::Deserialize;
use std::sync::atomic::{AtomicU64, Ordering};
use tidings_axum::LastEventId;

use crate::Fixtures;
use demo_server::streams::{self, PeerIp, PollQuery};

/// The firehose's sequence counter: `seq` keeps counting across bursts.
static SEQ: AtomicU64 = AtomicU64::new(0);

/// `/api/firehose`: stream, burst, poll.
pub fn routes() -> Router<Fixtures> {
    Router::new()
        .route("/", get(stream).post(burst))
        .route("/paced", axum::routing::post(paced))
        .route("/poll", get(poll))
}

#[derive(Debug, Deserialize)]
struct Burst {
    count: u32,
}

async fn burst(State(state): State<Fixtures>, Json(request): Json<Burst>) -> Response {
    let count = request.count.min(1_000_000);
    let after = match publish_marker(&state.firehose).await {
        Ok(after) => after,
        Err(refused) => return refused,
    };
    let first = SEQ.fetch_add(u64::from(count), Ordering::Relaxed) + 1;
    let seqs: Vec<u64> = (first..first + u64::from(count)).collect();
    for chunk in seqs.chunks(1_000) {
        if let Err(error) = publish_ticks(&state.firehose, chunk, || 1.0).await {
            return (StatusCode::SERVICE_UNAVAILABLE, error).into_response();
        }
    }
    Json(serde_json::json!({"first": first, "count": count, "after": after})).into_response()
}

/// Publishes the marker that goes before a burst, and returns its ID: a client that resumes
/// after it replays exactly the burst.
async fn publish_marker(feed: &tidings_axum::AnyChannel) -> Result<String, Response> {
    match feed.publish_batch(&[(Some("marker"), "")]).await {
        Ok(mut ids) => Ok(ids.pop().unwrap_or_default()),
        Err(error) => Err((
            StatusCode::SERVICE_UNAVAILABLE,
            demo_server::error_chain(&error),
        )
            .into_response()),
    }
}

/// Publishes a tick for each of `seqs`, priced by `price`, in one round trip.
async fn publish_ticks(
    feed: &tidings_axum::AnyChannel,
    seqs: &[u64],
    price: impl Fn() -> f64,
) -> Result<(), String> {
    let mut datas = Vec::with_capacity(seqs.len());
    for &seq in seqs {
        let tick = Tick {
            symbol: "FIRE".to_owned(),
            price: price(),
            seq,
        };
        datas.push(tidings_axum::TypedEvent::encode(&tick).map_err(|e| e.to_string())?);
    }
    let events: Vec<(Option<&str>, &str)> = datas
        .iter()
        .map(|data| {
            (
                Some(<Tick as tidings_axum::TypedEvent>::NAME),
                data.as_str(),
            )
        })
        .collect();
    feed.publish_batch(&events)
        .await
        .map(drop)
        .map_err(|error| demo_server::error_chain(&error))
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

async fn paced(State(state): State<Fixtures>, Json(request): Json<Paced>) -> Response {
    if request.rate == 0 || request.rate > 100_000 {
        return (
            StatusCode::BAD_REQUEST,
            "rate must be 1 to 100000 per second",
        )
            .into_response();
    }
    let count = request.count.min(1_000_000);
    let Ok(place) = std::sync::Arc::clone(&state.paced).try_acquire_owned() else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [(axum::http::header::RETRY_AFTER, "1")],
            "too many paced runs at once",
        )
            .into_response();
    };
    let after = match publish_marker(&state.firehose).await {
        Ok(after) => after,
        Err(refused) => return refused,
    };
    let first = SEQ.fetch_add(u64::from(count), Ordering::Relaxed) + 1;
    let channel = state.firehose.clone();
    let rate = f64::from(request.rate);
    tokio::spawn(async move {
        // Its place is free again when the run ends.
        let _place = place;
        let start = tokio::time::Instant::now();
        let mut published = 0u32;
        let mut ticker = tokio::time::interval(std::time::Duration::from_millis(1));
        while published < count {
            ticker.tick().await;
            // Catch up with the schedule: as many as are due by now.
            let due = (start.elapsed().as_secs_f64() * rate)
                .ceil()
                .min(f64::from(count)) as u32;
            if due > published {
                let seqs: Vec<u64> = (published..due).map(|n| first + u64::from(n)).collect();
                if let Err(error) = publish_ticks(&channel, &seqs, now_millis).await {
                    tracing::error!("paced firehose: {error}");
                    return;
                }
                published = due;
            }
        }
    });
    Json(serde_json::json!({"first": first, "count": count, "after": after})).into_response()
}

async fn stream(State(state): State<Fixtures>, request: streams::StreamRequest) -> Response {
    streams::open(&state.demo, &state.firehose, &request)
}

async fn poll(
    State(state): State<Fixtures>,
    LastEventId(id): LastEventId,
    Query(query): Query<PollQuery>,
    peer: PeerIp,
) -> Response {
    streams::poll(&state.demo, &state.firehose, id.as_deref(), &query, peer).await
}
