//! The demo server's API, end to end through its router: per-user isolation, 401, 204, the
//! stream cap, blog events and polling.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::{as_user, body_text, get, post_json, publish_post, send, server, sign_in, with_json};
use tidings_axum::testing::EventReader;

#[tokio::test]
async fn notifications_reach_only_their_user_and_need_a_session() {
    let app = server(|_| {});
    assert_eq!(
        send(&app, get("/api/notifications")).await.status(),
        StatusCode::UNAUTHORIZED
    );

    let (alice, bob, root) = (
        sign_in(&app, "alice").await,
        sign_in(&app, "bob").await,
        sign_in(&app, "root").await,
    );
    let alice = send(&app, as_user(get("/api/notifications"), &alice)).await;
    let bob = send(&app, as_user(get("/api/notifications"), &bob)).await;
    assert_eq!(alice.status(), StatusCode::OK);
    let (mut alice, mut bob) = (
        EventReader::new(alice.into_body()),
        EventReader::new(bob.into_body()),
    );

    for (user, text) in [
        ("bob", "for bob 1"),
        ("alice", "for alice"),
        ("bob", "for bob 2"),
    ] {
        let json = format!(r#"{{"user":"{user}","text":"{text}"}}"#);
        assert_eq!(
            send(&app, as_user(post_json("/api/notifications", &json), &root))
                .await
                .status(),
            StatusCode::CREATED
        );
    }
    let to_alice = alice.events(1).await;
    let to_bob = bob.events(2).await;
    assert_eq!(to_alice[0].data, r#"{"user":"alice","text":"for alice"}"#);
    assert_eq!(
        to_bob
            .iter()
            .map(|e| e.data.contains("for bob"))
            .filter(|b| *b)
            .count(),
        2
    );
    // Nothing else for alice: a third notification for bob does not reach her.
    for json in [
        r#"{"user":"bob","text":"for bob 3"}"#,
        r#"{"user":"alice","text":"second"}"#,
    ] {
        send(&app, as_user(post_json("/api/notifications", json), &root)).await;
    }
    assert!(alice.events(1).await[0].data.contains("second"));
}

#[tokio::test]
async fn a_finished_job_streams_to_done_then_answers_204() {
    let app = server(|_| {});
    let started = send(&app, post_json("/api/jobs", r#"{"step_ms":1}"#)).await;
    assert_eq!(started.status(), StatusCode::CREATED);
    let started: serde_json::Value = serde_json::from_str(&body_text(started).await).expect("JSON");
    let id = started["job"].as_u64().expect("a job ID");
    let url = format!("/api/jobs/{id}");

    let mut job = EventReader::new(send(&app, get(&url)).await.into_body());
    let events = job.events(102).await;
    let percents: Vec<String> = events[..101].iter().map(|e| e.data.clone()).collect();
    let expected: Vec<String> = (0..=100)
        .map(|p| format!(r#"{{"job":{id},"percent":{p}}}"#))
        .collect();
    assert_eq!(percents, expected);
    assert_eq!(events[101].event_type, "done");

    // A client that saw the end and reconnects is told to stop for good.
    let again = Request::get(&url)
        .header("last-event-id", &events[101].last_event_id)
        .body(Body::empty())
        .expect("valid request");
    assert_eq!(send(&app, again).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        send(&app, get("/api/jobs/99")).await.status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn the_demo_has_no_test_fixtures() {
    let app = server(|_| {});
    for (method, uri) in [
        ("POST", "/api/faults/drop"),
        ("GET", "/api/faults"),
        ("POST", "/api/firehose"),
        ("GET", "/api/firehose"),
        ("GET", "/api/hostile/huge-event"),
        ("GET", "/api/echo"),
    ] {
        let request = Request::builder()
            .method(method)
            .uri(uri)
            .body(Body::empty())
            .expect("valid");
        assert_eq!(
            send(&app, request).await.status(),
            StatusCode::NOT_FOUND,
            "{method} {uri}"
        );
    }
}

/// Over the cap, a stream is refused with an answer standard clients come back from: a short
/// event stream carrying only a `retry:` hint (a 503 would end a browser's EventSource for good).
#[tokio::test]
async fn streams_over_the_cap_are_told_to_come_back_later() {
    let app = server(|config| config.max_streams = 1);
    let first = send(&app, get("/api/ticker")).await;
    assert_eq!(first.status(), StatusCode::OK);
    let second = send(&app, get("/api/ticker")).await;
    assert_eq!(second.status(), StatusCode::OK);
    assert_eq!(second.headers()[header::CONTENT_TYPE], "text/event-stream");
    assert!(second.headers().contains_key(header::RETRY_AFTER));
    let refusal = body_text(second).await;
    let mut parser = tidings_wire::Parser::new();
    assert!(
        parser.feed_owned(refusal.as_bytes()).is_empty(),
        "no event in {refusal:?}"
    );
    assert!(parser.retry().is_some(), "a retry hint in {refusal:?}");
    drop(first); // its place is freed when the stream goes
    tokio::task::yield_now().await;
    assert_eq!(
        send(&app, get("/api/ticker")).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn blog_changes_go_out_live_and_resume() {
    let app = server(|_| {});
    let root = sign_in(&app, "root").await;
    let mut reader = EventReader::new(send(&app, get("/api/blog")).await.into_body());
    let created = send(
        &app,
        as_user(
            post_json("/api/blog/posts", r#"{"title":"Hello","body":"First"}"#),
            &root,
        ),
    )
    .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let put = with_json(
        Request::put("/api/blog/posts/1"),
        r#"{"title":"Hello!","body":"First, edited"}"#,
    );
    assert_eq!(
        send(&app, as_user(put, &root)).await.status(),
        StatusCode::OK
    );
    send(
        &app,
        Request::post("/api/blog/posts/1/view")
            .body(Body::empty())
            .expect("valid"),
    )
    .await;
    let delete = Request::delete("/api/blog/posts/1")
        .body(Body::empty())
        .expect("valid");
    assert_eq!(
        send(&app, as_user(delete, &root)).await.status(),
        StatusCode::NO_CONTENT
    );

    let events = reader.events(4).await;
    let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(types, ["post", "update", "views", "delete"]);

    // A client that saw only the first resumes with the other three.
    let resume = Request::get(format!("/api/blog?lastEventId={}", events[0].last_event_id))
        .body(Body::empty())
        .expect("valid");
    let mut resumed = EventReader::new(send(&app, resume).await.into_body());
    let rest: Vec<String> = resumed
        .events(3)
        .await
        .into_iter()
        .map(|e| e.event_type)
        .collect();
    assert_eq!(rest, ["update", "views", "delete"]);
}

#[tokio::test]
async fn polling_returns_the_same_events() {
    let app = server(|_| {});
    let root = sign_in(&app, "root").await;
    publish_post(&app, &root, "One").await;
    publish_post(&app, &root, "Two").await;
    // Polling from the start of the log is not possible without an ID: ask with the first.
    let mut stream = EventReader::new(send(&app, get("/api/blog")).await.into_body());
    publish_post(&app, &root, "Three").await;
    let third = stream.events(1).await.remove(0);
    let poll = Request::get(format!(
        "/api/blog/poll?wait_ms=1000&lastEventId={}",
        third.last_event_id.replace("-3", "-1")
    ))
    .body(Body::empty())
    .expect("valid");
    let response = send(&app, poll).await;
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "text/event-stream"
    );
    let events = EventReader::new(response.into_body()).rest().await;
    assert_eq!(events.len(), 2);
    assert!(events[1].data.contains("Three"));
}

/// `?pace=N`: at most N writes a second, each with the newest tick per symbol and every
/// trade; a pace out of range is a `400` that says the range.
#[tokio::test]
async fn a_paced_ticker_sends_a_few_writes_of_the_latest_prices() {
    let app = server(|_| {});
    for pace in ["0", "1001"] {
        let refused = send(&app, get(&format!("/api/ticker?pace={pace}"))).await;
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST, "pace={pace}");
        assert_eq!(
            body_text(refused).await,
            "pace must be 1 to 1000 writes a second"
        );
    }
    let paced = send(&app, get("/api/ticker?pace=2")).await;
    let every = send(&app, get("/api/ticker")).await;
    let read_for = |response: axum::response::Response| async move {
        let mut reader = EventReader::new(response.into_body());
        let mut events = Vec::new();
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_millis(1_200);
        while let Ok(more) = tokio::time::timeout_at(deadline, reader.events(1)).await {
            events.extend(more);
        }
        events
    };
    let (paced, every) = tokio::join!(read_for(paced), read_for(every));
    let ticks =
        |events: &[tidings_wire::Event]| events.iter().filter(|e| e.event_type == "tick").count();
    // A tick every 10 ms: some 120 in 1.2 s; paced, 3 symbols in each of about 3 writes.
    assert!(ticks(&every) > 60, "{} ticks unpaced", ticks(&every));
    assert!(
        ticks(&paced) <= 3 * 4,
        "{} ticks at 2 writes a second",
        ticks(&paced)
    );
    assert!(ticks(&paced) >= 1, "the newest prices still come");
}

/// With `--compress`, streams come in the coding the client offered, each write decodable at
/// once; without it, or without an offer, as they are.
#[tokio::test]
async fn streams_are_compressed_when_the_server_is_told_to_and_the_client_offers() {
    use http_body_util::BodyExt;
    use std::io::Write;
    let offer = |app: &axum::Router| {
        let app = app.clone();
        async move {
            let request = Request::get("/api/ticker")
                .header(header::ACCEPT_ENCODING, "gzip, deflate")
                .body(Body::empty())
                .expect("valid");
            send(&app, request).await
        }
    };
    let plain = offer(&server(|_| {})).await;
    assert!(plain.headers().get(header::CONTENT_ENCODING).is_none());

    let app = server(|config| config.compress = true);
    assert!(
        send(&app, get("/api/ticker"))
            .await
            .headers()
            .get(header::CONTENT_ENCODING)
            .is_none(),
        "nothing offered, nothing compressed"
    );
    let compressed = offer(&app).await;
    assert_eq!(compressed.headers()[header::CONTENT_ENCODING], "gzip");
    let mut body = compressed.into_body();
    let mut decoder = flate2::write::GzDecoder::new(Vec::new());
    let mut parser = tidings_wire::Parser::new();
    let mut ticks = 0;
    while ticks < 5 {
        let frame = body.frame().await.expect("open").expect("infallible");
        decoder
            .write_all(&frame.into_data().expect("data"))
            .expect("gzip");
        decoder.flush().expect("gzip");
        let events = parser.feed_owned(&std::mem::take(decoder.get_mut()));
        ticks += events
            .iter()
            .filter(|e| e.as_ref().is_ok_and(|e| e.event_type == "tick"))
            .count();
    }
}
