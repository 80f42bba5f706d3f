//! Typed events: one Rust type per event type, shared by server and client.
//!
//! [`TypedEvent`] ties a type to the name it travels under (the SSE `event` field) and to how its
//! data is encoded: JSON by default, through serde. Define the type once, in a crate both sides
//! depend on, and the server's sends and the client's signals cannot drift apart.
//!
//! ```
//! use serde::{Deserialize, Serialize};
//! use tidings_wire::{Parser, TypedEvent};
//!
//! #[derive(Debug, PartialEq, Serialize, Deserialize)]
//! struct Tick {
//!     symbol: String,
//!     price: f64,
//! }
//!
//! impl TypedEvent for Tick {
//!     const NAME: &'static str = "tick";
//! }
//!
//! // Server side: a frame ready to write.
//! let tick = Tick { symbol: "ACME".into(), price: 101.5 };
//! let frame = tick.to_frame().expect("a Tick always serialises").id("1");
//! assert_eq!(frame.as_str(), "event: tick\ndata: {\"symbol\":\"ACME\",\"price\":101.5}\nid: 1\n\n");
//!
//! // Client side: the event back as a `Tick`.
//! let events = Parser::new().feed_owned(frame.as_bytes());
//! let event = events[0].as_ref().expect("small event");
//! assert_eq!(event.event_type, Tick::NAME);
//! assert_eq!(Tick::decode(&event.data).expect("valid JSON"), tick);
//! ```

use std::fmt;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::Frame;

/// A Rust type that travels as one SSE event type: see the [module documentation](self).
///
/// Only [`NAME`](TypedEvent::NAME) is required; the data is JSON unless [`encode`] and
/// [`decode`] are overridden (both sides must then agree, which they do when they share the
/// implementation).
///
/// [`encode`]: TypedEvent::encode
/// [`decode`]: TypedEvent::decode
pub trait TypedEvent: Serialize + DeserializeOwned {
    /// The event type on the wire: the SSE `event` field, and the name a client listens for.
    /// It must not contain CR or LF, and should not be `message` unless the type is the stream's
    /// default.
    const NAME: &'static str;

    /// Encodes the value as the event's data.
    ///
    /// # Errors
    ///
    /// [`EncodeError`] if the value cannot be serialised.
    fn encode(&self) -> Result<String, EncodeError> {
        serde_json::to_string(self)
            .map_err(|error| CodecError::json(Self::NAME, Direction::Encode, error))
    }

    /// Decodes the event's data.
    ///
    /// # Errors
    ///
    /// [`DecodeError`] if the data is not a valid encoding of the type, as when a server sends
    /// a newer or older version of it.
    fn decode(data: &str) -> Result<Self, DecodeError> {
        serde_json::from_str(data)
            .map_err(|error| CodecError::json(Self::NAME, Direction::Decode, error))
    }

    /// The value as a [`Frame`] with its event type and data, to which an `id` can be added.
    ///
    /// # Errors
    ///
    /// [`EncodeError`] if the value cannot be serialised.
    ///
    /// # Panics
    ///
    /// If [`NAME`](TypedEvent::NAME) contains CR or LF.
    #[track_caller]
    fn to_frame(&self) -> Result<Frame, EncodeError> {
        Ok(Frame::new().event(Self::NAME).data(&self.encode()?))
    }
}

/// A typed event could not be encoded (serialised for sending) or decoded (its data read as
/// its Rust type). One type for both directions, named for each where it is returned:
/// [`EncodeError`] and [`DecodeError`].
#[derive(Debug)]
pub struct CodecError {
    event: &'static str,
    direction: Direction,
    cause: Cause,
}

/// What a [`CodecError`] was caused by. JSON's errors are kept as they are rather than boxed as
/// `dyn Error`: a trait object's vtable would link serde_json's whole error formatting into
/// every page, even one that never shows an error.
#[derive(Debug)]
enum Cause {
    Json(serde_json::Error),
    Other(Box<dyn std::error::Error + Send + Sync>),
}

impl fmt::Display for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "could not {} a `{}` event: ", self.direction, self.event)?;
        match &self.cause {
            Cause::Json(error) => fmt::Display::fmt(error, f),
            Cause::Other(error) => fmt::Display::fmt(error, f),
        }
    }
}

impl std::error::Error for CodecError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(match &self.cause {
            Cause::Json(error) => error,
            Cause::Other(error) => error.as_ref(),
        })
    }
}

/// A typed event could not be encoded: see [`CodecError`].
pub type EncodeError = CodecError;

/// The data of an event could not be decoded as its Rust type: see [`CodecError`].
pub type DecodeError = CodecError;

/// Which way a [`CodecError`] went wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Serialising a value to send.
    Encode,
    /// Reading a received event's data as its type.
    Decode,
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Encode => "encode",
            Self::Decode => "decode",
        })
    }
}

impl CodecError {
    /// A JSON error of the default encoding.
    fn json(event: &'static str, direction: Direction, error: serde_json::Error) -> Self {
        Self {
            event,
            direction,
            cause: Cause::Json(error),
        }
    }

    /// An error encoding an event of type `event`, caused by `source`.
    pub fn encode(
        event: &'static str,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Self {
            event,
            direction: Direction::Encode,
            cause: Cause::Other(source.into()),
        }
    }

    /// An error decoding an event of type `event`, caused by `source`.
    pub fn decode(
        event: &'static str,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Self {
            event,
            direction: Direction::Decode,
            cause: Cause::Other(source.into()),
        }
    }

    /// The event type that failed.
    #[must_use]
    pub fn event(&self) -> &'static str {
        self.event
    }

    /// Whether it failed encoding or decoding.
    #[must_use]
    pub fn direction(&self) -> Direction {
        self.direction
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Progress {
        job: u32,
        percent: u8,
    }

    impl TypedEvent for Progress {
        const NAME: &'static str = "progress";
    }

    #[test]
    fn decode_error_names_the_event_and_the_cause() {
        let error = Progress::decode(r#"{"job": 1}"#).expect_err("percent is missing");
        assert_eq!(error.event(), "progress");
        assert_eq!(error.direction(), Direction::Decode);
        let message = error.to_string();
        assert!(
            message.starts_with("could not decode a `progress` event: missing field `percent`"),
            "{message}"
        );
    }

    #[test]
    fn frame_carries_name_and_json() {
        let frame = Progress {
            job: 3,
            percent: 50,
        }
        .to_frame()
        .expect("serialisable");
        assert_eq!(
            frame.as_str(),
            "event: progress\ndata: {\"job\":3,\"percent\":50}\n\n"
        );
    }
}
