//! A ready-made connection indicator: [`ConnectionBadge`].

use leptos::prelude::*;

use crate::{ConnectionState, Sse};

/// A small badge showing the state of a connection, with a "retry now" button while it is
/// reconnecting or has failed. It is a polite live region, so screen readers announce changes.
///
/// Style it through its classes: `tidings-badge` and `tidings-badge--<state>`, where `<state>`
/// is [`ConnectionState::label`] (`open`, `reconnecting`, `failed`, …).
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
    let class = move || format!("tidings-badge tidings-badge--{}", state.get().label());
    let can_retry = move || {
        matches!(
            state.get(),
            ConnectionState::Reconnecting { .. } | ConnectionState::Failed { .. }
        )
    };
    view! {
        <span class=class role="status" aria-live="polite" data-state=move || state.get().label()>
            <span class="tidings-badge__text">{move || state.get().to_string()}</span>
            <Show when=can_retry>
                <button type="button" class="tidings-badge__retry" on:click=move |_| sse.open()>
                    "retry now"
                </button>
            </Show>
        </span>
    }
}
