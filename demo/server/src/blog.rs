//! The live blog: posts appear, change and disappear live; view counts tick up. The admin side
//! publishes through a small JSON API.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use demo_events::{Post, PostDeleted, PostUpdated, Views};
use serde::Deserialize;
use tidings_axum::LastEventId;

use crate::streams::{self, PeerIp, PollQuery};
use tidings_axum::AnyChannel;

use crate::AppState;

/// The blog's posts, newest last, and the channel their changes go out on.
#[derive(Debug, Clone)]
pub struct Blog {
    posts: Arc<Mutex<BTreeMap<u64, Post>>>,
    /// The stream of `post`, `update`, `delete` and `views` events.
    pub channel: AnyChannel,
}

/// `/api/blog` (stream), `/api/blog/poll`, and `/api/blog/posts` for the admin side.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(stream))
        .route("/poll", get(poll))
        .route("/posts", get(list).post(create))
        .route("/posts/{id}", put(update).delete(remove))
        .route("/posts/{id}/view", post(view))
}

/// A post as the admin form sends it.
#[derive(Debug, Deserialize)]
pub struct Draft {
    title: String,
    body: String,
}

async fn stream(
    State(state): State<AppState>,
    LastEventId(id): LastEventId,
    peer: PeerIp,
) -> Response {
    streams::open(&state, &state.blog.channel, id.as_deref(), peer)
}

async fn poll(
    State(state): State<AppState>,
    LastEventId(id): LastEventId,
    Query(query): Query<PollQuery>,
) -> Response {
    streams::poll(&state, &state.blog.channel, id.as_deref(), &query).await
}

/// Every post, oldest first: the snapshot a page loads before following the stream.
async fn list(State(state): State<AppState>) -> Json<Vec<Post>> {
    Json(state.blog.posts())
}

async fn create(State(state): State<AppState>, Json(draft): Json<Draft>) -> Response {
    if draft.title.trim().is_empty() {
        return (StatusCode::UNPROCESSABLE_ENTITY, "a post needs a title").into_response();
    }
    let post = {
        let mut posts = state.blog.lock();
        let id = posts.keys().next_back().map_or(1, |last| last + 1);
        let post = Post {
            id,
            title: draft.title,
            body: draft.body,
            views: 0,
        };
        posts.insert(id, post.clone());
        post
    };
    publish(&state.blog.channel, &post).await;
    (StatusCode::CREATED, Json(post)).into_response()
}

async fn update(
    State(state): State<AppState>,
    Path(id): Path<u64>,
    Json(draft): Json<Draft>,
) -> Response {
    let post = {
        let mut posts = state.blog.lock();
        let Some(post) = posts.get_mut(&id) else {
            return (StatusCode::NOT_FOUND, "no such post").into_response();
        };
        post.title = draft.title;
        post.body = draft.body;
        post.clone()
    };
    publish(&state.blog.channel, &PostUpdated { post: post.clone() }).await;
    Json(post).into_response()
}

async fn remove(State(state): State<AppState>, Path(id): Path<u64>) -> StatusCode {
    if state.blog.lock().remove(&id).is_none() {
        return StatusCode::NOT_FOUND;
    }
    publish(&state.blog.channel, &PostDeleted { id }).await;
    StatusCode::NO_CONTENT
}

async fn view(State(state): State<AppState>, Path(id): Path<u64>) -> Response {
    let views = {
        let mut posts = state.blog.lock();
        let Some(post) = posts.get_mut(&id) else {
            return (StatusCode::NOT_FOUND, "no such post").into_response();
        };
        post.views += 1;
        Views {
            id,
            views: post.views,
        }
    };
    publish(&state.blog.channel, &views).await;
    Json(views).into_response()
}

async fn publish<T: tidings_axum::TypedEvent>(channel: &AnyChannel, event: &T) {
    if let Err(error) = channel.publish(event).await {
        tracing::error!(
            error = &error as &dyn std::error::Error,
            "cannot publish a blog event"
        );
    }
}

impl Blog {
    /// An empty blog whose events go out on `channel`.
    pub fn new(channel: AnyChannel) -> Self {
        Self {
            posts: Arc::default(),
            channel,
        }
    }

    /// Every post, oldest first.
    pub fn posts(&self) -> Vec<Post> {
        self.lock().values().cloned().collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Post>> {
        self.posts.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
