//! The connection, run natively against a fake world: a manual clock, timers that fire when the
//! test advances it, transports the test scripts (it sends what the browser would report), a
//! probe the test answers, session storage in a map, and page events the test raises. Each test
//! checks what the connection asks of the world (which transport, to which URL, resuming from
//! which ID), what its users see (state, last event ID, events) and what it releases.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;

use leptos::prelude::*;

use tidings_wire::{DecodeError, EventRef, TypedEvent};

use super::{Connection, Handler, Outputs};
#[cfg(feature = "polling")]
use crate::FallbackPolicy;
use crate::browser::env::{Env, OpenTransport, Opening, PageEvent};
use crate::browser::sharing::Registry;
use crate::browser::subscriber::Typed;
use crate::browser::transport::{EventId, Sink, TransportEvent};
use crate::options::SseOptions;
use crate::sans_io::failure::Failure;
#[cfg(feature = "polling")]
use crate::sans_io::state::FallbackReason;
use crate::sans_io::state::{
    ConnectionState, DisconnectReason, FailReason, PauseReason, Timestamp, Transport,
};
use crate::{ReconnectPolicy, Sharing, TransportMode};

/// The fake world; clones share it.
#[derive(Clone)]
struct World(Rc<RefCell<State>>);

struct State {
    now: f64,
    timers: Vec<PendingTimer>,
    next_timer: u64,
    opened: Vec<Opened>,
    /// Probes waiting for an answer: the URL asked, and where the answer goes.
    probes: Vec<(String, ProbeReport)>,
    storage: HashMap<String, String>,
    page: Option<Rc<dyn Fn(PageEvent)>>,
    /// Whether the page listeners are held, and whether they include visibility.
    watching: Rc<Cell<Option<bool>>>,
    can_stream: bool,
    /// The next `open` fails with this message.
    refuse_next_open: Option<String>,
}

type ProbeReport = Box<dyn FnOnce(Failure)>;

struct PendingTimer {
    due: f64,
    order: u64,
    callback: Option<Box<dyn FnOnce()>>,
    cancelled: Rc<Cell<bool>>,
}

/// A transport the connection opened.
struct Opened {
    opening: Opening,
    sink: Sink,
    closed: Rc<Cell<bool>>,
    listening: Rc<RefCell<Vec<String>>>,
}

struct FakeTimer(Rc<Cell<bool>>);

impl Drop for FakeTimer {
    fn drop(&mut self) {
        self.0.set(true);
    }
}

struct FakeTransport {
    closed: Rc<Cell<bool>>,
    listening: Rc<RefCell<Vec<String>>>,
}

impl OpenTransport for FakeTransport {
    fn listen(&self, event_type: &str) {
        let mut listening = self.listening.borrow_mut();
        if !listening.iter().any(|known| known == event_type) {
            listening.push(event_type.to_owned());
        }
    }
}

impl Drop for FakeTransport {
    fn drop(&mut self) {
        self.closed.set(true);
    }
}

struct FakeListeners(Rc<Cell<Option<bool>>>);

impl Drop for FakeListeners {
    fn drop(&mut self) {
        self.0.set(None);
    }
}

impl Env for World {
    type Timer = FakeTimer;
    type Transport = FakeTransport;
    type Listeners = FakeListeners;

    fn now(&self) -> Timestamp {
        Timestamp(self.0.borrow().now)
    }

    fn random(&self) -> f64 {
        0.25
    }

    fn timeout(&self, delay: Duration, callback: impl FnOnce() + 'static) -> FakeTimer {
        let mut state = self.0.borrow_mut();
        let cancelled = Rc::new(Cell::new(false));
        let order = state.next_timer;
        state.next_timer += 1;
        let due = state.now + delay.as_secs_f64() * 1000.0;
        state.timers.push(PendingTimer {
            due,
            order,
            callback: Some(Box::new(callback)),
            cancelled: cancelled.clone(),
        });
        FakeTimer(cancelled)
    }

    fn open(&self, opening: Opening, sink: Sink) -> Result<FakeTransport, String> {
        let mut state = self.0.borrow_mut();
        if let Some(message) = state.refuse_next_open.take() {
            return Err(message);
        }
        let closed = Rc::new(Cell::new(false));
        let listening = Rc::new(RefCell::new(match &opening {
            Opening::EventSource { event_types, .. } => event_types.clone(),
            _ => Vec::new(),
        }));
        state.opened.push(Opened {
            opening,
            sink,
            closed: closed.clone(),
            listening: listening.clone(),
        });
        Ok(FakeTransport { closed, listening })
    }

    fn probe(&self, url: String, _: bool, report: impl FnOnce(Failure) + 'static) {
        self.0.borrow_mut().probes.push((url, Box::new(report)));
    }

    fn can_stream(&self) -> bool {
        self.0.borrow().can_stream
    }

    fn stored_id(&self, key: &str) -> Option<String> {
        self.0.borrow().storage.get(key).cloned()
    }

