//! Calls to the demo server's JSON API (same origin: trunk's proxy or the server itself).

use gloo_net::http::Request;
use serde::de::DeserializeOwned;

/// `POST`s `json` to `path`; the answer's body, or what went wrong.
pub(crate) async fn post(path: &str, json: &serde_json::Value) -> Result<String, String> {
    post_with(path, json, &[]).await
}

/// [`post`], with `headers` besides.
pub(crate) async fn post_with(
    path: &str,
    json: &serde_json::Value,
    headers: &[(&str, &str)],
) -> Result<String, String> {
    let mut request = Request::post(path);
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let response = request
        .header("Content-Type", "application/json")
        .body(json.to_string())
        .map_err(|e| e.to_string())?
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    if response.ok() {
        Ok(text)
    } else {
        Err(format!("HTTP {status}: {text}"))
    }
}

/// `DELETE`s `path`.
pub(crate) async fn delete(path: &str) -> Result<(), String> {
    delete_with(path, &[]).await
}

/// [`delete`], with `headers` besides.
pub(crate) async fn delete_with(path: &str, headers: &[(&str, &str)]) -> Result<(), String> {
    let mut request = Request::delete(path);
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let response = request.send().await.map_err(|e| e.to_string())?;
    if response.ok() {
        Ok(())
    } else {
        Err(format!("HTTP {}", response.status()))
    }
}

/// `GET`s `path` as JSON.
pub(crate) async fn get<T: DeserializeOwned>(path: &str) -> Result<T, String> {
    let response = Request::get(path).send().await.map_err(|e| e.to_string())?;
    if !response.ok() {
        return Err(format!("HTTP {}", response.status()));
    }
    response.json().await.map_err(|e| e.to_string())
}
