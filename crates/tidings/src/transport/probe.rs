//! Why did the stream fail? The browser's `EventSource` does not say (an HTTP error, a wrong
//! content type and a server that is down all look alike), so after it gives up the library asks
//! the server once, with `fetch`, and reads the status and content type without the body.

use gloo_net::http::Request;
use web_sys::{AbortController, RequestCredentials};

use crate::reconnect::Failure;

/// Requests `url` as the stream would be, and tells what kind of failure the answer is.
pub(crate) async fn probe(url: &str, with_credentials: bool) -> Failure {
    let controller = AbortController::new().ok();
    let credentials = if with_credentials {
        RequestCredentials::Include
    } else {
        RequestCredentials::SameOrigin
    };
    let request = Request::get(url)
        .header("Accept", tidings_wire::CONTENT_TYPE)
        .credentials(credentials)
        .abort_signal(controller.as_ref().map(|c| c.signal()).as_ref());
    let outcome = request.send().await;
    // Only the head is wanted: stop the body (an event stream would never end).
    if let Some(controller) = controller {
        controller.abort();
    }
    let Ok(response) = outcome else {
        return Failure::Network;
    };
    let content_type = response.headers().get("content-type").unwrap_or_default();
    match classify(
        response.status(),
        &content_type,
        response.headers().get("retry-after").as_deref(),
        String::new(),
    ) {
        // It answers with a stream now: the failure was passing.
        Ok(()) => Failure::Network,
        Err(failure) => failure,
    }
}

/// Whether an answer with `status` and `content_type` is an event stream, and if not, what kind
/// of failure it is; `body` is the start of its body, if read.
pub(crate) fn classify(
    status: u16,
    content_type: &str,
    retry_after: Option<&str>,
    body: String,
) -> Result<(), Failure> {
    let is_event_stream = content_type
        .split(';')
        .next()
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case(tidings_wire::CONTENT_TYPE));
    match status {
        200 if is_event_stream => Ok(()),
        200 => Err(Failure::WrongContentType(content_type.to_owned())),
        status => Err(Failure::Status {
            status,
            retry_after: retry_after
                .and_then(|value| value.trim().parse::<u64>().ok())
                .map(std::time::Duration::from_secs),
            body,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn answers_are_classified() {
        assert_eq!(
            classify(200, "text/event-stream", None, String::new()),
            Ok(())
        );
        assert_eq!(
            classify(200, "text/event-stream; charset=utf-8", None, String::new()),
            Ok(())
        );
        assert_eq!(
            classify(200, "text/plain", None, String::new()),
            Err(Failure::WrongContentType("text/plain".into()))
        );
        assert_eq!(
            classify(200, "", None, String::new()),
            Err(Failure::WrongContentType(String::new()))
        );
        assert_eq!(
            classify(503, "text/plain", Some("7"), String::new()),
            Err(Failure::Status {
                status: 503,
                retry_after: Some(Duration::from_secs(7)),
                body: String::new()
            })
        );
        assert_eq!(
            classify(204, "", Some("soon"), String::new()),
            Err(Failure::Status {
                status: 204,
                retry_after: None,
                body: String::new()
            })
        );
    }
}