    fn store_id(&self, key: &str, id: Option<&str>) {
        let mut state = self.0.borrow_mut();
        match id {
            Some(id) => state.storage.insert(key.to_owned(), id.to_owned()),
            None => state.storage.remove(key),
        };
    }

    fn watch_page(
        &self,
        visibility: bool,
        on_event: Rc<dyn Fn(PageEvent)>,
    ) -> Option<FakeListeners> {
        let mut state = self.0.borrow_mut();
        state.page = Some(on_event);
        state.watching.set(Some(visibility));
        Some(FakeListeners(state.watching.clone()))
    }
}

impl World {
    fn new() -> Self {
        Self(Rc::new(RefCell::new(State {
            now: 1_000_000.0,
            timers: Vec::new(),
            next_timer: 0,
            opened: Vec::new(),
            probes: Vec::new(),
            storage: HashMap::new(),
            page: None,
            watching: Rc::new(Cell::new(None)),
            can_stream: true,
            refuse_next_open: None,
        })))
    }

    /// Moves the clock on by `millis`, firing every timer due meanwhile, in order.
    fn advance(&self, millis: f64) {
        let until = self.0.borrow().now + millis;
        loop {
            let next = {
                let mut state = self.0.borrow_mut();
                state.timers.retain(|timer| !timer.cancelled.get());
                let next = state
                    .timers
                    .iter()
                    .enumerate()
                    .filter(|(_, timer)| timer.due <= until)
                    .min_by(|(_, a), (_, b)| a.due.total_cmp(&b.due).then(a.order.cmp(&b.order)))
                    .map(|(i, _)| i);
                next.map(|i| {
                    let mut timer = state.timers.remove(i);
                    state.now = state.now.max(timer.due);
                    timer.callback.take()
                })
            };
            match next {
                Some(Some(callback)) => callback(),
                Some(None) => {}
                None => break,
            }
        }
        self.0.borrow_mut().now = until;
    }

    /// Fires the timers due now (the zero-delay ones).
    fn settle(&self) {
        self.advance(0.0);
    }

    /// Timers pending and not cancelled.
    fn live_timers(&self) -> usize {
        let state = self.0.borrow();
        state
            .timers
            .iter()
            .filter(|timer| !timer.cancelled.get())
            .count()
    }

    fn opened(&self) -> usize {
        self.0.borrow().opened.len()
    }

    /// Transports opened and not yet closed.
    fn open_transports(&self) -> usize {
        let state = self.0.borrow();
        state
            .opened
            .iter()
            .filter(|opened| !opened.closed.get())
            .count()
    }

    /// The `n`th transport opened: what was asked, and whether it is closed.
    fn opening(&self, n: usize) -> (Opening, bool) {
        let state = self.0.borrow();
        (
            state.opened[n].opening.clone(),
            state.opened[n].closed.get(),
        )
    }

    /// The kind, URL and resume header of the `n`th transport opened.
    fn asked(&self, n: usize) -> (Transport, String, Option<String>) {
        match self.opening(n).0 {
            Opening::EventSource { url, .. } => (Transport::EventSource, url, None),
            Opening::Fetch(request) => (Transport::Fetch, request.url, request.last_event_id),
            #[cfg(feature = "polling")]
            Opening::Poll { request, .. } => {
                (Transport::Polling, request.url, request.last_event_id)
            }
        }
    }

    fn listening(&self, n: usize) -> Vec<String> {
        self.0.borrow().opened[n].listening.borrow().clone()
    }

    /// Reports `event` from the `n`th transport, as the browser would.
    fn report(&self, n: usize, event: TransportEvent<'_>) {
        let sink = self.0.borrow().opened[n].sink.clone();
        sink(event);
    }

    /// The latest transport reports `event`.
    fn report_last(&self, event: TransportEvent<'_>) {
        self.report(self.opened() - 1, event);
    }

    /// An event of `event_type` with `data` and ID `id` on the latest transport.
    fn message(&self, event_type: &str, data: &str, id: &str) {
        self.report_last(TransportEvent::Message {
            event_type,
            data,
            last_event_id: EventId::Text(id),
        });
    }

    /// Answers the oldest probe waiting with `failure`; returns the URL it asked.
    fn answer_probe(&self, failure: Failure) -> String {
        let (url, report) = self.0.borrow_mut().probes.remove(0);
        report(failure);
        url
    }

    fn page_event(&self, event: PageEvent) {
        let page = self.0.borrow().page.clone();
        if let Some(page) = page {
            page(event);
        }
    }
}

/// A user's signals.
fn outputs() -> Outputs {
    Outputs {
        state: RwSignal::new(ConnectionState::Idle),
        last_event_id: RwSignal::new(None),
        stream_error: RwSignal::new(None),
    }
}

/// What a subscriber saw: `(data, id)` per event.
type Seen = Rc<RefCell<Vec<(String, String)>>>;

