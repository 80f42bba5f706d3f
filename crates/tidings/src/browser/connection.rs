//! One connection to one stream: it runs the [state machine](crate::sans_io::reconnect) and carries out
//! its actions: it owns the live transport, the backoff timer, the watchdog and the browser
//! listeners (online/offline, visibility), routes each event to the subscribers of its type, and
//! keeps the state and last-event-ID signals current.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::{Rc, Weak};

use gloo_events::EventListener;
use gloo_timers::callback::Timeout;
use leptos::prelude::*;

use super::transport::event_source::EventSourceTransport;
use super::transport::http::{HttpRequest, HttpTransport};
use super::transport::{Active, EventId, Sink, TransportEvent, last_event_id_of, probe};
use crate::options::SseOptions;
use crate::sans_io::fallback::Chooser;
use crate::sans_io::reconnect::{Action, Failure, Input, Machine};
use crate::sans_io::resume::{poll_url_for, url_with_last_event_id};
use crate::sans_io::state::{ConnectionState, FailReason, Timestamp, Transport};

/// What a [`Handler`] calls: `(data, last event ID)`.
pub(crate) type Callback = Rc<dyn Fn(&str, &str)>;

/// A subscriber to one event type: called with the event's data and, if it wants it, its last
/// event ID (otherwise with `""`, sparing a copy of the ID per event).
#[derive(Clone)]
pub(crate) struct Handler {
    pub(crate) call: Callback,
    pub(crate) wants_id: bool,
}

/// The signals of one user of a connection (an [`Sse`](crate::Sse) handle), which the connection
/// keeps current. Each user owns its own, so that none outlives the component that made it.
#[derive(Clone, Copy)]
pub(crate) struct Outputs {
    pub(crate) state: RwSignal<ConnectionState>,
    pub(crate) last_event_id: RwSignal<Option<String>>,
    pub(crate) stream_error: RwSignal<Option<tidings_wire::ParseError>>,
}

pub(crate) struct Connection {
    this: Weak<Connection>,
    options: SseOptions,
    /// Every user's signals, by user key.
    outputs: RefCell<Vec<(u64, Outputs)>>,
    /// The ID to resume from: the last event's, or the initial one from the options.
    last_event_id: RefCell<Option<String>>,
    /// A newer ID than `last_event_id`, still the browser's string: see [`EventId`].
    pending_id: RefCell<Option<wasm_bindgen::JsValue>>,
    url: RefCell<String>,
    subscribers: RefCell<HashMap<String, Vec<(u64, Handler)>>>,
    /// Per event type, the subscribers as of the last change: see [`Connection::handlers_of`].
    snapshots: RefCell<HashMap<String, Rc<[Handler]>>>,
    /// Pending while a changed last event ID is yet to be shown to the signals.
    id_publisher: RefCell<Option<Timeout>>,
    next_subscriber: Cell<u64>,
    machine: RefCell<Machine>,
    chooser: RefCell<Chooser>,
    transport: RefCell<Option<Active>>,
    /// The kind of the transport open now.
    kind: Cell<Transport>,
    /// While polling in auto mode: when to try streaming again.
    switch_timer: RefCell<Option<Timeout>>,
    /// Counts transports opened: reports from an older one (or its probe) are ignored.
    generation: Cell<u64>,
    timer: RefCell<Option<Timeout>>,
    watchdog: RefCell<Option<Timeout>>,
    /// When the transport last showed life (opened, or brought bytes), in milliseconds.
    last_activity: Cell<f64>,
    /// online/offline and visibility listeners, added on the first connection.
    browser_listeners: RefCell<Vec<EventListener>>,
}

