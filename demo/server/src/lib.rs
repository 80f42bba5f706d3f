//! The tidings demo backend: an axum server with live feeds, built on `tidings-axum`.
//!
//! | path | what |
//! | --- | --- |
//! | `GET /api/health` | `ok` |
//! | `GET /api/ticker`, `/api/ticker/poll` | `tick` and `trade` events |
//! | `GET /api/blog`, `/api/blog/poll`; `GET/POST /api/blog/posts`, `PUT/DELETE /api/blog/posts/{id}`, `POST /api/blog/posts/{id}/view` | the live blog: `post`, `update`, `delete`, `views`; writing is for admins |
//! | `POST/GET/DELETE /api/session` | sign in (`{"user","password"}`), who, sign out: see [`auth`] |
//! | `GET /api/notifications`, `/api/notifications/poll`; `POST /api/notifications` | the signed-in user's `notification` events (401 without a session); sending is for admins |
//! | `POST /api/jobs`; `GET /api/jobs/{id}`, `/api/jobs/{id}/poll` | `progress` to `done`, then `204` |
//!
//! Every request passes the [`guard`] first (a `Host` of this server's, and state-changing
//! requests from its own pages or a `--cors-origin`). Every stream resumes from `Last-Event-ID` (header or `lastEventId` query parameter) through
//! its replay log, and every poll endpoint answers the same events as a long-poll. It also serves
//! the trunk-built app when given `--dist`. The browser tests, benchmarks and the chaos panel use
//! `fixture-server` (under `tests/`), which adds fault injection and test streams to these
//! routes: none of that is in the demo.
#![deny(missing_docs)]

pub mod auth;
pub mod blog;
pub mod config;
pub mod guard;
pub mod jobs;
pub mod notifications;
pub mod serve;
pub mod streams;
pub mod ticker;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::response::Response;
use axum::routing::get;
use tidings_axum::redis::{RedisChannel, RedisConfig, RedisHealth};
use tidings_axum::shutdown::Shutdown;
use tidings_axum::{AnyChannel, ChannelConfig, ConnectionLimiter};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::services::{ServeDir, ServeFile};
use tower_http::trace::TraceLayer;

pub use config::Config;

/// What the handlers share.
#[derive(Clone)]
pub struct AppState {
    /// The configuration the server started with.
    pub config: Config,
    /// The stock ticker's feed.
    pub ticker: AnyChannel,
    /// The live blog.
    pub blog: blog::Blog,
    /// Per-user notifications.
    pub notifications: notifications::Notifications,
    /// Long jobs.
    pub jobs: jobs::Jobs,
    /// Caps on open streams.
    pub limiter: ConnectionLimiter,
    /// Who may sign in, and their sessions' key.
    pub accounts: auth::Accounts,
    /// Begins when the server shuts down: every stream then ends.
    shutdown: Shutdown,
}

impl AppState {
    /// `response` with a body that ends when the server starts shutting down: graceful shutdown
    /// waits for responses to end, and an event stream never ends by itself.
    pub fn until_closing(&self, response: Response) -> Response {
        self.shutdown.end(response)
    }
}

/// The demo's routes, under `/api`, plus the static app when `config.dist` is set, and the
/// [`Shutdown`] that ends its streams: begin it when the server shuts down.
///
/// Starts the feeds' background tasks, so it must be called inside a tokio runtime.
///
/// # Errors
///
/// If `--redis` is not a Redis URL, or the accounts cannot be set up.
pub fn app(config: &Config) -> Result<(Router, Shutdown), String> {
    app_with_state(config).map(|(app, closer, _)| (app, closer))
}

/// [`app`], and the state its handlers share: for a server that adds pages of its own (the
/// server-rendered demo reads the feeds while rendering).
///
/// # Errors
///
/// If `--redis` is not a Redis URL, or the accounts cannot be set up.
pub fn app_with_state(config: &Config) -> Result<(Router, Shutdown, AppState), String> {
    let (state, shutdown) = state(config)?;
    let app = finish(api(&state), config, &[]);
    Ok((app, shutdown, state))
}

/// The state the handlers share, its feeds started, and the [`Shutdown`] that ends its streams.
///
/// # Errors
///
/// If `--redis` is not a Redis URL, or the accounts cannot be set up.
pub fn state(config: &Config) -> Result<(AppState, Shutdown), String> {
    let shutdown = Shutdown::new();
    let channel_config = ChannelConfig::default()
        .capacity(config.replay_capacity)
        .max_age(Some(config.replay_max_age));
    // Paced clients (`?pace=N`) get the newest tick per symbol.
    let ticker = feed(
        config,
        "ticker",
        channel_config
            .clone()
            .coalesce(|tick: &demo_events::Tick| tick.symbol.clone()),
    )?;
    if !config.no_ticker {
        ticker::start(ticker.clone(), config.tick_interval);
    }
    let state = AppState {
        config: config.clone(),
        ticker,
        blog: blog::Blog::new(feed(config, "blog", channel_config)?),
        notifications: notifications::Notifications::default(),
        jobs: jobs::Jobs::default(),
        limiter: ConnectionLimiter::new(config.max_streams, config.max_streams_per_client),
        accounts: auth::Accounts::new(&config.users, config.session_key.as_ref())?,
        shutdown: shutdown.clone(),
    };
    Ok((state, shutdown))
}

