//! The ways events reach the page. Each transport is thin browser glue: it turns the browser's
//! callbacks into [`TransportEvent`]s for the connection, and owns (and on drop releases) every
//! closure and listener it registers.

pub(crate) mod event_source;
pub(crate) mod http;

pub(crate) use http::probe;

use crate::options::RequestOptions;
use crate::sans_io::failure::Failure;

/// What a fetch-based transport asks for.
#[derive(Clone)]
pub(crate) struct HttpRequest {
    pub(crate) url: String,
    pub(crate) options: RequestOptions,
    pub(crate) with_credentials: bool,
    pub(crate) last_event_id: Option<String>,
    /// The query parameter that also carries the last event ID, if the options ask for one.
    pub(crate) id_param: Option<String>,
    /// The largest event accepted, in bytes.
    pub(crate) max_event_size: usize,
}

/// What a transport reports to its connection.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum TransportEvent<'a> {
    /// The stream is open: events can flow.
    Open,
    /// An event arrived.
    Message {
        event_type: &'a str,
        data: &'a str,
        last_event_id: EventId<'a>,
    },
    /// Bytes arrived (events or keep-alives): the connection is alive.
    Activity,
    /// An event was skipped (it was larger than the limit); the stream goes on. `last_event_id`
    /// is the ID to resume from now, past the skipped event.
    Skipped {
        error: tidings_wire::ParseError,
        last_event_id: &'a str,
    },
    /// The server asked for this reconnection time.
    Retry(std::time::Duration),
    /// The transport failed, and knows why.
    Failed(Failure),
    /// The browser is re-establishing a lost connection by itself.
    Retrying,
    /// The connection is gone and the browser will not retry it (an HTTP error status, a wrong
    /// content type, or a network failure it gave up on).
    Closed,
}

/// An event's last event ID: text, or (from `EventSource`) the browser's `MessageEvent`, whose
/// `lastEventId` is read into wasm only when someone needs it. Copying every event's ID cost the
/// `EventSource` transport about a seventh of its throughput, and most subscribers never look
/// at it. The event is handed over in a cell so that the connection can keep it without cloning
/// it (each clone of a JavaScript value is a call out of wasm).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum EventId<'a> {
    Text(&'a str),
    Js(&'a std::cell::RefCell<Option<wasm_bindgen::JsValue>>),
}

/// The `lastEventId` of a `MessageEvent` handed over as [`EventId::Js`].
pub(crate) fn last_event_id_of(event: &wasm_bindgen::JsValue) -> String {
    event_source::last_event_id_of(event)
}

/// Where a transport sends what it sees.
pub(crate) type Sink = std::rc::Rc<dyn Fn(TransportEvent<'_>)>;
