//! Long jobs: start one, and follow its `progress` events to `done`. Once a job is done and its
//! client has seen the end, reconnecting is answered `204 No Content`: the client stops for good.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use demo_events::{JobDone, Progress};
use serde::Deserialize;
use tidings_axum::{Channel, LastEventId};

use crate::AppState;
use crate::streams::{self, PeerIp, PollQuery};

/// The jobs started so far.
#[derive(Debug, Clone, Default)]
pub struct Jobs {
    jobs: Arc<Mutex<HashMap<u64, Job>>>,
}

#[derive(Debug, Clone)]
struct Job {
    channel: Channel,
    done_id: Option<String>,
}

/// `/api/jobs` (start one) and `/api/jobs/{id}` (its stream) and `/api/jobs/{id}/poll`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", post(start))
        .route("/{id}", get(stream))
        .route("/{id}/poll", get(poll))
}

#[derive(Debug, Deserialize)]
struct Start {
    /// How long each percent takes, in milliseconds (default 50: five seconds in all).
    #[serde(default = "default_step")]
    step_ms: u64,
}

fn default_step() -> u64 {
    50
}

async fn start(State(state): State<AppState>, Json(request): Json<Start>) -> Response {
    let step = Duration::from_millis(request.step_ms.clamp(1, 10_000));
    let channel = Channel::new();
    let id = {
        let mut jobs = state.jobs.lock();
        let id = jobs.keys().max().map_or(1, |last| last + 1);
        jobs.insert(
            id,
            Job {
                channel: channel.clone(),
                done_id: None,
            },
        );
        id
    };
    let jobs = state.jobs.clone();
    tokio::spawn(async move {
        for percent in 0..=100u8 {
            if let Err(error) = channel.publish(&Progress { job: id, percent }) {
                tracing::error!(%error, "cannot publish progress");
            }
            tokio::time::sleep(step).await;
        }
        match channel.publish(&JobDone { job: id }) {
            Ok(done_id) => {
                if let Some(job) = jobs.lock().get_mut(&id) {
                    job.done_id = Some(done_id);
                }
            }
            Err(error) => tracing::error!(%error, "cannot publish the end of a job"),
        }
    });
    (StatusCode::CREATED, Json(serde_json::json!({"job": id}))).into_response()
}

/// The job's stream; `204` for a client that has already seen it finish.
async fn stream(
    State(state): State<AppState>,
    Path(id): Path<u64>,
    LastEventId(last): LastEventId,
    peer: PeerIp,
) -> Response {
    let Some(job) = state.jobs.lock().get(&id).cloned() else {
        return (StatusCode::NOT_FOUND, "no such job").into_response();
    };
    if job.done_id.is_some() && job.done_id == last {
        return StatusCode::NO_CONTENT.into_response();
    }
    streams::open(&state, &job.channel.clone().into(), last.as_deref(), peer)
}

async fn poll(
    State(state): State<AppState>,
    Path(id): Path<u64>,
    LastEventId(last): LastEventId,
    Query(query): Query<PollQuery>,
) -> Response {
    let Some(job) = state.jobs.lock().get(&id).cloned() else {
        return (StatusCode::NOT_FOUND, "no such job").into_response();
    };
    if job.done_id.is_some() && job.done_id == last {
        return StatusCode::NO_CONTENT.into_response();
    }
    streams::poll(&state, &job.channel.clone().into(), last.as_deref(), &query).await
}

impl Jobs {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Job>> {
        self.jobs.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
