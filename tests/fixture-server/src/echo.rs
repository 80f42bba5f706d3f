//! `GET`/`POST /api/echo`: one `echo` event describing the request (method, HTTP version,
//! the `Authorization`, `X-Custom` and `Last-Event-ID` headers, and the body), after which the
//! stream ends, so that the client reconnects. For testing what clients send.

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, Method, Version};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures_util::stream;
use tidings_axum::{EventStream, Frame};

use crate::Fixtures;

/// `/api/echo`.
pub fn routes() -> Router<Fixtures> {
    Router::new().route("/", get(echo).post(echo))
}

async fn echo(method: Method, version: Version, headers: HeaderMap, body: Bytes) -> Response {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let data = serde_json::json!({
        "method": method.as_str(),
        "version": format!("{version:?}"),
        "authorization": header("authorization"),
        "custom": header("x-custom"),
        "last_event_id": header("last-event-id"),
        "body": String::from_utf8_lossy(&body),
    });
    let frame = Frame::new()
        .event("echo")
        .id("echo-1")
        .data(&data.to_string());
    EventStream::new(stream::iter([frame])).into_response()
}
