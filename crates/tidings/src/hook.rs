//! The hook: [`use_sse`] and the [`Sse`] handle it returns, which attaches a component to a
//! shared [connection](crate::browser::connection) and hands out its typed signals.

use std::collections::VecDeque;
use std::rc::Rc;

use leptos::prelude::*;

use crate::browser::connection::{BrowserConnection, Outputs};
use crate::browser::frame::PerFrame;
use crate::browser::sharing;
use crate::browser::subscriber::{Handler, Typed};
use crate::options::SseOptions;
use crate::sans_io::resync::Resync;
use crate::sans_io::state::ConnectionState;
use crate::ssr::Rendered;
use crate::wire;
use crate::{DecodeError, TypedEvent};

/// A handle on one event stream, as [`use_sse`] returns it. It is `Copy`: pass it to child
/// components freely. Its subscriptions end with the component that made them, and the connection
/// closes when the last component using it is unmounted.
///
/// Components that open the same URL with equal options in one page share one connection: each
/// gets its own signals and subscriptions, and [`Sse::pause`] and [`Sse::close`] act for its
/// own component only (the connection pauses or closes once no component wants it open).
#[derive(Clone, Copy)]
pub struct Sse {
    outputs: Outputs,
    decode_error: RwSignal<Option<ArcDecodeError>>,
    reads: Reads,
    /// What connects, in the browser. `None` where nothing connects (server-side rendering): a
    /// server renders on many threads, and a [`LocalStorage`] value touched from another thread
    /// than its own panics, so an `Sse` there holds only thread-safe signals.
    handle: Option<StoredValue<Handle, LocalStorage>>,
    /// What the page shows of the stream, when it is rendered on the server from a
    /// [`ReplayLog`](crate::wire::ReplayLog): see [`crate::ssr`].
    rendered: Option<StoredValue<Rendered>>,
    /// The last decode error of each event type, kept on every thread.
    type_errors: StoredValue<TypeErrors>,
}

/// The per-type decode error signals of an [`Sse`], made on first use.
struct TypeErrors {
    /// The owner of the `use_sse` call: the signals live as long as the handle.
    owner: Option<Owner>,
    signals: Vec<(&'static str, RwSignal<Option<ArcDecodeError>>)>,
}

/// Whether `use_sse` connects: only in the browser, never under server-side rendering (which
/// can also run on `wasm32`, in a worker).
const CONNECTS: bool = cfg!(all(target_arch = "wasm32", not(feature = "ssr")));

/// The read-only signals an [`Sse`] hands out, made once: in leptos each conversion to a
/// `Signal` makes a new one that lives as long as its owner, so handing out fresh ones on every
/// call would grow memory for a caller that asks in a loop.
#[derive(Clone, Copy)]
struct Reads {
    state: Signal<ConnectionState>,
    last_event_id: Signal<Option<String>>,
    decode_error: Signal<Option<ArcDecodeError>>,
    stream_error: Signal<Option<wire::ParseError>>,
}

/// A decode error, shared: signals need values that can be cloned.
pub type ArcDecodeError = std::sync::Arc<DecodeError>;

/// What an [`Sse`] handle holds in the browser.
struct Handle {
    options: SseOptions,
    connection: Option<Rc<BrowserConnection>>,
    /// Where the first connection starts: the position a server-rendered page reflects.
    start_id: Option<String>,
    /// This handle's key as a user of the connection.
    user_key: u64,
    subscriptions: Vec<Subscription>,
    next_subscription: u64,
}

/// A subscriber of this handle, re-registered when the handle moves to another connection.
struct Subscription {
    id: u64,
    event_type: String,
    handler: Handler,
    /// Its key on the current connection.
    key: Option<u64>,
}

impl Handle {
    /// Leaves the current connection, which shuts down if this was its last user.
    fn detach(&mut self) {
        let Some(connection) = self.connection.take() else {
            return;
        };
        for subscription in &mut self.subscriptions {
            if let Some(key) = subscription.key.take() {
                connection.unsubscribe(key);
            }
        }
        if connection.remove_user(self.user_key) == 0 {
            connection.shut_down();
        }
    }

