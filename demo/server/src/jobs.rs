//! Long jobs: start one, and follow its `progress` events to `done`. Once a job is done and its
//! client has seen the end, reconnecting is answered `204 No Content`: the client stops for good.
//!
//! State is bounded: each client address runs at most `--max-jobs-per-client` jobs at once,
//! the server keeps at most [`MAX_JOBS`], and a finished job goes [`KEPT_AFTER_DONE`] after.

use std::collections::HashMap;
use std::net::IpAddr;
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
use crate::streams::{self, PeerIp, PollQuery, StreamRequest};

/// Jobs kept at most, running and finished: more are refused with `503` until some go.
pub const MAX_JOBS: usize = 256;

/// How long a finished job stays, for its client to see the end (then its stream is `404`).
pub const KEPT_AFTER_DONE: Duration = Duration::from_secs(60);

/// The jobs running, and those finished less than [`KEPT_AFTER_DONE`] ago.
#[derive(Debug, Clone, Default)]
pub struct Jobs {
    inner: Arc<Mutex<Inner>>,
}

#[derive(Debug, Default)]
struct Inner {
    jobs: HashMap<u64, Job>,
    /// Jobs running per client.
    running: HashMap<IpAddr, usize>,
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

/// A random job ID: it says nothing about how many jobs others started, and cannot be guessed
/// to follow someone else's job. Below 2^53, so that JavaScript reads it exactly too.
fn random_id() -> Option<u64> {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).ok()?;
    Some((u64::from_le_bytes(bytes) >> 11).max(1))
}

async fn start(
    State(state): State<AppState>,
    peer: PeerIp,
    Json(request): Json<Start>,
) -> Response {
    let step = Duration::from_millis(request.step_ms.clamp(1, 10_000));
    let client = peer.client();
    let channel = Channel::new();
    let id = {
        let mut inner = state.jobs.lock();
        if inner.jobs.len() >= MAX_JOBS {
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                [(axum::http::header::RETRY_AFTER, "10")],
                "too many jobs on this server: try again shortly",
            )
                .into_response();
        }
        let running = inner.running.get(&client).copied().unwrap_or(0);
        if running >= state.config.max_jobs_per_client {
            return (
                StatusCode::TOO_MANY_REQUESTS,
                [(axum::http::header::RETRY_AFTER, "5")],
                format!("at most {running} jobs at once: wait for one to finish"),
            )
                .into_response();
        }
        let Some(id) = random_id().filter(|id| !inner.jobs.contains_key(id)) else {
            return (StatusCode::SERVICE_UNAVAILABLE, "no job ID: try again").into_response();
        };
        inner.jobs.insert(
            id,
            Job {
                channel: channel.clone(),
                done_id: None,
            },
        );
        *inner.running.entry(client).or_insert(0) += 1;
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
        let done_id = channel
            .publish(&JobDone { job: id })
            .inspect_err(|error| tracing::error!(%error, "cannot publish the end of a job"))
            .ok();
        jobs.finished(id, client, done_id);
        tokio::time::sleep(KEPT_AFTER_DONE).await;
        jobs.lock().jobs.remove(&id);
    });
    (StatusCode::CREATED, Json(serde_json::json!({"job": id}))).into_response()
}

/// The job's stream; `204` for a client that has already seen it finish.
async fn stream(
    State(state): State<AppState>,
    Path(id): Path<u64>,
    request: StreamRequest,
) -> Response {
    let Some(job) = state.jobs.get(id) else {
        return (StatusCode::NOT_FOUND, "no such job").into_response();
    };
    if job.done_id.is_some() && job.done_id == request.last_event_id {
        return StatusCode::NO_CONTENT.into_response();
    }
    streams::open(&state, &job.channel.clone().into(), &request)
}

async fn poll(
    State(state): State<AppState>,
    Path(id): Path<u64>,
    LastEventId(last): LastEventId,
    Query(query): Query<PollQuery>,
    peer: PeerIp,
) -> Response {
    let Some(job) = state.jobs.get(id) else {
        return (StatusCode::NOT_FOUND, "no such job").into_response();
    };
    if job.done_id.is_some() && job.done_id == last {
        return StatusCode::NO_CONTENT.into_response();
    }
    streams::poll(
        &state,
        &job.channel.clone().into(),
        last.as_deref(),
        &query,
        peer,
    )
    .await
}

impl Jobs {
    /// How many jobs are kept now, running or finished.
    #[must_use]
    pub fn len(&self) -> usize {
        self.lock().jobs.len()
    }

    /// Whether no job is kept.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn get(&self, id: u64) -> Option<Job> {
        self.lock().jobs.get(&id).cloned()
    }

    /// `id`, started by `client`, is done: its client's quota frees up.
    fn finished(&self, id: u64, client: IpAddr, done_id: Option<String>) {
        let mut inner = self.lock();
        if let Some(job) = inner.jobs.get_mut(&id) {
            job.done_id = done_id;
        }
        if let Some(running) = inner.running.get_mut(&client) {
            *running -= 1;
            if *running == 0 {
                inner.running.remove(&client);
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
