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
//!
//! # Encodings
//!
//! JSON is the default, and what every SSE client and tool can read. A type chooses another
//! [`Encoding`] with one line, and both sides follow, since they share the type:
//!
//! - `Encoding::Postcard` (feature `postcard`): [postcard](https://docs.rs/postcard), a compact
//!   binary serde format, sent as base64 text (SSE data is text). Smaller on the wire and faster
//!   to decode for numeric data (`cargo xtask bench codecs` measures both in the browser); not
//!   readable by tools, and the two sides must agree on the type's exact shape, as postcard
//!   carries no field names.
//! - For bytes inside a JSON event, `tidings_wire::base64` (feature `base64`) writes a
//!   `Vec<u8>` field as base64 text instead of JSON's array of numbers.
//!
//! Any other format (MessagePack, CBOR, …) is an override of [`TypedEvent::encode`] and
//! [`TypedEvent::decode`].

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

    /// How the data is written: [`Encoding::Json`] unless the type says otherwise.
    ///
    /// ```
    /// # #[cfg(feature = "postcard")] {
    /// use serde::{Deserialize, Serialize};
    /// use tidings_wire::{Encoding, TypedEvent};
    ///
    /// #[derive(Debug, PartialEq, Serialize, Deserialize)]
    /// struct Samples {
    ///     seq: u64,
    ///     values: Vec<f32>,
    /// }
    ///
    /// impl TypedEvent for Samples {
    ///     const NAME: &'static str = "samples";
    ///     const ENCODING: Encoding = Encoding::Postcard;
    /// }
    ///
    /// let samples = Samples { seq: 7, values: vec![0.5, -1.0] };
    /// let data = samples.encode().expect("serialisable");
    /// assert_eq!(data, "BwIAAAA/AACAvw==");
    /// assert_eq!(Samples::decode(&data).expect("what was sent"), samples);
    /// # }
    /// ```
    const ENCODING: Encoding = Encoding::Json;

    /// Encodes the value as the event's data, in [`ENCODING`](TypedEvent::ENCODING).
    ///
    /// # Errors
    ///
    /// [`EncodeError`] if the value cannot be serialised.
    fn encode(&self) -> Result<String, EncodeError> {
        Self::ENCODING.encode(Self::NAME, self)
    }

    /// Decodes the event's data, in [`ENCODING`](TypedEvent::ENCODING).
    ///
    /// # Errors
    ///
    /// [`DecodeError`] if the data is not a valid encoding of the type, as when a server sends
    /// a newer or older version of it.
    fn decode(data: &str) -> Result<Self, DecodeError> {
        Self::ENCODING.decode(Self::NAME, data)
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

/// How a [`TypedEvent`]'s data is written on the wire: see the [module documentation](self).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Encoding {
    /// JSON, through serde_json: readable by every client and tool. The default.
    #[default]
    Json,
    /// [postcard](https://docs.rs/postcard), a compact binary serde format, as base64 text (the
    /// standard alphabet, padded; read with or without padding).
    #[cfg(feature = "postcard")]
    #[cfg_attr(docsrs, doc(cfg(feature = "postcard")))]
    Postcard,
}

impl Encoding {
    /// Encodes `value`, an event of type `event` (named in errors), as event data.
    ///
    /// # Errors
    ///
    /// [`EncodeError`] if the value cannot be serialised in this encoding.
    pub fn encode<T: Serialize + ?Sized>(
        self,
        event: &'static str,
        value: &T,
    ) -> Result<String, EncodeError> {
        let fail = |cause| CodecError {
            event,
            direction: Direction::Encode,
            cause,
        };
        match self {
            Self::Json => serde_json::to_string(value).map_err(|e| fail(Cause::Json(e))),
            #[cfg(feature = "postcard")]
            Self::Postcard => postcard::to_allocvec(value)
                .map(|bytes| ::base64::Engine::encode(&crate::base64::ENGINE, bytes))
                .map_err(|e| fail(Cause::Postcard(e))),
        }
    }

