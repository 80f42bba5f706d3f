//! Per-user notifications: a user signs in (a cookie), and their stream carries only their own
//! notifications. Without the cookie the stream answers `401`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use axum::extract::{FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use demo_events::Notification;
use serde::Deserialize;
use tidings_axum::{Channel, LastEventId};

use crate::AppState;
use crate::streams::{self, PeerIp, PollQuery};

/// The cookie that holds the signed-in user's name. (A demo: a real app signs its cookies.)
pub const SESSION_COOKIE: &str = "tidings_user";

/// One channel per user, made on first use.
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

/// `/api/session` (sign in and out), `/api/notifications` (the signed-in user's stream, its poll,
/// and sending one).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/session", post(sign_in).delete(sign_out).get(whoami))
        .route("/notifications", get(stream).post(send))
        .route("/notifications/poll", get(poll))
}

/// The signed-in user, from the session cookie; `401` without one.
#[derive(Debug)]
pub struct SignedIn(pub String);

impl<S: Send + Sync> FromRequestParts<S> for SignedIn {
    type Rejection = (StatusCode, &'static str);

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|cookies| cookies.split(';'))
            .filter_map(|cookie| cookie.trim().split_once('='))
            .find(|(name, value)| *name == SESSION_COOKIE && valid_user(value))
            .map(|(_, user)| Self(user.to_owned()))
            .ok_or((
                StatusCode::UNAUTHORIZED,
                "sign in first (POST /api/session)",
            ))
    }
}

/// User names are short and plain, so that they are safe in a cookie.
fn valid_user(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 32
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[derive(Debug, Deserialize)]
struct SignIn {
    user: String,
}

async fn sign_in(Json(request): Json<SignIn>) -> Response {
    if !valid_user(&request.user) {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            "user names are 1-32 letters, digits, - or _",
        )
            .into_response();
    }
    let cookie = format!(
        "{SESSION_COOKIE}={}; Path=/; HttpOnly; SameSite=Lax",
        request.user
    );
    match HeaderValue::from_str(&cookie) {
        Ok(cookie) => (
            [(header::SET_COOKIE, cookie)],
            Json(serde_json::json!({"user": request.user})),
        )
            .into_response(),
        Err(_) => StatusCode::UNPROCESSABLE_ENTITY.into_response(),
    }
}

async fn sign_out() -> Response {
    let cookie = format!("{SESSION_COOKIE}=; Path=/; Max-Age=0");
    match HeaderValue::from_str(&cookie) {
        Ok(cookie) => ([(header::SET_COOKIE, cookie)], StatusCode::NO_CONTENT).into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

async fn whoami(SignedIn(user): SignedIn) -> Json<serde_json::Value> {
    Json(serde_json::json!({"user": user}))
}

async fn stream(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    LastEventId(id): LastEventId,
    peer: PeerIp,
) -> Response {
    streams::open(
        &state,
        &state.notifications.channel(&user).into(),
        id.as_deref(),
        peer,
    )
}

async fn poll(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    LastEventId(id): LastEventId,
    Query(query): Query<PollQuery>,
) -> Response {
    streams::poll(
        &state,
        &state.notifications.channel(&user).into(),
        id.as_deref(),
        &query,
    )
    .await
}

#[derive(Debug, Deserialize)]
struct Outgoing {
    user: String,
    text: String,
}

/// Sends a notification to one user (the demo's admin side: anyone may send).
async fn send(State(state): State<AppState>, Json(request): Json<Outgoing>) -> Response {
    if !valid_user(&request.user) {
        return (StatusCode::UNPROCESSABLE_ENTITY, "no such user name").into_response();
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
        Err(error) => (StatusCode::INTERNAL_SERVER_ERROR, error.to_string()).into_response(),
    }
}
