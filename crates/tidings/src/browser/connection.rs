//! One connection to one stream: it runs the [state machine](crate::sans_io::reconnect) and carries out
//! its actions: it owns the live transport, the backoff timer, the watchdog and the page
//! listeners (online/offline, visibility), routes each event to the subscribers of its type, and
//! keeps the state and last-event-ID signals of its users current.
//!
//! It acts on the world only through an [`Env`]: in the page that is the [`Browser`], and the
//! native tests drive it with a fake clock and scripted transports.

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};
use std::time::Duration;

use leptos::prelude::*;

use super::env::{Browser, Env, OpenTransport, Opening, PageEvent};
use super::subscriber::Delivery;
pub(crate) use super::subscriber::Handler;
use super::transport::{EventId, HttpRequest, Sink, TransportEvent, last_event_id_of};
use crate::options::SseOptions;
use crate::sans_io::fallback::Chooser;
use crate::sans_io::reconnect::{Action, Failure, Input, Machine};
#[cfg(feature = "polling")]
use crate::sans_io::resume::poll_url_for;
use crate::sans_io::resume::url_with_last_event_id;
use crate::sans_io::state::{ConnectionState, Transport};

#[cfg(test)]
mod tests;

/// The signals of one user of a connection (an [`Sse`](crate::Sse) handle), which the connection
/// keeps current. Each user owns its own, so that none outlives the component that made it.
#[derive(Clone, Copy)]
pub(crate) struct Outputs {
    pub(crate) state: RwSignal<ConnectionState>,
    pub(crate) last_event_id: RwSignal<Option<String>>,
    pub(crate) stream_error: RwSignal<Option<tidings_wire::ParseError>>,
}

/// What one user of a connection wants of it. The connection follows the most open wish
/// among its users: it is open while any user wants it open, paused while the others paused,
/// and closed once every user closed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Intent {
    Closed,
    Paused,
    Open,
}

/// One user of a connection (an [`Sse`](crate::Sse) handle).
struct User {
    key: u64,
    outputs: Outputs,
    intent: Intent,
}

/// A connection in the page.
pub(crate) type BrowserConnection = Connection<Browser>;

pub(crate) struct Connection<E: Env> {
    this: Weak<Connection<E>>,
    env: E,
    options: SseOptions,
    /// Every user, with its signals and what it wants.
    users: RefCell<Vec<User>>,
    /// The ID to resume from: the last event's, or the initial one from the options.
    last_event_id: RefCell<Option<String>>,
    /// A newer ID than `last_event_id`, still the browser's string: see [`EventId`].
    pending_id: RefCell<Option<wasm_bindgen::JsValue>>,
    url: RefCell<String>,
    /// Every subscriber, with its key and event type. Lists, not maps: a stream has a handful of
    /// event types, and a hash map's code would weigh more in the page than its lookups save.
    subscribers: RefCell<Vec<(u64, String, Handler)>>,
    /// Per event type, the subscribers as of the last change: see [`Connection::delivery_of`].
    snapshots: RefCell<Vec<(String, Rc<Delivery>)>>,
    next_subscriber: Cell<u64>,
    machine: RefCell<Machine>,
    chooser: RefCell<Chooser>,
    transport: RefCell<Option<E::Transport>>,
    /// The kind of the transport open now.
    kind: Cell<Transport>,
    /// While polling in auto mode: when to try streaming again.
    switch_timer: RefCell<Option<E::Timer>>,
    /// Counts transports opened: reports from an older one (or its probe) are ignored.
    generation: Cell<u64>,
    timer: RefCell<Option<E::Timer>>,
    watchdog: RefCell<Option<E::Timer>>,
    /// Pending while a changed last event ID is yet to be shown to the signals.
    id_publisher: RefCell<Option<E::Timer>>,
    /// When the transport last showed life (opened, or brought bytes), in milliseconds.
    last_activity: Cell<f64>,
    /// online/offline and visibility listeners, added on the first connection.
    page_listeners: RefCell<Option<E::Listeners>>,
}