    /// Decodes `data`, the data of an event of type `event` (named in errors).
    ///
    /// # Errors
    ///
    /// [`DecodeError`] if the data is not a valid encoding of `T` in this encoding.
    pub fn decode<T: DeserializeOwned>(
        self,
        event: &'static str,
        data: &str,
    ) -> Result<T, DecodeError> {
        let fail = |cause| CodecError {
            event,
            direction: Direction::Decode,
            cause,
        };
        match self {
            Self::Json => serde_json::from_str(data).map_err(|e| fail(Cause::Json(e))),
            #[cfg(feature = "postcard")]
            Self::Postcard => {
                let bytes = ::base64::Engine::decode(&crate::base64::ENGINE, data)
                    .map_err(|e| fail(Cause::Base64(e)))?;
                postcard::from_bytes(&bytes).map_err(|e| fail(Cause::Postcard(e)))
            }
        }
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
    #[cfg(feature = "postcard")]
    Postcard(postcard::Error),
    #[cfg(feature = "postcard")]
    Base64(::base64::DecodeError),
    Other(Box<dyn std::error::Error + Send + Sync>),
}

impl fmt::Display for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "could not {} a `{}` event: ", self.direction, self.event)?;
        match &self.cause {
            Cause::Json(error) => fmt::Display::fmt(error, f),
            #[cfg(feature = "postcard")]
            Cause::Postcard(error) => fmt::Display::fmt(error, f),
            #[cfg(feature = "postcard")]
            Cause::Base64(error) => write!(f, "not base64: {error}"),
            Cause::Other(error) => fmt::Display::fmt(error, f),
        }
    }
}

impl std::error::Error for CodecError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(match &self.cause {
            Cause::Json(error) => error,
            #[cfg(feature = "postcard")]
            Cause::Postcard(error) => error,
            #[cfg(feature = "postcard")]
            Cause::Base64(error) => error,
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

    #[cfg(feature = "postcard")]
    mod postcard {
        use super::*;

        #[derive(Debug, PartialEq, Serialize, Deserialize)]
        struct Samples {
            seq: u64,
            label: String,
            values: Vec<f32>,
        }

        impl TypedEvent for Samples {
            const NAME: &'static str = "samples";
            const ENCODING: Encoding = Encoding::Postcard;
        }

        fn samples() -> Samples {
            Samples {
                seq: 300,
                label: "sensor 1".into(),
                values: vec![1.5, f32::MIN_POSITIVE, -0.0],
            }
        }

        #[test]
        fn round_trips_as_base64_text_on_one_line() {
            let frame = samples().to_frame().expect("serialisable");
            let text = frame.as_str();
            let data = text
                .strip_prefix("event: samples\ndata: ")
                .and_then(|rest| rest.strip_suffix("\n\n"))
                .expect("one data line");
            assert!(
                data.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b))
            );
            assert_eq!(Samples::decode(data).expect("what was sent"), samples());
            let json = serde_json::to_string(&samples()).expect("serialisable");
            assert!(data.len() < json.len(), "{data} against {json}");
        }

        #[test]
        fn bad_data_is_an_error_naming_the_event_and_why() {
            let data = samples().encode().expect("serialisable");
            let cut = &data[..data.len() - 8];
            for (bad, why) in [
                ("{\"seq\":1}", "not base64"),
                (cut, "Hit the end of buffer"),
            ] {
                let error = Samples::decode(bad).expect_err("not a Samples");
                assert_eq!(
                    (error.event(), error.direction()),
                    ("samples", Direction::Decode)
                );
                let message = error.to_string();
                assert!(
                    message.starts_with("could not decode a `samples` event: "),
                    "{message}"
                );
                assert!(message.contains(why), "{message}");
                assert!(std::error::Error::source(&error).is_some());
            }
        }
    }
}