/// A raw subscriber that records what it sees.
fn recorder() -> (Handler, Seen) {
    let seen: Seen = Rc::default();
    let record = seen.clone();
    let handler = Handler::Raw(Rc::new(move |event: EventRef<'_>| {
        record
            .borrow_mut()
            .push((event.data.to_owned(), event.last_event_id.to_owned()));
    }));
    (handler, seen)
}

/// A typed event that counts how often it is decoded.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct Counted(u32);

thread_local! {
    static DECODES: Cell<usize> = const { Cell::new(0) };
}

impl TypedEvent for Counted {
    const NAME: &'static str = "counted";

    fn decode(data: &str) -> Result<Self, DecodeError> {
        DECODES.with(|decodes| decodes.set(decodes.get() + 1));
        serde_json::from_str(data).map_err(|error| DecodeError::decode(Self::NAME, error))
    }
}

/// What a typed subscriber saw: values, and decode errors as text.
type Values<T> = Rc<RefCell<Vec<Result<T, String>>>>;

fn typed<T: TypedEvent + Clone + 'static>() -> (Handler, Values<T>) {
    let seen: Values<T> = Rc::default();
    let (values, errors) = (seen.clone(), seen.clone());
    let handler = Typed::handler(
        move |value: T| values.borrow_mut().push(Ok(value)),
        move |error| errors.borrow_mut().push(Err(error.to_string())),
    );
    (handler, seen)
}

/// No jitter, 1 s doubling: delays the tests can name.
fn exact() -> ReconnectPolicy {
    ReconnectPolicy::default()
        .jitter(0.0)
        .initial_delay(Duration::from_secs(1))
}

/// A connection to `/events` with `options` and one user, as `use_sse` makes it.
struct Setup {
    world: World,
    connection: Rc<Connection<World>>,
    user: u64,
    outputs: Outputs,
    _owner: Owner,
}

fn connect(options: SseOptions) -> Setup {
    connect_from(options, None, World::new())
}

fn connect_from(options: SseOptions, start_id: Option<String>, world: World) -> Setup {
    let owner = Owner::new();
    owner.set();
    let connection = Connection::new(world.clone(), options.reconnect(exact()), start_id);
    connection.connect("/events");
    let outputs = outputs();
    let user = connection.add_user(outputs);
    Setup {
        world,
        connection,
        user,
        outputs,
        _owner: owner,
    }
}

impl Setup {
    fn state(&self) -> ConnectionState {
        self.outputs.state.get_untracked()
    }

    fn shown_id(&self) -> Option<String> {
        self.outputs.last_event_id.get_untracked()
    }

    fn subscribe(&self, event_type: &str) -> Seen {
        let (handler, seen) = recorder();
        self.connection.subscribe(event_type, handler);
        seen
    }
}

fn is_open(state: &ConnectionState, expected: Transport) -> bool {
    matches!(state, ConnectionState::Open { transport, .. } if *transport == expected)
}

fn fetch() -> SseOptions {
    SseOptions::default().transport(TransportMode::Fetch)
}

#[test]
fn connects_with_event_source_and_routes_events_by_type() {
    let s = connect(SseOptions::default());
    assert_eq!(
        s.world.asked(0),
        (Transport::EventSource, "/events".into(), None)
    );
    assert!(matches!(
        s.state(),
        ConnectionState::Connecting { attempt: 1 }
    ));
    let ticks = s.subscribe("tick");
    let notes = s.subscribe("note");
    // A type subscribed after the source opened is listened for on it.
    assert_eq!(s.world.listening(0), ["tick", "note"]);

    s.world.report_last(TransportEvent::Open);
    assert!(is_open(&s.state(), Transport::EventSource));
    s.world.message("tick", "1", "a");
    s.world.message("other", "x", "b");
    s.world.message("tick", "2", "c");
    assert_eq!(
        *ticks.borrow(),
        [("1".into(), "a".into()), ("2".into(), "c".into())]
    );
    assert!(notes.borrow().is_empty());
}

#[test]
fn the_last_event_id_is_exact_at_once_and_shown_once_per_burst() {
    let s = connect(fetch());
    s.world.report_last(TransportEvent::Open);
    for i in 1..=100 {
        s.world.message("tick", "x", &i.to_string());
    }
    // Shown after the burst, from one zero-delay timer.
    assert_eq!(s.shown_id(), None);
    s.world.settle();
    assert_eq!(s.shown_id().as_deref(), Some("100"));
    // A reconnect now resumes from the very last one.
    s.world
        .report_last(TransportEvent::Failed(Failure::Network));
    s.world.advance(1000.0);
    assert_eq!(s.world.asked(1).2.as_deref(), Some("100"));
}

