//! The demo as a template: each attack found against the first demo, through its router. Each
//! of these failed on the demo before sign-in, the guard and the quotas.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode, header};
use common::{as_user, body_text, get, post_json, publish_post, send, server, sign_in, with_json};

/// `request` as if from `ip`.
fn from(mut request: Request<Body>, ip: &str) -> Request<Body> {
    let addr: SocketAddr = format!("{ip}:40000").parse().expect("an address");
    request.extensions_mut().insert(ConnectInfo(addr));
    request
}

/// `request` as a browser sends it from a page of `origin` on `site` terms.
fn from_page(mut request: Request<Body>, origin: &str, site: &str) -> Request<Body> {
    let headers = request.headers_mut();
    headers.insert(header::ORIGIN, origin.parse().expect("an origin"));
    headers.insert("sec-fetch-site", site.parse().expect("a value"));
    request
}

fn form_post(uri: &str) -> Request<Body> {
    Request::post(uri)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from("x=1"))
        .expect("valid request")
}

#[tokio::test]
async fn a_forged_or_altered_cookie_is_no_session() {
    let app = server(|_| {});
    let alice = sign_in(&app, "alice").await;
    let mut altered = alice.clone().into_bytes();
    let last = altered.len() - 3;
    altered[last] = if altered[last] == b'A' { b'B' } else { b'A' };
    let altered = String::from_utf8(altered).expect("ASCII");
    for forged in [
        // What the first demo trusted.
        "tidings_user=alice".to_owned(),
        // The session's own text, unencrypted.
        "tidings_session=alice admin 99999999999".to_owned(),
        altered,
    ] {
        let response = send(&app, as_user(get("/api/notifications"), &forged)).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{forged}");
    }
    let response = send(&app, as_user(get("/api/session"), &alice)).await;
    assert_eq!(
        body_text(response).await,
        r#"{"user":"alice","role":"user"}"#
    );
}

#[tokio::test]
async fn a_wrong_password_or_name_signs_nobody_in() {
    let app = server(|_| {});
    for json in [
        r#"{"user":"alice","password":"bob-password"}"#,
        r#"{"user":"mallory","password":"alice-password"}"#,
        r#"{"user":"alice","password":""}"#,
    ] {
        let response = send(&app, post_json("/api/session", json)).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{json}");
        assert!(!response.headers().contains_key(header::SET_COOKIE));
    }
}

