//! Notifications: sign in as a user (a cookie), and only that user's notifications arrive, as
//! toasts. The stream opens once signed in: its URL is empty until then.

use demo_events::Notification;
use leptos::prelude::*;
use leptos::task::spawn_local;
use serde_json::json;

use crate::{api, page_stream};

/// Sign in, send, and receive your own notifications.
#[component]
pub(crate) fn NotificationsPage() -> impl IntoView {
    let user = RwSignal::new(None::<String>);
    let url = Signal::derive(move || {
        if user.get().is_some() {
            "/api/notifications".to_owned()
        } else {
            String::new()
        }
    });
    let sse = page_stream(url, &["notification"]);
    let toasts = sse.history::<Notification>(5);

    let (name, status) = (RwSignal::new(String::new()), RwSignal::new(String::new()));
    let sign_in = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let who = name.get_untracked();
        spawn_local(async move {
            match api::post("/api/session", &json!({ "user": who })).await {
                Ok(_) => {
                    status.set(String::new());
                    user.set(Some(who));
                }
                Err(error) => status.set(error),
            }
        });
    };
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
            <form class="form" on:submit=sign_in aria-label="Sign in">
                <label>"Your name" <input data-testid="user" required bind:value=name/></label>
                <button type="submit" data-testid="sign-in">"Sign in"</button>
                <span class="form__status" role="status" data-testid="signed-in">
                    {move || user.get().map(|u| format!("signed in as {u}")).unwrap_or_else(|| status.get())}
                </span>
            </form>
            <form class="form" on:submit=send aria-label="Send a notification">
                <label>"To" <input data-testid="to" required bind:value=to/></label>
                <label>"Text" <input data-testid="text" required bind:value=text/></label>
                <button type="submit" data-testid="send">"Send"</button>
                <span class="form__status" role="status">{sent}</span>
            </form>
            <ul class="toasts" role="log" aria-label="Your notifications" data-testid="toasts">
                {move || toasts.get().into_iter().rev().map(|n| view! {
                    <li class="toast" data-testid="toast">{format!("{}: {}", n.user, n.text)}</li>
                }).collect_view()}
            </ul>
        </section>
    }
}
