//! The server's configuration, from flags or environment variables.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use axum::http::HeaderValue;
use clap::Parser;

/// The demo server's configuration. Every flag has an environment variable and a default.
#[derive(Debug, Clone, Parser)]
#[command(name = "demo-server", about = "The tidings demo backend")]
pub struct Config {
    /// Address to listen on (loopback by default).
    #[arg(long, env = "TIDINGS_DEMO_ADDR", default_value = "127.0.0.1:3000")]
    pub addr: SocketAddr,

    /// Serve the trunk-built app from this directory (as `trunk build` leaves it in `dist/`).
    #[arg(long, env = "TIDINGS_DEMO_DIST")]
    pub dist: Option<PathBuf>,

    /// An origin allowed to call the API from another origin, with credentials (repeatable).
    #[arg(
        long = "cors-origin",
        env = "TIDINGS_DEMO_CORS_ORIGINS",
        value_delimiter = ','
    )]
    pub cors_origins: Vec<HeaderValue>,

    /// Time between two ticks of the stock ticker, in milliseconds.
    #[arg(long = "tick-interval-ms", env = "TIDINGS_DEMO_TICK_INTERVAL_MS", default_value = "500", value_parser = parse_millis)]
    pub tick_interval: Duration,
}

fn parse_millis(text: &str) -> Result<Duration, String> {
    match text.parse::<u64>() {
        Ok(0) => Err("must be at least 1 ms".to_owned()),
        Ok(millis) => Ok(Duration::from_millis(millis)),
        Err(error) => Err(format!("not a number of milliseconds: {error}")),
    }
}