#[tokio::test]
async fn only_an_admin_writes_the_blog_or_sends_notifications() {
    let app = server(|_| {});
    let (alice, root) = (sign_in(&app, "alice").await, sign_in(&app, "root").await);
    let draft = r#"{"title":"Hi","body":"."}"#;
    let note = r#"{"user":"bob","text":"hello"}"#;
    let writes = || {
        [
            post_json("/api/blog/posts", draft),
            with_json(Request::put("/api/blog/posts/1"), draft),
            Request::delete("/api/blog/posts/1")
                .body(Body::empty())
                .expect("valid"),
            post_json("/api/notifications", note),
        ]
    };
    for request in writes() {
        let what = format!("{} {}", request.method(), request.uri());
        assert_eq!(
            send(&app, request).await.status(),
            StatusCode::UNAUTHORIZED,
            "{what}"
        );
    }
    for request in writes() {
        let what = format!("{} {}", request.method(), request.uri());
        let response = send(&app, as_user(request, &alice)).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{what}");
    }
    assert!(body_text(send(&app, get("/api/blog/posts")).await).await == "[]");
    let expected = [
        StatusCode::CREATED,
        StatusCode::OK,
        StatusCode::NO_CONTENT,
        StatusCode::CREATED,
    ];
    for (request, status) in writes().into_iter().zip(expected) {
        let what = format!("{} {}", request.method(), request.uri());
        assert_eq!(
            send(&app, as_user(request, &root)).await.status(),
            status,
            "{what}"
        );
    }
    let nobody = post_json("/api/notifications", r#"{"user":"mallory","text":"x"}"#);
    assert_eq!(
        send(&app, as_user(nobody, &root)).await.status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn post_ids_are_never_reused() {
    let app = server(|_| {});
    let root = sign_in(&app, "root").await;
    let create = || {
        as_user(
            post_json("/api/blog/posts", r#"{"title":"T","body":""}"#),
            &root,
        )
    };
    let first: serde_json::Value =
        serde_json::from_str(&body_text(send(&app, create()).await).await).expect("JSON");
    let delete = Request::delete("/api/blog/posts/1")
        .body(Body::empty())
        .expect("valid");
    assert_eq!(
        send(&app, as_user(delete, &root)).await.status(),
        StatusCode::NO_CONTENT
    );
    let second: serde_json::Value =
        serde_json::from_str(&body_text(send(&app, create()).await).await).expect("JSON");
    assert_eq!(
        (first["id"].as_u64(), second["id"].as_u64()),
        (Some(1), Some(2))
    );
    // An update meant for the deleted post cannot land on another.
    let stale = with_json(
        Request::put("/api/blog/posts/1"),
        r#"{"title":"x","body":""}"#,
    );
    assert_eq!(
        send(&app, as_user(stale, &root)).await.status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn job_ids_say_nothing_about_other_jobs() {
    let app = server(|_| {});
    let mut ids = Vec::new();
    for _ in 0..3 {
        let started = send(&app, post_json("/api/jobs", r#"{"step_ms":10000}"#)).await;
        let started: serde_json::Value =
            serde_json::from_str(&body_text(started).await).expect("JSON");
        ids.push(started["job"].as_u64().expect("an ID"));
    }
    // Random below 2^53: the chance that two in a row are neighbours is about 2^-52.
    assert!(
        ids.windows(2).all(|pair| pair[0].abs_diff(pair[1]) > 1),
        "{ids:?}"
    );
    assert!(ids.iter().all(|id| *id < 1 << 53), "{ids:?}");
}

#[tokio::test]
async fn cross_origin_state_changes_are_refused() {
    let mut config = demo_server::Config::defaults();
    config.users = vec!["root:root-password:admin".parse().expect("an account")];
    config.cors_origins = vec!["http://127.0.0.1:8080".parse().expect("an origin")];
    let (app, _, state) = demo_server::app_with_state(&config).expect("a valid configuration");
    let root = sign_in(&app, "root").await;
    publish_post(&app, &root, "T").await;

    // Another site's page, by a form (a "simple" request: no preflight), and another port of
    // the same host; with the admin's cookie, as a browser would send it.
    for (uri, origin, site) in [
        ("/api/blog/posts", "https://evil.example", "cross-site"),
        (
            "/api/blog/posts/1/view",
            "https://evil.example",
            "cross-site",
        ),
        ("/api/jobs", "https://evil.example", "cross-site"),
        (
            "/api/blog/posts/1/view",
            "http://127.0.0.1:9999",
            "same-site",
        ),
    ] {
        let request = as_user(from_page(form_post(uri), origin, site), &root);
        let response = send(&app, request).await;
        assert_eq!(
            response.status(),
            StatusCode::FORBIDDEN,
            "{uri} from {origin}"
        );
        assert!(
            body_text(response)
                .await
                .contains("cross-origin request refused")
        );
    }
    let delete = Request::delete("/api/blog/posts/1")
        .body(Body::empty())
        .expect("valid");
    let delete = as_user(
        from_page(delete, "https://evil.example", "cross-site"),
        &root,
    );
    assert_eq!(send(&app, delete).await.status(), StatusCode::FORBIDDEN);
    // An older browser that sends only `Origin`.
    let mut old = as_user(form_post("/api/blog/posts/1/view"), &root);
    old.headers_mut().insert(
        header::ORIGIN,
        "https://evil.example".parse().expect("an origin"),
    );
    assert_eq!(send(&app, old).await.status(), StatusCode::FORBIDDEN);

    // Nothing happened: one post, no views, no job.
    let posts = body_text(send(&app, get("/api/blog/posts")).await).await;
    assert!(
        posts.contains(r#""views":0"#) && posts.matches(r#""id""#).count() == 1,
        "{posts}"
    );
    assert!(state.jobs.is_empty());

    // The site's own pages, and the trusted origin, may.
    for (origin, site) in [
        ("http://127.0.0.1:3000", "same-origin"),
        ("http://127.0.0.1:8080", "same-site"),
    ] {
        let request = from_page(post_json("/api/blog/posts/1/view", "{}"), origin, site);
        assert_eq!(
            send(&app, request).await.status(),
            StatusCode::OK,
            "{origin}"
        );
    }
}

#[tokio::test]
async fn a_foreign_host_is_refused() {
    let app = server(|_| {});
    let with_host = |host: &str| {
        Request::get("/api/health")
            .header(header::HOST, host)
            .body(Body::empty())
            .expect("valid")
    };
    // A DNS-rebinding page reaches the loopback server under its own name.
    let refused = send(&app, with_host("rebind.evil.example:3000")).await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    for host in ["127.0.0.1:3000", "localhost:3000"] {
        assert_eq!(
            send(&app, with_host(host)).await.status(),
            StatusCode::OK,
            "{host}"
        );
    }
    let named = server(|config| config.allowed_hosts = vec!["demo.example".into()]);
    assert_eq!(
        send(&named, with_host("demo.example")).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn jobs_are_bounded_per_client_and_in_all() {
    let app = server(|_| {});
    let start = |ip: &str| from(post_json("/api/jobs", r#"{"step_ms":10000}"#), ip);
    for _ in 0..3 {
        assert_eq!(
            send(&app, start("10.0.0.1")).await.status(),
            StatusCode::CREATED
        );
    }
    let over = send(&app, start("10.0.0.1")).await;
    assert_eq!(over.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(over.headers().contains_key(header::RETRY_AFTER));
    // One IPv6 host is one client, whatever address of its /64 it uses.
    for n in 1..=3 {
        let ip = format!("[2001:db8::{n}]");
        assert_eq!(send(&app, start(&ip)).await.status(), StatusCode::CREATED);
    }
    assert_eq!(
        send(&app, start("[2001:db8::ffff]")).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    // In all, at most MAX_JOBS.
    let mut started = 6;
    'fill: for a in 0..=255u8 {
        for _ in 0..3 {
            if started == demo_server::jobs::MAX_JOBS {
                break 'fill;
            }
            let status = send(&app, start(&format!("10.1.0.{a}"))).await.status();
            assert_eq!(status, StatusCode::CREATED);
            started += 1;
        }
    }
    assert_eq!(
        send(&app, start("10.2.0.1")).await.status(),
        StatusCode::SERVICE_UNAVAILABLE
    );
}

#[tokio::test(start_paused = true)]
async fn finished_jobs_are_forgotten_after_a_minute() {
    let config = {
        let mut config = demo_server::Config::defaults();
        config.users = vec!["root:root-password:admin".parse().expect("an account")];
        config.no_ticker = true;
        config
    };
    let (app, _, state) = demo_server::app_with_state(&config).expect("a valid configuration");
    let started = send(&app, post_json("/api/jobs", r#"{"step_ms":1}"#)).await;
    let started: serde_json::Value = serde_json::from_str(&body_text(started).await).expect("JSON");
    let url = format!("/api/jobs/{}", started["job"]);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(state.jobs.len(), 1, "kept for its client to see the end");
    assert_eq!(send(&app, get(&url)).await.status(), StatusCode::OK);
    tokio::time::sleep(demo_server::jobs::KEPT_AFTER_DONE).await;
    assert_eq!(state.jobs.len(), 0, "forgotten");
    assert_eq!(send(&app, get(&url)).await.status(), StatusCode::NOT_FOUND);
    // Its client's quota is free again.
    for _ in 0..3 {
        let again = send(&app, post_json("/api/jobs", r#"{"step_ms":1}"#)).await;
        assert_eq!(again.status(), StatusCode::CREATED);
    }
}

#[tokio::test]
async fn a_client_gets_16_streams_and_long_polls_count() {
    let app = server(|_| {});
    let mut open = Vec::new();
    for _ in 0..15 {
        let response = send(&app, get("/api/ticker")).await;
        assert!(!response.headers().contains_key(header::RETRY_AFTER));
        open.push(response);
    }
    // The sixteenth place, taken by a long-poll that waits.
    let poll = send(&app, get("/api/blog/poll?wait_ms=20000")).await;
    assert_eq!(poll.status(), StatusCode::OK);
    let refused = send(&app, get("/api/ticker")).await;
    assert!(
        refused.headers().contains_key(header::RETRY_AFTER),
        "a stream over the cap"
    );
    let refused = send(&app, get("/api/blog/poll?wait_ms=20000")).await;
    assert_eq!(
        refused.status(),
        StatusCode::SERVICE_UNAVAILABLE,
        "a poll over the cap"
    );
    // Another client is not affected.
    let other = send(&app, from(get("/api/ticker"), "10.0.0.9")).await;
    assert!(!other.headers().contains_key(header::RETRY_AFTER));
    drop(poll);
    tokio::task::yield_now().await;
    let again = send(&app, get("/api/ticker")).await;
    assert!(
        !again.headers().contains_key(header::RETRY_AFTER),
        "the poll's place is free"
    );
}

/// A server whose Redis is not there (nothing listens on port 1).
fn without_redis() -> axum::Router {
    server(|config| config.redis = Some("redis://127.0.0.1:1/".parse().expect("a URL")))
}

#[tokio::test]
async fn health_says_redis_is_down_but_not_why() {
    let app = without_redis();
    let mut body = String::new();
    for _ in 0..100 {
        let response = send(&app, get("/api/health")).await;
        body = body_text(response).await;
        if body.contains("degraded") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(body.contains(r#""state":"down""#), "{body}");
    for leak in ["error", "refused", "127.0.0.1", "redis://"] {
        assert!(!body.contains(leak), "{leak} in {body}");
    }
}

#[tokio::test]
async fn a_write_that_cannot_be_published_answers_503_and_changes_nothing() {
    let app = without_redis();
    let root = sign_in(&app, "root").await;
    let created = send(
        &app,
        as_user(
            post_json("/api/blog/posts", r#"{"title":"T","body":""}"#),
            &root,
        ),
    )
    .await;
    assert_eq!(created.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(created.headers().contains_key(header::RETRY_AFTER));
    let text = body_text(created).await;
    assert!(!text.contains("127.0.0.1"), "no internals in {text}");
    assert_eq!(
        body_text(send(&app, get("/api/blog/posts")).await).await,
        "[]"
    );
}

#[tokio::test]
async fn sign_ins_are_checked_two_at_a_time_and_the_rest_turned_away() {
    let app = server(|_| {});
    let attempts = (0..12).map(|_| {
        let app = app.clone();
        tokio::spawn(async move {
            let json = r#"{"user":"alice","password":"not-her-password"}"#;
            send(&app, post_json("/api/session", json)).await.status()
        })
    });
    let mut statuses = Vec::new();
    for attempt in attempts.collect::<Vec<_>>() {
        statuses.push(attempt.await.expect("the attempt ran"));
    }
    let busy = statuses
        .iter()
        .filter(|status| **status == StatusCode::TOO_MANY_REQUESTS)
        .count();
    let checked = statuses
        .iter()
        .filter(|status| **status == StatusCode::UNAUTHORIZED)
        .count();
    assert_eq!(busy + checked, 12, "{statuses:?}");
    assert!(checked >= 2, "{statuses:?}");
    assert!(busy > 0, "a flood is turned away, not queued: {statuses:?}");
}
