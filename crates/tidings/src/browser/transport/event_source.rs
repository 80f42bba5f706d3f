//! The browser's native `EventSource`, owned with its listeners.

use std::cell::RefCell;

use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use web_sys::{EventSource, EventSourceInit, MessageEvent};

use super::{EventId, Sink, TransportEvent};
use crate::browser::diagnostics;

/// `EventSource.readyState` while the browser is (re)connecting.
const CONNECTING: u16 = 0;

type Listener = Closure<dyn FnMut(MessageEvent)>;

#[wasm_bindgen::prelude::wasm_bindgen]
extern "C" {
    /// A `MessageEvent`, seen only for its `lastEventId`.
    type WithLastEventId;

    #[wasm_bindgen(method, getter, js_name = lastEventId)]
    fn last_event_id(this: &WithLastEventId) -> String;
}

/// The `lastEventId` of `event`, a `MessageEvent`.
pub(crate) fn last_event_id_of(event: &wasm_bindgen::JsValue) -> String {
    event.unchecked_ref::<WithLastEventId>().last_event_id()
}

/// An open `EventSource` and every closure registered on it. Dropping it closes the source and
/// removes the listeners, so nothing outlives it; nothing is `forget()`-ed.
pub(crate) struct EventSourceTransport {
    source: EventSource,
    sink: Sink,
    /// The largest event passed on, in bytes.
    max_event_size: usize,
    /// Set as `onopen`; held so that it lives as long as the source can call it.
    _on_open: Closure<dyn FnMut(web_sys::Event)>,
    /// Set as `onerror`; held likewise.
    _on_error: Closure<dyn FnMut(web_sys::Event)>,
    /// One listener per event type, added as subscribers ask for types.
    listeners: RefCell<Vec<(String, Listener)>>,
}

impl EventSourceTransport {
    /// Opens `url`; events of each type in `event_types` are reported to `sink`.
    ///
    /// Fails with the browser's message when the URL cannot be parsed.
    pub(crate) fn open<'t>(
        url: &str,
        with_credentials: bool,
        max_event_size: usize,
        event_types: impl IntoIterator<Item = &'t str>,
        sink: Sink,
    ) -> Result<Self, String> {
        let init = EventSourceInit::new();
        init.set_with_credentials(with_credentials);
        let source = EventSource::new_with_event_source_init_dict(url, &init)
            .map_err(|error| describe_js_error(&error))?;

        let on_open = {
            let sink = sink.clone();
            Closure::<dyn FnMut(web_sys::Event)>::new(move |_: web_sys::Event| {
                sink(TransportEvent::Open)
            })
        };
        let on_error = {
            let sink = sink.clone();
            let source = source.clone();
            Closure::<dyn FnMut(web_sys::Event)>::new(move |_: web_sys::Event| {
                // The browser keeps the source CONNECTING while it retries by itself, and CLOSED
                // once it has given up.
                if source.ready_state() == CONNECTING {
                    sink(TransportEvent::Retrying);
                } else {
                    sink(TransportEvent::Closed);
                }
            })
        };
        source.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        source.set_onerror(Some(on_error.as_ref().unchecked_ref()));

        diagnostics::opened_transport();
        let transport = Self {
            source,
            sink,
            max_event_size,
            _on_open: on_open,
            _on_error: on_error,
            listeners: RefCell::new(Vec::new()),
        };
        for event_type in event_types {
            transport.listen(event_type);
        }
        Ok(transport)
    }

    /// Reports events of `event_type` from now on (once per type, however often it is asked).
    pub(crate) fn listen(&self, event_type: &str) {
        let mut listeners = self.listeners.borrow_mut();
        if listeners.iter().any(|(known, _)| known == event_type) {
            return;
        }
        let sink = self.sink.clone();
        let name = event_type.to_owned();
        let limit = self.max_event_size;
        let listener = Listener::new(move |event: MessageEvent| {
            let data = event.data().as_string().unwrap_or_default();
            if data.len() > limit {
                // The browser has buffered it already; it still goes no further.
                sink(TransportEvent::Skipped {
                    error: tidings_wire::ParseError::EventTooLarge { limit },
                    last_event_id: &event.last_event_id(),
                });
            } else {
                let event = std::cell::RefCell::new(Some(event.into()));
                sink(TransportEvent::Message {
                    event_type: &name,
                    data: &data,
                    last_event_id: EventId::Js(&event),
                });
            }
        });
        // Adding a listener only fails for a non-callable listener, which this is not.
        let _ = self
            .source
            .add_event_listener_with_callback(event_type, listener.as_ref().unchecked_ref());
        diagnostics::added_listeners(1);
        listeners.push((event_type.to_owned(), listener));
    }
}

impl Drop for EventSourceTransport {
    fn drop(&mut self) {
        self.source.close();
        self.source.set_onopen(None);
        self.source.set_onerror(None);
        for (event_type, listener) in self.listeners.get_mut().drain(..) {
            let _ = self.source.remove_event_listener_with_callback(
                &event_type,
                listener.as_ref().unchecked_ref(),
            );
            diagnostics::removed_listeners(1);
        }
        diagnostics::closed_transport();
        // `_on_open` and `_on_error` are dropped with `self`, after being unset above.
    }
}

/// The message of a JavaScript exception, or its debug form.
pub(crate) fn describe_js_error(error: &wasm_bindgen::JsValue) -> String {
    error
        .dyn_ref::<js_sys::Error>()
        .map(|error| String::from(error.message()))
        .or_else(|| error.as_string())
        .unwrap_or_else(|| format!("{error:?}"))
}
