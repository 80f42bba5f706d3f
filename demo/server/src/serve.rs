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
//! - With `--tls-cert` and `--tls-key`, HTTPS through rustls, HTTP/2 or HTTP/1.1 as the client
//!   chooses (ALPN); the TLS handshake has the header-read time limit too.

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::serve::Listener as _;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
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
/// At start-up, a `--tls-cert` or `--tls-key` that cannot be read or used. Accepting retries by
/// itself (axum's listener logs and waits on errors such as running out of file descriptors).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    config: &Config,
    shutdown: Shutdown,
    signal: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let tls = tls_acceptor(config)?;
    let mut listener = WriteDeadline::new(listener, config.write_deadline);
    let connections = Arc::new(Semaphore::new(config.max_connections));
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(Some(config.header_read_timeout));
    // Over TLS: HTTP/2 or HTTP/1.1, as ALPN settled it.
    let mut auto = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    auto.http1()
        .timer(TokioTimer::new())
        .header_read_timeout(Some(config.header_read_timeout));
    auto.http2()
        .timer(TokioTimer::new())
        // Each stream is an HTTP/2 stream: the per-client stream cap applies before this.
        .max_concurrent_streams(Some(256))
        .keep_alive_interval(Some(std::time::Duration::from_secs(20)));
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
        let service = TowerToHyperService::new(service);
        let Some(tls) = tls.clone() else {
            let connection = graceful.watch(http.serve_connection(TokioIo::new(io), service));
            tokio::spawn(async move {
                if let Err(error) = connection.await {
                    tracing::debug!(%addr, %error, "connection ended with an error");
                }
                drop(permit);
            });
            continue;
        };
        let (auto, watcher) = (auto.clone(), graceful.watcher());
        let handshake_timeout = config.header_read_timeout;
        tokio::spawn(async move {
            let io = match tokio::time::timeout(handshake_timeout, tls.accept(io)).await {
                Ok(Ok(io)) => io,
                Ok(Err(error)) => {
                    tracing::debug!(%addr, %error, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::debug!(%addr, "TLS handshake too slow: cut off");
                    return;
                }
            };
            let connection = auto.serve_connection(TokioIo::new(io), service);
            if let Err(error) = watcher.watch(connection).await {
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

/// The TLS acceptor of `--tls-cert` and `--tls-key`, if given: HTTP/2 and HTTP/1.1 offered by
/// ALPN, in that order.
///
/// # Errors
///
/// If a file cannot be read, or holds no certificate or key rustls takes.
fn tls_acceptor(config: &Config) -> std::io::Result<Option<tokio_rustls::TlsAcceptor>> {
    use rustls::pki_types::pem::PemObject as _;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let (Some(cert), Some(key)) = (&config.tls_cert, &config.tls_key) else {
        return Ok(None);
    };
    let invalid = |what: &str, path: &std::path::Path, error: &dyn std::fmt::Display| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("{what} {}: {error}", path.display()),
        )
    };
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| invalid("--tls-cert", cert, &e))?;
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| invalid("--tls-key", key, &e))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut tls = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|builder| builder.with_no_client_auth().with_single_cert(chain, key))
        .map_err(|e| invalid("--tls-cert", cert, &e))?;
    tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Some(tokio_rustls::TlsAcceptor::from(Arc::new(tls))))
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
/// It checks `--tls-cert` and `--tls-key` first, so that a server never says it listens when
/// it cannot.
///
/// # Errors
///
/// If the TLS files cannot be used, or the address cannot be bound.
pub async fn bind(config: &mut Config) -> std::io::Result<TcpListener> {
    tls_acceptor(config)?;
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
    let scheme = if config.tls_cert.is_some() {
        "https"
    } else {
        "http"
    };
    println!("{name} listening on {scheme}://{}", config.addr);
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