#[test]
fn a_dropped_event_source_is_left_to_the_browser_then_resumed_over_fetch_with_the_header() {
    let s = connect(SseOptions::default());
    s.world.report_last(TransportEvent::Open);
    s.world.message("tick", "1", "41");
    // The browser reconnects by itself first, with Last-Event-ID.
    s.world.report_last(TransportEvent::Retrying);
    assert!(matches!(
        s.state(),
        ConnectionState::Reconnecting { attempt: 1, .. }
    ));
    assert_eq!(s.world.opened(), 1);
    // It gives up: the connection asks the server why, once.
    s.world.report_last(TransportEvent::Closed);
    assert!(s.world.opening(0).1, "the given-up source is closed");
    assert_eq!(s.world.answer_probe(Failure::Network), "/events");
    assert!(matches!(
        s.state(),
        ConnectionState::Reconnecting {
            attempt: 2,
            reason: DisconnectReason::Network,
            ..
        }
    ));
    // Backoff: attempt 2 waits 2 s; then it resumes over fetch, from the last ID, by header.
    s.world.advance(1999.0);
    assert_eq!(s.world.opened(), 1);
    s.world.advance(1.0);
    assert_eq!(
        s.world.asked(1),
        (Transport::Fetch, "/events".into(), Some("41".into()))
    );
}

#[test]
fn the_browser_reconnecting_in_time_keeps_the_event_source() {
    let s = connect(SseOptions::default());
    s.world.report_last(TransportEvent::Open);
    s.world.report_last(TransportEvent::Retrying);
    s.world.advance(2000.0);
    s.world.report_last(TransportEvent::Open);
    assert!(is_open(&s.state(), Transport::EventSource));
    // Its guard timer is gone: nothing else happens later.
    s.world.advance(60_000.0);
    assert_eq!(s.world.opened(), 1);
    assert!(is_open(&s.state(), Transport::EventSource));
}

#[test]
fn reports_from_a_replaced_transport_or_its_probe_are_ignored() {
    let s = connect(SseOptions::default());
    let ticks = s.subscribe("tick");
    s.world.report_last(TransportEvent::Open);
    s.world.message("tick", "1", "1");
    s.world.report(0, TransportEvent::Retrying);
    s.world.report(0, TransportEvent::Closed);
    // The app reconnects before the probe answers.
    s.connection.open(s.user);
    assert_eq!(s.world.opened(), 2);
    s.world.answer_probe(Failure::Status {
        status: 401,
        retry_after: None,
        body: String::new(),
    });
    s.world.report(0, TransportEvent::Failed(Failure::Network));
    s.world.report(
        0,
        TransportEvent::Message {
            event_type: "tick",
            data: "stale",
            last_event_id: EventId::Text("99"),
        },
    );
    assert!(matches!(s.state(), ConnectionState::Connecting { .. }));
    assert_eq!(ticks.borrow().len(), 1);
    assert_eq!(s.world.asked(1).2.as_deref(), Some("1"));
}

#[test]
fn the_server_retry_sets_the_next_delay() {
    let s = connect(fetch());
    s.world.report_last(TransportEvent::Open);
    s.world
        .report_last(TransportEvent::Retry(Duration::from_millis(250)));
    s.world
        .report_last(TransportEvent::Failed(Failure::Network));
    s.world.advance(249.0);
    assert_eq!(s.world.opened(), 1);
    s.world.advance(1.0);
    assert_eq!(s.world.opened(), 2);
    assert!(s.world.opening(0).1);
}

#[test]
fn retry_after_lengthens_the_wait_after_a_503() {
    let s = connect(fetch());
    s.world.report_last(TransportEvent::Failed(Failure::Status {
        status: 503,
        retry_after: Some(Duration::from_secs(7)),
        body: String::new(),
    }));
    assert!(matches!(
        s.state(),
        ConnectionState::Reconnecting {
            reason: DisconnectReason::Status(503),
            ..
        }
    ));
    s.world.advance(6999.0);
    assert_eq!(s.world.opened(), 1);
    s.world.advance(1.0);
    assert_eq!(s.world.opened(), 2);
}

#[test]
fn a_permanent_failure_stays_failed_until_the_app_opens_again() {
    let s = connect(fetch());
    s.world.report_last(TransportEvent::Failed(Failure::Status {
        status: 401,
        retry_after: None,
        body: "sign in".into(),
    }));
    assert!(matches!(s.state(), ConnectionState::Failed { .. }));
    s.world.advance(600_000.0);
    assert_eq!(s.world.opened(), 1);
    assert_eq!(s.world.live_timers(), 0);
    s.connection.open(s.user);
    assert_eq!(s.world.opened(), 2);
}