impl Connection {
    /// A connection, not yet connected, that resumes after `start_id` if given, else after
    /// [`SseOptions::last_event_id`] or the persisted ID.
    pub(crate) fn new(options: SseOptions, start_id: Option<String>) -> Rc<Self> {
        let seed = (js_random() * u64::MAX as f64) as u64;
        let machine = Machine::new(options.policy.clone(), seed);
        let chooser = Chooser::new(
            options.mode,
            options.fallback.clone(),
            options.request.needs_fetch(),
        );
        let last_event_id = start_id
            .or_else(|| options.last_event_id.clone())
            .or_else(|| options.persist_key.as_deref().and_then(stored_id));
        super::diagnostics::opened_connection();
        Rc::new_cyclic(|this| Self {
            this: this.clone(),
            last_event_id: RefCell::new(last_event_id),
            pending_id: RefCell::new(None),
            options,
            outputs: RefCell::new(Vec::new()),
            url: RefCell::new(String::new()),
            subscribers: RefCell::new(HashMap::new()),
            snapshots: RefCell::new(HashMap::new()),
            id_publisher: RefCell::new(None),
            next_subscriber: Cell::new(0),
            machine: RefCell::new(machine),
            chooser: RefCell::new(chooser),
            transport: RefCell::new(None),
            kind: Cell::new(Transport::EventSource),
            switch_timer: RefCell::new(None),
            generation: Cell::new(0),
            timer: RefCell::new(None),
            watchdog: RefCell::new(None),
            last_activity: Cell::new(0.0),
            browser_listeners: RefCell::new(Vec::new()),
        })
    }

    /// The options it was made with.
    pub(crate) fn options(&self) -> &SseOptions {
        &self.options
    }

    /// The URL it connects to.
    pub(crate) fn url(&self) -> String {
        self.url.borrow().clone()
    }

    /// Adds a user's signals, bringing them up to date. Returns a key for
    /// [`Connection::remove_outputs`].
    pub(crate) fn add_outputs(&self, outputs: Outputs) -> u64 {
        let key = self.next_subscriber.get();
        self.next_subscriber.set(key + 1);
        outputs.state.set(self.machine.borrow().state());
        outputs.last_event_id.set(self.resume_id());
        self.outputs.borrow_mut().push((key, outputs));
        key
    }

    /// Removes a user's signals; returns how many users are left.
    pub(crate) fn remove_outputs(&self, key: u64) -> usize {
        let mut outputs = self.outputs.borrow_mut();
        outputs.retain(|(k, _)| *k != key);
        outputs.len()
    }

    /// Adds a subscriber for `event_type`, and listens for it on the live transport. Returns a
    /// key for [`Connection::unsubscribe`].
    pub(crate) fn subscribe(&self, event_type: &str, handler: Handler) -> u64 {
        let key = self.next_subscriber.get();
        self.next_subscriber.set(key + 1);
        self.subscribers
            .borrow_mut()
            .entry(event_type.to_owned())
            .or_default()
            .push((key, handler));
        self.snapshots.borrow_mut().remove(event_type);
        if let Some(Active::EventSource(transport)) = self.transport.borrow().as_ref() {
            transport.listen(event_type);
        }
        key
    }

    /// Removes the subscriber `key` (its component went away).
    pub(crate) fn unsubscribe(&self, key: u64) {
        for handlers in self.subscribers.borrow_mut().values_mut() {
            handlers.retain(|(k, _)| *k != key);
        }
        self.snapshots.borrow_mut().clear();
    }

    /// Connects to `url` (closing any current connection); an empty URL just disconnects.
    pub(crate) fn connect(&self, url: &str) {
        *self.url.borrow_mut() = url.to_owned();
        self.listen_to_the_browser();
        self.feed(Input::Start);
    }

    /// Connects now: after [`Connection::close`], a failure, or while waiting to retry.
    pub(crate) fn connect_now(&self) {
        if !self.url.borrow().is_empty() {
            self.feed(Input::ConnectNow);
        }
    }

    /// Pauses the connection until [`Connection::resume`].
    pub(crate) fn pause(&self) {
        self.feed(Input::Pause);
    }

    /// Resumes a paused connection, from the last event ID.
    pub(crate) fn resume(&self) {
        self.feed(Input::Resume);
    }

    /// Closes the connection for good (until [`Connection::connect_now`]).
    pub(crate) fn close(&self) {
        self.feed(Input::Close);
    }

