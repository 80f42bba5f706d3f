//! End-to-end tests of the server-rendered demo (`demo/ssr`): pages rendered by leptos_axum with
//! the ticker's newest events in them, hydrated in headless Chromium and Firefox through
//! WebDriver, while the server publishes ticks all along. They need the demo and both drivers
//! running, so they are ignored by a plain `cargo test`; `cargo xtask test` starts everything
//! and runs them with `--ignored`.
#![cfg(not(target_arch = "wasm32"))]

use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

/// Page loads per browser.
const LOADS: usize = 12;
/// Live ticks each load waits for after hydration before it checks the counts.
const LIVE_TICKS: u64 = 50;

/// The server-rendered demo (`TIDINGS_SSR_URL`).
fn demo() -> String {
    std::env::var("TIDINGS_SSR_URL").unwrap_or_else(|_| "http://127.0.0.1:3921".into())
}

/// A headless session of `browser` through the WebDriver at `TIDINGS_<BROWSER>_WEBDRIVER`.
async fn session(browser: &str) -> Client {
    let (var, default, capabilities) = match browser {
        "chromium" => (
            "TIDINGS_CHROMIUM_WEBDRIVER",
            "http://127.0.0.1:9515",
            json!({"goog:chromeOptions": {"args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--window-size=1280,900"
            ]}}),
        ),
        _ => (
            "TIDINGS_FIREFOX_WEBDRIVER",
            "http://127.0.0.1:4444",
            json!({"moz:firefoxOptions": {"args": ["-headless"], "prefs": {
                "network.captive-portal-service.enabled": false,
                "app.update.enabled": false,
                "datareporting.policy.dataSubmissionEnabled": false
            }}}),
        ),
    };
    let webdriver = std::env::var(var).unwrap_or_else(|_| default.into());
    let capabilities = match capabilities {
        serde_json::Value::Object(map) => map,
        _ => serde_json::Map::new(),
    };
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(capabilities)
        .connect(&webdriver)
        .await
        .unwrap_or_else(|error| panic!("cannot start a {browser} session at {webdriver}: {error}"))
}

/// The text of the element with `data-testid=id`, if there is one.
async fn text_of(client: &Client, id: &str) -> Option<String> {
    let element = client
        .find(Locator::Css(&format!("[data-testid={id}]")))
        .await
        .ok()?;
    element.text().await.ok()
}

/// The number the element `id` shows, if it shows one.
async fn number(client: &Client, id: &str) -> Option<u64> {
    text_of(client, id).await?.trim().parse().ok()
}

/// Fails if anything reached `console.error` or `console.warn` (the shell records them).
async fn console_clean(client: &Client) -> Result<(), String> {
    let errors = client
        .execute("return window.__consoleErrors || null;", vec![])
        .await
        .map_err(|e| e.to_string())?;
    match errors.as_array() {
        Some(errors) if errors.is_empty() => Ok(()),
        Some(errors) => Err(format!("console errors or warnings: {errors:?}")),
        None => Err("the page does not record its console".into()),
    }
}

/// What one load of the page saw.
#[derive(Debug)]
struct Load {
    rendered: u64,
    first_live: u64,
    gaps: u64,
    repeats: u64,
}

/// Loads the page once and follows it until `LIVE_TICKS` live ticks came after hydration.
async fn load(client: &Client, url: &str) -> Result<Load, String> {
    client
        .goto(url)
        .await
        .map_err(|e| format!("cannot load {url}: {e}"))?;
    let rendered = number(client, "rendered-seq")
        .await
        .ok_or("the page was not rendered with a tick in it")?;
    let mut first_live = None;
    for _ in 0..200 {
        first_live = number(client, "first-live").await;
        let latest = text_of(client, "latest-tick").await.unwrap_or_default();
        let latest: Option<u64> = latest
            .strip_prefix('#')
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|seq| seq.parse().ok());
        if latest.is_some_and(|latest| latest >= rendered + LIVE_TICKS) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let first_live = first_live.ok_or("no live tick arrived after hydration")?;
    // The browser hydrated with the very tick the server rendered: nothing flashed.
    let hydrated = number(client, "hydrated-seq").await;
    if hydrated != Some(rendered) {
        return Err(format!(
            "the server rendered tick #{rendered}, the browser hydrated with {hydrated:?}"
        ));
    }
    console_clean(client).await?;
    Ok(Load {
        rendered,
        first_live,
        gaps: number(client, "gaps").await.ok_or("no gap count")?,
        repeats: number(client, "repeats").await.ok_or("no repeat count")?,
    })
}

