//! The demo server with test fixtures: everything a test, a benchmark or the chaos panel needs
//! that a real app must not have, kept out of the demo (which people copy).
//!
//! | path | what |
//! | --- | --- |
//! | every demo route | as `demo-server` serves it: see [`demo_server`] |
//! | `/api/faults/...` | fault injection on the demo's streams and polls: see [`faults`] |
//! | `GET/POST /api/echo` | one event describing the request, then the end: see [`echo`] |
//! | `GET /api/hostile/{kind}` | broken and hostile streams: see [`hostile`] |
//! | `GET/POST /api/firehose`, `/api/firehose/poll` | bursts of `tick` events on demand: see [`firehose`] |
//! | `GET /api/samples/{json,postcard}` | a fixed series of sensor readings in either encoding: see [`samples`] |
//!
//! Given a chaos token (`--chaos-token`, as `cargo xtask demo` does for the chaos panel), every
//! fixture route wants it in the `X-Chaos-Token` header, and answers `401` without; without a
//! token, the server listens on loopback only.
#![deny(missing_docs)]

pub mod echo;
pub mod faults;
pub mod firehose;
pub mod hostile;
pub mod samples;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderName, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use demo_server::{AppState, Config};
use tidings_axum::shutdown::Shutdown;
use tidings_axum::{AnyChannel, ChannelConfig};
use tokio::sync::Semaphore;

/// The header that carries the chaos token.
pub const CHAOS_TOKEN_HEADER: &str = "x-chaos-token";

/// Hostile streams served at once, at most: each may hold up to 64 MiB.
pub const MAX_HOSTILE: usize = 4;

/// Paced firehose runs at once, at most: each publishes in the background until done.
pub const MAX_PACED: usize = 4;

/// What the fixtures' handlers share.
#[derive(Clone)]
pub struct Fixtures {
    /// The demo's own state: its limiter, retry hint and shutdown apply to fixture streams too.
    pub demo: AppState,
    /// The fault injector.
    pub faults: faults::Faults,
    /// The firehose's feed.
    pub firehose: AnyChannel,
    /// Places for hostile streams.
    hostile: Arc<Semaphore>,
    /// Places for paced firehose runs.
    paced: Arc<Semaphore>,
}

/// The demo's app with the fixtures, the demo's state and its [`Shutdown`]; with
/// `chaos_token`, the fixture routes want it.
///
/// # Errors
///
/// As [`demo_server::state`] has them; and without a chaos token, an address that is not
/// loopback.
pub fn app(
    config: &Config,
    chaos_token: Option<&str>,
) -> Result<(Router, Shutdown, AppState), String> {
    if chaos_token.is_none() && !config.addr.ip().is_loopback() {
        return Err(format!(
            "{}: without --chaos-token, the fixture server listens on loopback only",
            config.addr
        ));
    }
    let (demo, shutdown) = demo_server::state(config)?;
    let fixtures = Fixtures {
        demo: demo.clone(),
        faults: faults::Faults::new(),
        firehose: demo_server::feed(
            config,
            "firehose",
            ChannelConfig::default()
                .capacity(200_000)
                .coalesce(|tick: &demo_events::Tick| tick.symbol.clone()),
        )?,
        hostile: Arc::new(Semaphore::new(MAX_HOSTILE)),
        paced: Arc::new(Semaphore::new(MAX_PACED)),
    };
    let token = chaos_token.map(Arc::<str>::from);
    let routes = Router::new()
        .nest("/faults", faults::routes())
        .nest("/firehose", firehose::routes())
        .nest("/echo", echo::routes())
        .nest("/hostile", hostile::routes())
        .nest("/samples", samples::routes())
        .route_layer(middleware::from_fn_with_state(token, require_token))
        .with_state(fixtures.clone());
    let api = demo_server::api(&demo)
        .merge(routes)
        .layer(middleware::from_fn_with_state(
            fixtures.faults.clone(),
            faults::inject,
        ));
    // The browser tests' own header, which `echo` reports.
    let extra = [
        HeaderName::from_static("x-custom"),
        HeaderName::from_static(CHAOS_TOKEN_HEADER),
    ];
    Ok((demo_server::finish(api, config, &extra), shutdown, demo))
}

/// Lets a request through when no token is required, or it carries the token.
async fn require_token(
    State(token): State<Option<Arc<str>>>,
    request: Request,
    next: Next,
) -> Response {
    if let Some(token) = token {
        let given = request
            .headers()
            .get(CHAOS_TOKEN_HEADER)
            .map(|value| value.as_bytes())
            .unwrap_or_default();
        if !same(given, token.as_bytes()) {
            return (
                StatusCode::UNAUTHORIZED,
                "the chaos panel needs the token cargo xtask demo printed",
            )
                .into_response();
        }
    }
    next.run(request).await
}

/// Whether `a` and `b` are equal, in a time that does not depend on where they differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}
