//! The transports built on `fetch`: streaming (one request whose body is the event stream,
//! parsed in wasm) and polling (repeated requests to the server's polling endpoint, each answer a
//! complete event stream). Both send custom headers (computed afresh for each connection), the
//! method and body the app chose, and `Last-Event-ID` as a header; both see the HTTP status.
//!
//! The request runs in a task of its own; the transport value only owns its `AbortController`.
//! Dropping the transport aborts the request, which ends the task: no read is left dangling.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use gloo_net::http::{Method, Request, Response};
use tidings_wire::Parser;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    AbortController, AbortSignal, ReadableStreamDefaultReader, ReadableStreamReadResult,
    RequestCredentials,
};

use super::{EventId, HttpRequest, Sink, TransportEvent};
use crate::browser::diagnostics;
use crate::sans_io::failure::{Failure, classify};

/// How many bytes of an error answer's body a failure carries.
const EXCERPT: usize = 200;

/// A running fetch-based transport: dropping it aborts the request.
pub(crate) struct HttpTransport {
    alive: Rc<Cell<bool>>,
    controller: Option<AbortController>,
}

impl HttpTransport {
    /// Starts streaming `request`.
    pub(crate) fn stream(request: HttpRequest, sink: Sink) -> Self {
        Self::start(sink, move |alive, signal, sink| {
            stream(request, alive, signal, sink)
        })
    }

    /// Starts polling `request`, waiting `interval` between two answers.
    pub(crate) fn poll(request: HttpRequest, interval: Duration, sink: Sink) -> Self {
        Self::start(sink, move |alive, signal, sink| {
            poll(request, interval, alive, signal, sink)
        })
    }

    fn start<F, Fut>(sink: Sink, run: F) -> Self
    where
        F: FnOnce(Rc<Cell<bool>>, Option<AbortSignal>, Sink) -> Fut,
        Fut: std::future::Future<Output = ()> + 'static,
    {
        let alive = Rc::new(Cell::new(true));
        let controller = AbortController::new().ok();
        let signal = controller.as_ref().map(AbortController::signal);
        diagnostics::opened_transport();
        diagnostics::spawn(run(alive.clone(), signal, sink));
        Self { alive, controller }
    }
}

impl Drop for HttpTransport {
    fn drop(&mut self) {
        self.alive.set(false);
        if let Some(controller) = &self.controller {
            controller.abort();
        }
        diagnostics::closed_transport();
    }
}

/// Sends `request` to `url`, with the stream's headers.
async fn send(
    request: &HttpRequest,
    url: &str,
    signal: Option<&AbortSignal>,
) -> Result<Response, Failure> {
    let credentials = if request.with_credentials {
        RequestCredentials::Include
    } else {
        RequestCredentials::SameOrigin
    };
    let method = Method::from_bytes(request.options.method().as_bytes()).map_err(|_| {
        Failure::InvalidRequest(format!(
            "{:?} is not an HTTP method",
            request.options.method()
        ))
    })?;
    let url = match (&request.id_param, &request.last_event_id) {
        (Some(param), Some(id)) => crate::sans_io::resume::url_with_last_event_id(url, param, id),
        _ => url.to_owned(),
    };
    // Set here rather than through gloo, which throws (killing this task) on a header the
    // browser rejects: a computed value with a line break, say.
    let headers = web_sys::Headers::new().map_err(|error| invalid("headers", &error))?;
    let set = |name: &str, value: &str| {
        headers
            .set(name, value)
            .map_err(|error| invalid(&format!("the header {name:?}"), &error))
    };
    set("Accept", tidings_wire::CONTENT_TYPE)?;
    for (name, value) in request.options.headers().await {
        set(&name, &value)?;
    }
    if let Some(id) = &request.last_event_id {
        set(tidings_wire::LAST_EVENT_ID_HEADER, id)?;
    }
    let builder = Request::get(&url)
        .method(method)
        .headers(gloo_net::http::Headers::from_raw(headers))
        .credentials(credentials)
        .abort_signal(signal);
    let request = match &request.options.body {
        Some(body) => builder.body(body.clone()),
        None => builder.build(),
    };
    let request = request.map_err(|error| Failure::InvalidRequest(error.to_string()))?;
    // A failed fetch is a network error (or a CORS refusal, which the browser does not tell apart).
    request.send().await.map_err(|_| Failure::Network)
}

/// A request the browser refused to build: the app's mistake, which retrying cannot fix.
fn invalid(what: &str, error: &wasm_bindgen::JsValue) -> Failure {
    Failure::InvalidRequest(format!(
        "{what}: {}",
        super::event_source::describe_js_error(error)
    ))
}

/// Fails unless `response` is an event stream, reading the start of its body for the failure.
async fn check(response: &Response) -> Result<(), Failure> {
    let content_type = response.headers().get("content-type").unwrap_or_default();
    match classify(response.status(), &content_type, None, String::new()) {
        // An error status: read why (its Retry-After and the start of its body).
        Err(Failure::Status { status, .. }) => {
            let retry_after = response.headers().get("retry-after");
            classify(
                status,
                &content_type,
                retry_after.as_deref(),
                excerpt(response).await,
            )
        }
        other => other,
    }
}

/// The start of a body, as text.
async fn excerpt(response: &Response) -> String {
    let mut bytes = Vec::new();
    let _ = read(response, |chunk| {
        bytes.extend_from_slice(chunk);
        bytes.len() < EXCERPT
    })
    .await;
    bytes.truncate(EXCERPT);
    String::from_utf8_lossy(&bytes).trim().to_owned()
}

