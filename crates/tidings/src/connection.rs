//! One connection to one stream: it owns the live transport, routes each event to the
//! subscribers of its type, and keeps the state and last-event-ID signals current.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::{Rc, Weak};

use leptos::prelude::*;

use crate::options::SseOptions;
use crate::resume::url_with_last_event_id;
use crate::state::{ConnectionState, Timestamp, Transport};
use crate::transport::event_source::EventSourceTransport;
use crate::transport::{Sink, TransportEvent};

/// A subscriber to one event type: called with the event's data and last event ID.
pub(crate) type Handler = Rc<dyn Fn(&str, &str)>;

/// The signals a connection writes, which the [`Sse`](crate::Sse) handle hands out read-only.
#[derive(Clone, Copy)]
pub(crate) struct Outputs {
    pub(crate) state: RwSignal<ConnectionState>,
    pub(crate) last_event_id: RwSignal<Option<String>>,
}

pub(crate) struct Connection {
    this: Weak<Connection>,
    options: SseOptions,
    outputs: Outputs,
    url: RefCell<String>,
    subscribers: RefCell<HashMap<String, Vec<Handler>>>,
    transport: RefCell<Option<EventSourceTransport>>,
    attempt: Cell<u32>,
}

impl Connection {
    pub(crate) fn new(options: SseOptions, outputs: Outputs) -> Rc<Self> {
        Rc::new_cyclic(|this| Self {
            this: this.clone(),
            options,
            outputs,
            url: RefCell::new(String::new()),
            subscribers: RefCell::new(HashMap::new()),
            transport: RefCell::new(None),
            attempt: Cell::new(0),
        })
    }

    /// Adds a subscriber for `event_type`, and listens for it on the live transport.
    pub(crate) fn subscribe(&self, event_type: &str, handler: Handler) {
        self.subscribers
            .borrow_mut()
            .entry(event_type.to_owned())
            .or_default()
            .push(handler);
        if let Some(transport) = self.transport.borrow().as_ref() {
            transport.listen(event_type);
        }
    }

    /// Connects to `url` (closing any current connection); an empty URL just disconnects.
    pub(crate) fn connect(&self, url: &str) {
        self.disconnect();
        *self.url.borrow_mut() = url.to_owned();
        if url.is_empty() {
            self.outputs.state.set(ConnectionState::Idle);
            return;
        }
        self.attempt.set(1);
        self.open_transport();
    }

    /// Opens the stream again at the current URL, resuming after the last event seen.
    pub(crate) fn reopen(&self) {
        let url = self.url.borrow().clone();
        self.connect(&url);
    }

    /// Closes the connection for good (until [`Connection::reopen`]).
    pub(crate) fn close(&self) {
        self.disconnect();
        self.outputs.state.set(ConnectionState::Closed);
    }

    /// Drops the transport, which closes it and releases its listeners; the signals are left
    /// alone (they may already be disposed when a component unmounts).
    pub(crate) fn disconnect(&self) {
        // Taken out first: dropping the transport runs browser code that must not find the
        // cell borrowed.
        let transport = self.transport.borrow_mut().take();
        drop(transport);
    }

    fn open_transport(&self) {
        let url = self.url.borrow().clone();
        let resume_from = self
            .outputs
            .last_event_id
            .get_untracked()
            .or_else(|| self.options.last_event_id.clone());
        let url = match resume_from {
            Some(id) => url_with_last_event_id(&url, &id),
            None => url,
        };
        self.outputs.state.set(ConnectionState::Connecting {
            attempt: self.attempt.get(),
        });
        let this = self.this.clone();
        let sink: Sink = Rc::new(move |event| {
            if let Some(connection) = this.upgrade() {
                connection.on_transport_event(event);
            }
        });
        let event_types: Vec<String> = self.subscribers.borrow().keys().cloned().collect();
        match EventSourceTransport::open(
            &url,
            self.options.with_credentials,
            event_types.iter().map(String::as_str),
            sink,
        ) {
            Ok(transport) => *self.transport.borrow_mut() = Some(transport),
            Err(reason) => self.outputs.state.set(ConnectionState::Failed {
                reason: format!("cannot open {url}: {reason}"),
            }),
        }
    }

    fn on_transport_event(&self, event: TransportEvent<'_>) {
        match event {
            TransportEvent::Open => {
                self.attempt.set(0);
                self.outputs.state.set(ConnectionState::Open {
                    transport: Transport::EventSource,
                    since: Timestamp(js_sys::Date::now()),
                });
            }
            TransportEvent::Message {
                event_type,
                data,
                last_event_id,
            } => self.deliver(event_type, data, last_event_id),
            TransportEvent::Retrying => {
                let attempt = self.attempt.get() + 1;
                self.attempt.set(attempt);
                self.outputs.state.set(ConnectionState::Reconnecting {
                    attempt,
                    reason: "connection lost".to_owned(),
                });
            }
            TransportEvent::Closed => {
                self.disconnect();
                self.outputs.state.set(ConnectionState::Failed {
                    reason: "the server refused the stream (an HTTP error, a wrong content type, \
                             or the network is down)"
                        .to_owned(),
                });
            }
        }
    }

    fn deliver(&self, event_type: &str, data: &str, last_event_id: &str) {
        let id = (!last_event_id.is_empty()).then(|| last_event_id.to_owned());
        if self
            .outputs
            .last_event_id
            .with_untracked(|current| *current != id)
        {
            self.outputs.last_event_id.set(id);
        }
        // Cloned out, so that a subscriber may subscribe or close without finding it borrowed.
        let handlers: Vec<Handler> = self
            .subscribers
            .borrow()
            .get(event_type)
            .cloned()
            .unwrap_or_default();
        for handler in handlers {
            handler(data, last_event_id);
        }
    }
}
