//! Reading event streams in tests (feature `testing`): [`EventReader`] reads a response body as a
//! client would and parses it with tidings-wire.
//!
//! ```
//! # async fn run() {
//! use axum::{Router, body::Body, http::Request, routing::get};
//! use futures_util::stream;
//! use tidings_axum::{EventStream, Frame, testing::EventReader};
//! use tower::ServiceExt;
//!
//! let app: Router = Router::new().route(
//!     "/events",
//!     get(|| async { EventStream::new(stream::iter([Frame::new().data("hi")])) }),
//! );
//! let response = app.oneshot(Request::get("/events").body(Body::empty()).unwrap()).await.unwrap();
//! let mut reader = EventReader::new(response.into_body());
//! assert_eq!(reader.events(1).await[0].data, "hi");
//! # }
//! ```

use std::time::Duration;

use axum::body::Body;
use http_body_util::BodyExt;
use tidings_wire::{Event, Parser};

/// Reads an event stream's body as a client would: see the [module documentation](self).
#[derive(Debug)]
pub struct EventReader {
    body: Body,
    parser: Parser,
    ended: bool,
    patience: Duration,
}

impl EventReader {
    /// A reader of `body` that waits at most 5 s for each event.
    #[must_use]
    pub fn new(body: Body) -> Self {
        Self {
            body,
            parser: Parser::new(),
            ended: false,
            patience: Duration::from_secs(5),
        }
    }

    /// Waits at most `patience` for each read instead.
    #[must_use]
    pub fn patience(mut self, patience: Duration) -> Self {
        self.patience = patience;
        self
    }

    /// The next `n` events, or fewer if the stream ends first.
    ///
    /// # Panics
    ///
    /// If no data comes for the reader's patience, if the body fails, or if an event is too large
    /// for the parser: this is for tests.
    pub async fn events(&mut self, n: usize) -> Vec<Event> {
        let mut events = Vec::new();
        while events.len() < n && !self.ended {
            let Ok(frame) = tokio::time::timeout(self.patience, self.body.frame()).await else {
                panic!(
                    "no data for {:?}: {} of {n} events arrived",
                    self.patience,
                    events.len()
                );
            };
            match frame {
                None => self.ended = true,
                Some(frame) => {
                    let frame = frame.unwrap_or_else(|error| panic!("the body failed: {error}"));
                    if let Ok(data) = frame.into_data() {
                        for event in self.parser.feed_owned(&data) {
                            events.push(event.unwrap_or_else(|error| panic!("{error}")));
                        }
                    }
                }
            }
        }
        events
    }

    /// Every event until the stream ends.
    ///
    /// # Panics
    ///
    /// As [`EventReader::events`].
    pub async fn rest(&mut self) -> Vec<Event> {
        self.events(usize::MAX).await
    }

    /// Whether the stream has ended.
    #[must_use]
    pub fn ended(&self) -> bool {
        self.ended
    }
}

/// A `redis-server` of a test's own (feature `redis` too), on a free loopback port with a
/// temporary directory and an append-only file, stopped by its PID when dropped. It runs
/// `redis-server` from `PATH`, or `TIDINGS_REDIS_SERVER`.
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(all(feature = "testing", feature = "redis"))))]
#[derive(Debug)]
pub struct RedisServer {
    port: u16,
    dir: std::path::PathBuf,
    child: Option<std::process::Child>,
}

#[cfg(feature = "redis")]
impl RedisServer {
    /// Starts a server, and waits until it accepts connections.
    ///
    /// # Panics
    ///
    /// If `redis-server` cannot be started.
    #[must_use]
    pub fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let dir = std::env::temp_dir().join(format!("tidings-redis-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a temporary directory");
        let mut redis = Self {
            port,
            dir,
            child: None,
        };
        redis.run();
        redis
    }

    /// Its URL, `redis://127.0.0.1:<port>/`.
    #[must_use]
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Starts the server (again) on the same port and directory: its append-only file keeps
    /// the stream across a restart.
    ///
    /// # Panics
    ///
    /// If it cannot be started.
    pub fn run(&mut self) {
        let program =
            std::env::var_os("TIDINGS_REDIS_SERVER").unwrap_or_else(|| "redis-server".into());
        let child = std::process::Command::new(&program)
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
            .args([
                "--appendonly",
                "yes",
                "--save",
                "",
                "--protected-mode",
                "yes",
            ])
            .arg("--dir")
            .arg(&self.dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|error| {
                panic!(
                    "cannot start {program:?} ({error}): install Debian's redis-server \
                     (`cargo xtask setup` does) or set TIDINGS_REDIS_SERVER"
                )
            });
        self.child = Some(child);
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "redis-server did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Shuts the server down cleanly (its data flushed to disk), and waits until it is gone.
    pub async fn shut_down(&mut self) {
        if let Ok(client) = redis::Client::open(self.url())
            && let Ok(mut connection) = client.get_multiplexed_async_connection().await
        {
            let _: Result<(), _> = redis::cmd("SHUTDOWN").query_async(&mut connection).await;
        }
        if let Some(mut child) = self.child.take() {
            let _ = child.wait();
        }
    }
}

#[cfg(feature = "redis")]
impl Drop for RedisServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
