//! `stream-heap`: the heap one idle SSE response body holds, tidings' beside plain axum's,
//! counted by the allocator (no sockets, no hyper: what each server keeps per stream beyond the
//! connection itself). The fan-out benchmark's "memory per stream" is this plus the connection.
//!
//! ```text
//! stream-heap [N]
//! ```

use std::alloc::System;
use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::{Body, HttpBody as _};
use axum::response::IntoResponse;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::StreamExt;
use stats_alloc::{INSTRUMENTED_SYSTEM, StatsAlloc};
use tidings_axum::Channel;
use tokio::sync::broadcast;
use tokio_stream::wrappers::BroadcastStream;

/// Counts what is allocated and freed (`stats_alloc`: the unsafe part is in that crate).
#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// The bytes live on the heap now.
fn live() -> isize {
    let stats = GLOBAL.stats();
    stats.bytes_allocated.cast_signed() - stats.bytes_deallocated.cast_signed()
        + stats.bytes_reallocated
}

type Message = Arc<(String, String)>;

/// Polls `body` once, as hyper does when it starts sending: its futures are set up, and it
/// waits (no event yet).
fn poll_once(body: &mut Body) {
    let waker = futures_util::task::noop_waker();
    let mut context = Context::from_waker(&waker);
    let frame = std::pin::Pin::new(body).poll_frame(&mut context);
    assert!(
        matches!(frame, Poll::Pending),
        "an idle stream has nothing to send"
    );
}

/// The heap per body that `make` returns, over `n` of them, in bytes.
fn per_body(n: usize, mut make: impl FnMut() -> Body) -> f64 {
    let mut bodies: Vec<Body> = Vec::with_capacity(n);
    let before = live();
    for _ in 0..n {
        let mut body = make();
        poll_once(&mut body);
        bodies.push(body);
    }
    let held = live() - before;
    drop(bodies);
    held as f64 / n as f64
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(10_000);
    let channel = Channel::new();
    // Warm up: the channel's first subscriber starts its expiry task.
    drop(channel.subscribe(None).into_response());
    let tidings = per_body(n, || channel.subscribe(None).into_response().into_body());

    let (sender, _) = broadcast::channel::<Message>(1024);
    let axum = per_body(n, || {
        let events = BroadcastStream::new(sender.subscribe()).filter_map(|message| async move {
            let message = message.ok()?;
            let (id, data) = &*message;
            Some(Ok::<_, Infallible>(
                Event::default().event("post").id(id).data(data),
            ))
        });
        Sse::new(events)
            .keep_alive(KeepAlive::default())
            .into_response()
            .into_body()
    });
    println!("| body | heap per idle stream |");
    println!("| --- | ---: |");
    println!("| tidings `Channel::subscribe` | {tidings:.0} B |");
    println!("| axum `Sse` over `broadcast` | {axum:.0} B |");
}
