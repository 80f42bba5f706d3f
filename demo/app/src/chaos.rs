//! The chaos panel: breaks the server on purpose (the fixture server's fault injection), so that
//! a visitor can watch reconnects, resume and the fallback to polling happen. It needs the
//! token `cargo xtask demo` prints, in the page's `?chaos=` parameter; without one it is not
//! shown.

use leptos::prelude::*;
use leptos::task::spawn_local;
use serde_json::json;

use crate::api;

/// The chaos token from the page's URL (`?chaos=...`), if any.
fn token() -> Option<String> {
    let search = web_sys::window()?.location().search().ok()?;
    let params = web_sys::UrlSearchParams::new_with_str(&search).ok()?;
    params.get("chaos").filter(|token| !token.is_empty())
}

/// Buttons that order faults from the server, when the page has the chaos token.
#[component]
pub(crate) fn ChaosPanel() -> impl IntoView {
    token().map(|token| view! { <Buttons token=token/> })
}

#[component]
fn Buttons(token: String) -> impl IntoView {
    let status = RwSignal::new(String::new());
    let token = StoredValue::new(token);
    let order = move |path: &'static str, body: serde_json::Value, done: &'static str| {
        move |_| {
            let body = body.clone();
            spawn_local(async move {
                let token = token.get_value();
                match api::post_with(path, &body, &[("X-Chaos-Token", &token)]).await {
                    Ok(_) => status.set(done.into()),
                    Err(error) => status.set(error),
                }
            });
        }
    };
    let clear = move |_| {
        spawn_local(async move {
            let token = token.get_value();
            match api::delete_with("/api/faults", &[("X-Chaos-Token", &token)]).await {
                Ok(()) => status.set("all faults cleared".into()),
                Err(error) => status.set(error),
            }
        });
    };
    view! {
        <section class="panel chaos" role="group" aria-labelledby="chaos-title">
            <h2 id="chaos-title">"Chaos"</h2>
            <div class="chaos__buttons">
                <button type="button" data-testid="chaos-drop"
                    on:click=order("/api/faults/drop", json!({}), "dropped every stream")>"Drop connections"</button>
                <button type="button" data-testid="chaos-fail"
                    on:click=order("/api/faults/fail", json!({"count": 3, "status": 503}), "next 3 connections fail (503)")>"Fail next 3"</button>
                <button type="button" data-testid="chaos-stall"
                    on:click=order("/api/faults/stall", json!({"on": true}), "new streams stall")>"Stall streams"</button>
                <button type="button" data-testid="chaos-clear" on:click=clear>"Clear"</button>
            </div>
            <p class="meta" role="status" data-testid="chaos-status">{status}</p>
        </section>
    }
}
