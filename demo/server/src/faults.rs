//! Fault injection, for the browser tests and the demo's chaos panel. Off unless the server is
//! started with `--faults`; then `/api/faults` takes orders:
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
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::AppState;

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
    enabled: bool,
    state: Arc<Mutex<FaultState>>,
    /// Bumped to end open streams: every stream ends when it changes.
    generation: watch::Sender<u64>,
}

impl Faults {
    /// An injector; it injects nothing unless `enabled`.
    pub fn new(enabled: bool) -> Self {
        Self {
            enabled,
            state: Arc::new(Mutex::new(FaultState::default())),
            generation: watch::Sender::new(0),
        }
    }

    /// Decides what the next stream request gets, using up one count of a fault.
    pub fn verdict(&self) -> Verdict {
        if !self.enabled {
            return Verdict::Serve {
                stall: false,
                slow: None,
            };
        }
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

/// `/api/faults/...`, answering 404 when fault injection is off.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(show).delete(clear))
        .route("/drop", post(drop_all))
        .route("/fail", post(fail))
        .route("/wrong-content-type", post(wrong_type))
        .route("/stall", post(stall))
        .route("/slow", post(slow))
        .route("/clear", delete(clear))
}

fn enabled(state: &AppState) -> Result<&Faults, (StatusCode, &'static str)> {
    if state.faults.enabled {
        Ok(&state.faults)
    } else {
        Err((
            StatusCode::NOT_FOUND,
            "fault injection is off: start the server with --faults",
        ))
    }
}

type Answer = Result<Json<FaultState>, (StatusCode, &'static str)>;

async fn show(State(state): State<AppState>) -> Answer {
    Ok(Json(enabled(&state)?.lock().clone()))
}

async fn clear(State(state): State<AppState>) -> Answer {
    let faults = enabled(&state)?;
    *faults.lock() = FaultState::default();
    faults.drop_streams();
    Ok(Json(FaultState::default()))
}

async fn drop_all(State(state): State<AppState>) -> Answer {
    let faults = enabled(&state)?;
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

async fn fail(State(state): State<AppState>, Json(order): Json<Fail>) -> Answer {
    let faults = enabled(&state)?;
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

async fn wrong_type(State(state): State<AppState>, Json(order): Json<Count>) -> Answer {
    let faults = enabled(&state)?;
    let mut fault = faults.lock();
    fault.wrong_type_next = order.count;
    Ok(Json(fault.clone()))
}

#[derive(Deserialize)]
struct Toggle {
    on: bool,
}

async fn stall(State(state): State<AppState>, Json(order): Json<Toggle>) -> Answer {
    let faults = enabled(&state)?;
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

async fn slow(State(state): State<AppState>, Json(order): Json<Slow>) -> Answer {
    let faults = enabled(&state)?;
    let mut fault = faults.lock();
    fault.slow_ms = order.delay_ms;
    Ok(Json(fault.clone()))
}
