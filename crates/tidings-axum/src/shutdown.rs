//! [`Shutdown`]: graceful shutdown for a server of event streams, which never end by
//! themselves.
//!
//! axum's graceful shutdown stops accepting connections and waits for the open ones to finish,
//! and an event stream does not finish: a server with one client connected would wait for
//! ever. A [`Shutdown`] ends the streams it covers when shutdown begins (their clients reconnect
//! with their last event ID, to another server or to this one restarted, and miss nothing the
//! log keeps), and [`Shutdown::run`] gives up on the connections still open after a deadline
//! (a client that does not read takes no last bytes).
//!
//! ```no_run
//! use std::time::Duration;
//! use axum::{Router, middleware};
//! use tidings_axum::shutdown::{Shutdown, end_on_shutdown};
//! use tidings_axum::Channel;
//!
//! # async fn ctrl_c_or_sigterm() {}
//! # async fn run() -> std::io::Result<()> {
//! let shutdown = Shutdown::new();
//! let channel = Channel::new();
//! let app: Router = channel
//!     .routes("/events")
//!     .route_layer(middleware::from_fn_with_state(shutdown.clone(), end_on_shutdown));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! let server = axum::serve(listener, app)
//!     .with_graceful_shutdown(shutdown.clone().after(ctrl_c_or_sigterm()));
//! shutdown.run(server, Duration::from_secs(10)).await
//! # }
//! ```

use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use tokio::sync::watch;

/// Begins shutdown, and tells the streams it covers to end. Clones share it.
#[derive(Debug, Clone)]
pub struct Shutdown {
    begun: std::sync::Arc<watch::Sender<bool>>,
}

impl Default for Shutdown {
    fn default() -> Self {
        Self::new()
    }
}

impl Shutdown {
    /// A shutdown not yet begun.
    #[must_use]
    pub fn new() -> Self {
        Self {
            begun: std::sync::Arc::new(watch::Sender::new(false)),
        }
    }

    /// Begins shutdown: every stream it covers ends now.
    pub fn begin(&self) {
        self.begun.send_replace(true);
    }

    /// Whether shutdown has begun.
    #[must_use]
    pub fn has_begun(&self) -> bool {
        *self.begun.borrow()
    }

    /// Resolves once shutdown has begun.
    pub async fn begun(&self) {
        let mut begun = self.begun.subscribe();
        // The sender lives in `self`: waiting cannot fail.
        let _ = begun.wait_for(|begun| *begun).await;
    }

    /// Waits for `signal` (Ctrl-C, SIGTERM, …), then begins shutdown and resolves: the future
    /// for axum's `with_graceful_shutdown`.
    pub async fn after(self, signal: impl Future<Output = ()>) {
        signal.await;
        self.begin();
    }

    /// Runs `server` (an `axum::serve(..).with_graceful_shutdown(..)`) to its end, or until
    /// `deadline` after shutdown began, whichever is first: then the connections still open
    /// are dropped.
    ///
    /// # Errors
    ///
    /// The server's own error.
    pub async fn run<S>(&self, server: S, deadline: Duration) -> std::io::Result<()>
    where
        S: IntoFuture<Output = std::io::Result<()>>,
    {
        let server = server.into_future();
        tokio::pin!(server);
        tokio::select! {
            ended = &mut server => ended,
            () = self.begun() => match tokio::time::timeout(deadline, server).await {
                Ok(ended) => ended,
                // Connections that would not finish (clients that stopped reading): dropped.
                Err(_) => Ok(()),
            },
        }
    }

    /// `response` with a body that ends when shutdown begins (at once, if it has).
    #[must_use]
    pub fn end(&self, response: Response) -> Response {
        let mut begun = self.begun.subscribe();
        let signal: Pin<Box<dyn Future<Output = ()> + Send>> = Box::pin(async move {
            let _ = begun.wait_for(|begun| *begun).await;
        });
        response.map(|body| Body::new(Ending { body, signal }))
    }
}

/// Ends the bodies of the responses of the routes it is a layer of when shutdown begins: see
/// [the module](self).
pub async fn end_on_shutdown(
    State(shutdown): State<Shutdown>,
    request: Request,
    next: Next,
) -> Response {
    let response = next.run(request).await;
    shutdown.end(response)
}

pin_project_lite::pin_project! {
    /// A body that ends when `signal` resolves.
    struct Ending {
        #[pin]
        body: Body,
        signal: Pin<Box<dyn Future<Output = ()> + Send>>,
    }
}

impl http_body::Body for Ending {
    type Data = bytes::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        if this.signal.as_mut().poll(cx).is_ready() {
            return Poll::Ready(None);
        }
        this.body.poll_frame(cx)
    }
}
