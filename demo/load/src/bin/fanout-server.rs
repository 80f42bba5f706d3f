//! `fanout-server`: one broadcast feed, served two ways with the same routes, for `sse-load` to
//! measure side by side in one run.
//!
//! - `tidings`: a `tidings_axum::Channel` (replay log, resume, keep-alives) and its routes.
//! - `axum`: axum's own `Sse` over a `tokio::sync::broadcast` channel, as axum's SSE example
//!   writes it: each subscriber builds its own `Event` for every message (no replay, no resume).
//!
//! `GET /api/blog` streams `post` events; `POST /api/blog/posts` publishes its body as one.
//!
//! ```text
//! fanout-server tidings|axum <addr>
//! ```

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::{get, post};
use futures_util::{Stream, StreamExt};
use tidings_axum::Channel;
use tokio::sync::broadcast;
use tokio_stream::wrappers::BroadcastStream;

/// Bounded: the server stops by itself.
const LIFETIME: Duration = Duration::from_secs(600);

type Message = Arc<(String, String)>;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(which), Some(addr)) = (args.next(), args.next()) else {
        return Err("usage: fanout-server tidings|axum <addr>".into());
    };
    let app = match which.as_str() {
        "tidings" => tidings_app(),
        "axum" => axum_app(),
        other => return Err(format!("unknown server `{other}`").into()),
    };
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    tokio::select! {
        served = axum::serve(listener, app) => served?,
        () = tokio::time::sleep(LIFETIME) => {}
    }
    Ok(())
}

fn tidings_app() -> Router {
    let channel = Channel::new();
    let publish = |State(channel): State<Channel>, body: String| async move {
        channel.publish_data(Some("post"), &body)
    };
    channel
        .routes("/api/blog")
        .route("/api/blog/posts", post(publish))
        .with_state(channel)
}

fn axum_app() -> Router {
    let (sender, _) = broadcast::channel::<Message>(1024);
    let publish = |State(sender): State<broadcast::Sender<Message>>, body: String| async move {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let id = NEXT
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            .to_string();
        // No subscriber is not an error for a broadcast.
        let _ = sender.send(Arc::new((id.clone(), body)));
        id
    };
    Router::new()
        .route("/api/blog", get(stream))
        .route("/api/blog/posts", post(publish))
        .with_state(sender)
}

async fn stream(
    State(sender): State<broadcast::Sender<Message>>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let events = BroadcastStream::new(sender.subscribe()).filter_map(|message| async move {
        // A receiver that lagged loses the messages it missed: plain broadcast has no replay.
        let message = message.ok()?;
        let (id, data) = &*message;
        Some(Ok(Event::default().event("post").id(id).data(data)))
    });
    Sse::new(events).keep_alive(KeepAlive::default())
}
