//! The event inspector: every raw event of the current page's stream, with its ID, type and
//! arrival time, and every decode error.

use std::collections::VecDeque;

use leptos::prelude::*;
use tidings::Sse;

/// How many entries the inspector keeps.
const KEEP: usize = 40;

/// One line of the inspector.
#[derive(Clone, Debug)]
pub(crate) struct Entry {
    at: String,
    event_type: String,
    id: String,
    data: String,
    error: bool,
}

/// The inspector's entries, newest last.
#[derive(Clone, Copy)]
pub(crate) struct Log(RwSignal<VecDeque<Entry>>);

impl Log {
    pub(crate) fn new() -> Self {
        Self(RwSignal::new(VecDeque::new()))
    }

    fn push(self, entry: Entry) {
        self.0.update(|entries| {
            if entries.len() == KEEP {
                entries.pop_front();
            }
            entries.push_back(entry);
        });
    }

    /// Logs the raw events of `event_types` on `sse`, and its decode errors.
    pub(crate) fn follow(self, sse: Sse, event_types: &[&'static str]) {
        // A new page's stream starts a fresh log.
        self.0.set(VecDeque::new());
        for &event_type in event_types {
            sse.on_raw(event_type, move |event| {
                let (data, id) = (event.data, event.last_event_id);
                let data = match data.char_indices().nth(120) {
                    Some((cut, _)) => format!("{}…", &data[..cut]),
                    None => data.to_owned(),
                };
                self.push(Entry {
                    at: clock(),
                    event_type: event_type.to_owned(),
                    id: id.to_owned(),
                    data,
                    error: false,
                });
            });
        }
        let errors = sse.decode_error();
        Effect::new(move |_| {
            if let Some(error) = errors.get() {
                self.push(Entry {
                    at: clock(),
                    event_type: error.event().to_owned(),
                    id: String::new(),
                    data: error.to_string(),
                    error: true,
                });
            }
        });
    }
}

/// The time of day, to the millisecond.
fn clock() -> String {
    let now = js_sys::Date::new_0();
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        now.get_hours(),
        now.get_minutes(),
        now.get_seconds(),
        now.get_milliseconds()
    )
}

/// The inspector panel.
#[component]
pub(crate) fn Inspector() -> impl IntoView {
    let log = expect_context::<crate::Demo>().inspector;
    view! {
        <section class="panel inspector" aria-labelledby="inspector-title">
            <h2 id="inspector-title">"Event inspector"</h2>
            <ol class="inspector__list" data-testid="inspector">
                {move || log.0.get().into_iter().rev().map(|e| view! {
                    <li class=if e.error { "entry entry--error" } else { "entry" }>
                        <span class="entry__time">{e.at}</span>
                        <span class="entry__type">{e.event_type}</span>
                        <span class="entry__id">{e.id}</span>
                        <code class="entry__data">{e.data}</code>
                    </li>
                }).collect_view()}
            </ol>
        </section>
    }
}
