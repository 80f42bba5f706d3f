//! Helpers for tests that run in a browser.

use std::future::Future;
use std::time::Duration;

use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use wasm_bindgen_futures::JsFuture;

/// Resolves after `duration`, through the browser's `setTimeout` (the closure is owned by the
/// promise's executor and released when it has run).
pub async fn sleep(duration: Duration) {
    let millis = i32::try_from(duration.as_millis()).unwrap_or(i32::MAX);
    let promise = js_sys::Promise::new(&mut |resolve, _reject| {
        let window = web_sys::window().expect("tests run in a window");
        let callback = Closure::once_into_js(move || {
            let _ = resolve.call0(&wasm_bindgen::JsValue::NULL);
        });
        window
            .set_timeout_with_callback_and_timeout_and_arguments_0(callback.unchecked_ref(), millis)
            .expect("setTimeout works");
    });
    let _ = JsFuture::from(promise).await;
}

/// Polls `check` every 10 ms until it gives `Some`, or fails the test after `timeout` with
/// `what` and the last state `describe` gives.
pub async fn wait_for<T>(
    what: &str,
    timeout: Duration,
    mut check: impl FnMut() -> Option<T>,
    describe: impl Fn() -> String,
) -> T {
    let start = js_sys::Date::now();
    loop {
        if let Some(value) = check() {
            return value;
        }
        if js_sys::Date::now() - start > timeout.as_secs_f64() * 1000.0 {
            panic!(
                "timed out after {timeout:?} waiting for {what}; last state: {}",
                describe()
            );
        }
        sleep(Duration::from_millis(10)).await;
    }
}

/// Runs `test` inside a fresh reactive owner, with leptos's executor started, and disposes the
/// owner afterwards (closing every connection the test opened); returns what `test` returned.
pub async fn with_owner<F, Fut, R>(test: F) -> R
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = R>,
{
    let _ = any_spawner::Executor::init_wasm_bindgen();
    let owner = leptos::prelude::Owner::new();
    owner.set();
    let outcome = test().await;
    owner.cleanup();
    outcome
}

/// Orders a fault from the test server (`POST /api/faults/<fault>` with `json`), failing the
/// test if the server refuses.
pub async fn fault(fault: &str, json: &str) {
    let url = format!("{}/api/faults/{fault}", crate::TEST_SERVER);
    let response = gloo_net::http::Request::post(&url)
        .header("Content-Type", "application/json")
        .body(json.to_owned())
        .expect("a valid request")
        .send()
        .await
        .unwrap_or_else(|error| panic!("cannot reach {url}: {error}"));
    assert!(response.ok(), "{url} answered {}", response.status());
}

/// Clears every fault on the test server (and ends stalled streams).
pub async fn clear_faults() {
    let url = format!("{}/api/faults", crate::TEST_SERVER);
    let response = gloo_net::http::Request::delete(&url)
        .send()
        .await
        .unwrap_or_else(|error| panic!("cannot reach {url}: {error}"));
    assert!(response.ok(), "{url} answered {}", response.status());
}

/// The faults in force on the test server.
pub async fn faults() -> serde_json::Value {
    let url = format!("{}/api/faults", crate::TEST_SERVER);
    gloo_net::http::Request::get(&url)
        .send()
        .await
        .unwrap_or_else(|error| panic!("cannot reach {url}: {error}"))
        .json()
        .await
        .expect("JSON")
}

/// Publishes `count` events at once on the test server's firehose, and returns the ID to resume
/// after to get exactly them.
pub async fn burst(count: u32) -> String {
    let answer = post_json("/api/firehose", &format!(r#"{{"count":{count}}}"#)).await;
    answer["after"]
        .as_str()
        .expect("the marker's ID")
        .to_owned()
}

/// Posts `json` to `path` on the test server and returns its JSON answer, failing the test if
/// the server refuses.
pub async fn post_json(path: &str, json: &str) -> serde_json::Value {
    let url = format!("{}{path}", crate::TEST_SERVER);
    let response = gloo_net::http::Request::post(&url)
        .header("Content-Type", "application/json")
        .body(json.to_owned())
        .expect("a valid request")
        .send()
        .await
        .unwrap_or_else(|error| panic!("cannot reach {url}: {error}"));
    assert!(response.ok(), "{url} answered {}", response.status());
    response.json().await.expect("JSON")
}

/// Options that reconnect quickly and predictably (no jitter), so that tests do not wait long.
pub fn quick() -> tidings::SseOptions {
    tidings::SseOptions::default().reconnect(
        tidings::ReconnectPolicy::default()
            .initial_delay(Duration::from_millis(100))
            .max_delay(Duration::from_millis(400))
            .jitter(0.0),
    )
}

/// The `seq` of every tick `sse` delivers, in order of arrival.
pub fn tick_seqs(sse: tidings::Sse) -> std::rc::Rc<std::cell::RefCell<Vec<u64>>> {
    let seqs = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let sink = seqs.clone();
    sse.on::<demo_events::Tick>(move |tick| sink.borrow_mut().push(tick.seq));
    seqs
}

/// Fails the test unless `seqs` count up by one: no tick missing, none repeated.
pub fn assert_consecutive(seqs: &[u64]) {
    for pair in seqs.windows(2) {
        assert_eq!(pair[1], pair[0] + 1, "a tick missing or repeated: {seqs:?}");
    }
}

/// Waits for `state` to become [`tidings::ConnectionState::Failed`], and returns why.
pub async fn failure(
    state: leptos::prelude::Signal<tidings::ConnectionState>,
) -> tidings::FailReason {
    use leptos::prelude::GetUntracked;
    wait_for(
        "the failed state",
        Duration::from_secs(10),
        || match state.get_untracked() {
            tidings::ConnectionState::Failed { reason } => Some(reason),
            _ => None,
        },
        || state.get_untracked().to_string(),
    )
    .await
}
