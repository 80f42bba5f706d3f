//! Long jobs: start one and watch its progress to the end. When it is done the server answers
//! `204` to the reconnect, and the badge says the stream ended.

use demo_events::{JobDone, Progress};
use leptos::prelude::*;
use leptos::task::spawn_local;
use serde_json::json;

use crate::{api, page_stream};

/// Start a job; follow `/api/jobs/{id}`.
#[component]
pub(crate) fn JobsPage() -> impl IntoView {
    let job = RwSignal::new(None::<u64>);
    let url = Signal::derive(move || {
        job.get()
            .map(|id| format!("/api/jobs/{id}"))
            .unwrap_or_default()
    });
    let sse = page_stream(url, &["progress", "done"]);
    let progress = sse.latest::<Progress>();
    let done = sse.latest::<JobDone>();
    let error = RwSignal::new(String::new());
    let start = move |_| {
        spawn_local(async move {
            match api::post("/api/jobs", &json!({ "step_ms": 40 })).await {
                Ok(answer) => match serde_json::from_str::<serde_json::Value>(&answer)
                    .ok()
                    .and_then(|v| v["job"].as_u64())
                {
                    Some(id) => job.set(Some(id)),
                    None => error.set(format!("unexpected answer: {answer}")),
                },
                Err(e) => error.set(e),
            }
        });
    };
    let percent = move || {
        if done.with(Option::is_some) {
            100
        } else {
            progress.with(|p| p.as_ref().map_or(0, |p| p.percent))
        }
    };
    view! {
        <section class="panel" aria-labelledby="jobs-title">
            <h2 id="jobs-title">"Jobs"</h2>
            <button type="button" data-testid="start-job" on:click=start>"Start a job"</button>
            <span class="form__status" role="status">{error}</span>
            <Show when=move || job.get().is_some()>
                <p>{move || format!("Job #{}", job.get().unwrap_or_default())}</p>
                <div class="progress" role="progressbar" aria-label="Job progress"
                    aria-valuemin="0" aria-valuemax="100" aria-valuenow=move || percent().to_string()
                    data-testid="job-progress">
                    <div class="progress__bar" style=move || format!("width: {}%", percent())></div>
                </div>
                <p data-testid="job-status" aria-live="polite">
                    {move || if done.with(Option::is_some) { "done: 100 %".to_owned() } else { format!("{} %", percent()) }}
                </p>
            </Show>
        </section>
    }
}
