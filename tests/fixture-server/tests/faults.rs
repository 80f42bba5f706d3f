//! The fixture server's faults, through its router: failures, the wrong content type, dropped,
//! stalled and slow streams; the chaos token; the cap on hostile streams.

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use axum::response::Response;
use tidings_axum::testing::EventReader;
use tower::ServiceExt;

/// The fixture app with a quick ticker, wanting `token` if given.
fn server(token: Option<&str>) -> Router {
    let mut config = demo_server::Config::defaults();
    config.tick_interval = Duration::from_millis(10);
    config.users = vec!["root:root-password:admin".parse().expect("an account")];
    fixture_server::app(&config, token)
        .expect("a valid configuration")
        .0
}

async fn send(app: &Router, request: Request<Body>) -> Response {
    app.clone().oneshot(request).await.expect("infallible")
}

fn get(uri: &str) -> Request<Body> {
    Request::get(uri)
        .body(Body::empty())
        .expect("valid request")
}

fn post_json(uri: &str, json: &str) -> Request<Body> {
    Request::post(uri)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(json.to_owned()))
        .expect("valid request")
}

#[tokio::test]
async fn faults_fail_refuse_and_drop_on_demand() {
    let app = server(None);
    // Fail the next two with 500.
    send(
        &app,
        post_json("/api/faults/fail", r#"{"count":2,"status":500}"#),
    )
    .await;
    assert_eq!(
        send(&app, get("/api/ticker")).await.status(),
        StatusCode::INTERNAL_SERVER_ERROR
    );
    assert_eq!(
        send(&app, get("/api/ticker")).await.status(),
        StatusCode::INTERNAL_SERVER_ERROR
    );
    assert_eq!(
        send(&app, get("/api/ticker")).await.status(),
        StatusCode::OK
    );

    // The wrong content type.
    send(
        &app,
        post_json("/api/faults/wrong-content-type", r#"{"count":1}"#),
    )
    .await;
    let wrong = send(&app, get("/api/ticker")).await;
    assert_eq!(wrong.headers()[header::CONTENT_TYPE], "text/plain");

    // Drop every open stream.
    let mut open = EventReader::new(send(&app, get("/api/ticker")).await.into_body());
    assert!(!open.events(2).await.is_empty());
    send(
        &app,
        Request::post("/api/faults/drop")
            .body(Body::empty())
            .expect("valid"),
    )
    .await;
    open.rest().await;
    assert!(open.ended(), "the stream ended when dropped");

    // Stall: headers, then nothing; lifting it ends the stalled stream.
    send(&app, post_json("/api/faults/stall", r#"{"on":true}"#)).await;
    let stalled = send(&app, get("/api/ticker")).await;
    assert_eq!(stalled.status(), StatusCode::OK);
    let mut stalled = EventReader::new(stalled.into_body()).patience(Duration::from_secs(2));
    let lifted = {
        let app = app.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            send(&app, post_json("/api/faults/stall", r#"{"on":false}"#)).await;
        })
    };
    assert!(
        stalled.rest().await.is_empty(),
        "a stalled stream sends nothing"
    );
    lifted.await.expect("lifted");
}

#[tokio::test]
async fn slow_writes_delay_each_frame() {
    let app = server(None);
    send(&app, post_json("/api/faults/slow", r#"{"delay_ms":300}"#)).await;
    let started = std::time::Instant::now();
    let mut reader = EventReader::new(send(&app, get("/api/ticker")).await.into_body());
    // The retry hint and the first batch of ticks each wait 300 ms.
    assert!(!reader.events(1).await.is_empty());
    assert!(
        started.elapsed() >= Duration::from_millis(600),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn with_a_chaos_token_every_fixture_wants_it() {
    let app = server(Some("s3cret-token"));
    for (method, uri) in [
        ("POST", "/api/faults/drop"),
        ("GET", "/api/faults"),
        ("POST", "/api/firehose"),
        ("GET", "/api/hostile/huge-event"),
        ("GET", "/api/echo"),
    ] {
        let request = |token: Option<&str>| {
            let mut request = Request::builder().method(method).uri(uri);
            if let Some(token) = token {
                request = request.header("x-chaos-token", token);
            }
            request
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(r#"{"count":1}"#))
                .expect("valid")
        };
        for wrong in [None, Some("s3cret-tokem"), Some("s3cret")] {
            let status = send(&app, request(wrong)).await.status();
            assert_eq!(
                status,
                StatusCode::UNAUTHORIZED,
                "{method} {uri} with {wrong:?}"
            );
        }
    }
    let allowed = Request::post("/api/faults/drop")
        .header("x-chaos-token", "s3cret-token")
        .body(Body::empty())
        .expect("valid");
    assert_eq!(send(&app, allowed).await.status(), StatusCode::OK);
    // The demo's own routes want no token.
    assert_eq!(
        send(&app, get("/api/health")).await.status(),
        StatusCode::OK
    );
}

#[test]
fn without_a_chaos_token_it_listens_on_loopback_only() {
    let mut config = demo_server::Config::defaults();
    config.addr = "0.0.0.0:3000".parse().expect("an address");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let _entered = runtime.enter();
    let error = fixture_server::app(&config, None).err().expect("refused");
    assert!(error.contains("loopback only"), "{error}");
    assert!(fixture_server::app(&config, Some("token")).is_ok());
}

#[tokio::test]
async fn hostile_streams_are_served_a_few_at_a_time() {
    let app = server(None);
    let mut open = Vec::new();
    for _ in 0..fixture_server::MAX_HOSTILE {
        let response = send(&app, get("/api/hostile/huge-event?bytes=1024")).await;
        assert_eq!(response.status(), StatusCode::OK);
        open.push(response);
    }
    let over = send(&app, get("/api/hostile/huge-event?bytes=1024")).await;
    assert_eq!(over.status(), StatusCode::SERVICE_UNAVAILABLE);
    drop(open.pop());
    let again = send(&app, get("/api/hostile/nul")).await;
    assert_eq!(again.status(), StatusCode::OK, "a place was freed");
}

#[tokio::test]
async fn paced_runs_are_a_few_at_a_time() {
    let app = server(None);
    let paced = || post_json("/api/firehose/paced", r#"{"count":100000,"rate":1}"#);
    for _ in 0..fixture_server::MAX_PACED {
        assert_eq!(send(&app, paced()).await.status(), StatusCode::OK);
    }
    let over = send(&app, paced()).await;
    assert_eq!(over.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(over.headers().contains_key(header::RETRY_AFTER));
}
