//! The Server-Sent Events wire format, for servers and clients alike.
//!
//! - [`Parser`]: a spec-exact, incremental, push-style parser for `text/event-stream`. Feed it
//!   bytes as they arrive, in pieces of any size; it hands back events without allocating per
//!   event, in time linear in the input whatever the size of the reads, with bounded memory.
//! - [`Frame`]: the encoder, a builder for events, comments and `retry` hints.
//! - [`TypedEvent`] (feature `json`, on by default): ties a Rust type to its event name and
//!   serde encoding (JSON, or postcard as base64 with the feature `postcard`), so that one
//!   definition is the contract between server and client.
//! - [`protocol`]: what `tidings` and `tidings-axum` agree on beyond the format: the resume
//!   header and query parameter, the polling endpoint's path, the resync event.
//! - [`ReplayLog`]: a server's recent events, read to render a page with live data already in
//!   it.
//!
//! The crate has no web or async dependencies and builds for native targets and `wasm32`.
//!
//! ```
//! use tidings_wire::{Frame, Parser};
//!
//! let stream = [
//!     Frame::new().retry(std::time::Duration::from_secs(2)),
//!     Frame::new().event("greeting").id("1").data("hello\nworld"),
//!     Frame::new().comment("keep-alive"),
//! ]
//! .map(Frame::into_string)
//! .concat();
//!
//! let mut parser = Parser::new();
//! // Feed it in 5-byte reads, as a slow network might deliver it.
//! for chunk in stream.as_bytes().chunks(5) {
//!     parser.feed(chunk, |event| {
//!         let event = event.expect("small event");
//!         assert_eq!((event.event_type, event.data, event.last_event_id), ("greeting", "hello\nworld", "1"));
//!     });
//! }
//! assert_eq!(parser.retry(), Some(std::time::Duration::from_secs(2)));
//! ```
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "base64")]
#[cfg_attr(docsrs, doc(cfg(feature = "base64")))]
pub mod base64;
pub mod frame;
pub mod parser;
pub mod protocol;
pub mod replay;
#[cfg(feature = "json")]
#[cfg_attr(docsrs, doc(cfg(feature = "json")))]
pub mod typed;

pub use frame::{Frame, InvalidEventType, InvalidId};
pub use parser::{DEFAULT_EVENT_TYPE, DEFAULT_MAX_EVENT_SIZE, Event, EventRef, ParseError, Parser};
pub use replay::ReplayLog;
#[cfg(feature = "json")]
#[cfg_attr(docsrs, doc(cfg(feature = "json")))]
pub use typed::{CodecError, DecodeError, Direction, EncodeError, Encoding, TypedEvent};

/// The MIME type of an event stream, for `Content-Type` and `Accept` headers.
pub const CONTENT_TYPE: &str = "text/event-stream";

pub use protocol::{LAST_EVENT_ID_HEADER, LAST_EVENT_ID_PARAM, RESYNC_EVENT};

/// The crate's README, whose examples run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
