//! `demo-ssr`: serves the server-rendered demo and the demo's API. See `demo-ssr --help`.

use axum::Router;
use clap::Parser;
use demo_ssr::app::{App, shell};
use leptos::prelude::*;
use leptos_axum::{LeptosRoutes, generate_route_list};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let config = demo_server::Config::parse();
    let options = get_configuration(None)
        .map_err(std::io::Error::other)?
        .leptos_options;
    let listener = tokio::net::TcpListener::bind(config.addr).await?;
    println!("demo-ssr listening on http://{}", listener.local_addr()?);
    let (api, closer) = demo_server::app(&config).map_err(std::io::Error::other)?;
    let routes = generate_route_list(App);
    let pages = Router::new()
        .leptos_routes(&options, routes, {
            let options = options.clone();
            move || shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler(shell))
        .with_state(options);
    let app = api.merge(pages);
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        let _ = tokio::signal::ctrl_c().await;
        closer.close_streams();
    })
    .await
}
