//! Per-user notifications: a user signs in (see [`crate::auth`]), and their stream carries only
//! their own notifications. Without a session the stream answers `401`; only an admin sends.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use demo_events::Notification;
use serde::Deserialize;
use tidings_axum::{Channel, LastEventId};

use crate::AppState;
use crate::auth::{Admin, SignedIn};
use crate::streams::{self, PeerIp, PollQuery, StreamRequest};

/// One channel per account, made on first use (accounts are fixed, so channels are bounded).
#[derive(Debug, Clone, Default)]
pub struct Notifications {
    channels: Arc<Mutex<HashMap<String, Channel>>>,
}

impl Notifications {
    /// The channel of `user`.
    pub fn channel(&self, user: &str) -> Channel {
        self.channels
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(user.to_owned())
            .or_default()
            .clone()
    }
}

/// `/api/notifications` (the signed-in user's stream, its poll, and sending one, for admins).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/notifications", get(stream).post(send))
        .route("/notifications/poll", get(poll))
}

async fn stream(
    State(state): State<AppState>,
    SignedIn { user, .. }: SignedIn,
    request: StreamRequest,
) -> Response {
    streams::open(&state, &state.notifications.channel(&user).into(), &request)
}

async fn poll(
    State(state): State<AppState>,
    SignedIn { user, .. }: SignedIn,
    LastEventId(id): LastEventId,
    Query(query): Query<PollQuery>,
    peer: PeerIp,
) -> Response {
    streams::poll(
        &state,
        &state.notifications.channel(&user).into(),
        id.as_deref(),
        &query,
        peer,
    )
    .await
}

#[derive(Debug, Deserialize)]
struct Outgoing {
    user: String,
    text: String,
}

/// The longest notification text.
const MAX_TEXT: usize = 1_000;

/// Sends a notification to one user: for admins only.
async fn send(
    State(state): State<AppState>,
    Admin(_): Admin,
    Json(request): Json<Outgoing>,
) -> Response {
    if !state.accounts.exists(&request.user) {
        return (StatusCode::NOT_FOUND, "no such user").into_response();
    }
    if request.text.chars().count() > MAX_TEXT {
        return (
            StatusCode::PAYLOAD_TOO_LARGE,
            "a notification is at most 1000 characters",
        )
            .into_response();
    }
    let notification = Notification {
        user: request.user.clone(),
        text: request.text,
    };
    match state
        .notifications
        .channel(&request.user)
        .publish(&notification)
    {
        Ok(id) => (StatusCode::CREATED, Json(serde_json::json!({"id": id}))).into_response(),
        Err(error) => crate::publish_failed(&error),
    }
}
