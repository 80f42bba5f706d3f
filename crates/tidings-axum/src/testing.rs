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
