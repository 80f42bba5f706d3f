//! Serving the app: hyper through hyper-util, with what `axum::serve` leaves unset.
//!
//! - A time limit on reading a request's headers (`--header-read-timeout-secs`): a client that
//!   trickles its headers (slowloris) is cut off, and so is a keep-alive connection that sends
//!   no next request in that time.
//! - A cap on open connections (`--max-connections`): at the cap, no more are accepted until
//!   one closes (they wait in the kernel's backlog, as behind Go's `LimitListener`).
//! - A write deadline (`--write-deadline-ms`, see `tidings_axum::deadline`): a client that
//!   stops reading is cut off.
//! - Graceful shutdown with a deadline (`--shutdown-deadline-secs`): streams end at once
//!   ([`Shutdown`]), other responses may finish, and connections still open after the
//!   deadline are dropped.

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::serve::Listener as _;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tidings_axum::deadline::{PeerAddr, WriteDeadline};
use tidings_axum::shutdown::Shutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt as _;

use crate::Config;

/// Serves `app` on `listener` until `signal` resolves (Ctrl-C, SIGTERM), then shuts down:
/// `shutdown` begins (every stream ends), and connections get `config.shutdown_deadline` to
/// finish.
///
/// # Errors
///
/// None yet: accepting retries by itself (axum's listener logs and waits on errors such as
/// running out of file descriptors). The `Result` leaves room for errors at start-up.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    config: &Config,
    shutdown: Shutdown,
    signal: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let mut listener = WriteDeadline::new(listener, config.write_deadline);
    let connections = Arc::new(Semaphore::new(config.max_connections));
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(Some(config.header_read_timeout));
    let signal = shutdown.clone().after(signal);
    tokio::pin!(signal);
    loop {
        let accepted = tokio::select! {
            () = &mut signal => break,
            accepted = async {
                // At the cap, wait for a connection to close before taking the next.
                let permit = Arc::clone(&connections).acquire_owned().await;
                (permit, listener.accept().await)
            } => accepted,
        };
        let (Ok(permit), (io, addr)) = accepted else {
            break;
        };
        // The client's address, for handlers and the per-client caps.
        let peer = ConnectInfo(PeerAddr(addr));
        let service = app
            .clone()
            .map_request(move |mut request: axum::http::Request<Incoming>| {
                request.extensions_mut().insert(peer);
                request
            });
        let connection = http.serve_connection(TokioIo::new(io), TowerToHyperService::new(service));
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%addr, %error, "connection ended with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(config.shutdown_deadline) => {
            tracing::warn!(
                open = config.max_connections - connections.available_permits(),
                "connections still open after the shutdown deadline: dropped"
            );
        }
    }
    Ok(())
}

/// Logs to stderr at `RUST_LOG`'s levels, `info` by default (tower-http's at `warn`).
pub fn init_logging() {
    use tracing_subscriber::EnvFilter;
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| EnvFilter::new("info,tower_http=warn")),
        )
        .init();
}

/// Binds `config.addr` and writes back the address it got (the port, when it asked for 0): the
/// [`guard`](crate::guard) answers to that address, so a server must build its app after this.
///
/// # Errors
///
/// If the address cannot be bound.
pub async fn bind(config: &mut Config) -> std::io::Result<TcpListener> {
    let listener = TcpListener::bind(config.addr).await?;
    config.addr = listener.local_addr()?;
    Ok(listener)
}

/// Prints the accounts the server made up (when none was given), then the line that says where
/// `name` listens, for scripts and people alike.
pub fn announce(name: &str, config: &Config, accounts: &crate::auth::Accounts) {
    for account in accounts.generated() {
        let admin = if account.role == crate::auth::Role::Admin {
            " (admin)"
        } else {
            ""
        };
        println!(
            "  demo account {:>5} / {}{admin}",
            account.name,
            account.password()
        );
    }
    println!("{name} listening on http://{}", config.addr);
}

/// Resolves on Ctrl-C or SIGTERM, so that open streams are ended cleanly.
pub async fn ctrl_c_or_sigterm() {
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
