//! The typed contract between the tidings demo server and app.
//!
//! Each type is one SSE event type: the server sends it with `tidings-axum`, the app receives it
//! as a signal with `tidings`, and neither side can drift from the other.
#![deny(missing_docs)]

use serde::{Deserialize, Serialize};
use tidings_wire::TypedEvent;

/// A price update for one stock symbol, sent on the ticker stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tick {
    /// The stock symbol, such as `ACME`.
    pub symbol: String,
    /// The price, in dollars.
    pub price: f64,
    /// The position of this tick in the ticker's sequence, counting from 1. It is also the
    /// event's ID on the wire.
    pub seq: u64,
}

impl TypedEvent for Tick {
    const NAME: &'static str = "tick";
}

/// A trade on the ticker: a second event type on the same stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trade {
    /// The stock symbol.
    pub symbol: String,
    /// The price paid, in dollars.
    pub price: f64,
    /// How many shares changed hands.
    pub quantity: u32,
    /// The tick after which the trade happened.
    pub seq: u64,
}

impl TypedEvent for Trade {
    const NAME: &'static str = "trade";
}

/// A live-blog post, as published and as updated (the same shape: an update replaces it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Post {
    /// The post's number, unique on the blog.
    pub id: u64,
    /// The headline.
    pub title: String,
    /// The text.
    pub body: String,
    /// How many times it has been viewed.
    pub views: u64,
}

impl TypedEvent for Post {
    const NAME: &'static str = "post";
}

/// A post was edited: the new version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostUpdated {
    /// The post as it now reads.
    pub post: Post,
}

impl TypedEvent for PostUpdated {
    const NAME: &'static str = "update";
}

/// A post was taken down.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostDeleted {
    /// The post's number.
    pub id: u64,
}

impl TypedEvent for PostDeleted {
    const NAME: &'static str = "delete";
}

/// A post's view count changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Views {
    /// The post's number.
    pub id: u64,
    /// Its views so far.
    pub views: u64,
}

impl TypedEvent for Views {
    const NAME: &'static str = "views";
}

/// A notification for one signed-in user; only that user's stream carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    /// The user it is for.
    pub user: String,
    /// What it says.
    pub text: String,
}

impl TypedEvent for Notification {
    const NAME: &'static str = "notification";
}

/// How far a long job has got.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    /// The job's number.
    pub job: u64,
    /// Percent done, 0 to 100.
    pub percent: u8,
}

impl TypedEvent for Progress {
    const NAME: &'static str = "progress";
}

/// A long job finished; its stream ends after this, and reconnecting is answered `204`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobDone {
    /// The job's number.
    pub job: u64,
}

impl TypedEvent for JobDone {
    const NAME: &'static str = "done";
}

/// A batch of sensor readings: numeric data, where a binary encoding pays. Not on the demo's
/// pages: the fixture server streams it for the codec tests and `cargo xtask bench codecs`,
/// as JSON ([`Samples`]) and as postcard ([`BinarySamples`], the same value).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Samples {
    /// The position in the stream, from 1; also the event's ID.
    pub seq: u64,
    /// Which sensor.
    pub sensor: String,
    /// When the batch was taken, in milliseconds since the Unix epoch.
    pub taken_at: u64,
    /// The readings.
    pub values: Vec<f32>,
    /// A raw frame from the sensor: base64 text in JSON, bytes in postcard.
    #[serde(with = "tidings_wire::base64")]
    pub raw: Vec<u8>,
}

/// Readings per [`Samples`].
pub const SAMPLES_PER_EVENT: usize = 64;

impl Samples {
    /// Batch `seq` of a fixed, made-up series: the same on every machine and in wasm (it is
    /// integer arithmetic), so that a test can check every value it received.
    #[must_use]
    pub fn nth(seq: u64) -> Self {
        // splitmix64: well-spread bits from a counter.
        let mix = |n: u64| {
            let mut z = n.wrapping_add(0x9E37_79B9_7F4A_7C15);
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        let base = seq.wrapping_mul(SAMPLES_PER_EVENT as u64);
        let values = (0..SAMPLES_PER_EVENT as u64)
            .map(|i| {
                // A float in [1, 2) with all 23 bits of its fraction in use, as measurements have.
                let fraction = (mix(base + i) & 0x7F_FFFF) as u32;
                f32::from_bits(0x3F80_0000 | fraction)
            })
            .collect();
        let raw = mix(!seq).to_le_bytes().repeat(4);
        Self {
            seq,
            sensor: format!("sensor-{}", seq % 8),
            taken_at: 1_780_000_000_000 + seq * 10,
            values,
            raw,
        }
    }
}

impl TypedEvent for Samples {
    const NAME: &'static str = "samples";
}

/// [`Samples`] in postcard, a binary encoding, as base64: the same value, another event type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct BinarySamples(pub Samples);

impl TypedEvent for BinarySamples {
    const NAME: &'static str = "samples-postcard";
    const ENCODING: tidings_wire::Encoding = tidings_wire::Encoding::Postcard;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tick_round_trips_through_its_wire_form() {
        let tick = Tick {
            symbol: "ACME".into(),
            price: 101.25,
            seq: 7,
        };
        let frame = tick.to_frame().expect("a Tick always serialises");
        assert_eq!(
            frame.as_str(),
            "event: tick\ndata: {\"symbol\":\"ACME\",\"price\":101.25,\"seq\":7}\n\n"
        );
        assert_eq!(
            Tick::decode(r#"{"symbol":"ACME","price":101.25,"seq":7}"#).ok(),
            Some(tick)
        );
    }

    #[test]
    fn samples_round_trip_in_both_encodings_and_postcard_is_smaller() {
        let samples = Samples::nth(42);
        assert_eq!(samples, Samples::nth(42), "the series is fixed");
        let json = samples.encode().expect("serialisable");
        let binary = BinarySamples(samples.clone())
            .encode()
            .expect("serialisable");
        assert_eq!(Samples::decode(&json).expect("JSON"), samples);
        assert_eq!(BinarySamples::decode(&binary).expect("postcard").0, samples);
        assert!(json.contains(r#""raw":""#), "bytes as base64 text: {json}");
        assert!(
            binary.len() * 10 < json.len() * 6,
            "{} against {}",
            binary.len(),
            json.len()
        );
    }
}