    /// Drops the transport, timers and listeners, without touching the signals (they may already
    /// be disposed when a component unmounts).
    pub(crate) fn shut_down(&self) {
        self.generation.set(self.generation.get() + 1);
        drop(self.transport.borrow_mut().take());
        drop(self.timer.borrow_mut().take());
        drop(self.watchdog.borrow_mut().take());
        drop(self.switch_timer.borrow_mut().take());
        drop(self.id_publisher.borrow_mut().take());
        self.browser_listeners.borrow_mut().clear();
    }

    /// Runs the machine on `input` and carries out what it asks.
    fn feed(&self, input: Input) {
        let actions = self.machine.borrow_mut().handle(input, now());
        self.publish_state(self.machine.borrow().state());
        for action in actions {
            match action {
                Action::Connect => self.open_transport(),
                Action::Disconnect => {
                    self.generation.set(self.generation.get() + 1);
                    drop(self.transport.borrow_mut().take());
                    drop(self.watchdog.borrow_mut().take());
                    drop(self.switch_timer.borrow_mut().take());
                }
                Action::StartTimer(delay) => {
                    let this = self.this.clone();
                    let timer = Timeout::new(millis(delay), move || {
                        if let Some(connection) = this.upgrade() {
                            connection.feed(Input::Timer);
                        }
                    });
                    *self.timer.borrow_mut() = Some(timer);
                }
                Action::CancelTimer => drop(self.timer.borrow_mut().take()),
                Action::GaveUp => {
                    if let Some(callback) = &self.options.on_give_up {
                        callback();
                    }
                }
            }
        }
    }

    fn open_transport(&self) {
        let generation = self.generation.get() + 1;
        self.generation.set(generation);
        let chosen = self.chooser.borrow_mut().next(now(), browser_can_stream());
        // A new EventSource cannot send Last-Event-ID: a resume by header goes over fetch.
        let kind = self
            .options
            .resume
            .transport_for(chosen, self.resume_id().is_some());
        self.kind.set(kind);
        let this = self.this.clone();
        let sink: Sink = Rc::new(move |event| {
            if let Some(connection) = this.upgrade()
                && connection.generation.get() == generation
            {
                connection.on_transport_event(event, generation);
            }
        });
        let opened = match kind {
            Transport::EventSource => {
                let event_types: Vec<String> = self.subscribers.borrow().keys().cloned().collect();
                EventSourceTransport::open(
                    &self.resume_url(),
                    self.options.with_credentials,
                    self.options.max_event_size,
                    event_types.iter().map(String::as_str),
                    sink,
                )
                .map(Active::EventSource)
            }
            Transport::Fetch => Ok(Active::Http {
                _abort_on_drop: HttpTransport::stream(self.http_request(self.url()), sink),
            }),
            Transport::Polling => {
                let url = self
                    .options
                    .poll_url
                    .clone()
                    .unwrap_or_else(|| poll_url_for(&self.url()));
                let interval = self.options.poll_interval;
                Ok(Active::Http {
                    _abort_on_drop: HttpTransport::poll(self.http_request(url), interval, sink),
                })
            }
        };
        match opened {
            Ok(transport) => {
                *self.transport.borrow_mut() = Some(transport);
                self.arm_watchdog();
            }
            Err(message) => {
                self.feed(Input::Close);
                self.publish_state(ConnectionState::Failed {
                    reason: FailReason::InvalidUrl { message },
                });
            }
        }
    }

    /// A request to `url` for the fetch-based transports, resuming from the last event ID.
    fn http_request(&self, url: String) -> HttpRequest {
        HttpRequest {
            url,
            options: self.options.request.clone(),
            with_credentials: self.options.with_credentials,
            last_event_id: self.resume_id(),
            id_param: self.options.resume.param().map(str::to_owned),
            max_event_size: self.options.max_event_size,
        }
    }

    /// The transport failed: tell the chooser (which may fall back to polling, or find that
    /// there is no polling endpoint), then the machine.
    fn fail(&self, failure: Failure) {
        let kind = self.kind.get();
        let mut chooser = self.chooser.borrow_mut();
        let failure = if kind == Transport::Polling {
            chooser.polling_failed(failure)
        } else {
            chooser.failed(kind, &failure, now());
            failure
        };
        drop(chooser);
        self.feed(Input::Failed(failure));
    }

