//! The ticker page: the latest tick, a card per symbol with a sparkline of its history, recent
//! trades (a second event type on the same stream), and a check that no tick went missing.

use std::collections::VecDeque;

use demo_events::{Tick, Trade};
use leptos::prelude::*;

use crate::page_stream;

/// How many ticks the sparklines remember.
const HISTORY: usize = 90;

/// Live prices from `/api/ticker`.
#[component]
pub(crate) fn TickerPage() -> impl IntoView {
    let sse = page_stream("/api/ticker", &["tick", "trade"]);
    let latest = sse.latest::<Tick>();
    let history = sse.history::<Tick>(HISTORY);
    let trades = sse.history::<Trade>(8);
    // Ticks are numbered: a gap would mean a lost event (none should ever show).
    let (received, gaps) = (RwSignal::new(0u64), RwSignal::new(0u64));
    let last_seq = StoredValue::new(None::<u64>);
    sse.on::<Tick>(move |tick| {
        if let Some(last) = last_seq.get_value()
            && tick.seq != last + 1
        {
            gaps.update(|g| *g += 1);
        }
        last_seq.set_value(Some(tick.seq));
        received.update(|r| *r += 1);
    });
    let symbols = move || {
        let mut symbols: Vec<String> =
            history.with(|ticks| ticks.iter().map(|t| t.symbol.clone()).collect());
        symbols.sort();
        symbols.dedup();
        symbols
    };
    view! {
        <section class="panel" aria-labelledby="ticker-title">
            <h2 id="ticker-title">"Ticker"</h2>
            <p class="latest" data-testid="latest-tick" aria-live="off">
                {move || match latest.get() {
                    Some(tick) => format!("#{} {} {:.2}", tick.seq, tick.symbol, tick.price),
                    None => "waiting for the first tick…".to_owned(),
                }}
            </p>
            <p class="meta">
                <span data-testid="received">{received}</span>" ticks received, "
                <span data-testid="gaps">{gaps}</span>" missing"
            </p>
            <ul class="cards">
                <For each=symbols key=|symbol| symbol.clone() let:symbol>
                    <SymbolCard symbol=symbol history=history/>
                </For>
            </ul>
            <h3>"Trades"</h3>
            <ul class="trades" data-testid="trades">
                {move || trades.get().into_iter().rev().map(|t| view! {
                    <li>{format!("{} × {} @ {:.2} (after #{})", t.quantity, t.symbol, t.price, t.seq)}</li>
                }).collect_view()}
            </ul>
        </section>
    }
}

/// One symbol's price and sparkline.
#[component]
fn SymbolCard(symbol: String, history: Signal<VecDeque<Tick>>) -> impl IntoView {
    let name = symbol.clone();
    let data_symbol = symbol.clone();
    let prices = Memo::new(move |_| {
        history.with(|ticks| {
            ticks
                .iter()
                .filter(|t| t.symbol == symbol)
                .map(|t| t.price)
                .collect::<Vec<_>>()
        })
    });
    let last = move || prices.with(|p| p.last().copied());
    let change = move || {
        prices.with(|p| match (p.first(), p.last()) {
            (Some(first), Some(last)) if *first > 0.0 => (last - first) / first * 100.0,
            _ => 0.0,
        })
    };
    view! {
        <li class="card" data-symbol=data_symbol>
            <div class="card__head">
                <span class="card__symbol">{name}</span>
                <span class="card__price">{move || last().map(|p| format!("{p:.2}")).unwrap_or_default()}</span>
            </div>
            <svg class="spark" viewBox="0 0 100 30" preserveAspectRatio="none" role="img" aria-label="recent prices">
                <polyline points=move || prices.with(|p| sparkline(p)) />
            </svg>
            <span class=move || change_class(change())>{move || format!("{:+.2}%", change())}</span>
        </li>
    }
}

/// The class that colours a change up or down.
fn change_class(change: f64) -> &'static str {
    if change >= 0.0 {
        "card__change up"
    } else {
        "card__change down"
    }
}

/// SVG polyline points for `prices`, scaled into a 100×30 box.
fn sparkline(prices: &[f64]) -> String {
    let (min, max) = prices
        .iter()
        .fold((f64::MAX, f64::MIN), |(lo, hi), &p| (lo.min(p), hi.max(p)));
    let span = if max > min { max - min } else { 1.0 };
    let step = if prices.len() > 1 {
        100.0 / (prices.len() - 1) as f64
    } else {
        0.0
    };
    prices
        .iter()
        .enumerate()
        .map(|(i, p)| {
            format!(
                "{:.1},{:.1}",
                i as f64 * step,
                28.0 - (p - min) / span * 26.0
            )
        })
        .collect::<Vec<_>>()
        .join(" ")
}