/// A body that stopped before its end: the connection dropped, or the transport was dropped
/// (which aborts the request). The browser says no more than that.
#[derive(Debug)]
struct Broken;

/// Reads `response`'s body chunk by chunk until it ends or `on_chunk` says stop.
async fn read(response: &Response, mut on_chunk: impl FnMut(&[u8]) -> bool) -> Result<(), Broken> {
    let Some(body) = response.body() else {
        return Ok(());
    };
    let reader: ReadableStreamDefaultReader = body.get_reader().unchecked_into();
    let mut buffer = Vec::new();
    loop {
        let result: ReadableStreamReadResult = JsFuture::from(reader.read())
            .await
            .map_err(|_| Broken)?
            .unchecked_into();
        if result.get_done().unwrap_or(true) {
            return Ok(());
        }
        let chunk: js_sys::Uint8Array = result.get_value().unchecked_into();
        buffer.resize(chunk.length() as usize, 0);
        chunk.copy_to(&mut buffer);
        if !on_chunk(&buffer) {
            let _ = reader.cancel();
            return Ok(());
        }
    }
}

/// Feeds `chunk` to `parser`, reporting events, activity and `retry:` changes.
fn deliver(parser: &mut Parser, chunk: &[u8], retry: &mut Option<Duration>, sink: &Sink) {
    sink(TransportEvent::Activity);
    let mut skipped = None;
    parser.feed(chunk, |event| match event {
        Ok(event) => sink(TransportEvent::Message {
            event_type: event.event_type,
            data: event.data,
            last_event_id: EventId::Text(event.last_event_id),
        }),
        Err(error) => skipped = Some(error),
    });
    if let Some(error) = skipped {
        // The parser's ID is the last dispatched block's (never one still arriving), so resuming
        // from it skips nothing unseen.
        sink(TransportEvent::Skipped {
            error,
            last_event_id: parser.last_event_id(),
        });
    }
    if parser.retry() != *retry {
        *retry = parser.retry();
        if let Some(delay) = *retry {
            sink(TransportEvent::Retry(delay));
        }
    }
}

/// A stream's parsing state, which lasts across the answers of one transport (polling carries
/// the last event ID from answer to answer).
struct Reader {
    parser: Parser,
    retry: Option<Duration>,
}

impl Reader {
    fn new(last_event_id: Option<&str>, max_event_size: usize) -> Self {
        let mut parser = Parser::with_max_event_size(max_event_size);
        if let Some(id) = last_event_id {
            parser.set_last_event_id(id);
        }
        Self {
            parser,
            retry: None,
        }
    }

    /// Reads `response` to its end, reporting what arrives.
    async fn follow(
        &mut self,
        response: &Response,
        alive: &Cell<bool>,
        sink: &Sink,
    ) -> Result<(), Broken> {
        read(response, |chunk| {
            if alive.get() {
                deliver(&mut self.parser, chunk, &mut self.retry, sink);
            }
            alive.get()
        })
        .await
    }
}

/// Reports `event`, unless the transport was dropped meanwhile.
fn report(alive: &Cell<bool>, sink: &Sink, event: TransportEvent<'_>) {
    if alive.get() {
        sink(event);
    }
}

/// Sends `request` to `url` and checks that the answer is an event stream.
async fn connect(
    request: &HttpRequest,
    url: &str,
    signal: Option<&AbortSignal>,
) -> Result<Response, Failure> {
    let response = send(request, url, signal).await?;
    check(&response).await?;
    Ok(response)
}

async fn stream(
    request: HttpRequest,
    alive: Rc<Cell<bool>>,
    signal: Option<AbortSignal>,
    sink: Sink,
) {
    let response = match connect(&request, &request.url, signal.as_ref()).await {
        Ok(response) => response,
        Err(failure) => return report(&alive, &sink, TransportEvent::Failed(failure)),
    };
    report(&alive, &sink, TransportEvent::Open);
    let mut reader = Reader::new(request.last_event_id.as_deref(), request.max_event_size);
    let _ = reader.follow(&response, &alive, &sink).await;
    // The stream ended (or broke): the server may come back; the machine decides when.
    report(&alive, &sink, TransportEvent::Failed(Failure::Network));
}

async fn poll(
    request: HttpRequest,
    interval: Duration,
    alive: Rc<Cell<bool>>,
    signal: Option<AbortSignal>,
    sink: Sink,
) {
    let mut reader = Reader::new(request.last_event_id.as_deref(), request.max_event_size);
    let mut opened = false;
    while alive.get() {
        let this_poll = HttpRequest {
            last_event_id: Some(reader.parser.last_event_id().to_owned())
                .filter(|id| !id.is_empty()),
            ..request.clone()
        };
        let response = match connect(&this_poll, &request.url, signal.as_ref()).await {
            Ok(response) => response,
            Err(failure) => return report(&alive, &sink, TransportEvent::Failed(failure)),
        };
        if !opened {
            opened = true;
            report(&alive, &sink, TransportEvent::Open);
        }
        if reader.follow(&response, &alive, &sink).await.is_err() {
            return report(&alive, &sink, TransportEvent::Failed(Failure::Network));
        }
        // Each answer is a whole stream: a half event at its end is dropped, as the standard says.
        reader.parser.end_of_stream();
        let wait = reader.retry.map_or(interval, |retry| retry.max(interval));
        if !wait.is_zero() {
            gloo_timers::future::sleep(wait).await;
        }
    }
}
