//! The ticker panel: the latest tick, and a card per symbol with a sparkline of its history.

use demo_events::Tick;
use leptos::prelude::*;
use tidings::Sse;

/// How many ticks the sparklines remember.
const HISTORY: usize = 90;

/// Live prices from the `tick` events of `sse`.
#[component]
pub(crate) fn TickerPanel(sse: Sse) -> impl IntoView {
    let latest = sse.latest::<Tick>();
    let history = sse.history::<Tick>(HISTORY);
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
            <p class="latest" data-testid="latest-tick" aria-live="polite">
                {move || match latest.get() {
                    Some(tick) => format!("#{} {} {:.2}", tick.seq, tick.symbol, tick.price),
                    None => "waiting for the first tick…".to_owned(),
                }}
            </p>
            <ul class="cards">
                <For each=symbols key=|symbol| symbol.clone() let:symbol>
                    <SymbolCard symbol=symbol history=history/>
                </For>
            </ul>
        </section>
    }
}

/// One symbol's price and sparkline.
#[component]
fn SymbolCard(symbol: String, history: Signal<std::collections::VecDeque<Tick>>) -> impl IntoView {
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
            <span class=move || change_class(change())>
                {move || format!("{:+.2}%", change())}
            </span>
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
