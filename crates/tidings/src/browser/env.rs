//! What a [connection](super::connection) needs from the world, as one seam: the clock, timers,
//! transports, the failure probe, session storage and the browser's online and visibility
//! events. [`Browser`] is the real one; the connection's native tests drive a fake with a
//! manual clock and scripted transports, so everything the connection decides runs without a
//! browser.
//!
//! Every handle the seam returns (timer, transport, listeners) releases what it holds when
//! dropped: the connection cancels a timer or closes a transport by dropping it.

use std::rc::Rc;
use std::time::Duration;

use gloo_events::EventListener;
use gloo_timers::callback::Timeout;

use super::transport::event_source::EventSourceTransport;
use super::transport::http::HttpTransport;
use super::transport::{HttpRequest, Sink, probe};
use crate::sans_io::failure::Failure;
use crate::sans_io::state::Timestamp;

/// A transport to open, with everything it needs.
#[derive(Clone)]
pub(crate) enum Opening {
    /// The browser's `EventSource` on `url`, listening for `event_types`.
    EventSource {
        url: String,
        with_credentials: bool,
        max_event_size: usize,
        event_types: Vec<String>,
    },
    /// One `fetch` whose body is the stream.
    Fetch(HttpRequest),
    /// Requests to the polling endpoint, `interval` apart.
    #[cfg(feature = "polling")]
    Poll {
        request: HttpRequest,
        interval: Duration,
    },
}

/// What the browser tells a connection about the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PageEvent {
    Online,
    Offline,
    Hidden,
    Visible,
}

/// An open transport: dropping it closes it and releases its closures.
pub(crate) trait OpenTransport {
    /// Reports events of `event_type` from now on, where the transport must be told the types
    /// (an `EventSource` dispatches per type; a parsed stream reports every event anyway).
    fn listen(&self, event_type: &str);
}

/// The world a connection acts on.
pub(crate) trait Env: 'static {
    /// A pending timer: dropping it cancels it.
    type Timer;
    /// An open transport.
    type Transport: OpenTransport;
    /// The page listeners: dropping them removes them.
    type Listeners;

    /// The time now.
    fn now(&self) -> Timestamp;
    /// A random number in `[0, 1)`, to seed the backoff jitter.
    fn random(&self) -> f64;
    /// Calls `callback` once, after `delay`, unless the returned timer is dropped first.
    fn timeout(&self, delay: Duration, callback: impl FnOnce() + 'static) -> Self::Timer;
    /// Opens a transport that reports to `sink`; fails with a message when the URL is invalid.
    fn open(&self, opening: Opening, sink: Sink) -> Result<Self::Transport, String>;
    /// Asks the server why a stream the browser gave up on failed, and reports it.
    fn probe(&self, url: String, with_credentials: bool, report: impl FnOnce(Failure) + 'static);
    /// Whether this browser can stream at all (`fetch` with readable bodies, `EventSource`).
    fn can_stream(&self) -> bool;
    /// The last event ID kept under `key` by an earlier page of this session.
    fn stored_id(&self, key: &str) -> Option<String>;
    /// Keeps `id` under `key` for the rest of the session (or forgets it, for `None`).
    fn store_id(&self, key: &str, id: Option<&str>);
    /// Reports the page's online/offline changes, and visibility changes when `visibility`.
    fn watch_page(
        &self,
        visibility: bool,
        on_event: Rc<dyn Fn(PageEvent)>,
    ) -> Option<Self::Listeners>;
}

/// The browser: `Date.now()`, `setTimeout`, `EventSource` and `fetch`, `sessionStorage`, and the
/// window's and document's events.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Browser;

/// The transport a browser connection has open now.
pub(crate) enum BrowserTransport {
    EventSource(EventSourceTransport),
    /// Fetch streaming or polling: held only so that dropping it aborts the request.
    Http {
        _abort_on_drop: HttpTransport,
    },
}

impl OpenTransport for BrowserTransport {
    fn listen(&self, event_type: &str) {
        if let Self::EventSource(transport) = self {
            transport.listen(event_type);
        }
    }
}

impl Env for Browser {
    type Timer = Timeout;
    type Transport = BrowserTransport;
    type Listeners = Vec<EventListener>;

    fn now(&self) -> Timestamp {
        Timestamp(super::clock::now_millis())
    }

    fn random(&self) -> f64 {
        if cfg!(target_arch = "wasm32") {
            js_sys::Math::random()
        } else {
            0.5
        }
    }

    fn timeout(&self, delay: Duration, callback: impl FnOnce() + 'static) -> Timeout {
        Timeout::new(
            u32::try_from(delay.as_millis()).unwrap_or(u32::MAX),
            callback,
        )
    }

    fn open(&self, opening: Opening, sink: Sink) -> Result<BrowserTransport, String> {
        Ok(match opening {
            Opening::EventSource {
                url,
                with_credentials,
                max_event_size,
                event_types,
            } => BrowserTransport::EventSource(EventSourceTransport::open(
                &url,
                with_credentials,
                max_event_size,
                event_types.iter().map(String::as_str),
                sink,
            )?),
            Opening::Fetch(request) => BrowserTransport::Http {
                _abort_on_drop: HttpTransport::stream(request, sink),
            },
            #[cfg(feature = "polling")]
            Opening::Poll { request, interval } => BrowserTransport::Http {
                _abort_on_drop: HttpTransport::poll(request, interval, sink),
            },
        })
    }

    fn probe(&self, url: String, with_credentials: bool, report: impl FnOnce(Failure) + 'static) {
        probe(url, with_credentials, report);
    }

    fn can_stream(&self) -> bool {
        let Some(window) = web_sys::window() else {
            return false;
        };
        ["ReadableStream", "EventSource"].iter().all(|name| {
            js_sys::Reflect::has(&window, &wasm_bindgen::JsValue::from_str(name)).unwrap_or(false)
        })
    }

    fn stored_id(&self, key: &str) -> Option<String> {
        session_storage()?
            .get_item(&storage_key(key))
            .ok()
            .flatten()
    }

    fn store_id(&self, key: &str, id: Option<&str>) {
        // Storage may be full or disabled: then the ID is simply not kept.
        if let Some(storage) = session_storage() {
            let _ = match id {
                Some(id) => storage.set_item(&storage_key(key), id),
                None => storage.remove_item(&storage_key(key)),
            };
        }
    }

    fn watch_page(
        &self,
        visibility: bool,
        on_event: Rc<dyn Fn(PageEvent)>,
    ) -> Option<Vec<EventListener>> {
        let window = web_sys::window()?;
        let mut listeners = Vec::new();
        for (name, event) in [
            ("online", PageEvent::Online),
            ("offline", PageEvent::Offline),
        ] {
            let on_event = on_event.clone();
            listeners.push(EventListener::new(&window, name, move |_| on_event(event)));
        }
        if visibility && let Some(document) = window.document() {
            let watched = document.clone();
            listeners.push(EventListener::new(
                &document,
                "visibilitychange",
                move |_| {
                    on_event(if watched.hidden() {
                        PageEvent::Hidden
                    } else {
                        PageEvent::Visible
                    });
                },
            ));
        }
        Some(listeners)
    }
}

/// The session-storage key under which the last event ID of `key` is kept.
fn storage_key(key: &str) -> String {
    format!("tidings:last-event-id:{key}")
}

fn session_storage() -> Option<web_sys::Storage> {
    web_sys::window()?.session_storage().ok().flatten()
}
