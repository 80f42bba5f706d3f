//! The tidings demo backend: an axum server with live feeds, built on `tidings-axum`.
//!
//! It also serves the browser tests, and the trunk-built app when given `--dist`.
#![deny(missing_docs)]

pub mod config;
pub mod ticker;

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::routing::get;
use futures_util::{Stream, StreamExt};
use tokio::sync::watch;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::services::{ServeDir, ServeFile};
use tower_http::trace::TraceLayer;

pub use config::Config;
use ticker::Ticker;

/// What the handlers share.
#[derive(Clone)]
pub struct AppState {
    /// The stock ticker feed.
    pub ticker: Arc<Ticker>,
    /// Becomes `true` when the server shuts down: every stream then ends.
    pub closing: watch::Receiver<bool>,
}

impl AppState {
    /// `frames` until the server starts shutting down. Graceful shutdown waits for responses to
    /// end, and an event stream never ends by itself.
    pub fn until_closing<S>(&self, frames: S) -> impl Stream<Item = S::Item> + Send + 'static
    where
        S: Stream + Send + 'static,
    {
        let mut closing = self.closing.clone();
        frames.take_until(async move {
            // An error means the sender is gone: the server is gone too.
            let _ = closing.wait_for(|closing| *closing).await;
        })
    }
}

/// Ends every open stream when told to: see [`app`].
#[derive(Debug)]
pub struct Closer(watch::Sender<bool>);

impl Closer {
    /// Ends every open stream, so that graceful shutdown can complete.
    pub fn close_streams(&self) {
        self.0.send_replace(true);
    }
}

/// The demo's routes, under `/api`, plus the static app when `config.dist` is set, and the
/// [`Closer`] that ends its streams at shutdown.
///
/// Starts the feeds' background tasks, so it must be called inside a tokio runtime.
pub fn app(config: &Config) -> (Router, Closer) {
    let (closer, closing) = watch::channel(false);
    let state = AppState {
        ticker: Ticker::start(config.tick_interval),
        closing,
    };
    let api = Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/ticker", get(ticker::stream))
        .with_state(state);
    let mut app = Router::new().nest("/api", api);
    if let Some(dist) = &config.dist {
        let index = ServeFile::new(dist.join("index.html"));
        app = app.fallback_service(ServeDir::new(dist).fallback(index));
    }
    let app = app
        .layer(cors(&config.cors_origins))
        .layer(TraceLayer::new_for_http());
    (app, Closer(closer))
}

/// CORS for the listed origins only (the browser tests' page), with credentials: never a
/// wildcard.
fn cors(origins: &[HeaderValue]) -> CorsLayer {
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins.iter().cloned()))
        .allow_credentials(true)
        .allow_methods([Method::GET, Method::POST, Method::DELETE])
        .allow_headers([
            header::CONTENT_TYPE,
            header::AUTHORIZATION,
            HeaderName::from_static("last-event-id"),
        ])
}