#[test]
fn an_attempt_limit_gives_up_and_says_so() {
    let gave_up = Rc::new(Cell::new(0));
    let counter = gave_up.clone();
    let options = fetch().on_give_up(move || counter.set(counter.get() + 1));
    let owner = Owner::new();
    owner.set();
    let world = World::new();
    let connection = Connection::new(
        world.clone(),
        options.reconnect(exact().max_attempts(2)),
        None,
    );
    connection.connect("/events");
    let outputs = outputs();
    connection.add_user(outputs);
    for _ in 0..3 {
        world.report_last(TransportEvent::Failed(Failure::Network));
        world.advance(10_000.0);
    }
    assert_eq!(world.opened(), 3);
    assert_eq!(gave_up.get(), 1);
    assert_eq!(
        outputs.state.get_untracked(),
        ConnectionState::Failed {
            reason: FailReason::AttemptsExhausted { attempts: 2 }
        }
    );
}

#[test]
fn an_invalid_url_fails_at_once() {
    let world = World::new();
    world.0.borrow_mut().refuse_next_open = Some("not a URL".into());
    let s = connect_from(SseOptions::default(), None, world);
    assert_eq!(
        s.state(),
        ConnectionState::Failed {
            reason: FailReason::InvalidUrl {
                message: "not a URL".into()
            }
        }
    );
    assert_eq!(s.world.live_timers(), 0);
}

#[test]
#[cfg(feature = "polling")]
fn auto_falls_back_to_polling_and_tries_streaming_again() {
    let policy = FallbackPolicy::default()
        .after_failures(2)
        .retry_streaming_after(Duration::from_secs(30));
    let s = connect(
        SseOptions::default()
            .transport(TransportMode::Auto)
            .fallback(policy),
    );
    assert_eq!(s.world.asked(0).0, Transport::Fetch);
    s.world
        .report_last(TransportEvent::Failed(Failure::Network));
    s.world.advance(1000.0);
    assert_eq!(s.world.asked(1).0, Transport::Fetch);
    s.world
        .report_last(TransportEvent::Failed(Failure::Network));
    s.world.advance(2000.0);
    // Two failures in a row: polling, at the tidings-axum endpoint next to the stream.
    assert_eq!(
        s.world.asked(2),
        (Transport::Polling, "/events/poll".into(), None)
    );
    s.world.report_last(TransportEvent::Open);
    assert_eq!(
        s.state(),
        ConnectionState::Open {
            transport: Transport::Polling,
            since: Timestamp(s.world.now().0),
            fallback: Some(FallbackReason::StreamingFailed),
        }
    );
    s.world.message("tick", "1", "5");
    // After 30 s, a trial of streaming, from the last ID.
    s.world.advance(30_000.0);
    assert_eq!(
        s.world.asked(3),
        (Transport::Fetch, "/events".into(), Some("5".into()))
    );
    assert!(s.world.opening(2).1, "polling stopped for the trial");
    s.world.report_last(TransportEvent::Open);
    s.world.message("tick", "2", "6");
    assert!(is_open(&s.state(), Transport::Fetch));
}

#[test]
#[cfg(feature = "polling")]
fn a_stalled_stream_falls_back_to_polling_in_auto_mode() {
    let policy = FallbackPolicy::default().stall_after(Duration::from_secs(20));
    let s = connect(
        SseOptions::default()
            .transport(TransportMode::Auto)
            .fallback(policy),
    );
    s.world.report_last(TransportEvent::Open);
    // Keep-alives keep it alive...
    for _ in 0..5 {
        s.world.advance(15_000.0);
        s.world.report_last(TransportEvent::Activity);
    }
    assert_eq!(s.world.opened(), 1);
    // ...silence does not.
    s.world.advance(20_000.0);
    assert!(matches!(
        s.state(),
        ConnectionState::Reconnecting {
            reason: DisconnectReason::Stalled,
            ..
        }
    ));
    s.world.advance(1000.0);
    assert_eq!(s.world.asked(1).0, Transport::Polling);
}

#[test]
#[cfg(feature = "polling")]
fn a_server_without_a_polling_endpoint_is_streamed_from() {
    let s = connect(SseOptions::default().transport(TransportMode::Polling));
    assert_eq!(s.world.asked(0).0, Transport::Polling);
    s.world.report_last(TransportEvent::Failed(Failure::Status {
        status: 404,
        retry_after: None,
        body: String::new(),
    }));
    assert!(matches!(
        s.state(),
        ConnectionState::Reconnecting {
            reason: DisconnectReason::PollingUnavailable(404),
            ..
        }
    ));
    s.world.advance(1000.0);
    assert_eq!(s.world.asked(1).0, Transport::Fetch);
}

#[test]
fn the_watchdog_checks_once_per_period_and_reconnects_a_silent_stream() {
    let s = connect(fetch().stale_after(Duration::from_secs(10)));
    s.world.report_last(TransportEvent::Open);
    s.world.advance(6000.0);
    for i in 0..50 {
        s.world.message("tick", "x", &i.to_string());
    }
    // One watchdog timer, whatever the number of events (plus the ID publisher).
    assert_eq!(s.world.live_timers(), 2);
    s.world.advance(9999.0);
    assert_eq!(s.world.opened(), 1);
    s.world.advance(1.0);
    assert!(matches!(
        s.state(),
        ConnectionState::Reconnecting {
            reason: DisconnectReason::Stalled,
            ..
        }
    ));
    s.world.advance(1000.0);
    assert_eq!(s.world.asked(1).2.as_deref(), Some("49"));
}

