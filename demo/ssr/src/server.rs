//! The server: leptos_axum renders the pages, with the streams' recent state in them.

use axum::Router;
use leptos::prelude::*;
use leptos_axum::{LeptosRoutes, generate_route_list};

use crate::app::{App, shell};

/// The pages, and the files of the browser build (`options.site_root`, `pkg/` holding the
/// hydrating wasm); merge the demo's API beside it. `context` runs for each request before the
/// app renders: it provides what the pages render from (see [`demo_context`]).
pub fn pages(options: LeptosOptions, context: impl Fn() + Clone + Send + Sync + 'static) -> Router {
    let routes = generate_route_list(App);
    Router::new()
        .leptos_routes_with_context(&options, routes, context, {
            let options = options.clone();
            move || shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler(shell))
        .with_state(options)
}

/// What the demo's pages render from, per request: each stream's replay log (the page shows
/// it as it is now, and names the position the browser resumes from), and the blog's posts.
pub fn demo_context(state: &demo_server::AppState) -> impl Fn() + Clone + Send + Sync + 'static {
    let (ticker, blog) = (state.ticker.clone(), state.blog.clone());
    move || {
        tidings::ssr::provide_replay_log(crate::app::TICKER, ticker.clone());
        tidings::ssr::provide_replay_log(crate::blog::BLOG, blog.channel.clone());
        provide_context(blog.clone());
    }
}
