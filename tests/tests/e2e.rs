//! End-to-end tests of the demo: the trunk-built app, served by the fixture server (the demo
//! server with its chaos panel's faults, behind a token), driven in headless Chromium through WebDriver. They need those running, so they
//! are ignored by a plain `cargo test`; `cargo xtask test` starts everything and runs them with
//! `--ignored`. Each saves a screenshot under `target/e2e/` and checks the console stayed clean.
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
                "--disable-sync", "--window-size=1280,900"
            ],
        }),
    );
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    ClientBuilder::new(connector)
        .capabilities(capabilities)
        .connect(webdriver)
        .await
        .unwrap_or_else(|error| panic!("cannot start a WebDriver session at {webdriver}: {error}"))
}

type Outcome = Result<(), String>;

/// Loads the demo in a fresh browser session, runs `scenario`, saves a screenshot as
/// `target/e2e/<name>.png`, checks the console, and always closes the session (a session left
/// open leaves Chromium running).
async fn in_browser<F>(name: &str, scenario: F)
where
    F: AsyncFnOnce(&Client) -> Outcome,
{
    let (demo, webdriver) = endpoints();
    let client = headless_chromium(&webdriver).await;
    let outcome = async {
        client
            .goto(&demo)
            .await
            .map_err(|e| format!("cannot load {demo}: {e}"))?;
        scenario(&client).await?;
        screenshot(&client, name).await?;
        console_errors(&client).await
    }
    .await;
    let closed = client.close().await;
    if let Err(message) = outcome {
        panic!("{name}: {message}");
    }
    closed.expect("the WebDriver session closes");
}

async fn screenshot(client: &Client, name: &str) -> Outcome {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/e2e");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let png = client.screenshot().await.map_err(|e| e.to_string())?;
    let path = dir.join(format!("{name}.png"));
    std::fs::write(&path, png).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    println!("screenshot: {}", path.display());
    Ok(())
}

/// Fails if anything reached `console.error` (index.html collects them).
async fn console_errors(client: &Client) -> Outcome {
    let errors = client
        .execute("return window.__consoleErrors || [];", vec![])
        .await
        .map_err(|e| e.to_string())?;
    match errors.as_array() {
        Some(errors) if errors.is_empty() => Ok(()),
        Some(errors) => Err(format!("console errors: {errors:?}")),
        None => Err(format!("cannot read the console errors: {errors}")),
    }
}

async fn find(client: &Client, css: &str) -> Result<fantoccini::elements::Element, String> {
    client
        .wait()
        .at_most(Duration::from_secs(15))
        .for_element(Locator::Css(css))
        .await
        .map_err(|error| format!("no element {css}: {error}"))
}

async fn click(client: &Client, css: &str) -> Outcome {
    find(client, css)
        .await?
        .click()
        .await
        .map_err(|e| format!("cannot click {css}: {e}"))
}

async fn type_into(client: &Client, css: &str, text: &str) -> Outcome {
    let field = find(client, css).await?;
    field.clear().await.map_err(|e| e.to_string())?;
    field
        .send_keys(text)
        .await
        .map_err(|e| format!("cannot type into {css}: {e}"))
}

