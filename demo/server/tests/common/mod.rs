//! What the demo server's tests share: a router with known accounts, and requests to it.
#![allow(dead_code, reason = "each test file uses a part")]

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use axum::response::Response;
use demo_server::{Config, app};
use http_body_util::BodyExt;
use tower::ServiceExt;

/// The accounts every test server has.
pub(crate) const ACCOUNTS: [(&str, &str); 3] = [
    ("alice", "alice-password"),
    ("bob", "bob-password"),
    ("root", "root-password"),
];

/// A demo router with a quick ticker and [`ACCOUNTS`] (`root` the admin).
pub(crate) fn server(configure: impl FnOnce(&mut Config)) -> Router {
    let mut config = Config::defaults();
    config.tick_interval = Duration::from_millis(10);
    config.users = vec![
        "alice:alice-password".parse().expect("an account"),
        "bob:bob-password".parse().expect("an account"),
        "root:root-password:admin".parse().expect("an account"),
    ];
    configure(&mut config);
    app(&config).expect("a valid configuration").0
}

pub(crate) async fn send(app: &Router, request: Request<Body>) -> Response {
    app.clone().oneshot(request).await.expect("infallible")
}

pub(crate) fn get(uri: &str) -> Request<Body> {
    Request::get(uri)
        .body(Body::empty())
        .expect("valid request")
}

pub(crate) fn post_json(uri: &str, json: &str) -> Request<Body> {
    with_json(Request::post(uri), json)
}

pub(crate) fn with_json(request: axum::http::request::Builder, json: &str) -> Request<Body> {
    request
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(json.to_owned()))
        .expect("valid request")
}

/// `request` sent with the session `cookie`.
pub(crate) fn as_user(mut request: Request<Body>, cookie: &str) -> Request<Body> {
    request.headers_mut().insert(
        header::COOKIE,
        cookie.parse().expect("a valid cookie header"),
    );
    request
}

/// Signs in as `user` (one of [`ACCOUNTS`]) and returns the `Cookie` header to send.
pub(crate) async fn sign_in(app: &Router, user: &str) -> String {
    let (_, password) = ACCOUNTS
        .iter()
        .find(|(name, _)| *name == user)
        .expect("a test account");
    let json = format!(r#"{{"user":"{user}","password":"{password}"}}"#);
    let response = send(app, post_json("/api/session", &json)).await;
    assert_eq!(response.status(), StatusCode::OK, "signing in as {user}");
    let set_cookie = response.headers()[header::SET_COOKIE]
        .to_str()
        .expect("ASCII");
    set_cookie
        .split(';')
        .next()
        .expect("a name=value pair")
        .to_owned()
}

/// Publishes a blog post titled `title` as the holder of `cookie` (an admin's, to succeed).
pub(crate) async fn publish_post(app: &Router, cookie: &str, title: &str) -> Response {
    let json = serde_json::json!({"title": title, "body": ""}).to_string();
    send(app, as_user(post_json("/api/blog/posts", &json), cookie)).await
}

pub(crate) async fn body_text(response: Response) -> String {
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    String::from_utf8_lossy(&bytes).into_owned()
}
