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

    /// An origin allowed to call the API from another origin, with credentials (repeatable, or
    /// comma-separated).
    #[arg(
        long = "cors-origin",
        env = "TIDINGS_DEMO_CORS_ORIGINS",
        value_delimiter = ','
    )]
    pub cors_origins: Vec<HeaderValue>,

    /// Time between two ticks of the stock ticker, in milliseconds.
    #[arg(long = "tick-interval-ms", env = "TIDINGS_DEMO_TICK_INTERVAL_MS", default_value = "500", value_parser = parse_millis)]
    pub tick_interval: Duration,

    /// Events each feed keeps for clients that resume.
    #[arg(long, env = "TIDINGS_DEMO_REPLAY_CAPACITY", default_value_t = 10_000)]
    pub replay_capacity: usize,

    /// How long each feed keeps events for clients that resume, in seconds.
    #[arg(long = "replay-max-age-secs", env = "TIDINGS_DEMO_REPLAY_MAX_AGE_SECS", default_value = "300", value_parser = parse_secs)]
    pub replay_max_age: Duration,

    /// Seconds of silence after which a stream sends a keep-alive comment.
    #[arg(long = "keep-alive-secs", env = "TIDINGS_DEMO_KEEP_ALIVE_SECS", default_value = "15", value_parser = parse_secs)]
    pub keep_alive: Duration,

    /// Milliseconds a client may take no bytes before its connection is cut (it resumes from
    /// its last event ID when it comes back): see `tidings_axum::deadline`.
    #[arg(long = "write-deadline-ms", env = "TIDINGS_DEMO_WRITE_DEADLINE_MS", default_value = "10000", value_parser = parse_millis)]
    pub write_deadline: Duration,

    /// Seconds the server waits, once shutting down, for connections to finish (streams end
    /// at once; clients that stopped reading are dropped after this).
    #[arg(long = "shutdown-deadline-secs", env = "TIDINGS_DEMO_SHUTDOWN_DEADLINE_SECS", default_value = "5", value_parser = parse_secs)]
    pub shutdown_deadline: Duration,

    /// The reconnection delay suggested to clients (`retry:`), in milliseconds.
    #[arg(long = "retry-ms", env = "TIDINGS_DEMO_RETRY_MS", default_value = "1000", value_parser = parse_millis)]
    pub retry: Duration,

    /// Open streams allowed in all; more are refused with a `retry:`-only stream (see `LimitExceeded`).
    #[arg(long, env = "TIDINGS_DEMO_MAX_STREAMS", default_value_t = 20_000)]
    pub max_streams: usize,

    /// Open streams allowed from one client address.
    #[arg(
        long,
        env = "TIDINGS_DEMO_MAX_STREAMS_PER_CLIENT",
        default_value_t = 20_000
    )]
    pub max_streams_per_client: usize,

    /// Enable fault injection under /api/faults (for tests and the demo's chaos panel).
    #[arg(long, env = "TIDINGS_DEMO_FAULTS")]
    pub faults: bool,

    /// Share the ticker, the blog's events and the firehose with every server on the same Redis
    /// (`redis://127.0.0.1:6379/`): publish on any, deliver on all, resume on any. Without it
    /// every feed lives in this server's memory.
    #[arg(long, env = "TIDINGS_DEMO_REDIS")]
    pub redis: Option<String>,

    /// The prefix of the Redis stream keys (`<prefix>:ticker`, ...).
    #[arg(
        long,
        env = "TIDINGS_DEMO_REDIS_PREFIX",
        default_value = "tidings-demo"
    )]
    pub redis_prefix: String,

    /// Do not run the stock ticker here (with `--redis`, one server ticks for all).
    #[arg(long, env = "TIDINGS_DEMO_NO_TICKER")]
    pub no_ticker: bool,
}

impl Config {
    /// The defaults, as if started with no flags and no environment.
    pub fn defaults() -> Self {
        Self::parse_from(["demo-server"])
    }
}

fn parse_millis(text: &str) -> Result<Duration, String> {
    match text.parse::<u64>() {
        Ok(0) => Err("must be at least 1".to_owned()),
        Ok(millis) => Ok(Duration::from_millis(millis)),
        Err(error) => Err(format!("not a whole number: {error}")),
    }
}

fn parse_secs(text: &str) -> Result<Duration, String> {
    parse_millis(text).map(|millis| millis * 1000)
}