/// Polls until `check` accepts the text of `css`, for at most `secs` seconds.
async fn wait_for_text(
    client: &Client,
    css: &str,
    secs: u64,
    check: impl Fn(&str) -> bool,
) -> Result<String, String> {
    let mut last = String::new();
    for _ in 0..secs * 10 {
        if let Ok(element) = client.find(Locator::Css(css)).await {
            last = element.text().await.unwrap_or_default();
            if check(&last) {
                return Ok(last);
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(format!("{css} never matched; last text: {last:?}"))
}

/// The password of the demo account `user`, from `TIDINGS_DEMO_USERS` (`name:password[:role]`,
/// comma-separated), which `cargo xtask test` gives the server and the tests alike.
fn password_of(user: &str) -> Result<String, String> {
    let accounts = std::env::var("TIDINGS_DEMO_USERS")
        .map_err(|_| "TIDINGS_DEMO_USERS is not set: run through `cargo xtask test`".to_owned())?;
    accounts
        .split(',')
        .find_map(|account| {
            let (name, rest) = account.split_once(':')?;
            let password = rest.strip_suffix(":admin").unwrap_or(rest);
            (name == user).then(|| password.to_owned())
        })
        .ok_or(format!("no demo account {user} in TIDINGS_DEMO_USERS"))
}

/// Signs in as `user` through the side panel's form.
async fn sign_in(client: &Client, user: &str) -> Outcome {
    type_into(client, "[data-testid=user]", user).await?;
    type_into(client, "[data-testid=password]", &password_of(user)?).await?;
    click(client, "[data-testid=sign-in]").await?;
    wait_for_text(client, "[data-testid=signed-in]", 15, |t| t.contains(user)).await?;
    Ok(())
}

/// The badge's state label.
async fn badge_state(client: &Client) -> String {
    match client.find(Locator::Css(".tidings-badge")).await {
        Ok(badge) => badge
            .attr("data-state")
            .await
            .ok()
            .flatten()
            .unwrap_or_default(),
        Err(_) => String::new(),
    }
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
async fn ticker_shows_live_ticks() {
    in_browser("ticker", async |client| {
        let first = wait_for_text(client, "[data-testid=latest-tick]", 15, |t| {
            tick_seq(t).is_some()
        })
        .await?;
        let first = tick_seq(&first).unwrap_or_default();
        wait_for_text(client, "[data-testid=latest-tick]", 15, |t| {
            tick_seq(t).is_some_and(|s| s > first)
        })
        .await?;
        if badge_state(client).await != "open" {
            return Err(format!("the badge says {:?}", badge_state(client).await));
        }
        // Let the sparklines and trades fill a little, for a useful picture.
        tokio::time::sleep(Duration::from_millis(2500)).await;
        Ok(())
    })
    .await;
}

#[tokio::test]
#[ignore = "needs the demo server and chromedriver: run by `cargo xtask test`"]
async fn the_chaos_panel_drop_reconnects_without_missing_ticks() {
    in_browser("chaos", async |client| {
        // The panel shows only with the token the server was started with.
        find(client, "[data-testid=signed-in], [data-testid=sign-in]").await?;
        if client
            .find(Locator::Css("[data-testid=chaos-drop]"))
            .await
            .is_ok()
        {
            return Err("the chaos panel shows without its token".into());
        }
        let token = std::env::var("TIDINGS_CHAOS_TOKEN")
            .map_err(|_| "TIDINGS_CHAOS_TOKEN is not set: run through `cargo xtask test`")?;
        let (demo, _) = endpoints();
        client
            .goto(&format!("{demo}/?chaos={token}"))
            .await
            .map_err(|e| e.to_string())?;
        wait_for_text(client, "[data-testid=received]", 15, |t| {
            t.parse::<u64>().is_ok_and(|n| n >= 3)
        })
        .await?;
        click(client, "[data-testid=chaos-drop]").await?;
        // Reconnecting shows, then open again.
        let mut seen = Vec::new();
        for _ in 0..100 {
            let state = badge_state(client).await;
            if seen.last() != Some(&state) {
                seen.push(state.clone());
            }
            if seen.iter().any(|s| s == "reconnecting") && state == "open" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        if !seen.iter().any(|s| s == "reconnecting")
            || seen.last().map(String::as_str) != Some("open")
        {
            return Err(format!("expected reconnecting then open, saw {seen:?}"));
        }
        let received =
            wait_for_text(client, "[data-testid=received]", 5, |t| !t.is_empty()).await?;
        let later = received.parse::<u64>().unwrap_or(0) + 5;
        wait_for_text(client, "[data-testid=received]", 15, |t| {
            t.parse::<u64>().is_ok_and(|n| n >= later)
        })
        .await?;
        let gaps = wait_for_text(client, "[data-testid=gaps]", 5, |_| true).await?;
        if gaps != "0" {
            return Err(format!("{gaps} ticks missing after the drop"));
        }
        Ok(())
    })
    .await;
}

#[tokio::test]
#[ignore = "needs the demo server and chromedriver: run by `cargo xtask test`"]
async fn a_post_published_by_the_admin_form_appears() {
    in_browser("blog", async |client| {
        click(client, "[data-testid=tab-blog]").await?;
        wait_for_text(client, ".tidings-badge", 15, |t| t.starts_with("open")).await?;
        if client
            .find(Locator::Css("[data-testid=publish]"))
            .await
            .is_ok()
        {
            return Err("the form shows before an admin signs in".into());
        }
        sign_in(client, "admin").await?;
        let title = format!("Hello from the end-to-end test {}", std::process::id());
        type_into(client, "[data-testid=post-title]", &title).await?;
        type_into(
            client,
            "[data-testid=post-body]",
            "Posted through the form, received through SSE.",
        )
        .await?;
        click(client, "[data-testid=publish]").await?;
        wait_for_text(client, "[data-testid=posts]", 15, |t| t.contains(&title)).await?;
        Ok(())
    })
    .await;
}

#[tokio::test]
#[ignore = "needs the demo server and chromedriver: run by `cargo xtask test`"]
async fn notifications_reach_only_the_signed_in_user() {
    in_browser("notifications", async |alice| {
        click(alice, "[data-testid=tab-notifications]").await?;
        sign_in(alice, "alice").await?;
        wait_for_text(alice, ".tidings-badge", 15, |t| t.starts_with("open")).await?;
        if alice.find(Locator::Css("[data-testid=send]")).await.is_ok() {
            return Err("a user is offered the admin's form".into());
        }
        // The admin, in a browser of its own (its own cookies), sends one to each.
        let (demo, webdriver) = endpoints();
        let admin = headless_chromium(&webdriver).await;
        let sent = async {
            admin.goto(&demo).await.map_err(|e| e.to_string())?;
            click(&admin, "[data-testid=tab-notifications]").await?;
            sign_in(&admin, "admin").await?;
            for (to, text) in [("bob", "for bob only"), ("alice", "hello alice")] {
                type_into(&admin, "[data-testid=to]", to).await?;
                type_into(&admin, "[data-testid=text]", text).await?;
                click(&admin, "[data-testid=send]").await?;
                wait_for_text(
                    &admin,
                    "form[aria-label='Send a notification'] [role=status]",
                    15,
                    |t| t == "sent",
                )
                .await?;
            }
            Ok::<_, String>(())
        }
        .await;
        drop(admin.close().await);
        sent?;
        let toasts = wait_for_text(alice, "[data-testid=toasts]", 15, |t| {
            t.contains("hello alice")
        })
        .await?;
        if toasts.contains("for bob only") {
            return Err(format!("alice saw bob's notification: {toasts:?}"));
        }
        // Signed out, her stream closes and the toasts' source is gone.
        click(alice, "[data-testid=sign-out]").await?;
        find(alice, "[data-testid=sign-in]").await?;
        Ok(())
    })
    .await;
}

#[tokio::test]
#[ignore = "needs the demo server and chromedriver: run by `cargo xtask test`"]
async fn a_form_on_another_site_cannot_change_anything() {
    in_browser("cross-site-form", async |client| {
        let (demo, _) = endpoints();
        // A page of another origin (a data: URL's is opaque) that posts a form to the demo, as
        // a malicious site would: a "simple" request, sent without a preflight.
        let page = format!(
            "data:text/html,<form method=post action='{demo}/api/faults/drop'>\
             <input name=x value=1></form><script>document.forms[0].submit()</script>"
        );
        client.goto(&page).await.map_err(|e| e.to_string())?;
        let mut text = String::new();
        for _ in 0..100 {
            if let Ok(body) = client.find(Locator::Css("body")).await {
                text = body.text().await.unwrap_or_default();
                if text.contains("refused") {
                    break;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        if !text.contains("cross-origin request refused") {
            return Err(format!("the cross-site form was not refused: {text:?}"));
        }
        // Back on the demo, for the screenshot and the console check.
        client.goto(&demo).await.map_err(|e| e.to_string())?;
        Ok(())
    })
    .await;
}

#[tokio::test]
#[ignore = "needs the demo server and chromedriver: run by `cargo xtask test`"]
async fn a_job_reaches_100_percent() {
    in_browser("jobs", async |client| {
        click(client, "[data-testid=tab-jobs]").await?;
        click(client, "[data-testid=start-job]").await?;
        wait_for_text(client, "[data-testid=job-status]", 30, |t| {
            t.starts_with("done")
        })
        .await?;
        let bar = find(client, "[data-testid=job-progress]").await?;
        let now = bar.attr("aria-valuenow").await.map_err(|e| e.to_string())?;
        if now.as_deref() != Some("100") {
            return Err(format!("the progress bar says {now:?}"));
        }
        Ok(())
    })
    .await;
}
