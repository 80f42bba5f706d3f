//! Notifications: once signed in (the side panel), only your own notifications arrive, as
//! toasts; an admin also sends them. The stream opens once signed in: its URL is empty until
//! then.

use demo_events::Notification;
use leptos::prelude::*;
use leptos::task::spawn_local;
use serde_json::json;

use crate::account::Session;
use crate::{api, page_stream};

/// Sign in, send, and receive your own notifications.
#[component]
pub(crate) fn NotificationsPage() -> impl IntoView {
    let session = expect_context::<Session>();
    // Signing out empties the URL, which closes the stream; the next sign-in opens it anew.
    let url = Signal::derive(move || {
        if session.0.with(Option::is_some) {
            "/api/notifications".to_owned()
        } else {
            String::new()
        }
    });
    let sse = page_stream(url, &["notification"]);
    let toasts = sse.history::<Notification>(5);

    let (to, text, sent) = (
        RwSignal::new(String::new()),
        RwSignal::new(String::new()),
        RwSignal::new(String::new()),
    );
    let send = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let message = json!({ "user": to.get_untracked(), "text": text.get_untracked() });
        spawn_local(async move {
            match api::post("/api/notifications", &message).await {
                Ok(_) => {
                    text.set(String::new());
                    sent.set("sent".into());
                }
                Err(error) => sent.set(error),
            }
        });
    };
    view! {
        <section class="panel" aria-labelledby="notifications-title">
            <h2 id="notifications-title">"Notifications"</h2>
            <Show
                when=move || session.0.with(Option::is_some)
                fallback=|| view! { <p class="meta">"Sign in (side panel) to see your notifications."</p> }
            >
                <Show when=move || session.is_admin()>
                    <form class="form" on:submit=send aria-label="Send a notification">
                        <label>"To" <input data-testid="to" required bind:value=to/></label>
                        <label>"Text" <input data-testid="text" required bind:value=text/></label>
                        <button type="submit" data-testid="send">"Send"</button>
                        <span class="form__status" role="status">{sent}</span>
                    </form>
                </Show>
            </Show>
            <ul class="toasts" role="log" aria-label="Your notifications" data-testid="toasts">
                {move || toasts.get().into_iter().rev().map(|n| view! {
                    <li class="toast" data-testid="toast">{format!("{}: {}", n.user, n.text)}</li>
                }).collect_view()}
            </ul>
        </section>
    }
}