    /// The URL for a new `EventSource`: the stream's, with the last event ID to resume from in
    /// the query when the options ask for it (by header, there is none to send: fetch resumes).
    fn resume_url(&self) -> String {
        let url = self.url.borrow().clone();
        match (self.options.resume.param(), self.resume_id()) {
            (Some(param), Some(id)) => url_with_last_event_id(&url, param, &id),
            _ => url,
        }
    }

    fn on_transport_event(&self, event: TransportEvent<'_>, generation: u64) {
        match event {
            TransportEvent::Open => {
                self.arm_watchdog();
                let kind = self.kind.get();
                let fallback = self
                    .chooser
                    .borrow()
                    .fallback()
                    .filter(|_| kind == Transport::Polling);
                self.feed(Input::Opened(kind, fallback));
                self.schedule_streaming_trial();
            }
            TransportEvent::Message {
                event_type,
                data,
                last_event_id,
            } => {
                self.note_activity();
                self.chooser.borrow_mut().active(self.kind.get());
                self.deliver(event_type, data, last_event_id);
            }
            TransportEvent::Skipped {
                error,
                last_event_id,
            } => {
                self.last_activity.set(super::clock::now_millis());
                leptos::logging::warn!("tidings: {error}");
                self.note_last_event_id(EventId::Text(last_event_id));
                self.publish_stream_error(&error);
            }
            TransportEvent::Activity => {
                self.note_activity();
                self.chooser.borrow_mut().active(self.kind.get());
            }
            TransportEvent::Retry(delay) => self.feed(Input::ServerRetry(delay)),
            TransportEvent::Failed(failure) => self.fail(failure),
            // The browser reconnects by itself, with the Last-Event-ID header: the machine lets
            // it make the first attempt of a loss, and takes over if it fails or is late.
            TransportEvent::Retrying => self.feed(Input::BrowserRetrying),
            TransportEvent::Closed => {
                // The browser gave up and does not say why: ask the server once, then decide.
                drop(self.transport.borrow_mut().take());
                let url = self.resume_url();
                let with_credentials = self.options.with_credentials;
                let this = self.this.clone();
                super::diagnostics::spawn(async move {
                    let failure = probe(&url, with_credentials).await;
                    if let Some(connection) = this.upgrade()
                        && connection.generation.get() == generation
                    {
                        connection.fail(failure);
                    }
                });
            }
        }
    }

    /// While polling in auto mode, tries streaming again after a while.
    fn schedule_streaming_trial(&self) {
        let Some(after) = self.chooser.borrow().retry_streaming_after() else {
            return;
        };
        if self.kind.get() != Transport::Polling {
            return;
        }
        let this = self.this.clone();
        let timer = Timeout::new(millis(after), move || {
            if let Some(connection) = this.upgrade() {
                connection.feed(Input::ConnectNow);
            }
        });
        *self.switch_timer.borrow_mut() = Some(timer);
    }

    fn deliver(&self, event_type: &str, data: &str, last_event_id: EventId<'_>) {
        let handlers = self.handlers_of(event_type);
        // The ID as text, made only if a subscriber asks for it.
        let copied;
        let id = match last_event_id {
            EventId::Text(id) => id,
            EventId::Js(id) if handlers.iter().any(|handler| handler.wants_id) => {
                copied = id
                    .borrow()
                    .as_ref()
                    .map(last_event_id_of)
                    .unwrap_or_default();
                &copied
            }
            EventId::Js(_) => "",
        };
        self.note_last_event_id(last_event_id);
        for handler in handlers.iter() {
            (handler.call)(data, if handler.wants_id { id } else { "" });
        }
    }

    /// The ID to resume from: the last event's, or the initial one from the options.
    fn resume_id(&self) -> Option<String> {
        if let Some(id) = self.pending_id.borrow_mut().take() {
            let id = last_event_id_of(&id);
            self.last_event_id.replace((!id.is_empty()).then_some(id));
        }
        self.last_event_id.borrow().clone()
    }

