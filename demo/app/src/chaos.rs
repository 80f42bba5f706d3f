//! The chaos panel: breaks the server on purpose (its fault injection, on with `--faults`), so
//! that a visitor can watch reconnects, resume and the fallback to polling happen.

use leptos::prelude::*;
use leptos::task::spawn_local;
use serde_json::json;

use crate::api;

/// Buttons that order faults from the server.
#[component]
pub(crate) fn ChaosPanel() -> impl IntoView {
    let status = RwSignal::new(String::new());
    let order = move |path: &'static str, body: serde_json::Value, done: &'static str| {
        move |_| {
            let body = body.clone();
            spawn_local(async move {
                match api::post(path, &body).await {
                    Ok(_) => status.set(done.into()),
                    Err(error) => status.set(format!("{error} (start the server with --faults)")),
                }
            });
        }
    };
    let clear = move |_| {
        spawn_local(async move {
            match api::delete("/api/faults").await {
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