#[test]
fn offline_pauses_and_online_reconnects_at_once() {
    let s = connect(fetch());
    s.world.report_last(TransportEvent::Open);
    s.world.message("tick", "1", "3");
    s.world.page_event(PageEvent::Offline);
    assert_eq!(
        s.state(),
        ConnectionState::Paused {
            reason: PauseReason::Offline
        }
    );
    assert_eq!(s.world.open_transports(), 0);
    s.world.page_event(PageEvent::Online);
    assert_eq!(s.world.open_transports(), 1);
    assert_eq!(s.world.asked(1).2.as_deref(), Some("3"));
}

#[test]
fn hidden_pages_pause_only_when_asked() {
    let s = connect(fetch());
    assert_eq!(s.world.0.borrow().watching.get(), Some(false));
    let s = connect(fetch().pause_when_hidden(true));
    assert_eq!(s.world.0.borrow().watching.get(), Some(true));
    s.world.report_last(TransportEvent::Open);
    s.world.page_event(PageEvent::Hidden);
    assert_eq!(
        s.state(),
        ConnectionState::Paused {
            reason: PauseReason::Hidden
        }
    );
    // Only showing the page lifts a pause for hiding it.
    s.world.page_event(PageEvent::Online);
    assert_eq!(s.world.open_transports(), 0);
    s.world.page_event(PageEvent::Visible);
    assert_eq!(s.world.open_transports(), 1);
}

#[test]
fn a_persisted_id_is_read_at_start_and_kept_at_every_event() {
    let world = World::new();
    world
        .0
        .borrow_mut()
        .storage
        .insert("feed".into(), "17".into());
    let s = connect_from(
        SseOptions::default().persist_last_event_id("feed"),
        None,
        world,
    );
    // An EventSource cannot send the header: the resume goes over fetch.
    assert_eq!(
        s.world.asked(0),
        (Transport::Fetch, "/events".into(), Some("17".into()))
    );
    assert_eq!(s.shown_id().as_deref(), Some("17"));
    s.world.report_last(TransportEvent::Open);
    s.world.message("tick", "x", "18");
    // Kept at once, before any timer: a reload right now must not replay it.
    assert_eq!(s.world.stored_id("feed").as_deref(), Some("18"));
}

#[test]
fn the_rendered_position_wins_over_the_options_and_storage() {
    let world = World::new();
    world
        .0
        .borrow_mut()
        .storage
        .insert("feed".into(), "1".into());
    let options = SseOptions::default()
        .persist_last_event_id("feed")
        .last_event_id("2");
    let s = connect_from(options, Some("3".into()), world);
    assert_eq!(s.world.asked(0).2.as_deref(), Some("3"));
    let s = connect_from(SseOptions::default().last_event_id("2"), None, World::new());
    assert_eq!(s.world.asked(0).2.as_deref(), Some("2"));
}

#[test]
fn the_query_parameter_resume_keeps_the_event_source() {
    let options = SseOptions::default()
        .last_event_id("9")
        .resume_via(crate::ResumeVia::query());
    let s = connect(options);
    assert_eq!(
        s.world.asked(0),
        (Transport::EventSource, "/events?lastEventId=9".into(), None)
    );
}

#[test]
fn a_skipped_event_is_shown_and_resumed_past() {
    let s = connect(fetch());
    s.world.report_last(TransportEvent::Open);
    s.world.report_last(TransportEvent::Skipped {
        error: tidings_wire::ParseError::EventTooLarge { limit: 10 },
        last_event_id: "8",
    });
    assert_eq!(
        s.outputs.stream_error.get_untracked(),
        Some(tidings_wire::ParseError::EventTooLarge { limit: 10 })
    );
    assert!(is_open(&s.state(), Transport::Fetch));
    s.world
        .report_last(TransportEvent::Failed(Failure::Network));
    s.world.advance(1000.0);
    assert_eq!(s.world.asked(1).2.as_deref(), Some("8"));
}

#[test]
fn one_user_pausing_leaves_the_connection_open_for_the_others() {
    let s = connect(fetch());
    let other = outputs();
    let second = s.connection.add_user(other);
    let ticks = s.subscribe("tick");
    s.world.report_last(TransportEvent::Open);
    s.connection.pause(s.user);
    assert_eq!(s.world.open_transports(), 1);
    s.world.message("tick", "1", "1");
    // The paused user misses nothing while another keeps the connection open.
    assert_eq!(ticks.borrow().len(), 1);
    assert!(is_open(&other.state.get_untracked(), Transport::Fetch));
    s.connection.pause(second);
    assert_eq!(s.world.open_transports(), 0);
    for state in [s.state(), other.state.get_untracked()] {
        assert_eq!(
            state,
            ConnectionState::Paused {
                reason: PauseReason::App
            }
        );
    }
    s.connection.resume(second);
    assert_eq!(s.world.asked(1).2.as_deref(), Some("1"));
}

