//! The transports built on `fetch`: streaming (one request whose body is the event stream,
//! parsed in wasm) and polling (repeated requests to the server's polling endpoint, each answer a
//! complete event stream). Both send custom headers (computed afresh for each connection), the
//! method and body the app chose, and `Last-Event-ID` as a header; both see the HTTP status.
//! The [probe](probe) that explains an `EventSource` failure is one request of the same kind.
//!
//! The request runs in a task of its own; the transport value only owns its `AbortController`.
//! Dropping the transport aborts the request, which ends the task: no read is left dangling.
//! Every kind of request runs the one task function ([`run`]): one future type to compile into
//! the page, not three.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use tidings_wire::Parser;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    AbortController, AbortSignal, Headers, ReadableStreamDefaultReader, ReadableStreamReadResult,
    Request, RequestCredentials, RequestInit, Response,
};

use super::{EventId, HttpRequest, Sink, TransportEvent};
use crate::browser::diagnostics;
use crate::options::RequestOptions;
use crate::sans_io::failure::{Failure, classify};

/// How many bytes of an error answer's body a failure carries.
const EXCERPT: usize = 200;

#[wasm_bindgen::prelude::wasm_bindgen]
extern "C" {
    /// The global `fetch`, in a window or a worker alike.
    #[wasm_bindgen(js_name = fetch)]
    fn fetch_with_request(request: &Request) -> js_sys::Promise;
}

/// What a request's task does with the answer.
enum Job {
    /// Reads the one answer as the stream.
    Stream,
    /// Reads answer after answer, waiting this long between two.
    #[cfg(feature = "polling")]
    Poll(Duration),
    /// Reads the answer's head (and the start of an error's body), then aborts it, and reports
    /// what kind of failure it means.
    Probe(AbortController),
}

/// A running fetch-based transport: dropping it aborts the request.
pub(crate) struct HttpTransport {
    alive: Rc<Cell<bool>>,
    controller: Option<AbortController>,
}

impl HttpTransport {
    /// Starts streaming `request`.
    pub(crate) fn stream(request: HttpRequest, sink: Sink) -> Self {
        Self::start(Job::Stream, request, sink)
    }

    /// Starts polling `request`, waiting `interval` between two answers.
    #[cfg(feature = "polling")]
    pub(crate) fn poll(request: HttpRequest, interval: Duration, sink: Sink) -> Self {
        Self::start(Job::Poll(interval), request, sink)
    }

