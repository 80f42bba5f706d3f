//! The server's configuration, from flags or environment variables.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use axum::http::HeaderValue;
use clap::Parser;

use crate::auth::{AccountSpec, SessionKey};

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

    /// Serve HTTPS with this certificate chain (PEM), HTTP/2 and HTTP/1.1 by ALPN: browsers
    /// then open any number of streams to the server over one connection, where HTTP/1.1 allows
    /// six. Needs `--tls-key`. `cargo xtask demo --tls` makes a local certificate.
    #[arg(long, env = "TIDINGS_DEMO_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// The private key (PEM) of `--tls-cert`.
    #[arg(long, env = "TIDINGS_DEMO_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// An origin allowed to call the API from another origin, with credentials (repeatable, or
    /// comma-separated).
    /// Such an origin may also send state-changing requests (see `guard`).
    #[arg(
        long = "cors-origin",
        env = "TIDINGS_DEMO_CORS_ORIGINS",
        value_delimiter = ',',
        value_parser = parse_origin
    )]
    pub cors_origins: Vec<HeaderValue>,

    /// A `Host` the server answers to besides its listening address (and `localhost` on its
    /// port, when that is loopback): its public name behind a proxy, `name:port` (repeatable,
    /// or comma-separated). Requests for any other host are refused, which stops DNS
    /// rebinding.
    #[arg(
        long = "allowed-host",
        env = "TIDINGS_DEMO_ALLOWED_HOSTS",
        value_delimiter = ','
    )]
    pub allowed_hosts: Vec<String>,

    /// An account, `name:password` or `name:password:admin` (repeatable, or comma-separated).
    /// Without any, the server makes up `alice`, `bob` and `admin` with random passwords and
    /// prints them.
    #[arg(long = "user", env = "TIDINGS_DEMO_USERS", value_delimiter = ',')]
    pub users: Vec<AccountSpec>,

    /// The key that encrypts session cookies: 128 hexadecimal digits. Servers that share
    /// clients need the same one; without it, a random key, and sessions end with the server.
    #[arg(long = "session-key", env = "TIDINGS_DEMO_SESSION_KEY")]
    pub session_key: Option<SessionKey>,

    /// Mark the session cookie `Secure` (sent over HTTPS only): set it when served over TLS.
    #[arg(long = "secure-cookies", env = "TIDINGS_DEMO_SECURE_COOKIES")]
    pub secure_cookies: bool,

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

    /// Seconds a client may take to send a request's headers, and a keep-alive connection to
    /// send its next request, before the connection is closed.
    #[arg(long = "header-read-timeout-secs", env = "TIDINGS_DEMO_HEADER_READ_TIMEOUT_SECS", default_value = "10", value_parser = parse_secs)]
    pub header_read_timeout: Duration,

    /// Connections open at once, at most (streams and everything else): more wait until one
    /// closes.
    #[arg(long, env = "TIDINGS_DEMO_MAX_CONNECTIONS", default_value_t = 24_000)]
    pub max_connections: usize,

    /// The reconnection delay suggested to clients (`retry:`), in milliseconds.
    #[arg(long = "retry-ms", env = "TIDINGS_DEMO_RETRY_MS", default_value = "1000", value_parser = parse_millis)]
    pub retry: Duration,

    /// Open streams allowed in all; more are refused with a `retry:`-only stream (see `LimitExceeded`).
    #[arg(long, env = "TIDINGS_DEMO_MAX_STREAMS", default_value_t = 20_000)]
    pub max_streams: usize,

    /// Open streams and long-polls allowed from one client address (an IPv6 client by its
    /// /64): a browser opens at most six per origin over HTTP/1.1.
    #[arg(
        long,
        env = "TIDINGS_DEMO_MAX_STREAMS_PER_CLIENT",
        default_value_t = 16
    )]
    pub max_streams_per_client: usize,

    /// Jobs one client address may have running at once.
    #[arg(long, env = "TIDINGS_DEMO_MAX_JOBS_PER_CLIENT", default_value_t = 3)]
    pub max_jobs_per_client: usize,

    /// Share the ticker and the blog's events with every server on the same Redis
    /// (`redis://127.0.0.1:6379/`): publish on any, deliver on all, resume on any. Without it
    /// every feed lives in this server's memory.
    #[arg(long, env = "TIDINGS_DEMO_REDIS")]
    pub redis: Option<RedisUrl>,

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

    /// Compress event streams in the coding the client offers (zstd, Brotli or gzip), each
    /// write flushed. Fewer bytes on the wire for busy streams, at some hundreds of KiB of
    /// memory per stream: see `tidings_axum::compress`.
    #[arg(long, env = "TIDINGS_DEMO_COMPRESS")]
    pub compress: bool,
}

impl Config {
    /// The defaults, as if started with no flags and no environment.
    pub fn defaults() -> Self {
        Self::parse_from(["demo-server"])
    }
}

/// A Redis URL, whose password never shows in logs.
#[derive(Clone)]
pub struct RedisUrl(String);

impl RedisUrl {
    /// The URL itself, password and all.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for RedisUrl {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        if text.starts_with("redis://") || text.starts_with("rediss://") {
            Ok(Self(text.to_owned()))
        } else {
            Err("a Redis URL starts with redis:// or rediss://".to_owned())
        }
    }
}

/// The URL with its password, if any, replaced.
impl std::fmt::Display for RedisUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Some((scheme, rest)) = self.0.split_once("://") else {
            return f.write_str("<redacted>");
        };
        match rest.split_once('@') {
            Some((credentials, host)) => {
                let user = credentials.split_once(':').map_or("", |(user, _)| user);
                write!(f, "{scheme}://{user}:<redacted>@{host}")
            }
            None => f.write_str(&self.0),
        }
    }
}

impl std::fmt::Debug for RedisUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "\"{self}\"")
    }
}

/// An origin for CORS with credentials: `scheme://host[:port]`, never `*`.
fn parse_origin(text: &str) -> Result<HeaderValue, String> {
    if text == "*" {
        return Err(
            "`*` cannot be used: the API sends cookies, so browsers need each \
                    origin by name (for example http://127.0.0.1:8080)"
                .to_owned(),
        );
    }
    let valid = text.split_once("://").is_some_and(|(scheme, host)| {
        matches!(scheme, "http" | "https") && !host.is_empty() && !host.contains('/')
    });
    if !valid {
        return Err(format!(
            "`{text}` is not an origin: scheme://host[:port], with no path"
        ));
    }
    HeaderValue::from_str(text).map_err(|error| format!("`{text}`: {error}"))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redis_passwords_never_show() {
        let url: RedisUrl = "redis://app:hunter2@db:6379/0".parse().expect("a URL");
        assert_eq!(url.to_string(), "redis://app:<redacted>@db:6379/0");
        assert!(!format!("{url:?}").contains("hunter2"));
        let url: RedisUrl = "redis://:hunter2@db/".parse().expect("a URL");
        assert_eq!(url.to_string(), "redis://:<redacted>@db/");
        assert!("db:6379".parse::<RedisUrl>().is_err());
    }

    #[test]
    fn a_wildcard_origin_is_a_clean_error() {
        let error =
            Config::try_parse_from(["demo-server", "--cors-origin", "*"]).expect_err("refused");
        assert!(error.to_string().contains("each origin by name"), "{error}");
        assert!(Config::try_parse_from(["demo-server", "--cors-origin", "http://a:1/x"]).is_err());
        assert!(Config::try_parse_from(["demo-server", "--cors-origin", "http://a:1"]).is_ok());
    }
}
