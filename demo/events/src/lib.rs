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