    /// Joins the connection to `url` (a shared one if there is one).
    fn attach(&mut self, url: &str, outputs: Outputs) {
        let connection = sharing::acquire(url, &self.options, self.start_id.take());
        self.user_key = connection.add_user(outputs);
        for subscription in &mut self.subscriptions {
            subscription.key =
                Some(connection.subscribe(&subscription.event_type, subscription.handler.clone()));
        }
        self.connection = Some(connection);
    }
}

/// Connects to the event stream at `url` with the default [`SseOptions`].
///
/// `url` may be a plain string or any reactive string: when it changes the stream is reopened
/// at the new URL, and an empty URL disconnects.
pub fn use_sse(url: impl Into<Signal<String>>) -> Sse {
    use_sse_with_options(url, SseOptions::default())
}

/// Connects to the event stream at `url` with `options`: see [`use_sse`].
pub fn use_sse_with_options(url: impl Into<Signal<String>>, options: SseOptions) -> Sse {
    let url = url.into();
    // On the server, what the page shows of the stream (if the app gave its log); in the
    // browser, the position the page was rendered at, read back from it while hydrating.
    let rendered = (!CONNECTS)
        .then(|| Rendered::of(&url.get_untracked()))
        .flatten();
    let position = SharedValue::new(|| rendered.as_ref().map(|rendered| rendered.position.clone()))
        .into_inner();
    let outputs = Outputs {
        state: RwSignal::new(ConnectionState::Idle),
        last_event_id: RwSignal::new(position.clone().or_else(|| options.last_event_id.clone())),
        stream_error: RwSignal::new(None),
    };
    let decode_error = RwSignal::new(None);
    let sse = Sse {
        outputs,
        decode_error,
        reads: Reads {
            state: outputs.state.into(),
            last_event_id: outputs.last_event_id.into(),
            decode_error: decode_error.into(),
            stream_error: outputs.stream_error.into(),
        },
        handle: CONNECTS.then(|| {
            StoredValue::new_local(Handle {
                options,
                connection: None,
                start_id: position,
                user_key: 0,
                subscriptions: Vec::new(),
                next_subscription: 0,
            })
        }),
        rendered: rendered.map(StoredValue::new),
        type_errors: StoredValue::new(TypeErrors {
            owner: Owner::current(),
            signals: Vec::new(),
        }),
    };
    if sse.handle.is_none() {
        return sse;
    }
    Effect::new(move |_| {
        let url = url.get();
        sse.switch_to(&url);
    });
    on_cleanup(move || {
        // Leaves the connection; the last user to leave closes it and releases its listeners.
        sse.update_handle(Handle::detach);
    });
    sse
}

impl Sse {
    /// The connection's state, for indicators: see [`ConnectionState`] and [`ConnectionBadge`](crate::ConnectionBadge)(crate::ConnectionBadge).
    #[must_use]
    pub fn state(&self) -> Signal<ConnectionState> {
        self.reads.state
    }

    /// The ID of the last event received (or the initial one from [`SseOptions::last_event_id`]):
    /// where the stream resumes after a reconnect.
    #[must_use]
    pub fn last_event_id(&self) -> Signal<Option<String>> {
        self.reads.last_event_id
    }

    /// The latest error decoding an event into its type, if any. A bad event never stops the
    /// stream: the events around it are still delivered.
    #[must_use]
    pub fn decode_error(&self) -> Signal<Option<ArcDecodeError>> {
        self.reads.decode_error
    }

    /// The latest problem with the stream itself that did not end it: an event larger than
    /// [`SseOptions::max_event_size`] was skipped. The stream goes on past it.
    #[must_use]
    pub fn stream_error(&self) -> Signal<Option<wire::ParseError>> {
        self.reads.stream_error
    }

    /// The latest error decoding an event of type `T`, if any: see [`Sse::decode_error`].
    ///
    /// Each call makes a new signal under the current owner: ask once per component, not in a
    /// loop.
    #[must_use]
    pub fn decode_error_of<T: TypedEvent>(&self) -> Signal<Option<ArcDecodeError>> {
        self.type_error_signal(T::NAME).into()
    }

    /// The latest event of type `T`, or `None` until the first arrives. Rendered on the server
    /// from the stream's replay log, it starts with the newest one there: see [`crate::ssr`].
    ///
    /// Under a burst, what reads it hears of a new event at most once per animation frame
    /// ([`SseOptions::signals_per_frame`](crate::SseOptions::signals_per_frame)); the value is
    /// the newest at once. For every event, use [`Sse::on`].
    #[must_use]
    pub fn latest<T>(&self) -> Signal<Option<T>>
    where
        T: TypedEvent + Clone + Send + Sync + 'static,
    {
        let latest = RwSignal::new(self.rendered::<T>(1).pop());
        self.feed::<T, _>(latest, |latest, value| *latest = Some(value));
        latest.into()
    }

