//! `demo-server`: runs the tidings demo backend. See `demo-server --help`.

use clap::Parser;
use demo_server::{Config, app_with_state};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    demo_server::serve::init_logging();
    let mut config = Config::parse();
    let listener = demo_server::serve::bind(&mut config).await?;
    let addr = config.addr;
    let (app, shutdown, state) = app_with_state(&config).map_err(std::io::Error::other)?;
    // The Redis URL shows without its password.
    tracing::info!(%addr, dist = ?config.dist, cors = ?config.cors_origins, redis = ?config.redis, "demo server listening");
    demo_server::serve::announce("demo-server", &config, &state.accounts);
    demo_server::serve::serve(
        listener,
        app,
        &config,
        shutdown,
        demo_server::serve::ctrl_c_or_sigterm(),
    )
    .await
}