/// A feed named `name`: in memory, or with `--redis` a Redis stream shared by every server.
///
/// # Errors
///
/// If `--redis` is not a Redis URL.
pub fn feed(
    config: &Config,
    name: &str,
    channel_config: ChannelConfig,
) -> Result<AnyChannel, String> {
    match &config.redis {
        None => Ok(AnyChannel::memory(channel_config)),
        Some(url) => {
            let key = format!("{}:{name}", config.redis_prefix);
            let redis = RedisConfig::new(url.as_str(), key).channel(channel_config);
            RedisChannel::open(redis)
                .map(AnyChannel::from)
                // Shown without its password.
                .map_err(|error| format!("--redis {url}: {error}"))
        }
    }
}

/// The API's routes, without the `/api` prefix.
pub fn api(state: &AppState) -> Router {
    Router::new()
        .route("/health", get(health))
        .merge(auth::routes())
        .nest("/ticker", ticker::routes())
        .nest("/blog", blog::routes())
        .merge(notifications::routes())
        .nest("/jobs", jobs::routes())
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(state.clone())
}

/// The whole app around `api` (routes without the `/api` prefix): the static app when
/// `config.dist` is set, then the [`guard`], CORS (with `extra_headers` allowed besides the
/// API's own) and request tracing.
pub fn finish(api: Router, config: &Config, extra_headers: &[HeaderName]) -> Router {
    let mut app = Router::new().nest("/api", api);
    if let Some(dist) = &config.dist {
        let index = ServeFile::new(dist.join("index.html"));
        app = app.fallback_service(ServeDir::new(dist).fallback(index));
    }
    guard::protect(app, config)
        .layer(cors(&config.cors_origins, extra_headers))
        .layer(TraceLayer::new_for_http())
}

/// The largest request body the API takes (a blog post is the largest).
pub const MAX_BODY: usize = 64 * 1024;

/// `GET /api/health`: `200 {"status":"ok"}`, or with `--redis` and Redis unreachable,
/// `503 {"status":"degraded","redis":{"state":"down","since_ms":...}}` (streams stay open
/// meanwhile, but quiet). The cause goes to the server's log, not to the public.
async fn health(axum::extract::State(state): axum::extract::State<AppState>) -> Response {
    use axum::response::IntoResponse;
    let Some(redis) = state.ticker.redis_health() else {
        return axum::Json(serde_json::json!({"status": "ok", "redis": "off"})).into_response();
    };
    match redis {
        RedisHealth::Up => {
            axum::Json(serde_json::json!({"status": "ok", "redis": "up"})).into_response()
        }
        RedisHealth::Down { since_ms, .. } => (
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(serde_json::json!({
                "status": "degraded",
                "redis": {"state": "down", "since_ms": since_ms},
            })),
        )
            .into_response(),
        _ => (
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(serde_json::json!({"status": "starting", "redis": "connecting"})),
        )
            .into_response(),
    }
}

/// CORS for the listed origins only (the browser tests' page), with credentials: never a
/// wildcard.
fn cors(origins: &[HeaderValue], extra_headers: &[HeaderName]) -> CorsLayer {
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins.iter().cloned()))
        .allow_credentials(true)
        .expose_headers([header::RETRY_AFTER, header::CONTENT_ENCODING])
        .allow_methods([Method::GET, Method::POST, Method::PUT, Method::DELETE])
        .allow_headers(
            [
                header::CONTENT_TYPE,
                header::AUTHORIZATION,
                header::ACCEPT,
                HeaderName::from_static("last-event-id"),
            ]
            .into_iter()
            .chain(extra_headers.iter().cloned())
            .collect::<Vec<_>>(),
        )
}

/// The answer to a write whose event could not be published: `503`, the cause logged (not
/// shown: it may name internal hosts).
pub fn publish_failed(error: &dyn std::error::Error) -> Response {
    use axum::response::IntoResponse;
    tracing::error!(error = error_chain(error), "cannot publish");
    (
        axum::http::StatusCode::SERVICE_UNAVAILABLE,
        [(header::RETRY_AFTER, "1")],
        "the change could not be sent to live clients, so it was not made: try again",
    )
        .into_response()
}

/// `error` and its causes, as one line: "outer: cause: root cause".
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
