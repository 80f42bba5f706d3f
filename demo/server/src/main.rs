//! `demo-server`: runs the tidings demo backend. See `demo-server --help`.

use clap::Parser;
use demo_server::{Config, app};
use tidings_axum::deadline::{PeerAddr, WriteDeadline};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| EnvFilter::new("info,tower_http=warn")),
        )
        .init();
    let config = Config::parse();
    let listener = tokio::net::TcpListener::bind(config.addr).await?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, dist = ?config.dist, cors = ?config.cors_origins, faults = config.faults, redis = ?config.redis, "demo server listening");
    // A line for scripts and people alike.
    println!("demo-server listening on http://{addr}");
    let (app, shutdown) = app(&config).map_err(std::io::Error::other)?;
    // Clients that stop reading are cut off; with the peer's address, for the per-client cap.
    let listener = WriteDeadline::new(listener, config.write_deadline);
    let server = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<PeerAddr>(),
    )
    .with_graceful_shutdown(shutdown.clone().after(shutdown_signal()));
    // Streams end when shutdown begins; connections still open after the deadline are dropped.
    shutdown.run(server, config.shutdown_deadline).await
}

/// Resolves on Ctrl-C or SIGTERM, so that open streams are ended cleanly.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
