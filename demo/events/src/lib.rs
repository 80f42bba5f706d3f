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
}
