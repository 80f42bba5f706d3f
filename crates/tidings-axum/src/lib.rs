//! Server-Sent Events for [axum](https://docs.rs/axum), speaking the same typed events as the
//! [`tidings`](https://docs.rs/tidings) client.
//!
//! - [`EventStream`]: a response that streams [`Frame`]s with the headers that keep proxies from
//!   buffering, an optional `retry` hint, and keep-alive comments while the stream is idle.
//! - [`Channel`]: a stream of events with a replay log: clients that come back with the ID of
//!   the last event they saw get every event after it, then live ones, with no gap and no
//!   duplicate; one too far behind gets an explicit resync event. It also answers long-polls.
//! - [`ConnectionLimiter`]: caps on open streams, in all and per client address (`503` with
//!   `Retry-After`).
//! - [`redis::RedisChannel`] (feature `redis`): a channel whose log is a Redis stream, so that
//!   several servers share it: publish on any, deliver on all, resume on any.
//! - [`AnyChannel`]: either of them behind one type, for an app that runs in memory in one
//!   deployment and through Redis in another.
//! - [`deadline::WriteDeadline`]: a listener that cuts off clients that stop reading, which
//!   nothing in a response body can notice.
//! - [`shutdown::Shutdown`]: graceful shutdown that ends the streams (clients resume
//!   elsewhere) and gives up on connections still open after a deadline.
//! - [`LastEventId`]: an extractor for the ID a client resumes from, read from the
//!   `Last-Event-ID` header or, for clients that cannot set headers, the `lastEventId` query
//!   parameter.
//!
//! ```
//! use std::time::Duration;
//!
//! use axum::{Router, routing::get};
//! use futures_util::stream;
//! use serde::{Deserialize, Serialize};
//! use tidings_axum::{EventStream, LastEventId, TypedEvent};
//!
//! #[derive(Serialize, Deserialize)]
//! struct Greeting {
//!     text: String,
//! }
//!
//! impl TypedEvent for Greeting {
//!     const NAME: &'static str = "greeting";
//! }
//!
//! async fn greetings(LastEventId(resume_from): LastEventId) -> EventStream {
//!     let start: u64 = resume_from.and_then(|id| id.parse().ok()).unwrap_or(0);
//!     let frames = (start + 1..=start + 3).map(|n| {
//!         let greeting = Greeting { text: format!("hello #{n}") };
//!         greeting.to_frame().expect("serialisable").id(&n.to_string())
//!     });
//!     EventStream::new(stream::iter(frames)).keep_alive(Duration::from_secs(15))
//! }
//!
//! let app: Router = Router::new().route("/greetings", get(greetings));
//! ```
//!
//! To stop a client for good (it will not reconnect), answer `204 No Content`; to refuse it,
//! answer `401` or `403` from the handler, before subscribing it.
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod any;
mod channel;
#[cfg(feature = "compression")]
#[cfg_attr(docsrs, doc(cfg(feature = "compression")))]
pub mod compress;
pub mod deadline;
mod last_event_id;
mod limits;
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub mod redis;
mod routes;
pub mod shutdown;
mod stream;
#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing;

pub use any::{AnyChannel, PublishError};
pub use channel::{Channel, ChannelConfig, Pace, RESYNC_EVENT};
pub use last_event_id::{LAST_EVENT_ID_HEADER, LAST_EVENT_ID_PARAM, LastEventId};
pub use limits::{ConnectionLimiter, ConnectionPermit, LimitExceeded, limit_connections};
pub use routes::MAX_POLL_WAIT;
pub use stream::{DEFAULT_KEEP_ALIVE, EventStream};
pub use tidings_wire::{self as wire, Encoding, Frame, TypedEvent};

/// The crate's README, whose examples run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
