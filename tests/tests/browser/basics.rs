//! The basics: typed events in order, history, failure instead of a hang, close.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use demo_events::Tick;
use leptos::prelude::*;
use tidings::{ConnectionState, Sharing, SseOptions, use_sse, use_sse_with_options};
use tidings_tests::browser::{failure, sleep, wait_for, with_owner};
use wasm_bindgen_test::wasm_bindgen_test;

use crate::{PATIENCE, url};

#[wasm_bindgen_test]
async fn typed_ticks_arrive_in_order_with_their_ids() {
    with_owner(|| async {
        let sse = use_sse(url("/api/ticker"));
        let ticks = Rc::new(RefCell::new(Vec::<Tick>::new()));
        let sink = ticks.clone();
        sse.on::<Tick>(move |tick| sink.borrow_mut().push(tick));
        let latest = sse.latest::<Tick>();
        let state = sse.state();
        // The ticker's IDs are opaque: note the raw ID of every event, ticks and trades alike.
        let last_raw_id = Rc::new(RefCell::new(String::new()));
        for event_type in ["tick", "trade"] {
            let last_raw_id = last_raw_id.clone();
            sse.on_raw(event_type, move |event| {
                *last_raw_id.borrow_mut() = event.last_event_id.to_owned()
            });
        }

        let received = wait_for(
            "five ticks",
            PATIENCE,
            || (ticks.borrow().len() >= 5).then(|| ticks.borrow().clone()),
            || {
                format!(
                    "{} ticks, state {}",
                    ticks.borrow().len(),
                    state.get_untracked()
                )
            },
        )
        .await;

        for pair in received.windows(2) {
            assert_eq!(
                pair[1].seq,
                pair[0].seq + 1,
                "ticks out of order or missing: {received:?}"
            );
        }
        assert!(matches!(
            state.get_untracked(),
            ConnectionState::Open { .. }
        ));
        // The signals agree with the callbacks.
        let latest = latest.get_untracked().expect("latest is set");
        assert!(latest.seq >= received[4].seq, "latest {latest:?} is behind");
        // The ID signal is updated once per turn of the event loop, not per event: it catches up
        // with the raw IDs (a tick can arrive between the two reads, so poll for agreement).
        let last_event_id = sse.last_event_id();
        wait_for(
            "the last-event-ID signal to match the last raw ID",
            PATIENCE,
            || (last_event_id.get_untracked() == Some(last_raw_id.borrow().clone())).then_some(()),
            || {
                format!(
                    "signal {:?}, raw {:?}",
                    last_event_id.get_untracked(),
                    last_raw_id.borrow()
                )
            },
        )
        .await;
    })
    .await;
}

#[wasm_bindgen_test]
async fn history_keeps_the_last_n_in_order() {
    with_owner(|| async {
        let sse = use_sse(url("/api/ticker"));
        let history = sse.history::<Tick>(3);
        let seen = Rc::new(RefCell::new(0usize));
        let counter = seen.clone();
        sse.on::<Tick>(move |_| *counter.borrow_mut() += 1);
        wait_for(
            "six ticks",
            PATIENCE,
            || (*seen.borrow() >= 6).then_some(()),
            || format!("{} ticks", seen.borrow()),
        )
        .await;
        let kept: Vec<u64> = history.with_untracked(|h| h.iter().map(|t| t.seq).collect());
        assert_eq!(kept.len(), 3, "capacity is 3: {kept:?}");
        assert!(
            kept.windows(2).all(|w| w[1] == w[0] + 1),
            "in order: {kept:?}"
        );
    })
    .await;
}

#[wasm_bindgen_test]
async fn a_missing_stream_fails_instead_of_hanging() {
    with_owner(|| async {
        let sse = use_sse(url("/api/no-such-stream"));
        let state = sse.state();
        let reason = failure(state).await;
        assert_eq!(
            reason,
            tidings::FailReason::Status {
                status: 404,
                body: String::new()
            }
        );
    })
    .await;
}

#[wasm_bindgen_test]
async fn close_stops_delivery() {
    with_owner(|| async {
        // A connection of its own: close acts per component, and tests running meanwhile may
        // hold the ticker open.
        let sse = use_sse_with_options(
            url("/api/ticker"),
            SseOptions::default().sharing(Sharing::Own),
        );
        let count = Rc::new(RefCell::new(0usize));
        let counter = count.clone();
        sse.on::<Tick>(move |_| *counter.borrow_mut() += 1);
        wait_for(
            "a tick",
            PATIENCE,
            || (*count.borrow() > 0).then_some(()),
            || "no tick".into(),
        )
        .await;
        sse.close();
        assert_eq!(sse.state().get_untracked(), ConnectionState::Closed);
        let at_close = *count.borrow();
        sleep(Duration::from_millis(300)).await;
        assert_eq!(*count.borrow(), at_close, "ticks arrived after close");
    })
    .await;
}