/// Sends one HTTP/1.0 request to the demo (so the answer comes whole, unchunked) and returns
/// the response, status line and headers included.
async fn request(method: &str, path: &str, json_body: Option<&str>) -> Result<String, String> {
    request_as(method, path, json_body, None).await
}

/// [`request`], with a `Cookie` header when given one.
async fn request_as(
    method: &str,
    path: &str,
    json_body: Option<&str>,
    cookie: Option<&str>,
) -> Result<String, String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let url = demo();
    let addr = url.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
    let body = json_body.unwrap_or_default();
    let cookie = cookie
        .map(|cookie| format!("Cookie: {cookie}\r\n"))
        .unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.0\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         {cookie}Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .await
        .map_err(|e| e.to_string())?;
    Ok(String::from_utf8_lossy(&response).into_owned())
}

/// The page as the server sends it (before any script runs) holds rendered ticks and the ID
/// they reflect.
async fn served_page() -> Result<(), String> {
    let html = request("GET", "/", None).await?;
    let after = |marker: &str| {
        html.split_once(marker)
            .map(|(_, rest)| rest.split('<').next().unwrap_or_default().to_owned())
    };
    let rendered = after(r#"data-testid="rendered-seq">"#).unwrap_or_default();
    let id = after(r#"data-testid="last-event-id">"#).unwrap_or_default();
    let history = html.matches("<li>#").count();
    if rendered.parse::<u64>().is_err() || id.is_empty() || history == 0 {
        return Err(format!(
            "the served page lacks rendered ticks: rendered {rendered:?}, ID {id:?}, \
             {history} history rows"
        ));
    }
    println!("served page: ticks up to #{rendered}, ID {id}, {history} history rows");
    Ok(())
}

async fn hydrates_with_no_gap_and_no_repeat(browser: &str) {
    let url = demo();
    served_page().await.unwrap_or_else(|e| panic!("{e}"));
    let client = session(browser).await;
    let mut loads = Vec::new();
    let mut failure = None;
    for _ in 0..LOADS {
        match load(&client, &url).await {
            Ok(seen) => loads.push(seen),
            Err(error) => {
                failure = Some(error);
                break;
            }
        }
    }
    let closed = client.close().await;
    if let Some(error) = failure {
        panic!("{browser}, load {}: {error}", loads.len() + 1);
    }
    closed.expect("the WebDriver session closes");
    let gaps: u64 = loads.iter().map(|l| l.gaps).sum();
    let repeats: u64 = loads.iter().map(|l| l.repeats).sum();
    let off: Vec<&Load> = loads
        .iter()
        .filter(|l| l.first_live != l.rendered + 1)
        .collect();
    println!(
        "{browser}: {} loads, {gaps} ticks missing, {repeats} repeated, {} first live ticks \
         not right after the rendered one",
        loads.len(),
        off.len()
    );
    assert_eq!((gaps, repeats), (0, 0), "{browser}: {loads:?}");
    assert!(off.is_empty(), "{browser}: first live tick off: {off:?}");
}

#[tokio::test]
#[ignore = "needs the SSR demo and chromedriver: run by `cargo xtask test`"]
async fn chromium_hydrates_with_no_gap_and_no_repeat() {
    hydrates_with_no_gap_and_no_repeat("chromium").await;
}

#[tokio::test]
#[ignore = "needs the SSR demo and geckodriver: run by `cargo xtask test`"]
async fn firefox_hydrates_with_no_gap_and_no_repeat() {
    hydrates_with_no_gap_and_no_repeat("firefox").await;
}

/// The titles of the posts the page shows, in order.
async fn titles(client: &Client) -> Vec<String> {
    let mut titles = Vec::new();
    if let Ok(elements) = client
        .find_all(Locator::Css("[data-testid=post-title]"))
        .await
    {
        for element in elements {
            titles.push(element.text().await.unwrap_or_default());
        }
    }
    titles
}

/// Signs in as the demo's admin (its password from `TIDINGS_DEMO_USERS`, which `cargo xtask
/// test` gives the server too); the `Cookie` header's value.
async fn admin_cookie() -> Result<String, String> {
    let accounts = std::env::var("TIDINGS_DEMO_USERS")
        .map_err(|_| "TIDINGS_DEMO_USERS is not set: run through `cargo xtask test`".to_owned())?;
    let password = accounts
        .split(',')
        .find_map(|account| account.strip_prefix("admin:")?.strip_suffix(":admin"))
        .ok_or("no admin account in TIDINGS_DEMO_USERS")?;
    let body = json!({"user": "admin", "password": password}).to_string();
    let response = request("POST", "/api/session", Some(&body)).await?;
    response
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("set-cookie").then(|| {
                value
                    .trim()
                    .split(';')
                    .next()
                    .unwrap_or_default()
                    .to_owned()
            })
        })
        .ok_or(format!("signing in as admin failed: {response}"))
}

