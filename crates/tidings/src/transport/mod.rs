//! The ways events reach the page. Each transport is thin browser glue: it turns the browser's
//! callbacks into [`TransportEvent`]s for the connection, and owns (and on drop releases) every
//! closure and listener it registers.

pub(crate) mod event_source;
mod probe;

pub(crate) use probe::probe;

/// What a transport reports to its connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TransportEvent<'a> {
    /// The stream is open: events can flow.
    Open,
    /// An event arrived.
    Message {
        event_type: &'a str,
        data: &'a str,
        last_event_id: &'a str,
    },
    /// The browser is re-establishing a lost connection by itself.
    Retrying,
    /// The connection is gone and the browser will not retry it (an HTTP error status, a wrong
    /// content type, or a network failure it gave up on).
    Closed,
}

/// Where a transport sends what it sees.
pub(crate) type Sink = std::rc::Rc<dyn Fn(TransportEvent<'_>)>;