    /// The last `capacity` events of type `T`, oldest first. Every event is kept, even in bursts,
    /// until `capacity` newer ones push it out; what reads it hears of new ones at most once per
    /// animation frame, as with [`Sse::latest`].
    /// Rendered on the server from the stream's replay log, it starts with the newest ones there:
    /// see [`crate::ssr`].
    ///
    /// # Panics
    ///
    /// If `capacity` is zero.
    #[must_use]
    #[track_caller]
    pub fn history<T>(&self, capacity: usize) -> Signal<VecDeque<T>>
    where
        T: TypedEvent + Clone + Send + Sync + 'static,
    {
        assert!(capacity > 0, "a history must hold at least one event");
        let mut rendered = VecDeque::with_capacity(capacity);
        rendered.extend(self.rendered::<T>(capacity));
        let history = RwSignal::new(rendered);
        self.feed::<T, _>(history, move |events, value| {
            if events.len() == capacity {
                events.pop_front();
            }
            events.push_back(value);
        });
        history.into()
    }

    /// Applies `change` to `signal` with every event of type `T`. Its readers hear of it at
    /// once, or at the next animation frame ([`SseOptions::signals_per_frame`], the default):
    /// the value changes at once either way.
    fn feed<T, S>(&self, signal: RwSignal<S>, change: impl Fn(&mut S, T) + 'static)
    where
        T: TypedEvent + Clone + 'static,
        S: Send + Sync + 'static,
    {
        let per_frame = self.signals_per_frame().then(PerFrame::default);
        self.on::<T>(move |value| match &per_frame {
            Some(per_frame) => {
                if signal
                    .try_update_untracked(|current| change(current, value))
                    .is_some()
                {
                    per_frame.notify(move || {
                        // Gone with its component meanwhile: nothing to tell.
                        let _ = signal.try_update(|_| {});
                    });
                }
            }
            None => {
                let _ = signal.try_update(|current| change(current, value));
            }
        });
    }

    /// Whether this handle's signals tell their readers once per frame.
    fn signals_per_frame(&self) -> bool {
        self.handle
            .and_then(|stored| stored.try_with_value(|handle| handle.options.per_frame))
            .unwrap_or(false)
    }

    /// Up to `count` of the newest events of type `T` the page shows, oldest first: read from
    /// the server's log while rendering there, and from the page while hydrating (see
    /// [`crate::ssr`]); none in a page rendered in the browser.
    fn rendered<T: TypedEvent>(&self, count: usize) -> Vec<T> {
        let data = SharedValue::new(|| {
            self.rendered
                .and_then(|rendered| rendered.try_with_value(|r| r.recent(T::NAME, count)))
                .unwrap_or_default()
        })
        .into_inner();
        data.iter()
            .filter_map(|data| match T::decode(data) {
                Ok(value) => Some(value),
                Err(error) => {
                    self.report_decode_error(T::NAME, std::sync::Arc::new(error));
                    None
                }
            })
            .collect()
    }

    /// Shows a decode error in [`Sse::decode_error`] and in its type's signal.
    fn report_decode_error(&self, event_type: &'static str, error: ArcDecodeError) {
        self.type_error_signal(event_type).set(Some(error.clone()));
        self.decode_error.set(Some(error));
    }

    /// Calls `callback` with every event of type `T`, in order, as it arrives. In a page
    /// rendered on the server from a replay log ([`crate::ssr`]), that is every event after the
    /// ones the page was rendered with: those are in [`Sse::latest`] and [`Sse::history`].
    pub fn on<T>(&self, callback: impl Fn(T) + 'static)
    where
        T: TypedEvent + Clone + 'static,
    {
        let sse = *self;
        let handler = Typed::handler(callback, move |error| {
            sse.report_decode_error(T::NAME, error);
        });
        self.subscribe(T::NAME, handler);
    }

    /// Calls `callback` whenever the server could not resume the stream and sent a
    /// [`Resync`] instead of a silent gap (a `tidings-axum` channel does, for a client whose last
    /// event ID left its replay window or is unknown to it): reload what the page shows, for
    /// example by refetching a snapshot. The stream goes on with live events after
    /// [`Resync::position`].
    ///
    /// The subscription lasts as long as the reactive owner it is made in.
    pub fn on_resync(&self, callback: impl Fn(Resync) + 'static) {
        self.on_raw(wire::RESYNC_EVENT, move |event| {
            callback(Resync::parse(event.data, event.last_event_id));
        });
    }

    /// The last [`Resync`] the server sent on this stream, if any: see [`Sse::on_resync`].
    /// Each call makes a new signal: call it once and keep it.
    #[must_use]
    pub fn resync(&self) -> Signal<Option<Resync>> {
        let last = RwSignal::new(None);
        self.on_resync(move |resync| last.set(Some(resync)));
        last.into()
    }

    /// Calls `callback` with every event of type `event_type` (`"message"` for events without a
    /// type) as it arrived, for streams without a Rust type: its
    /// [`data`](wire::EventRef::data) and [`last_event_id`](wire::EventRef::last_event_id).
    ///
    /// The subscription lasts as long as the reactive owner it is made in (the component that
    /// calls this), and ends with it.
    pub fn on_raw(&self, event_type: &str, callback: impl Fn(wire::EventRef<'_>) + 'static) {
        let handler = Handler::Raw(Rc::new(callback));
        self.subscribe(event_type, handler);
    }

    /// Subscribes `handler` to `event_type`, on this handle's connection now and on the ones it
    /// moves to, for as long as the current owner lives.
    fn subscribe(&self, event_type: &str, handler: Handler) {
        let Some(stored) = self.handle else {
            return;
        };
        let id = stored.try_update_value(|handle| {
            let id = handle.next_subscription;
            handle.next_subscription += 1;
            let key = handle
                .connection
                .as_ref()
                .map(|connection| connection.subscribe(event_type, handler.clone()));
            handle.subscriptions.push(Subscription {
                id,
                event_type: event_type.to_owned(),
                handler,
                key,
            });
            id
        });
        if let Some(id) = id {
            on_cleanup(move || {
                stored.try_update_value(|handle| {
                    let position = handle.subscriptions.iter().position(|s| s.id == id);
                    if let Some(subscription) = position.map(|i| handle.subscriptions.remove(i))
                        && let (Some(key), Some(connection)) =
                            (subscription.key, &handle.connection)
                    {
                        connection.unsubscribe(key);
                    }
                });
            });
        }
    }

    /// Pauses this handle's use of the connection until [`Sse::resume`], which resumes from the
    /// last event ID: no event is missed meanwhile, as long as the server keeps it for replay.
    ///
    /// A connection shared with other components ([sharing](crate#sharing)) pauses once none of
    /// them wants it open (its state then becomes [`ConnectionState::Paused`] by the app); while
    /// another one keeps it open, this handle goes on receiving events, so it misses none.
    pub fn pause(&self) {
        self.with_connection(BrowserConnection::pause);
    }

    /// Resumes after [`Sse::pause`].
    pub fn resume(&self) {
        self.with_connection(BrowserConnection::resume);
    }

    /// Closes this handle's use of the connection. The connection closes (its state becomes
    /// [`ConnectionState::Closed`]) once every component sharing it has closed it, or left;
    /// while another keeps it open, this handle's subscriptions still receive its events, so
    /// that none is missed when it opens again.
    pub fn close(&self) {
        self.with_connection(BrowserConnection::close);
    }

    /// Connects now, resuming after the last event received: after [`Sse::close`] or a
    /// failure, or instead of waiting out the backoff (a "retry now" button). An open
    /// connection stays as it is.
    pub fn open(&self) {
        self.with_connection(BrowserConnection::open);
    }

    /// The signal of the last decode error of `event_type`, made on first use under the owner
    /// of the `use_sse` call.
    fn type_error_signal(&self, event_type: &'static str) -> RwSignal<Option<ArcDecodeError>> {
        let made = self.type_errors.try_update_value(|errors| {
            if let Some((_, signal)) = errors.signals.iter().find(|(t, _)| *t == event_type) {
                return *signal;
            }
            let signal = match &errors.owner {
                Some(owner) => owner.with(|| RwSignal::new(None)),
                None => RwSignal::new(None),
            };
            errors.signals.push((event_type, signal));
            signal
        });
        made.unwrap_or_else(|| RwSignal::new(None))
    }

    /// Moves this handle to the stream at `url` (none when empty).
    fn switch_to(&self, url: &str) {
        let outputs = self.outputs;
        self.update_handle(|handle| {
            if handle
                .connection
                .as_ref()
                .is_some_and(|connection| connection.url() == url)
            {
                return;
            }
            handle.detach();
            if url.is_empty() {
                outputs.state.set(ConnectionState::Idle);
            } else {
                handle.attach(url, outputs);
            }
        });
    }

    /// Runs `f` on this handle's connection, with its key there.
    fn with_connection(&self, f: impl FnOnce(&BrowserConnection, u64)) {
        let connection = self
            .handle
            .and_then(|stored| {
                stored.try_with_value(|handle| {
                    let key = handle.user_key;
                    handle
                        .connection
                        .clone()
                        .map(|connection| (connection, key))
                })
            })
            .flatten();
        if let Some((connection, key)) = connection {
            f(&connection, key);
        }
    }

    /// Runs `f` on the browser-side handle, if there is one and it is still alive.
    fn update_handle<R>(&self, f: impl FnOnce(&mut Handle) -> R) -> Option<R> {
        self.handle.and_then(|stored| stored.try_update_value(f))
    }
}
