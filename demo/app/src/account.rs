//! Signing in: the side panel's form, and who is signed in, for every page. The server keeps
//! the session in an encrypted cookie; the page only shows it.

use leptos::prelude::*;
use leptos::task::spawn_local;
use serde::Deserialize;
use serde_json::json;

use crate::api;

/// A signed-in account, as `GET /api/session` tells it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub(crate) struct Account {
    pub(crate) user: String,
    pub(crate) role: String,
}

impl Account {
    pub(crate) fn is_admin(&self) -> bool {
        self.role == "admin"
    }
}

/// Who is signed in (`None`: nobody), shared by every page.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Session(pub(crate) RwSignal<Option<Account>>);

impl Session {
    /// The session, asked of the server once at start-up (the cookie outlives a reload).
    pub(crate) fn load() -> Self {
        let session = Self(RwSignal::new(None));
        spawn_local(async move {
            if let Ok(account) = api::get::<Account>("/api/session").await {
                session.0.set(Some(account));
            }
        });
        session
    }

    /// Whether an admin is signed in.
    pub(crate) fn is_admin(self) -> bool {
        self.0
            .with(|account| account.as_ref().is_some_and(Account::is_admin))
    }
}

/// The sign-in form, or who is signed in and a way out.
#[component]
pub(crate) fn AccountPanel() -> impl IntoView {
    let session = expect_context::<Session>();
    let (name, password, status) = (
        RwSignal::new(String::new()),
        RwSignal::new(String::new()),
        RwSignal::new(String::new()),
    );
    let sign_in = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let credentials =
            json!({ "user": name.get_untracked(), "password": password.get_untracked() });
        spawn_local(async move {
            match api::post("/api/session", &credentials).await {
                Ok(answer) => match serde_json::from_str::<Account>(&answer) {
                    Ok(account) => {
                        password.set(String::new());
                        status.set(String::new());
                        session.0.set(Some(account));
                    }
                    Err(error) => status.set(format!("unexpected answer: {error}")),
                },
                Err(error) => status.set(error),
            }
        });
    };
    let sign_out = move |_| {
        spawn_local(async move {
            match api::delete("/api/session").await {
                Ok(()) => session.0.set(None),
                Err(error) => status.set(error),
            }
        });
    };
    view! {
        <section class="panel" aria-labelledby="account-title">
            <h2 id="account-title">"Account"</h2>
            {move || match session.0.get() {
                Some(account) => view! {
                    <p class="meta">
                        <span data-testid="signed-in">
                            {format!("signed in as {}{}", account.user, if account.is_admin() { " (admin)" } else { "" })}
                        </span>
                        " "
                        <button type="button" data-testid="sign-out" on:click=sign_out>"Sign out"</button>
                    </p>
                }.into_any(),
                None => view! {
                    <form class="form" on:submit=sign_in aria-label="Sign in">
                        <label>"Name" <input data-testid="user" autocomplete="username" required bind:value=name/></label>
                        <label>"Password" <input data-testid="password" type="password" autocomplete="current-password" required bind:value=password/></label>
                        <button type="submit" data-testid="sign-in">"Sign in"</button>
                        <span class="form__status" role="status" data-testid="sign-in-status">{status}</span>
                    </form>
                    <p class="meta">"cargo xtask demo prints the demo accounts."</p>
                }.into_any(),
            }}
        </section>
    }
}
