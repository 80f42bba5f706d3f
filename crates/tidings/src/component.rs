//! A ready-made connection indicator: [`ConnectionBadge`].

use leptos::prelude::*;

use crate::{ConnectionState, Sse};

/// A small badge showing the state of a connection: "open", "reconnecting in 3 s", "failed: …",
/// with a "retry now" button while it waits to reconnect or has failed. It is a polite live
/// region, so screen readers announce changes.
///
/// Style it through its classes: `tidings-badge` and `tidings-badge--<state>`, where `<state>`
/// is [`ConnectionState::label`] (`open`, `reconnecting`, `failed`, …); its `data-state`
/// attribute carries the same label.
///
/// ```no_run
/// use leptos::prelude::*;
/// use tidings::{ConnectionBadge, use_sse};
///
/// #[component]
/// fn Header() -> impl IntoView {
///     let sse = use_sse("/api/ticker");
///     view! { <header><ConnectionBadge sse=sse/></header> }
/// }
/// ```
#[component]
pub fn ConnectionBadge(
    /// The connection to show.
    sse: Sse,
) -> impl IntoView {
    let state = sse.state();
    // A clock for the countdown, ticking only while a reconnection is scheduled.
    let now = RwSignal::new(crate::browser::clock::now_millis());
    Effect::new(move |_| {
        if let ConnectionState::Reconnecting { .. } = state.get() {
            let ticking = set_interval_with_handle(
                move || now.set(crate::browser::clock::now_millis()),
                std::time::Duration::from_millis(250),
            );
            now.set(crate::browser::clock::now_millis());
            if let Ok(handle) = ticking {
                on_cleanup(move || handle.clear());
            }
        }
    });
    let text = move || match state.get() {
        ConnectionState::Reconnecting { at, reason, .. } => {
            let seconds = ((at.0 - now.get()) / 1000.0).ceil().max(0.0);
            format!("reconnecting in {seconds:.0} s ({reason})")
        }
        other => other.to_string(),
    };
    let class = move || format!("tidings-badge tidings-badge--{}", state.get().label());
    let can_retry = move || {
        matches!(
            state.get(),
            ConnectionState::Reconnecting { .. } | ConnectionState::Failed { .. }
        )
    };
    view! {
        <span class=class role="status" aria-live="polite" data-state=move || state.get().label()>
            <span class="tidings-badge__text">{text}</span>
            <Show when=can_retry>
                <button type="button" class="tidings-badge__retry" on:click=move |_| sse.open()>
                    "retry now"
                </button>
            </Show>
        </span>
    }
}
