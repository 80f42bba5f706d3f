//! The stock ticker: a few symbols whose prices take a random walk, one tick at a time.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use demo_events::Tick;
use futures_util::StreamExt;
use tidings_axum::{EventStream, Frame, TypedEvent};
use tokio::sync::broadcast;
use tokio_stream::wrappers::BroadcastStream;

use crate::AppState;

/// The symbols on the ticker, with their opening prices.
const SYMBOLS: [(&str, f64); 3] = [("ACME", 120.0), ("GLOBX", 48.5), ("INITECH", 310.25)];

/// How many ticks a slow subscriber may fall behind before its stream is ended.
const BACKLOG: usize = 1024;

/// The running ticker: each tick is published to every open stream.
#[derive(Debug)]
pub struct Ticker {
    frames: broadcast::Sender<Frame>,
}

impl Ticker {
    /// Starts the ticker's task, which ticks every `interval` until the runtime stops.
    pub fn start(interval: Duration) -> Arc<Self> {
        let (frames, _) = broadcast::channel(BACKLOG);
        let ticker = Arc::new(Self {
            frames: frames.clone(),
        });
        tokio::spawn(async move {
            let mut prices = PriceWalk::new();
            let mut clock = tokio::time::interval(interval);
            clock.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            for seq in 1u64.. {
                clock.tick().await;
                let tick = prices.next_tick(seq);
                match tick.to_frame() {
                    // No subscriber is fine: the tick is simply not seen.
                    Ok(frame) => drop(frames.send(frame.id(&seq.to_string()))),
                    Err(error) => tracing::error!(%error, "cannot encode a tick"),
                }
            }
        });
        ticker
    }

    /// A new subscription to the live ticks.
    pub fn subscribe(&self) -> broadcast::Receiver<Frame> {
        self.frames.subscribe()
    }
}

/// `GET /api/ticker`: the live ticks as `tick` events whose ID is their sequence number.
pub async fn stream(State(state): State<AppState>) -> EventStream {
    let ticks = BroadcastStream::new(state.ticker.subscribe())
        // A subscriber that fell more than BACKLOG ticks behind is cut off: its client
        // reconnects rather than this server buffering without bound.
        .take_while(|frame| std::future::ready(frame.is_ok()))
        .filter_map(|frame| std::future::ready(frame.ok()));
    tracing::debug!(event = Tick::NAME, "ticker stream opened");
    EventStream::new(state.until_closing(ticks)).retry(Duration::from_secs(1))
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

    fn next_tick(&mut self, seq: u64) -> Tick {
        // xorshift64: a small, fast generator, good enough for a demo's price noise.
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        let index = usize::try_from(seq % SYMBOLS.len() as u64).unwrap_or(0);
        let step = (self.state % 2001) as f64 / 1000.0 - 1.0; // -1.0 ..= 1.0
        let price = &mut self.prices[index];
        *price = (*price * (1.0 + step / 100.0)).max(0.01);
        Tick {
            symbol: SYMBOLS[index].0.to_owned(),
            price: (*price * 100.0).round() / 100.0,
            seq,
        }
    }
}
