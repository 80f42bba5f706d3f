//! Fault injection, for the browser tests and the demo's chaos panel: `/api/faults` takes
//! orders, and [`inject`] carries them out on the demo's streams and polls.
//!
//! | request | effect |
//! | --- | --- |
//! | `GET /api/faults` | the faults in force, as JSON |
//! | `POST /api/faults/drop` | every open stream ends now (clients see a dropped connection) |
//! | `POST /api/faults/fail` `{"count":N,"status":S,"retry_after":R}` | the next N stream requests get status S (default 503), with `Retry-After: R` if given |
//! | `POST /api/faults/wrong-content-type` `{"count":N}` | the next N get `200 text/plain` |
//! | `POST /api/faults/stall` `{"on":true}` | new streams send their headers, then nothing (as behind a buffering proxy) |
//! | `POST /api/faults/slow` `{"delay_ms":D}` | new streams wait D ms before each write |
//! | `DELETE /api/faults` | clears every fault, and ends stalled streams |

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{OriginalUri, Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::Fixtures;

/// The faults in force.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FaultState {
    /// Stream requests still to fail, and with which status.
    pub fail_next: u32,
    /// The status they fail with.
    pub fail_status: u16,
    /// The `Retry-After` they carry, in seconds (none if `None`).
    pub fail_retry_after: Option<u32>,
    /// Stream requests still to answer with the wrong content type.
    pub wrong_type_next: u32,
    /// Whether new streams stall.
    pub stall: bool,
    /// Delay before each write of new streams, in milliseconds (0: none).
    pub slow_ms: u64,
}

/// What a stream request is to get.
pub enum Verdict {
    /// Serve it, shaped by these faults.
    Serve {
        /// Send the headers, then nothing.
        stall: bool,
        /// Wait this long before each write.
        slow: Option<Duration>,
    },
    /// Refuse it with this response.
    Refuse(Response),
}

/// The fault injector: see the [module documentation](self).
#[derive(Debug, Clone)]
pub struct Faults {
    state: Arc<Mutex<FaultState>>,
    /// Bumped to end open streams: every stream ends when it changes.
    generation: watch::Sender<u64>,
}

impl Faults {
    /// An injector with no fault in force.
    pub fn new() -> Self {
        Self {
            state: Arc::new(Mutex::new(FaultState::default())),
            generation: watch::Sender::new(0),
        }
    }

    /// Decides what the next stream request gets, using up one count of a fault.
    pub fn verdict(&self) -> Verdict {
        let mut state = self.lock();
        if state.fail_next > 0 {
            state.fail_next -= 1;
            let status =
                StatusCode::from_u16(state.fail_status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            let mut response = (status, "injected failure").into_response();
            if let Some(seconds) = state.fail_retry_after {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, header::HeaderValue::from(seconds));
            }
            return Verdict::Refuse(response);
        }
        if state.wrong_type_next > 0 {
            state.wrong_type_next -= 1;
            let response = (
                [(header::CONTENT_TYPE, "text/plain")],
                "this is not an event stream",
            );
            return Verdict::Refuse(response.into_response());
        }
        Verdict::Serve {
            stall: state.stall,
            slow: (state.slow_ms > 0).then(|| Duration::from_millis(state.slow_ms)),
        }
    }

    /// Shapes a stream response: it ends when streams are dropped, and stalls or slows as told.
    pub fn shape(&self, response: Response, stall: bool, slow: Option<Duration>) -> Response {
        let mut generation = self.generation.subscribe();
        let dropped = async move {
            generation.mark_unchanged();
            let _ = generation.changed().await;
        };
        response.map(|body| {
            let data = body.into_data_stream();
            let data = if stall {
                // Headers, then nothing: the body never yields until dropped.
                futures_util::stream::pending().boxed()
            } else if let Some(delay) = slow {
                data.then(move |chunk| async move {
                    tokio::time::sleep(delay).await;
                    chunk
                })
                .boxed()
            } else {
                data.boxed()
            };
            Body::from_stream(data.take_until(dropped))
        })
    }

    /// Ends every open stream.
    pub fn drop_streams(&self) {
        self.generation.send_modify(|generation| *generation += 1);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, FaultState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Default for Faults {
    fn default() -> Self {
        Self::new()
    }
}

/// Which of the demo's endpoints a path is: faults apply to streams and polls only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    Stream,
    Poll,
}

/// The demo's streams: `/api/ticker`, `/api/blog`, `/api/notifications`, `/api/firehose`,
/// `/api/jobs/{id}`, and each one's `/poll`.
fn endpoint(path: &str) -> Option<Endpoint> {
    let (path, kind) = match path.strip_suffix("/poll") {
        Some(stream) => (stream, Endpoint::Poll),
        None => (path, Endpoint::Stream),
    };
    let is_stream = matches!(
        path,
        "/api/ticker" | "/api/blog" | "/api/notifications" | "/api/firehose"
    ) || path
        .strip_prefix("/api/jobs/")
        .is_some_and(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()));
    is_stream.then_some(kind)
}