#[wasm_bindgen_test]
async fn asking_for_the_state_in_a_loop_costs_no_memory() {
    with_owner(|| async {
        let sse = use_sse(url("/api/ticker"));
        let before = tidings_tests::proof::wasm_memory();
        for _ in 0..100_000 {
            let _ = sse.state().get_untracked();
            let _ = sse.last_event_id().get_untracked();
        }
        // Each leptos `Signal` made is kept until its owner goes: these are made once.
        assert_eq!(tidings_tests::proof::wasm_memory(), before);
    })
    .await;
}

/// The computed `property` of `element` (or of its `pseudo` element, such as `::before`).
fn computed(element: &web_sys::Element, pseudo: Option<&str>, property: &str) -> String {
    let window = web_sys::window().expect("a window");
    let style = match pseudo {
        Some(pseudo) => window.get_computed_style_with_pseudo_elt(element, pseudo),
        None => window.get_computed_style(element),
    };
    style
        .ok()
        .flatten()
        .and_then(|style| style.get_property_value(property).ok())
        .unwrap_or_default()
}

#[wasm_bindgen_test]
async fn the_badge_shows_each_state_in_its_default_look() {
    use tidings::ConnectionBadge;
    use tidings::component::ConnectionBadgeStyles;
    use wasm_bindgen::JsCast;

    let _ = any_spawner::Executor::init_wasm_bindgen();
    let document = web_sys::window()
        .and_then(|window| window.document())
        .expect("a document");
    let host: web_sys::HtmlElement = document
        .create_element("div")
        .expect("a div")
        .unchecked_into();
    document
        .body()
        .expect("a body")
        .append_child(&host)
        .expect("appended");
    let live = url("/api/ticker");
    let missing = url("/api/no-such-stream");
    let before = tidings::diagnostics::live_connections();
    // Mounted under an owner of the test's own, which it cleans up: dropping the mount handle
    // alone unmounts the view but does not dispose of its reactive owner.
    let owner = Owner::new();
    let mounted = owner.with(|| {
        leptos::mount::mount_to(host.clone(), move || {
            let own = || SseOptions::default().sharing(Sharing::Own);
            let open = use_sse_with_options(live.clone(), own());
            let failed = use_sse_with_options(missing.clone(), own());
            view! {
                <ConnectionBadgeStyles/>
                <p id="open"><ConnectionBadge sse=open/></p>
                <p id="failed"><ConnectionBadge sse=failed/></p>
            }
        })
    });
    let badge = |id: &str| {
        document
            .query_selector(&format!("#{id} .tidings-badge"))
            .ok()
            .flatten()
    };
    let state_of = |id: &str| badge(id).and_then(|badge| badge.get_attribute("data-state"));
    wait_for(
        "both badges settled",
        PATIENCE,
        || {
            (state_of("open").as_deref() == Some("open")
                && state_of("failed").as_deref() == Some("failed"))
            .then_some(())
        },
        || format!("{:?} and {:?}", state_of("open"), state_of("failed")),
    )
    .await;
    let open = badge("open").expect("the open badge");
    let failed = badge("failed").expect("the failed badge");
    // The pill, and a dot coloured by state, from the library's own stylesheet.
    assert_eq!(computed(&open, None, "border-top-left-radius"), "999px");
    assert_eq!(computed(&open, None, "background-color"), "rgb(38, 49, 59)");
    assert_eq!(
        computed(&open, Some("::before"), "background-color"),
        "rgb(63, 185, 80)"
    );
    assert_eq!(
        computed(&failed, Some("::before"), "background-color"),
        "rgb(248, 81, 73)"
    );
    let text = open.text_content().unwrap_or_default();
    assert!(text.starts_with("open"), "{text}");
    // A failed connection offers to retry; an open one does not (its button is hidden).
    let retry = |badge: &web_sys::Element| {
        badge
            .query_selector(".tidings-badge__retry")
            .ok()
            .flatten()
            .map(|button| computed(&button, None, "display"))
    };
    assert!(
        retry(&failed).is_some_and(|display| display != "none"),
        "{:?}",
        retry(&failed)
    );
    assert_eq!(retry(&open).as_deref(), Some("none"));
    drop(mounted);
    owner.cleanup();
    host.remove();
    assert_eq!(
        tidings::diagnostics::live_connections(),
        before,
        "the badges' connections outlived their components"
    );
}