/// Publishes a blog post through the demo's API, as its admin.
async fn publish_post(title: &str) -> Result<(), String> {
    let body = json!({"title": title, "body": "posted by the SSR end-to-end test"}).to_string();
    let cookie = admin_cookie().await?;
    let response = request_as("POST", "/api/blog/posts", Some(&body), Some(&cookie)).await?;
    if response.starts_with("HTTP/1.0 201") || response.starts_with("HTTP/1.1 201") {
        Ok(())
    } else {
        Err(format!("cannot publish a post: {response}"))
    }
}

/// The blog's page as served holds the posts; hydrated, it goes live: a post published then
/// appears once, and the one it was rendered with is not repeated.
async fn blog_renders_its_posts_then_goes_live(browser: &str) -> Result<(), String> {
    let tag = format!("{browser} {}", std::process::id());
    let before = format!("rendered {tag}");
    publish_post(&before).await?;
    let html = request("GET", "/blog", None).await?;
    if !html.contains(&before) {
        return Err(format!("the served blog lacks the post {before:?}"));
    }
    let client = session(browser).await;
    let outcome = async {
        let url = format!("{}/blog", demo());
        client
            .goto(&url)
            .await
            .map_err(|e| format!("cannot load {url}: {e}"))?;
        // Hydrated and connected: the badge, rendered "idle", says "open".
        let mut state = String::new();
        for _ in 0..150 {
            if let Ok(badge) = client.find(Locator::Css(".tidings-badge")).await {
                state = badge
                    .attr("data-state")
                    .await
                    .ok()
                    .flatten()
                    .unwrap_or_default();
            }
            if state == "open" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        if state != "open" {
            return Err(format!("the blog's stream never opened: {state:?}"));
        }
        let live = format!("live {tag}");
        publish_post(&live).await?;
        let mut shown = Vec::new();
        for _ in 0..100 {
            shown = titles(&client).await;
            if shown.contains(&live) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let count = |title: &String| shown.iter().filter(|t| *t == title).count();
        if (count(&before), count(&live)) != (1, 1) {
            return Err(format!("each post once, expected: {shown:?}"));
        }
        console_clean(&client).await
    }
    .await;
    let closed = client.close().await;
    outcome?;
    closed.map_err(|e| e.to_string())?;
    println!("{browser}: the blog rendered its post, then showed a live one, each once");
    Ok(())
}

#[tokio::test]
#[ignore = "needs the SSR demo and chromedriver: run by `cargo xtask test`"]
async fn chromium_blog_renders_its_posts_then_goes_live() {
    blog_renders_its_posts_then_goes_live("chromium")
        .await
        .unwrap_or_else(|e| panic!("chromium: {e}"));
}

#[tokio::test]
#[ignore = "needs the SSR demo and geckodriver: run by `cargo xtask test`"]
async fn firefox_blog_renders_its_posts_then_goes_live() {
    blog_renders_its_posts_then_goes_live("firefox")
        .await
        .unwrap_or_else(|e| panic!("firefox: {e}"));
}
