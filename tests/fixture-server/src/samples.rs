//! `GET /api/samples/{encoding}?count=N`: the fixed series of [`Samples`] (`demo_events`),
//! batches 1 to N (default 1 000, at most 1 000 000) with their `seq` as the event ID, as JSON
//! (`json`, event type `samples`) or postcard (`postcard`, `samples-postcard`), then the end of
//! the stream, with a `retry: 100` hint. A reconnect with `Last-Event-ID: k` gets batches k+1 to N; once all are sent,
//! `204 No Content`, which tells a client the stream is over.
//!
//! The codec tests check every value a client decodes against [`Samples::nth`];
//! `cargo xtask bench codecs` measures decoding both encodings of the same series.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use demo_events::{BinarySamples, Samples};
use futures_util::stream;
use serde::Deserialize;
use tidings_axum::{EventStream, LastEventId};
use tidings_wire::{EncodeError, Frame, TypedEvent};

use crate::Fixtures;

/// Batches in a stream unless the request says otherwise.
const DEFAULT_COUNT: u64 = 1_000;
/// Batches in a stream at most.
const MAX_COUNT: u64 = 1_000_000;

/// `/api/samples/{encoding}`.
pub fn routes() -> Router<Fixtures> {
    Router::new().route("/{encoding}", get(samples))
}

#[derive(Debug, Deserialize)]
struct Count {
    count: Option<u64>,
}

async fn samples(
    State(state): State<Fixtures>,
    Path(encoding): Path<String>,
    LastEventId(last_event_id): LastEventId,
    Query(count): Query<Count>,
) -> Response {
    let frame: fn(u64) -> Result<Frame, EncodeError> = match encoding.as_str() {
        "json" => |seq| Samples::nth(seq).to_frame(),
        "postcard" => |seq| BinarySamples(Samples::nth(seq)).to_frame(),
        _ => {
            return (StatusCode::NOT_FOUND, "no such encoding: json or postcard").into_response();
        }
    };
    let count = count.count.unwrap_or(DEFAULT_COUNT).min(MAX_COUNT);
    let first = match last_event_id.as_deref().map(str::parse::<u64>) {
        None => 1,
        Some(Ok(last)) => last.saturating_add(1),
        Some(Err(_)) => {
            return (
                StatusCode::BAD_REQUEST,
                "Last-Event-ID is not a batch number",
            )
                .into_response();
        }
    };
    if first > count {
        return StatusCode::NO_CONTENT.into_response();
    }
    let frames = stream::iter((first..=count).filter_map(move |seq| {
        // `Samples` always serialises; a failure would end the stream early, and the test see it.
        frame(seq).ok().map(|frame| frame.id(&seq.to_string()))
    }));
    // A short `retry:`, so that a browser's `EventSource` comes back for its 204 at once.
    let stream = EventStream::new(frames).retry(std::time::Duration::from_millis(100));
    state.demo.until_closing(stream.into_response())
}