    /// Shows a skipped event's error to every user's signal.
    fn publish_stream_error(&self, error: &tidings_wire::ParseError) {
        let outputs: Vec<Outputs> = self.outputs.borrow().iter().map(|(_, o)| *o).collect();
        for output in outputs {
            // A user whose component is gone has disposed signals: skip it.
            let _ = output.stream_error.try_set(Some(error.clone()));
        }
    }

    /// Remembers `last_event_id` as the ID to resume from.
    fn note_last_event_id(&self, last_event_id: EventId<'_>) {
        let last_event_id = match last_event_id {
            EventId::Text(id) => id,
            // Kept as the browser's string until needed, unless it must be stored at once.
            EventId::Js(id) if self.options.persist_key.is_none() => {
                // Moved, not cloned: each clone of a JavaScript value is a call out of wasm.
                if let Some(id) = id.borrow_mut().take() {
                    self.pending_id.replace(Some(id));
                }
                self.schedule_id_publisher();
                return;
            }
            EventId::Js(id) => &id
                .borrow()
                .as_ref()
                .map(last_event_id_of)
                .unwrap_or_default(),
        };
        self.pending_id.replace(None);
        if self.last_event_id.borrow().as_deref().unwrap_or_default() != last_event_id {
            // Exact at every event (reconnects resume from it); shown to the signals once per
            // burst, from a zero-delay timer, rather than at every event (a microtask would run
            // after each EventSource event: each is a task of its own).
            self.last_event_id
                .replace((!last_event_id.is_empty()).then(|| last_event_id.to_owned()));
            // Kept at once when asked: a reload right after must not replay this event.
            if let Some(key) = &self.options.persist_key {
                store_id(key, Some(last_event_id).filter(|id| !id.is_empty()));
            }
            self.schedule_id_publisher();
        }
    }

    /// Notes that something arrived, for the watchdog (when there is one: the clock is a call
    /// out of wasm, too dear to make for every event for nothing).
    fn note_activity(&self) {
        if self.watchdog.borrow().is_some() {
            self.last_activity.set(super::clock::now_millis());
        }
    }

    /// Shows the last event ID to the signals soon, once for a whole burst of events.
    fn schedule_id_publisher(&self) {
        if self.id_publisher.borrow().is_none() {
            let this = self.this.clone();
            let timer = Timeout::new(0, move || {
                if let Some(connection) = this.upgrade() {
                    connection.publish_last_event_id();
                }
            });
            *self.id_publisher.borrow_mut() = Some(timer);
        }
    }

    /// Shows the last event ID to every user's signal.
    fn publish_last_event_id(&self) {
        drop(self.id_publisher.borrow_mut().take());
        let id = self.resume_id();
        let outputs: Vec<Outputs> = self.outputs.borrow().iter().map(|(_, o)| *o).collect();
        for output in outputs {
            // A user whose component is gone has disposed signals: skip it.
            if output
                .last_event_id
                .try_with_untracked(|current| *current != id)
                == Some(true)
            {
                let _ = output.last_event_id.try_set(id.clone());
            }
        }
    }

    /// The subscribers of `event_type`, as a snapshot that stays valid while they run (a
    /// subscriber may subscribe or close); rebuilt only when the subscriptions change.
    fn handlers_of(&self, event_type: &str) -> Rc<[Handler]> {
        if let Some(handlers) = self.snapshots.borrow().get(event_type) {
            return handlers.clone();
        }
        let handlers: Rc<[Handler]> = self
            .subscribers
            .borrow()
            .get(event_type)
            .map(|handlers| {
                handlers
                    .iter()
                    .map(|(_, handler)| handler.clone())
                    .collect()
            })
            .unwrap_or_else(|| Rc::from(Vec::new()));
        self.snapshots
            .borrow_mut()
            .insert(event_type.to_owned(), handlers.clone());
        handlers
    }

    /// Shows `state` to every user.
    fn publish_state(&self, state: ConnectionState) {
        let outputs: Vec<Outputs> = self.outputs.borrow().iter().map(|(_, o)| *o).collect();
        for output in outputs {
            if output.state.try_with_untracked(|current| *current != state) == Some(true) {
                let _ = output.state.try_set(state.clone());
            }
        }
    }

