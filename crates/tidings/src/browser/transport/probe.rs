//! Why did the stream fail? The browser's `EventSource` does not say (an HTTP error, a wrong
//! content type and a server that is down all look alike), so after it gives up the library asks
//! the server once, with `fetch`, and reads the status and content type without the body.

use gloo_net::http::Request;
use web_sys::{AbortController, RequestCredentials};

use crate::sans_io::failure::{Failure, classify};

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