    fn start(job: Job, request: HttpRequest, sink: Sink) -> Self {
        let alive = Rc::new(Cell::new(true));
        let controller = AbortController::new().ok();
        let signal = controller.as_ref().map(AbortController::signal);
        diagnostics::opened_transport();
        diagnostics::spawn(run(job, request, alive.clone(), signal, sink));
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

/// Why did the stream fail? The browser's `EventSource` does not say (an HTTP error, a wrong
/// content type and a server that is down all look alike), so after it gives up the library asks
/// the server once, with `fetch`, reads the status, the content type and the start of an error's
/// body, and reports what kind of failure that is.
pub(crate) fn probe(url: String, with_credentials: bool, report: impl FnOnce(Failure) + 'static) {
    let Ok(controller) = AbortController::new() else {
        return report(Failure::Network);
    };
    let request = HttpRequest {
        url,
        options: RequestOptions::default(),
        with_credentials,
        last_event_id: None,
        id_param: None,
        // Unused: the probe reads no events.
        max_event_size: tidings_wire::DEFAULT_MAX_EVENT_SIZE,
    };
    let report = RefCell::new(Some(report));
    // The probe's task reports one thing: the failure.
    let sink: Sink = Rc::new(move |event| {
        if let TransportEvent::Failed(failure) = event
            && let Some(report) = report.take()
        {
            report(failure);
        }
    });
    let signal = Some(controller.signal());
    diagnostics::spawn(run(
        Job::Probe(controller),
        request,
        Rc::new(Cell::new(true)),
        signal,
        sink,
    ));
}

/// Whether `method` is an HTTP method (a token, as RFC 9110 defines it).
fn is_method(method: &str) -> bool {
    !method.is_empty()
        && method
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// The request to send: `request`, resuming after `last_event_id`, with the stream's headers
/// and `extra`, the computed ones. Built without waiting, so that the task's future stays small.
fn build(
    request: &HttpRequest,
    extra: &[(String, String)],
    last_event_id: Option<&str>,
    signal: Option<&AbortSignal>,
) -> Result<Request, Failure> {
    let method = request.options.method();
    if !is_method(method) {
        return Err(Failure::InvalidRequest(format!(
            "\"{method}\" is not an HTTP method"
        )));
    }
    let url = match (&request.id_param, last_event_id) {
        (Some(param), Some(id)) => {
            crate::sans_io::resume::url_with_last_event_id(&request.url, param, id)
        }
        _ => request.url.clone(),
    };
    // A header the browser rejects (a computed value with a line break, say) is the app's
    // mistake: reported as such, never thrown.
    let headers = Headers::new().map_err(|error| invalid("headers", &error))?;
    let set = |name: &str, value: &str| {
        headers
            .set(name, value)
            .map_err(|error| invalid(&format!("the header \"{name}\""), &error))
    };
    set("Accept", tidings_wire::CONTENT_TYPE)?;
    for (name, value) in request.options.headers.iter().chain(extra) {
        set(name, value)?;
    }
    if let Some(id) = last_event_id {
        set(tidings_wire::LAST_EVENT_ID_HEADER, id)?;
    }
    let init = RequestInit::new();
    init.set_method(method);
    init.set_headers(&headers);
    init.set_credentials(if request.with_credentials {
        RequestCredentials::Include
    } else {
        RequestCredentials::SameOrigin
    });
    init.set_signal(signal);
    if let Some(body) = &request.options.body {
        init.set_body(&JsValue::from_str(body));
    }
    Request::new_with_str_and_init(&url, &init).map_err(|error| invalid("the request", &error))
}

/// A request the browser refused to build: the app's mistake, which retrying cannot fix.
fn invalid(what: &str, error: &JsValue) -> Failure {
    Failure::InvalidRequest(format!(
        "{what}: {}",
        super::event_source::describe_js_error(error)
    ))
}

/// A header of `response`, or `None`.
fn header(response: &Response, name: &str) -> Option<String> {
    response.headers().get(name).ok().flatten()
}

/// Whether `response` is an event stream, by its head; an error status comes back with its
/// `Retry-After`, and the caller reads the start of its body.
fn check(response: &Response) -> Result<(), Failure> {
    let content_type = header(response, "content-type").unwrap_or_default();
    let retry_after = header(response, "retry-after");
    classify(
        response.status(),
        &content_type,
        retry_after.as_deref(),
        String::new(),
    )
}

/// `bytes` as text: up to where valid UTF-8 ends (a cut may fall inside a character), trimmed.
fn excerpt(bytes: &[u8]) -> String {
    let bytes = &bytes[..bytes.len().min(EXCERPT)];
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(error) => std::str::from_utf8(&bytes[..error.valid_up_to()]).unwrap_or_default(),
    };
    text.trim().to_owned()
}

/// A body that stopped before its end: the connection dropped, or the transport was dropped
/// (which aborts the request). The browser says no more than that.
#[derive(Debug)]
struct Broken;

/// Reads `response`'s body chunk by chunk until it ends or `on_chunk` says stop. (Not generic:
/// one read loop in the page for the stream and for error bodies.)
async fn read(response: &Response, on_chunk: &mut dyn FnMut(&[u8]) -> bool) -> Result<(), Broken> {
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
        read(response, &mut |chunk| {
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

/// Sends `request` (with the computed headers `extra`) and checks that the answer is an event
/// stream; for an error status, reads the start of its body into the failure.
async fn connect(
    request: &HttpRequest,
    extra: &[(String, String)],
    last_event_id: Option<&str>,
    signal: Option<&AbortSignal>,
) -> Result<Response, Failure> {
    let request = build(request, extra, last_event_id, signal)?;
    // A failed fetch is a network error (or a CORS refusal, which the browser does not tell apart).
    let response: Response = JsFuture::from(fetch_with_request(&request))
        .await
        .map_err(|_| Failure::Network)?
        .unchecked_into();
    match check(&response) {
        Err(Failure::Status {
            status,
            retry_after,
            ..
        }) => {
            let mut bytes = Vec::new();
            let _ = read(&response, &mut |chunk| {
                bytes.extend_from_slice(chunk);
                bytes.len() < EXCERPT
            })
            .await;
            Err(Failure::Status {
                status,
                retry_after,
                body: excerpt(&bytes),
            })
        }
        checked => checked.map(|()| response),
    }
}

/// The task of one transport (or probe): sends `request`, and reads what `job` asks of it.
#[cfg_attr(not(feature = "polling"), allow(clippy::never_loop))]
async fn run(
    job: Job,
    request: HttpRequest,
    alive: Rc<Cell<bool>>,
    signal: Option<AbortSignal>,
    sink: Sink,
) {
    let mut reader = Reader::new(request.last_event_id.as_deref(), request.max_event_size);
    let mut opened = false;
    while alive.get() {
        // The computed headers, afresh for each request (a token may have changed).
        let extra = match &request.options.header_fn {
            Some(compute) => compute().await,
            None => Vec::new(),
        };
        // Each poll resumes after the answers before it; the first request, as asked.
        let last_event_id =
            Some(reader.parser.last_event_id().to_owned()).filter(|id| !id.is_empty());
        let connected = connect(&request, &extra, last_event_id.as_deref(), signal.as_ref()).await;
        let response = match (&job, connected) {
            (Job::Probe(controller), connected) => {
                // Only the head was wanted: stop the body (an event stream would never end).
                controller.abort();
                // A stream that opens now failed only in passing.
                let failure = connected.err().unwrap_or(Failure::Network);
                return report(&alive, &sink, TransportEvent::Failed(failure));
            }
            (_, Err(failure)) => return report(&alive, &sink, TransportEvent::Failed(failure)),
            (_, Ok(response)) => response,
        };
        if !std::mem::replace(&mut opened, true) {
            report(&alive, &sink, TransportEvent::Open);
        }
        let ended = reader.follow(&response, &alive, &sink).await;
        match (&job, ended) {
            #[cfg(feature = "polling")]
            (Job::Poll(interval), Ok(())) => {
                // Each answer is a whole stream: a half event at its end is dropped, as the
                // standard says.
                reader.parser.end_of_stream();
                let wait = reader.retry.map_or(*interval, |retry| retry.max(*interval));
                if !wait.is_zero() {
                    gloo_timers::future::sleep(wait).await;
                }
            }
            // The stream ended (or broke): the server may come back; the machine decides when.
            _ => return report(&alive, &sink, TransportEvent::Failed(Failure::Network)),
        }
    }
}
