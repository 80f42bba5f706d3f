//! The live blog: posts appear, change and disappear live; view counts tick up. An admin writes
//! through a small JSON API (see [`crate::auth`]).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use demo_events::{Post, PostDeleted, PostUpdated, Views};
use serde::Deserialize;
use tidings_axum::LastEventId;

use crate::streams::{self, PeerIp, PollQuery, StreamRequest};
use tidings_axum::AnyChannel;

use crate::AppState;
use crate::auth::Admin;

/// The blog's posts, newest last, and the channel their changes go out on.
#[derive(Debug, Clone)]
pub struct Blog {
    posts: Arc<Mutex<BTreeMap<u64, Post>>>,
    /// The next post's ID.
    next_id: Arc<AtomicU64>,
    /// Held while a change is published and made: one at a time.
    writing: Arc<tokio::sync::Mutex<()>>,
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

async fn stream(State(state): State<AppState>, request: StreamRequest) -> Response {
    streams::open(&state, &state.blog.channel, &request)
}

async fn poll(
    State(state): State<AppState>,
    LastEventId(id): LastEventId,
    Query(query): Query<PollQuery>,
    peer: PeerIp,
) -> Response {
    streams::poll(&state, &state.blog.channel, id.as_deref(), &query, peer).await
}

/// Every post, oldest first: the snapshot a page loads before following the stream.
async fn list(State(state): State<AppState>) -> Json<Vec<Post>> {
    Json(state.blog.posts())
}

/// Posts kept at most: the admin deletes one to write another.
pub const MAX_POSTS: usize = 200;
/// The longest title, in characters.
const MAX_TITLE: usize = 200;
/// The longest body, in characters.
const MAX_TEXT: usize = 20_000;

impl Draft {
    /// `Err` with the answer when the draft cannot be a post.
    fn check(&self) -> Result<(), (StatusCode, &'static str)> {
        if self.title.trim().is_empty() {
            return Err((StatusCode::UNPROCESSABLE_ENTITY, "a post needs a title"));
        }
        if self.title.chars().count() > MAX_TITLE || self.body.chars().count() > MAX_TEXT {
            return Err((
                StatusCode::PAYLOAD_TOO_LARGE,
                "a title is at most 200 characters, a body at most 20 000",
            ));
        }
        Ok(())
    }
}

// Every change is published before it is made, one change at a time: if the event cannot go
// out, the change is not made (`503`), so the posts a page loads and the events it follows
// never disagree.

async fn create(
    State(state): State<AppState>,
    Admin(_): Admin,
    Json(draft): Json<Draft>,
) -> Response {
    if let Err(refused) = draft.check() {
        return refused.into_response();
    }
    let blog = &state.blog;
    let _writing = blog.writing.lock().await;
    if blog.lock().len() >= MAX_POSTS {
        return (
            StatusCode::CONFLICT,
            "the blog is full (200 posts): delete one first",
        )
            .into_response();
    }
    // Never reused, even after a delete: a client never applies an update to the wrong post.
    let id = blog.next_id.fetch_add(1, Ordering::Relaxed);
    let post = Post {
        id,
        title: draft.title,
        body: draft.body,
        views: 0,
    };
    if let Err(failed) = publish(&blog.channel, &post).await {
        return failed;
    }
    blog.lock().insert(id, post.clone());
    (StatusCode::CREATED, Json(post)).into_response()
}

async fn update(
    State(state): State<AppState>,
    Admin(_): Admin,
    Path(id): Path<u64>,
    Json(draft): Json<Draft>,
) -> Response {
    if let Err(refused) = draft.check() {
        return refused.into_response();
    }
    let blog = &state.blog;
    let _writing = blog.writing.lock().await;
    let Some(mut post) = blog.lock().get(&id).cloned() else {
        return (StatusCode::NOT_FOUND, "no such post").into_response();
    };
    post.title = draft.title;
    post.body = draft.body;
    if let Err(failed) = publish(&blog.channel, &PostUpdated { post: post.clone() }).await {
        return failed;
    }
    blog.lock().insert(id, post.clone());
    Json(post).into_response()
}

async fn remove(State(state): State<AppState>, Admin(_): Admin, Path(id): Path<u64>) -> Response {
    let blog = &state.blog;
    let _writing = blog.writing.lock().await;
    if !blog.lock().contains_key(&id) {
        return StatusCode::NOT_FOUND.into_response();
    }
    if let Err(failed) = publish(&blog.channel, &PostDeleted { id }).await {
        return failed;
    }
    blog.lock().remove(&id);
    StatusCode::NO_CONTENT.into_response()
}

/// Counts a view: anyone may (the guard keeps other sites from doing it for them).
async fn view(State(state): State<AppState>, Path(id): Path<u64>) -> Response {
    let blog = &state.blog;
    let _writing = blog.writing.lock().await;
    let Some(views) = blog.lock().get(&id).map(|post| Views {
        id,
        views: post.views + 1,
    }) else {
        return (StatusCode::NOT_FOUND, "no such post").into_response();
    };
    if let Err(failed) = publish(&blog.channel, &views).await {
        return failed;
    }
    if let Some(post) = blog.lock().get_mut(&id) {
        post.views = views.views;
    }
    Json(views).into_response()
}

async fn publish<T: tidings_axum::TypedEvent>(
    channel: &AnyChannel,
    event: &T,
) -> Result<(), Response> {
    channel
        .publish(event)
        .await
        .map(drop)
        .map_err(|error| crate::publish_failed(&error))
}

impl Blog {
    /// An empty blog whose events go out on `channel`.
    pub fn new(channel: AnyChannel) -> Self {
        Self {
            posts: Arc::default(),
            next_id: Arc::new(AtomicU64::new(1)),
            writing: Arc::default(),
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
