//! Hostile and broken streams, for the browser tests' bad-input table.
//! Each `GET /api/hostile/<kind>` misbehaves in one way, then (but for `endless-line` and
//! `redirect-loop`) sends a well-formed `tick` so that a test can see the client carry on:
//!
//! | kind | what the server sends |
//! | --- | --- |
//! | `invalid-utf8` | tick 1 whose `symbol` holds the bytes `FF FE`, then tick 2 |
//! | `nul` | tick 1 (`id: 1`), tick 2 with `id: 2<NUL>x` (an ID the standard says to ignore), and a `note` event whose data holds a NUL |
//! | `huge-event?bytes=N` | tick 1 (`id: 1`), a `tick` of N bytes of data (default 2 MiB) with `id: huge`, then tick 2 (`id: 2`) |
//! | `endless-line` | `data: ` and then `a` without a line end, 64 KiB at a time, up to 64 MiB |
//! | `reset` | tick 1 (`id: 1`), half of tick 2, then a broken connection; resumed after `1`, tick 2 whole |
//! | `redirect-loop` | `307` to itself, for ever |
//!
//! Streams that do not end by themselves end when the faults are cleared (`DELETE /api/faults`).
//! At most [`MAX_HOSTILE`](crate::MAX_HOSTILE) are served at once; more get `503`.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use demo_events::Tick;
use futures_util::{StreamExt, stream};
use serde::Deserialize;
use tidings_axum::LastEventId;
use tidings_wire::TypedEvent;
use tokio::sync::OwnedSemaphorePermit;

use crate::Fixtures;

/// The size of `huge-event`'s event unless the request says otherwise.
const HUGE_EVENT: usize = 2 << 20;
/// What `endless-line` sends at most before giving up by itself.
const ENDLESS_LIMIT: usize = 64 << 20;
/// What `endless-line` sends at a time.
const ENDLESS_CHUNK: usize = 64 << 10;

/// `/api/hostile/{kind}`.
pub fn routes() -> Router<Fixtures> {
    Router::new().route("/{kind}", get(hostile))
}

#[derive(Debug, Deserialize)]
struct Size {
    bytes: Option<usize>,
}

/// Tick `seq` with ID `seq`, as a frame.
fn tick(seq: u64) -> String {
    let tick = Tick {
        symbol: "BAD".to_owned(),
        price: 1.0,
        seq,
    };
    tick.to_frame()
        .map(|frame| frame.id(&seq.to_string()).into_string())
        .unwrap_or_default()
}

async fn hostile(
    State(state): State<Fixtures>,
    Path(kind): Path<String>,
    LastEventId(last_event_id): LastEventId,
    Query(size): Query<Size>,
) -> Response {
    let Ok(place) = Arc::clone(&state.hostile).try_acquire_owned() else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, "1")],
            "too many hostile streams at once",
        )
            .into_response();
    };
    let body: Vec<u8> = match kind.as_str() {
        "invalid-utf8" => {
            let mut body =
                b"event: tick\nid: 1\ndata: {\"symbol\":\"\xFF\xFE\",\"price\":1.0,\"seq\":1}\n\n"
                    .to_vec();
            body.extend_from_slice(tick(2).as_bytes());
            body
        }
        "nul" => format!(
            "{}event: tick\nid: 2\0x\ndata: {{\"symbol\":\"BAD\",\"price\":1.0,\"seq\":2}}\n\n\
             event: note\ndata: a\0b\n\n",
            tick(1)
        )
        .into_bytes(),
        "huge-event" => {
            let bytes = size.bytes.unwrap_or(HUGE_EVENT).min(64 << 20);
            let line = "x".repeat(1023);
            let mut body = tick(1);
            body.push_str("event: tick\nid: huge\n");
            for _ in 0..bytes / 1024 {
                body.push_str("data: ");
                body.push_str(&line);
                body.push('\n');
            }
            body.push('\n');
            body.push_str(&tick(2));
            body.into_bytes()
        }
        "endless-line" => return endless_line(&state, place),
        "reset" => return reset(&state, last_event_id.as_deref(), place),
        "redirect-loop" => {
            return (
                StatusCode::TEMPORARY_REDIRECT,
                [(header::LOCATION, "/api/hostile/redirect-loop")],
            )
                .into_response();
        }
        _ => return (StatusCode::NOT_FOUND, "no such hostile stream").into_response(),
    };
    // The bytes, then an open stream that says nothing more (until the faults are cleared).
    let data = stream::once(async move { Ok::<_, std::io::Error>(Bytes::from(body)) })
        .chain(stream::pending());
    open(&state, data, place)
}

/// An event-stream response with `data`, ending when the faults are cleared or the server
/// stops, holding `place` until it ends.
fn open<S>(state: &Fixtures, data: S, place: OwnedSemaphorePermit) -> Response
where
    S: futures_util::Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static,
{
    let data = data.map(move |chunk| {
        let _held = &place;
        chunk
    });
    let body = Body::from_stream(data);
    let response = ([(header::CONTENT_TYPE, tidings_wire::CONTENT_TYPE)], body).into_response();
    state
        .demo
        .until_closing(state.faults.shape(response, false, None))
}

fn endless_line(state: &Fixtures, place: OwnedSemaphorePermit) -> Response {
    let chunk = Bytes::from(vec![b'a'; ENDLESS_CHUNK]);
    let start = stream::once(async { Ok(Bytes::from_static(b"data: ")) });
    let line = stream::iter(0..ENDLESS_LIMIT / ENDLESS_CHUNK).then(move |_| {
        let chunk = chunk.clone();
        async move {
            // A little pacing, so that the client reads as it goes.
            tokio::time::sleep(Duration::from_millis(1)).await;
            Ok(chunk)
        }
    });
    open(state, start.chain(line), place)
}

fn reset(state: &Fixtures, last_event_id: Option<&str>, place: OwnedSemaphorePermit) -> Response {
    let data = match last_event_id {
        None => {
            let mut first = tick(1);
            let second = tick(2);
            first.push_str(&second[..second.len() / 2]);
            let broken = async {
                // Long enough for the first part to be written out before the connection breaks.
                tokio::time::sleep(Duration::from_millis(200)).await;
                Err(std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "reset",
                ))
            };
            stream::once(async { Ok(Bytes::from(first)) })
                .chain(stream::once(broken))
                .boxed()
        }
        Some("1") => stream::once(async { Ok(Bytes::from(tick(2))) })
            .chain(stream::pending())
            .boxed(),
        Some(_) => stream::pending().boxed(),
    };
    open(state, data, place)
}