#[test]
fn the_connection_closes_once_every_user_closed_it() {
    let s = connect(fetch());
    let second = s.connection.add_user(outputs());
    s.world.report_last(TransportEvent::Open);
    s.connection.close(s.user);
    assert_eq!(s.world.open_transports(), 1);
    s.connection.close(second);
    assert_eq!(s.state(), ConnectionState::Closed);
    assert_eq!(s.world.open_transports(), 0);
    assert_eq!(s.world.live_timers(), 0);
    // A pause or resume does not reopen a closed user.
    s.connection.resume(second);
    assert_eq!(s.world.open_transports(), 0);
    // A component that joins now wants it open.
    s.connection.add_user(outputs());
    assert_eq!(s.world.open_transports(), 1);
}

#[test]
fn a_user_leaving_lets_the_others_decide() {
    let s = connect(fetch());
    let second = s.connection.add_user(outputs());
    s.world.report_last(TransportEvent::Open);
    s.connection.pause(s.user);
    assert_eq!(s.connection.remove_user(second), 1);
    assert_eq!(
        s.state(),
        ConnectionState::Paused {
            reason: PauseReason::App
        }
    );
    assert_eq!(s.world.open_transports(), 0);
}

#[test]
fn open_connects_now_unless_open() {
    let s = connect(fetch());
    s.world.report_last(TransportEvent::Open);
    s.connection.open(s.user);
    assert_eq!(s.world.opened(), 1, "an open connection stays as it is");
    s.world
        .report_last(TransportEvent::Failed(Failure::Network));
    s.connection.open(s.user);
    assert_eq!(s.world.opened(), 2, "a retry now, not after the backoff");
    assert!(s.world.opening(0).1);
}

#[test]
fn shutting_down_releases_everything() {
    let s = connect(fetch().stale_after(Duration::from_secs(5)));
    s.world.report_last(TransportEvent::Open);
    s.world.message("tick", "x", "1");
    assert!(s.world.live_timers() > 0);
    assert!(s.world.0.borrow().watching.get().is_some());
    s.connection.shut_down();
    assert_eq!(s.world.open_transports(), 0);
    assert_eq!(s.world.live_timers(), 0);
    assert_eq!(s.world.0.borrow().watching.get(), None);
    // A report in flight from the closed transport changes nothing.
    s.world.report(0, TransportEvent::Failed(Failure::Network));
    assert_eq!(s.world.live_timers(), 0);
    assert_eq!(s.world.opened(), 1);
}

#[test]
fn unsubscribing_stops_delivery_and_subscribing_in_a_callback_is_safe() {
    let s = connect(fetch());
    let (handler, seen) = recorder();
    let key = s.connection.subscribe("tick", handler);
    let late: Seen = Rc::default();
    let connection = Rc::downgrade(&s.connection);
    let record = late.clone();
    let added = Cell::new(false);
    s.connection.subscribe(
        "tick",
        Handler::Raw(Rc::new(move |_| {
            // A subscriber that subscribes another while an event is delivered.
            if !added.replace(true)
                && let Some(connection) = connection.upgrade()
            {
                let record = record.clone();
                connection.subscribe(
                    "tick",
                    Handler::Raw(Rc::new(move |event| {
                        record
                            .borrow_mut()
                            .push((event.data.into(), event.last_event_id.into()));
                    })),
                );
            }
        })),
    );
    s.world.report_last(TransportEvent::Open);
    s.world.message("tick", "1", "1");
    s.connection.unsubscribe(key);
    s.world.message("tick", "2", "2");
    assert_eq!(seen.borrow().len(), 1);
    // The late subscriber sees the events after it joined.
    assert_eq!(*late.borrow(), [("2".into(), "2".into())]);
}

#[test]
fn users_of_one_url_with_equal_options_share_a_connection() {
    let owner = Owner::new();
    owner.set();
    let world = World::new();
    let registry = Registry::<World>::default();
    let a = registry.acquire(&world, "/events", &fetch(), None);
    let b = registry.acquire(&world, "/events", &fetch(), None);
    assert!(Rc::ptr_eq(&a, &b));
    assert_eq!(world.opened(), 1);
    let other_url = registry.acquire(&world, "/other", &fetch(), None);
    let other_options = registry.acquire(&world, "/events", &SseOptions::default(), None);
    assert!(!Rc::ptr_eq(&a, &other_url) && !Rc::ptr_eq(&a, &other_options));
    assert_eq!(world.opened(), 3);
    // Once every user let go, the next one gets a new connection.
    drop((a, b));
    let c = registry.acquire(&world, "/events", &fetch(), None);
    assert_eq!(world.opened(), 4);
    drop(c);
}

