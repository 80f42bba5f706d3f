//! Bytes in typed events, as base64: `#[serde(with = "tidings_wire::base64")]` on a field of
//! bytes (`Vec<u8>`, or any type that is `AsRef<[u8]>` and `From<Vec<u8>>`).
//!
//! SSE data is text, and JSON writes bytes as an array of numbers (`[137,80,78,71]`, up to four
//! characters a byte). With this attribute a JSON event carries them as base64 text instead
//! (4 characters for every 3 bytes), which JavaScript reads with `atob` and Python with
//! `base64.b64decode`. In a binary format such as [`Encoding::Postcard`](crate::Encoding), the
//! bytes stay bytes, and the whole event is base64 once.
//!
//! The standard alphabet, padded; decoding takes it with or without padding.
//!
//! ```
//! use serde::{Deserialize, Serialize};
//! use tidings_wire::TypedEvent;
//!
//! #[derive(Debug, PartialEq, Serialize, Deserialize)]
//! struct Thumbnail {
//!     post: u64,
//!     #[serde(with = "tidings_wire::base64")]
//!     png: Vec<u8>,
//! }
//!
//! impl TypedEvent for Thumbnail {
//!     const NAME: &'static str = "thumbnail";
//! }
//!
//! let thumbnail = Thumbnail { post: 3, png: vec![0x89, b'P', b'N', b'G'] };
//! let data = thumbnail.encode().expect("serialisable");
//! assert_eq!(data, r#"{"post":3,"png":"iVBORw=="}"#);
//! assert_eq!(Thumbnail::decode(&data).expect("what was sent"), thumbnail);
//! ```

use std::fmt;

use ::base64::Engine as _;
use ::base64::alphabet;
use ::base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::ser::Serializer;

/// Standard alphabet, padded when written, padding optional when read: what `btoa`, Python's
/// `b64encode` and most servers write, and what those that strip the padding write too.
pub(crate) const ENGINE: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Writes `bytes` as base64 text in a human-readable format (JSON), as bytes in a binary one.
///
/// # Errors
///
/// Whatever the serializer returns.
pub fn serialize<S: Serializer>(
    bytes: &impl AsRef<[u8]>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    if serializer.is_human_readable() {
        serializer.serialize_str(&ENGINE.encode(bytes.as_ref()))
    } else {
        serializer.serialize_bytes(bytes.as_ref())
    }
}

/// Reads what [`serialize`] wrote.
///
/// # Errors
///
/// If the value is not base64 text (in a human-readable format) or bytes.
pub fn deserialize<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: From<Vec<u8>>,
{
    if deserializer.is_human_readable() {
        deserializer.deserialize_str(Base64Visitor).map(T::from)
    } else {
        deserializer.deserialize_byte_buf(BytesVisitor).map(T::from)
    }
}

struct Base64Visitor;

impl Visitor<'_> for Base64Visitor {
    type Value = Vec<u8>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("base64 text")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Vec<u8>, E> {
        ENGINE
            .decode(text)
            .map_err(|error| E::custom(format_args!("not base64: {error}")))
    }
}

struct BytesVisitor;

impl<'de> Visitor<'de> for BytesVisitor {
    type Value = Vec<u8>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("bytes")
    }

    fn visit_bytes<E: de::Error>(self, bytes: &[u8]) -> Result<Vec<u8>, E> {
        Ok(bytes.to_vec())
    }

    fn visit_byte_buf<E: de::Error>(self, bytes: Vec<u8>) -> Result<Vec<u8>, E> {
        Ok(bytes)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<u8>, A::Error> {
        let mut bytes = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(byte) = seq.next_element()? {
            bytes.push(byte);
        }
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Blob {
        #[serde(with = "crate::base64")]
        bytes: Vec<u8>,
    }

    #[test]
    fn json_carries_base64_text_read_with_or_without_padding() {
        let blob = Blob {
            bytes: b"tidings".to_vec(),
        };
        let json = serde_json::to_string(&blob).expect("serialisable");
        assert_eq!(json, r#"{"bytes":"dGlkaW5ncw=="}"#);
        for text in [json.as_str(), r#"{"bytes":"dGlkaW5ncw"}"#] {
            assert_eq!(serde_json::from_str::<Blob>(text).expect("base64"), blob);
        }
    }

    #[test]
    fn text_that_is_not_base64_is_an_error_that_says_so() {
        let error =
            serde_json::from_str::<Blob>(r#"{"bytes":"no spaces!"}"#).expect_err("not base64");
        assert!(error.to_string().starts_with("not base64"), "{error}");
    }

    #[cfg(feature = "postcard")]
    #[test]
    fn a_binary_format_keeps_bytes_as_bytes() {
        let blob = Blob {
            bytes: vec![0, 255, 7],
        };
        let bytes = postcard::to_allocvec(&blob).expect("serialisable");
        assert_eq!(
            bytes,
            [3, 0, 255, 7],
            "a length, then the bytes as they are"
        );
        assert_eq!(postcard::from_bytes::<Blob>(&bytes).expect("bytes"), blob);
    }
}