    /// (Re)starts the stale-connection watchdog, if one is configured.
    ///
    /// Events only note their time (`last_activity`): one timer per period, not one per event,
    /// checks it when it fires, and either declares the stream stalled or waits out the rest.
    fn arm_watchdog(&self) {
        self.last_activity.set(super::clock::now_millis());
        let stall_after = self.chooser.borrow().stall_after(self.kind.get());
        let Some(stale_after) = self.options.stale_after.or(stall_after) else {
            return;
        };
        self.watch_for(stale_after, millis(stale_after));
    }

    /// Checks for silence in `delay` milliseconds.
    fn watch_for(&self, stale_after: std::time::Duration, delay: u32) {
        let this = self.this.clone();
        let watchdog = Timeout::new(delay, move || {
            let Some(connection) = this.upgrade() else {
                return;
            };
            let quiet = super::clock::now_millis() - connection.last_activity.get();
            let limit = stale_after.as_secs_f64() * 1000.0;
            if quiet >= limit {
                connection.fail(Failure::Stalled);
            } else {
                // Something arrived meanwhile: wait out the rest of the period after it.
                connection.watch_for(stale_after, (limit - quiet).ceil().max(1.0) as u32);
            }
        });
        *self.watchdog.borrow_mut() = Some(watchdog);
    }

    /// Listens for online/offline (and visibility, when pausing hidden pages), once.
    fn listen_to_the_browser(&self) {
        let mut listeners = self.browser_listeners.borrow_mut();
        if !listeners.is_empty() {
            return;
        }
        let Some(window) = web_sys::window() else {
            return;
        };
        for (name, input) in [("online", Input::Online), ("offline", Input::Offline)] {
            let this = self.this.clone();
            listeners.push(EventListener::new(&window, name, move |_| {
                if let Some(connection) = this.upgrade() {
                    connection.feed(input.clone());
                }
            }));
        }
        if self.options.pause_when_hidden
            && let Some(document) = window.document()
        {
            let this = self.this.clone();
            let watched = document.clone();
            listeners.push(EventListener::new(
                &document,
                "visibilitychange",
                move |_| {
                    if let Some(connection) = this.upgrade() {
                        connection.feed(if watched.hidden() {
                            Input::Hidden
                        } else {
                            Input::Visible
                        });
                    }
                },
            ));
        }
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        super::diagnostics::closed_connection();
    }
}

/// The session-storage key under which the last event ID of `key` is kept.
fn storage_key(key: &str) -> String {
    format!("tidings:last-event-id:{key}")
}

fn session_storage() -> Option<web_sys::Storage> {
    web_sys::window()?.session_storage().ok().flatten()
}

/// The last event ID kept for `key` by an earlier page of this session, if any.
fn stored_id(key: &str) -> Option<String> {
    session_storage()?
        .get_item(&storage_key(key))
        .ok()
        .flatten()
}

/// Keeps `id` for `key` for the rest of the session (storage may be full or disabled: then it
/// is simply not kept).
fn store_id(key: &str, id: Option<&str>) {
    if let Some(storage) = session_storage() {
        let _ = match id {
            Some(id) => storage.set_item(&storage_key(key), id),
            None => storage.remove_item(&storage_key(key)),
        };
    }
}

/// Whether this browser can stream: `fetch` with readable bodies and `EventSource`.
fn browser_can_stream() -> bool {
    let Some(window) = web_sys::window() else {
        return false;
    };
    ["ReadableStream", "EventSource"].iter().all(|name| {
        js_sys::Reflect::has(&window, &wasm_bindgen::JsValue::from_str(name)).unwrap_or(false)
    })
}

fn now() -> Timestamp {
    Timestamp(super::clock::now_millis())
}

fn millis(duration: std::time::Duration) -> u32 {
    u32::try_from(duration.as_millis()).unwrap_or(u32::MAX)
}

/// A random number in `[0, 1)` for the jitter seed; fixed off the browser (server-side
/// rendering never connects).
fn js_random() -> f64 {
    if cfg!(target_arch = "wasm32") {
        js_sys::Math::random()
    } else {
        0.5
    }
}
