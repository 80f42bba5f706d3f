//! The stock ticker: a few symbols whose prices take a random walk, a `tick` at a time, and now
//! and then a `trade`.

use std::time::Duration;

use axum::Router;
use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::get;
use demo_events::{Tick, Trade};
use tidings_axum::LastEventId;

use crate::streams::{self, PeerIp, PollQuery, StreamRequest};
use tidings_axum::AnyChannel;

use crate::AppState;

/// The symbols on the ticker, with their opening prices.
const SYMBOLS: [(&str, f64); 3] = [("ACME", 120.0), ("GLOBX", 48.5), ("INITECH", 310.25)];

/// `/api/ticker` (the stream) and `/api/ticker/poll`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(stream))
        .route("/poll", get(poll))
}

/// Starts the ticker's task: a tick every `interval` into `channel`, until the runtime stops.
pub fn start(channel: AnyChannel, interval: Duration) {
    tokio::spawn(async move {
        let mut prices = PriceWalk::new();
        let mut clock = tokio::time::interval(interval);
        clock.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        for seq in 1u64.. {
            clock.tick().await;
            let (tick, trade) = prices.next(seq);
            if let Err(error) = channel.publish(&tick).await {
                tracing::error!(
                    error = &error as &dyn std::error::Error,
                    "cannot publish a tick"
                );
            }
            if let Some(trade) = trade
                && let Err(error) = channel.publish(&trade).await
            {
                tracing::error!(
                    error = &error as &dyn std::error::Error,
                    "cannot publish a trade"
                );
            }
        }
    });
}

/// `GET /api/ticker[?pace=N]`: every tick and trade, or at most N writes a second with the
/// newest tick per symbol and every trade.
async fn stream(State(state): State<AppState>, request: StreamRequest) -> Response {
    streams::open(&state, &state.ticker, &request)
}

async fn poll(
    State(state): State<AppState>,
    LastEventId(id): LastEventId,
    Query(query): Query<PollQuery>,
    peer: PeerIp,
) -> Response {
    streams::poll(&state, &state.ticker, id.as_deref(), &query, peer).await
}

/// Prices that move a little each tick, reproducibly (no randomness source needed).
struct PriceWalk {
    prices: Vec<f64>,
    state: u64,
}

impl PriceWalk {
    fn new() -> Self {
        Self {
            prices: SYMBOLS.iter().map(|&(_, price)| price).collect(),
            state: 0x2545_F491_4F6C_DD1D,
        }
    }

    fn random(&mut self) -> u64 {
        // xorshift64: small and fast, good enough for a demo's price noise.
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        self.state
    }

    /// The tick numbered `seq`, and sometimes a trade after it.
    fn next(&mut self, seq: u64) -> (Tick, Option<Trade>) {
        let index = usize::try_from(seq % SYMBOLS.len() as u64).unwrap_or(0);
        let step = (self.random() % 2001) as f64 / 1000.0 - 1.0; // -1.0 ..= 1.0
        let price = &mut self.prices[index];
        *price = (*price * (1.0 + step / 100.0)).max(0.01);
        let price = (*price * 100.0).round() / 100.0;
        let symbol = SYMBOLS[index].0.to_owned();
        let trade = self.random().is_multiple_of(5).then(|| Trade {
            symbol: symbol.clone(),
            price,
            quantity: u32::try_from(self.random() % 500 + 1).unwrap_or(1),
            seq,
        });
        (Tick { symbol, price, seq }, trade)
    }
}