impl<E: Env> Connection<E> {
    /// A connection, not yet connected, that resumes after `start_id` if given, else after
    /// [`SseOptions::last_event_id`] or the persisted ID.
    pub(crate) fn new(env: E, options: SseOptions, start_id: Option<String>) -> Rc<Self> {
        let seed = (env.random() * u64::MAX as f64) as u64;
        let machine = Machine::new(options.policy.clone(), seed);
        #[cfg(feature = "polling")]
        let chooser = Chooser::new(
            options.mode,
            options.polling.fallback.clone(),
            options.request.needs_fetch(),
        );
        #[cfg(not(feature = "polling"))]
        let chooser = Chooser::new(options.mode, options.request.needs_fetch());
        let last_event_id = start_id
            .or_else(|| options.last_event_id.clone())
            .or_else(|| {
                let key = options.persist_key.as_deref()?;
                env.stored_id(key)
            });
        super::diagnostics::opened_connection();
        Rc::new_cyclic(|this| Self {
            this: this.clone(),
            env,
            last_event_id: RefCell::new(last_event_id),
            pending_id: RefCell::new(None),
            options,
            users: RefCell::new(Vec::new()),
            url: RefCell::new(String::new()),
            subscribers: RefCell::new(Vec::new()),
            snapshots: RefCell::new(Vec::new()),
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
            page_listeners: RefCell::new(None),
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

    /// Adds a user who wants the connection open, with its signals, bringing them up to date;
    /// reconnects if every other user had paused or closed it. Returns the user's key, for
    /// [`Connection::pause`] and the like, and [`Connection::remove_user`].
    pub(crate) fn add_user(&self, outputs: Outputs) -> u64 {
        let key = self.next_subscriber.get();
        self.next_subscriber.set(key + 1);
        outputs.state.set(self.machine.borrow().state());
        outputs.last_event_id.set(self.resume_id());
        self.change_users(|users| {
            users.push(User {
                key,
                outputs,
                intent: Intent::Open,
            });
        });
        key
    }

    /// Removes a user; returns how many are left. The others' wishes decide what the connection
    /// does next (with none left, the caller shuts it down).
    pub(crate) fn remove_user(&self, key: u64) -> usize {
        self.change_users(|users| users.retain(|user| user.key != key));
        self.users.borrow().len()
    }

    /// User `key` pauses: the connection pauses once no user wants it open (a user that paused
    /// while others keep it open goes on receiving events, so it misses none).
    pub(crate) fn pause(&self, key: u64) {
        self.update_intent(key, |intent| match intent {
            Intent::Open => Intent::Paused,
            other => other,
        });
    }

    /// User `key` resumes after [`Connection::pause`].
    pub(crate) fn resume(&self, key: u64) {
        self.update_intent(key, |intent| match intent {
            Intent::Paused => Intent::Open,
            other => other,
        });
    }

    /// User `key` closes: the connection closes once every user closed it.
    pub(crate) fn close(&self, key: u64) {
        self.update_intent(key, |_| Intent::Closed);
    }

    /// User `key` wants the connection open now: it reconnects at once unless it is open or
    /// opening (after a close or a failure, or instead of waiting out a backoff).
    pub(crate) fn open(&self, key: u64) {
        let changed = self.update_intent(key, |_| Intent::Open);
        let opening = matches!(
            self.machine.borrow().state(),
            ConnectionState::Open { .. } | ConnectionState::Connecting { .. }
        );
        if !changed && !opening && !self.url.borrow().is_empty() {
            self.feed(Input::ConnectNow);
        }
    }

    /// Changes what user `key` wants; returns whether the connection changed course.
    fn update_intent(&self, key: u64, change: impl Fn(Intent) -> Intent) -> bool {
        self.change_users(|users| {
            for user in users.iter_mut().filter(|user| user.key == key) {
                user.intent = change(user.intent);
            }
        })
    }

    /// What the users want together: the most open of their wishes.
    fn intent(&self) -> Option<Intent> {
        self.users.borrow().iter().map(|user| user.intent).max()
    }

    /// Changes the users, then makes the connection follow what they want now. Returns whether
    /// that changed.
    fn change_users(&self, change: impl FnOnce(&mut Vec<User>)) -> bool {
        let before = self.intent();
        change(&mut self.users.borrow_mut());
        let (Some(before), Some(after)) = (before, self.intent()) else {
            return false;
        };
        if before == after {
            return false;
        }
        self.feed(match after {
            Intent::Open if before == Intent::Paused => Input::Resume,
            Intent::Open => Input::ConnectNow,
            Intent::Paused => Input::Pause,
            Intent::Closed => Input::Close,
        });
        true
    }

    /// Adds a subscriber for `event_type`, and listens for it on the live transport. Returns a
    /// key for [`Connection::unsubscribe`].
    pub(crate) fn subscribe(&self, event_type: &str, handler: Handler) -> u64 {
        let key = self.next_subscriber.get();
        self.next_subscriber.set(key + 1);
        self.subscribers
            .borrow_mut()
            .push((key, event_type.to_owned(), handler));
        self.snapshots
            .borrow_mut()
            .retain(|(known, _)| known != event_type);
        if let Some(transport) = self.transport.borrow().as_ref() {
            transport.listen(event_type);
        }
        key
    }

    /// Removes the subscriber `key` (its component went away).
    pub(crate) fn unsubscribe(&self, key: u64) {
        self.subscribers.borrow_mut().retain(|(k, _, _)| *k != key);
        self.snapshots.borrow_mut().clear();
    }

    /// Connects to `url`.
    pub(crate) fn connect(&self, url: &str) {
        *self.url.borrow_mut() = url.to_owned();
        self.watch_the_page();
        self.feed(Input::Start);
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
        drop(self.page_listeners.borrow_mut().take());
    }

    /// Runs the machine on `input` and carries out what it asks.
    fn feed(&self, input: Input) {
        let actions = self.machine.borrow_mut().handle(input, self.env.now());
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
                    let timer = self.after(delay, |connection| connection.feed(Input::Timer));
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
        let chosen = self
            .chooser
            .borrow_mut()
            .next(self.env.now(), self.env.can_stream());
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
        let opening = match kind {
            Transport::EventSource => Opening::EventSource {
                url: self.resume_url(),
                with_credentials: self.options.with_credentials,
                max_event_size: self.options.max_event_size,
                event_types: self
                    .subscribers
                    .borrow()
                    .iter()
                    .map(|(_, event_type, _)| event_type.clone())
                    .collect(),
            },
            #[cfg(feature = "polling")]
            Transport::Polling => {
                let url = self
                    .options
                    .polling
                    .url
                    .clone()
                    .unwrap_or_else(|| poll_url_for(&self.url()));
                Opening::Poll {
                    request: self.http_request(url),
                    interval: self.options.polling.interval,
                }
            }
            // Without the `polling` feature the chooser never picks polling.
            _ => Opening::Fetch(self.http_request(self.url())),
        };
        match self.env.open(opening, sink) {
            Ok(transport) => {
                *self.transport.borrow_mut() = Some(transport);
                self.arm_watchdog();
            }
            // Kept as the machine's state, so that a user who joins later sees it too.
            Err(message) => self.fail(Failure::InvalidUrl(message)),
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
            chooser.failed(kind, &failure, self.env.now());
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
                self.last_activity.set(self.env.now().0);
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
                let this = self.this.clone();
                let report = move |failure| {
                    if let Some(connection) = this.upgrade()
                        && connection.generation.get() == generation
                    {
                        connection.fail(failure);
                    }
                };
                self.env
                    .probe(self.resume_url(), self.options.with_credentials, report);
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
        let timer = self.after(after, |connection| connection.feed(Input::ConnectNow));
        *self.switch_timer.borrow_mut() = Some(timer);
    }

    fn deliver(&self, event_type: &str, data: &str, last_event_id: EventId<'_>) {
        let delivery = self.delivery_of(event_type);
        // The ID as text, made only if a subscriber asks for it.
        let copied;
        let id = match last_event_id {
            EventId::Text(id) => id,
            EventId::Js(id) if delivery.wants_id => {
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
        if !delivery.is_empty() {
            delivery.deliver(tidings_wire::EventRef {
                event_type,
                data,
                last_event_id: id,
            });
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

    /// Calls `f` with this connection after `delay`, unless it is gone by then.
    fn after(&self, delay: Duration, f: impl FnOnce(&Self) + 'static) -> E::Timer {
        let this = self.this.clone();
        self.env.timeout(delay, move || {
            if let Some(connection) = this.upgrade() {
                f(&connection);
            }
        })
    }

    /// Every user's signals.
    fn outputs(&self) -> Vec<Outputs> {
        self.users
            .borrow()
            .iter()
            .map(|user| user.outputs)
            .collect()
    }

    /// Shows a skipped event's error to every user's signal.
    fn publish_stream_error(&self, error: &tidings_wire::ParseError) {
        for output in self.outputs() {
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
                self.env
                    .store_id(key, Some(last_event_id).filter(|id| !id.is_empty()));
            }
            self.schedule_id_publisher();
        }
    }

    /// Notes that something arrived, for the watchdog (when there is one: the clock is a call
    /// out of wasm, too dear to make for every event for nothing).
    fn note_activity(&self) {
        if self.watchdog.borrow().is_some() {
            self.last_activity.set(self.env.now().0);
        }
    }

    /// Shows the last event ID to the signals soon, once for a whole burst of events.
    fn schedule_id_publisher(&self) {
        if self.id_publisher.borrow().is_none() {
            let timer = self.after(Duration::ZERO, Self::publish_last_event_id);
            *self.id_publisher.borrow_mut() = Some(timer);
        }
    }

    /// Shows the last event ID to every user's signal.
    fn publish_last_event_id(&self) {
        drop(self.id_publisher.borrow_mut().take());
        let id = self.resume_id();
        for output in self.outputs() {
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
    fn delivery_of(&self, event_type: &str) -> Rc<Delivery> {
        if let Some((_, delivery)) = self
            .snapshots
            .borrow()
            .iter()
            .find(|(known, _)| known == event_type)
        {
            return delivery.clone();
        }
        let delivery = Rc::new(Delivery::new(
            self.subscribers
                .borrow()
                .iter()
                .filter(|(_, known, _)| known == event_type)
                .map(|(_, _, handler)| handler.clone()),
        ));
        self.snapshots
            .borrow_mut()
            .push((event_type.to_owned(), delivery.clone()));
        delivery
    }

    /// Shows `state` to every user.
    fn publish_state(&self, state: ConnectionState) {
        for output in self.outputs() {
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
        self.last_activity.set(self.env.now().0);
        let stall_after = self.chooser.borrow().stall_after(self.kind.get());
        let Some(stale_after) = self.options.stale_after.or(stall_after) else {
            return;
        };
        self.watch_for(stale_after, stale_after);
    }

    /// Checks for silence after `delay`.
    fn watch_for(&self, stale_after: Duration, delay: Duration) {
        let watchdog = self.after(delay, move |connection| {
            let quiet = connection.env.now().0 - connection.last_activity.get();
            let limit = stale_after.as_secs_f64() * 1000.0;
            if quiet >= limit {
                connection.fail(Failure::Stalled);
            } else {
                // Something arrived meanwhile: wait out the rest of the period after it.
                let rest = Duration::from_millis((limit - quiet).ceil().max(1.0) as u64);
                connection.watch_for(stale_after, rest);
            }
        });
        *self.watchdog.borrow_mut() = Some(watchdog);
    }

    /// Listens for online/offline (and visibility, when pausing hidden pages), once.
    fn watch_the_page(&self) {
        if self.page_listeners.borrow().is_some() {
            return;
        }
        let this = self.this.clone();
        let on_event = Rc::new(move |event| {
            if let Some(connection) = this.upgrade() {
                connection.feed(match event {
                    PageEvent::Online => Input::Online,
                    PageEvent::Offline => Input::Offline,
                    PageEvent::Hidden => Input::Hidden,
                    PageEvent::Visible => Input::Visible,
                });
            }
        });
        let listeners = self
            .env
            .watch_page(self.options.pause_when_hidden, on_event);
        *self.page_listeners.borrow_mut() = listeners;
    }
}

impl<E: Env> Drop for Connection<E> {
    fn drop(&mut self) {
        super::diagnostics::closed_connection();
    }
}