/// The middleware that carries out the faults in force: a stream or poll request is refused
/// when told, and a stream's body ends when streams are dropped, stalls or slows down.
pub async fn inject(State(faults): State<Faults>, request: Request, next: Next) -> Response {
    // The whole path: under `nest`, the request's own URI has lost the `/api` prefix.
    let path = request
        .extensions()
        .get::<OriginalUri>()
        .map_or_else(|| request.uri().path(), |original| original.path());
    let kind = (request.method() == Method::GET)
        .then(|| endpoint(path))
        .flatten();
    let Some(kind) = kind else {
        return next.run(request).await;
    };
    match faults.verdict() {
        Verdict::Refuse(response) => response,
        Verdict::Serve { stall, slow } => {
            let response = next.run(request).await;
            let streaming = response
                .headers()
                .get(header::CONTENT_TYPE)
                .is_some_and(|value| value.as_bytes().starts_with(b"text/event-stream"));
            if kind == Endpoint::Stream && streaming {
                faults.shape(response, stall, slow)
            } else {
                response
            }
        }
    }
}

/// `/api/faults/...`.
pub fn routes() -> Router<Fixtures> {
    Router::new()
        .route("/", get(show).delete(clear))
        .route("/drop", post(drop_all))
        .route("/fail", post(fail))
        .route("/wrong-content-type", post(wrong_type))
        .route("/stall", post(stall))
        .route("/slow", post(slow))
        .route("/clear", delete(clear))
}

type Answer = Result<Json<FaultState>, (StatusCode, &'static str)>;

async fn show(State(state): State<Fixtures>) -> Answer {
    Ok(Json(state.faults.lock().clone()))
}

async fn clear(State(state): State<Fixtures>) -> Answer {
    let faults = &state.faults;
    *faults.lock() = FaultState::default();
    faults.drop_streams();
    Ok(Json(FaultState::default()))
}

async fn drop_all(State(state): State<Fixtures>) -> Answer {
    let faults = &state.faults;
    faults.drop_streams();
    Ok(Json(faults.lock().clone()))
}

#[derive(Deserialize)]
struct Fail {
    count: u32,
    #[serde(default = "service_unavailable")]
    status: u16,
    #[serde(default)]
    retry_after: Option<u32>,
}

fn service_unavailable() -> u16 {
    503
}

async fn fail(State(state): State<Fixtures>, Json(order): Json<Fail>) -> Answer {
    let faults = &state.faults;
    if StatusCode::from_u16(order.status).is_err() {
        return Err((StatusCode::BAD_REQUEST, "not an HTTP status"));
    }
    let mut fault = faults.lock();
    fault.fail_next = order.count;
    fault.fail_status = order.status;
    fault.fail_retry_after = order.retry_after;
    Ok(Json(fault.clone()))
}

#[derive(Deserialize)]
struct Count {
    count: u32,
}

async fn wrong_type(State(state): State<Fixtures>, Json(order): Json<Count>) -> Answer {
    let faults = &state.faults;
    let mut fault = faults.lock();
    fault.wrong_type_next = order.count;
    Ok(Json(fault.clone()))
}

#[derive(Deserialize)]
struct Toggle {
    on: bool,
}

async fn stall(State(state): State<Fixtures>, Json(order): Json<Toggle>) -> Answer {
    let faults = &state.faults;
    let snapshot = {
        let mut fault = faults.lock();
        fault.stall = order.on;
        fault.clone()
    };
    if !order.on {
        // Lifting the fault ends the stalled streams, so that their clients reconnect.
        faults.drop_streams();
    }
    Ok(Json(snapshot))
}

#[derive(Deserialize)]
struct Slow {
    delay_ms: u64,
}

async fn slow(State(state): State<Fixtures>, Json(order): Json<Slow>) -> Answer {
    let faults = &state.faults;
    let mut fault = faults.lock();
    fault.slow_ms = order.delay_ms;
    Ok(Json(fault.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_apply_to_the_demos_streams_and_polls_only() {
        for (path, kind) in [
            ("/api/ticker", Some(Endpoint::Stream)),
            ("/api/blog/poll", Some(Endpoint::Poll)),
            ("/api/jobs/123", Some(Endpoint::Stream)),
            ("/api/jobs/123/poll", Some(Endpoint::Poll)),
            ("/api/blog/posts", None),
            ("/api/jobs/", None),
            ("/api/session", None),
            ("/api/faults/drop", None),
        ] {
            assert_eq!(endpoint(path), kind, "{path}");
        }
    }
}