#[test]
fn each_event_is_decoded_once_per_type_however_many_subscribe() {
    let s = connect(fetch());
    let subscribers: Vec<_> = (0..4).map(|_| typed::<Counted>()).collect();
    for (handler, _) in &subscribers {
        s.connection.subscribe(Counted::NAME, handler.clone());
    }
    let raw = s.subscribe(Counted::NAME);
    s.world.report_last(TransportEvent::Open);
    DECODES.with(|decodes| decodes.set(0));
    for i in 0..10 {
        s.world
            .message(Counted::NAME, &i.to_string(), &i.to_string());
    }
    assert_eq!(DECODES.with(Cell::get), 10);
    let expected: Vec<Result<Counted, String>> = (0..10).map(|i| Ok(Counted(i))).collect();
    for (_, seen) in &subscribers {
        assert_eq!(*seen.borrow(), expected);
    }
    assert_eq!(raw.borrow().len(), 10);
}

#[test]
fn a_bad_event_is_reported_to_every_subscriber_of_its_type_and_the_stream_goes_on() {
    let s = connect(fetch());
    let (first, second) = (typed::<Counted>(), typed::<Counted>());
    s.connection.subscribe(Counted::NAME, first.0);
    s.connection.subscribe(Counted::NAME, second.0);
    s.world.report_last(TransportEvent::Open);
    s.world.message(Counted::NAME, "1", "1");
    s.world.message(Counted::NAME, "\"one\"", "2");
    s.world.message(Counted::NAME, "3", "3");
    for seen in [first.1, second.1] {
        let seen = seen.borrow();
        assert_eq!(seen.len(), 3);
        assert_eq!(seen[0], Ok(Counted(1)));
        assert!(
            seen[1]
                .as_ref()
                .is_err_and(|error| error.contains("counted"))
        );
        assert_eq!(seen[2], Ok(Counted(3)));
    }
}

#[test]
fn subscribers_of_different_types_on_one_event_type_each_decode() {
    #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Loose(serde_json::Value);
    impl TypedEvent for Loose {
        const NAME: &'static str = "counted";
    }
    let s = connect(fetch());
    let (counted, loose, again) = (typed::<Counted>(), typed::<Loose>(), typed::<Counted>());
    s.connection.subscribe(Counted::NAME, counted.0);
    s.connection.subscribe(Counted::NAME, loose.0);
    s.connection.subscribe(Counted::NAME, again.0);
    s.world.report_last(TransportEvent::Open);
    DECODES.with(|decodes| decodes.set(0));
    s.world.message(Counted::NAME, "7", "1");
    assert_eq!(DECODES.with(Cell::get), 1);
    assert_eq!(*counted.1.borrow(), [Ok(Counted(7))]);
    assert_eq!(*again.1.borrow(), [Ok(Counted(7))]);
    assert_eq!(*loose.1.borrow(), [Ok(Loose(serde_json::json!(7)))]);
}

#[test]
fn a_sharing_group_shares_whatever_the_other_options_and_own_shares_nothing() {
    let owner = Owner::new();
    owner.set();
    let world = World::new();
    let registry = Registry::<World>::default();
    let group = || fetch().sharing(Sharing::group("feed")).on_give_up(|| {});
    let a = registry.acquire(&world, "/events", &group(), None);
    let b = registry.acquire(
        &world,
        "/events",
        &group().stale_after(Duration::from_secs(9)),
        None,
    );
    assert!(Rc::ptr_eq(&a, &b), "one group, one connection");
    assert_eq!(a.options().stale_after, None, "the first user's options");
    let elsewhere = registry.acquire(&world, "/other", &group(), None);
    let other_group = registry.acquire(
        &world,
        "/events",
        &fetch().sharing(Sharing::group("x")),
        None,
    );
    let equal = registry.acquire(&world, "/events", &fetch(), None);
    assert!(
        !Rc::ptr_eq(&a, &elsewhere) && !Rc::ptr_eq(&a, &other_group) && !Rc::ptr_eq(&a, &equal)
    );
    let own = || fetch().sharing(Sharing::Own);
    let (c, d) = (
        registry.acquire(&world, "/events", &own(), None),
        registry.acquire(&world, "/events", &own(), None),
    );
    assert!(!Rc::ptr_eq(&c, &d));
    assert_eq!(world.opened(), 6);
}

#[test]
fn options_name_the_settings_that_keep_them_from_sharing() {
    let base = fetch();
    assert!(base.differences(&base.clone()).is_empty());
    let with_callback = |options: SseOptions| options.on_give_up(|| {});
    assert_eq!(
        with_callback(base.clone()).differences(&with_callback(base.clone())),
        ["on_give_up"]
    );
    assert_eq!(
        base.differences(&SseOptions::default().stale_after(Duration::from_secs(1))),
        ["stale_after", "transport"]
    );
}
