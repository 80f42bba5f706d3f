//! End-to-end tests of the demo: the trunk-built app, served by the demo server, driven in
//! headless Chromium through WebDriver. They need those running, so they are ignored by a plain
//! `cargo test`; `cargo xtask test` starts everything and runs them with `--ignored`.
#![cfg(not(target_arch = "wasm32"))]

use std::path::PathBuf;
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

/// The demo's URL (`TIDINGS_DEMO_URL`) and the WebDriver's (`TIDINGS_WEBDRIVER_URL`).
fn endpoints() -> (String, String) {
    let demo = std::env::var("TIDINGS_DEMO_URL").unwrap_or_else(|_| "http://127.0.0.1:3919".into());
    let webdriver =
        std::env::var("TIDINGS_WEBDRIVER_URL").unwrap_or_else(|_| "http://127.0.0.1:9515".into());
    (demo, webdriver)
}

async fn headless_chromium(webdriver: &str) -> Client {
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".into(),
        json!({
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--window-size=1100,800"
            ],
        }),
    );
    capabilities.insert("goog:loggingPrefs".into(), json!({ "browser": "ALL" }));
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    ClientBuilder::new(connector)
        .capabilities(capabilities)
        .connect(webdriver)
        .await
        .unwrap_or_else(|error| panic!("cannot start a WebDriver session at {webdriver}: {error}"))
}

/// Where screenshots go: `target/e2e/`.
fn screenshot_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/e2e");
    std::fs::create_dir_all(&dir).expect("can create target/e2e");
    dir
}

/// Runs `scenario` in a fresh browser session, and always closes the session (a session left
/// open leaves Chromium running).
async fn in_browser<F>(scenario: F)
where
    F: AsyncFnOnce(&Client, &str) -> Result<(), String>,
{
    let (demo, webdriver) = endpoints();
    let client = headless_chromium(&webdriver).await;
    let outcome = scenario(&client, &demo).await;
    let closed = client.close().await;
    if let Err(message) = outcome {
        panic!("{message}");
    }
    closed.expect("the WebDriver session closes");
}

async fn text_of(client: &Client, css: &str) -> Result<String, String> {
    let element = client
        .wait()
        .at_most(Duration::from_secs(15))
        .for_element(Locator::Css(css))
        .await
        .map_err(|error| format!("no element {css}: {error}"))?;
    element.text().await.map_err(|error| error.to_string())
}

/// Polls until `check` accepts the text of `css`, for at most 15 s.
async fn wait_for_text(
    client: &Client,
    css: &str,
    check: impl Fn(&str) -> bool,
) -> Result<String, String> {
    let mut last = String::new();
    for _ in 0..150 {
        last = text_of(client, css).await?;
        if check(&last) {
            return Ok(last);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(format!("{css} never matched; last text: {last:?}"))
}

/// The tick number in "#12 ACME 120.53".
fn tick_seq(text: &str) -> Option<u64> {
    text.strip_prefix('#')?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[tokio::test]
#[ignore = "needs the demo server and chromedriver: run by `cargo xtask test`"]
async fn the_demo_shows_live_ticks() {
    in_browser(async |client, demo| {
        client
            .goto(demo)
            .await
            .map_err(|e| format!("cannot load {demo}: {e}"))?;
        let first = wait_for_text(client, "[data-testid=latest-tick]", |t| {
            tick_seq(t).is_some()
        })
        .await?;
        let first_seq = tick_seq(&first).unwrap_or_default();
        // Live: a later tick replaces it.
        wait_for_text(client, "[data-testid=latest-tick]", |t| {
            tick_seq(t).is_some_and(|s| s > first_seq)
        })
        .await?;
        let badge = client
            .find(Locator::Css(".tidings-badge"))
            .await
            .map_err(|e| format!("no connection badge: {e}"))?;
        let state = badge.attr("data-state").await.map_err(|e| e.to_string())?;
        if state.as_deref() != Some("open") {
            return Err(format!("the badge says {state:?}, not open"));
        }
        // Let the sparklines fill a little, for a useful picture.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let png = client.screenshot().await.map_err(|e| e.to_string())?;
        let path = screenshot_dir().join("ticker.png");
        std::fs::write(&path, png).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        println!("screenshot: {}", path.display());
        Ok(())
    })
    .await;
}
