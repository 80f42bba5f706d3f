//! A ready-made connection indicator: [`ConnectionBadge`], and its default look,
//! [`ConnectionBadgeStyles`].

use leptos::prelude::*;

use crate::{ConnectionState, Sse};

/// A small badge showing the state of a connection: "open", "reconnecting in 3 s", "failed: …",
/// with a "retry now" button while it waits to reconnect or has failed (the button is `hidden`
/// otherwise). It is a polite live region, so screen readers announce changes.
///
/// It comes unstyled: put [`ConnectionBadgeStyles`] in the page once for the default look (a
/// pill with a coloured dot, as in the README), or style it yourself: the classes
/// `tidings-badge`, `tidings-badge__text` and `tidings-badge__retry`, and the `data-state`
/// attribute, which holds [`ConnectionState::label`] (`open`, `reconnecting`, `failed`, …):
/// `.tidings-badge[data-state="open"]`.
///
/// ```no_run
/// use leptos::prelude::*;
/// use tidings::component::ConnectionBadgeStyles;
/// use tidings::{ConnectionBadge, use_sse};
///
/// #[component]
/// fn Header() -> impl IntoView {
///     let sse = use_sse("/api/ticker");
///     view! { <header><ConnectionBadgeStyles/><ConnectionBadge sse=sse/></header> }
/// }
/// ```
#[component]
pub fn ConnectionBadge(
    /// The connection to show.
    sse: Sse,
) -> impl IntoView {
    let state = sse.state();
    // The countdown's clock: a tick four times a second, only while a reconnection is
    // scheduled (a trigger carries no value: the text reads the time itself).
    let tick = Trigger::new();
    Effect::new(move |_| {
        if state.with(|state| matches!(state, ConnectionState::Reconnecting { .. })) {
            let ticking = set_interval_with_handle(
                move || tick.notify(),
                std::time::Duration::from_millis(250),
            );
            if let Ok(handle) = ticking {
                on_cleanup(move || handle.clear());
            }
        }
    });
    let text = move || {
        state.with(|state| match state {
            ConnectionState::Reconnecting { at, reason, .. } => {
                tick.track();
                // Whole seconds by a saturating cast: integer formatting costs the page far
                // less than a float's.
                let left = at.0 - crate::browser::clock::now_millis();
                let seconds = (left / 1000.0).ceil() as u64;
                format!("reconnecting in {seconds} s ({reason})")
            }
            other => other.to_string(),
        })
    };
    let cannot_retry = move || {
        !state.with(|state| {
            matches!(
                state,
                ConnectionState::Reconnecting { .. } | ConnectionState::Failed { .. }
            )
        })
    };
    view! {
        // One reactive attribute for the state (a class per state would be a second), and a
        // button hidden rather than made and unmade: each costs the page more code than it saves.
        <span
            class="tidings-badge"
            role="status"
            aria-live="polite"
            data-state=move || state.with(ConnectionState::label)
        >
            <span class="tidings-badge__text">{text}</span>
            <button
                type="button"
                class="tidings-badge__retry"
                hidden=cannot_retry
                on:click=move |_| sse.open()
            >
                "retry now"
            </button>
        </span>
    }
}

/// The default look of [`ConnectionBadge`], as CSS: a pill with a dot coloured by state. Its
/// colours are custom properties (`--tidings-badge-bg`, `-fg`, `-muted`, `-up`, `-warn`,
/// `-down`) to override on `.tidings-badge`. [`ConnectionBadgeStyles`] puts it in the page; an
/// app with its own stylesheet pipeline can include this text there instead.
pub const BADGE_STYLES: &str = include_str!("badge.css");

/// A `<style>` element holding [`BADGE_STYLES`]: place it once in the page (or the `<head>`),
/// anywhere, for every [`ConnectionBadge`] in it.
#[component]
pub fn ConnectionBadgeStyles() -> impl IntoView {
    view! { <style>{BADGE_STYLES}</style> }
}
