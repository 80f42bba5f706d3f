//! The server: leptos_axum renders the pages, with the ticker's recent events in them.

use axum::Router;
use leptos::prelude::*;
use leptos_axum::{LeptosRoutes, generate_route_list};
use tidings::wire::ReplayLog;

use crate::app::{App, shell};

/// The stream the ticker page follows, as its components name it.
pub const TICKER: &str = "/api/ticker";

/// The pages, rendered with `ticker`'s recent events, and the files of the browser build
/// (`options.site_root`, `pkg/` holding the hydrating wasm); merge the demo's API beside it.
pub fn pages(options: LeptosOptions, ticker: impl ReplayLog + Clone + 'static) -> Router {
    let routes = generate_route_list(App);
    Router::new()
        .leptos_routes_with_context(
            &options,
            routes,
            // Per request: the page shows the ticker as it is now, and names the position.
            move || tidings::ssr::provide_replay_log(TICKER, ticker.clone()),
            {
                let options = options.clone();
                move || shell(options.clone())
            },
        )
        .fallback(leptos_axum::file_and_error_handler(shell))
        .with_state(options)
}
