//! [`Channel`]: a stream of events with a replay log, so that clients resume without loss.

use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use futures_util::stream;
use tidings_wire::frame::check_event_type;
use tidings_wire::{
    DEFAULT_EVENT_TYPE, EncodeError, Event, Frame, InvalidEventType, Parser, ReplayLog, TypedEvent,
};
use tokio::sync::{Notify, watch};
use tokio::time::Instant;

use crate::EventStream;

pub use pace::Pace;
pub use tidings_wire::RESYNC_EVENT;
use tidings_wire::protocol::ResyncReason;

mod follow;
#[cfg(feature = "redis")]
mod mirror;
mod pace;
#[cfg(feature = "redis")]
pub(crate) use mirror::parse_external_id;

/// How many log entries a stream sends in one write, at most.
const BATCH: usize = 256;
/// How many bytes a stream sends in one write, at most (a larger event goes alone).
const BATCH_BYTES: usize = 64 * 1024;
/// Frames from this size up are sent as the log holds them, shared by every subscriber and
/// poll, rather than copied into a write with their neighbours.
const SHARE_FROM: usize = 4 * 1024;
/// How many bytes one long-poll answers with, at most (a larger event goes alone): the client
/// polls again, from the last event it got, for the rest.
pub(crate) const POLL_BYTES: usize = 1024 * 1024;
/// What the log keeps at most, in bytes of encoded events, by default.
const DEFAULT_MAX_BYTES: usize = 64 * 1024 * 1024;

/// How much a [`Channel`] remembers for replay, and which of its events supersede others for
/// [paced](Pace) subscribers.
#[derive(Clone)]
#[must_use]
pub struct ChannelConfig {
    capacity: usize,
    max_age: Option<Duration>,
    max_bytes: usize,
    coalesce: Vec<pace::Grouping>,
}

impl fmt::Debug for ChannelConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChannelConfig")
            .field("capacity", &self.capacity)
            .field("max_age", &self.max_age)
            .field("max_bytes", &self.max_bytes)
            .field("coalesce", &self.coalesce)
            .finish()
    }
}

impl Default for ChannelConfig {
    /// 10 000 events, 5 minutes, 64 MiB: whichever limit is reached first.
    fn default() -> Self {
        Self {
            capacity: 10_000,
            max_age: Some(Duration::from_secs(300)),
            max_bytes: DEFAULT_MAX_BYTES,
            coalesce: Vec::new(),
        }
    }
}

impl ChannelConfig {
    /// Keeps at most `capacity` events for replay (default 10 000).
    ///
    /// # Panics
    ///
    /// If `capacity` is zero.
    #[track_caller]
    pub fn capacity(mut self, capacity: usize) -> Self {
        assert!(capacity > 0, "a channel must keep at least one event");
        self.capacity = capacity;
        self
    }

    /// How many events it keeps.
    #[cfg(feature = "redis")]
    pub(crate) fn capacity_value(&self) -> usize {
        self.capacity
    }

    /// Keeps events for replay for at most `max_age` (default 5 minutes); `None` keeps them
    /// until `capacity` pushes them out. Expired events are dropped when they expire, even on
    /// a channel nobody publishes to or subscribes to any more (within a Tokio runtime).
    pub fn max_age(mut self, max_age: Option<Duration>) -> Self {
        self.max_age = max_age;
        self
    }

    /// Keeps at most `bytes` of encoded events for replay (default 64 MiB), dropping the
    /// oldest first; the newest event is always kept, whatever its size. Events are encoded
    /// once and shared by every subscriber, so this bounds the log's memory however many
    /// clients read it.
    ///
    /// # Panics
    ///
    /// If `bytes` is zero.
    #[track_caller]
    pub fn max_bytes(mut self, bytes: usize) -> Self {
        assert!(bytes > 0, "a channel must keep at least one byte");
        self.max_bytes = bytes;
        self
    }

    /// Events of type `T` with the same `key` supersede one another for [paced](Pace)
    /// subscribers: of those waiting for a paced write, only the newest is sent. For values
    /// where only the latest matters, such as one price per symbol: `|tick: &Tick|
    /// tick.symbol.clone()`. Every other event (and every event to subscribers that are not
    /// paced) is sent, whatever its type. Call it once per type; the key is computed once per
    /// event, when it is published, from its data decoded as `T` (an event whose data does not
    /// decode as `T` supersedes nothing and is never superseded).
    ///
    /// ```
    /// use serde::{Deserialize, Serialize};
    /// use tidings_axum::{ChannelConfig, TypedEvent};
    ///
    /// #[derive(Serialize, Deserialize)]
    /// struct Tick { symbol: String, price: f64 }
    /// impl TypedEvent for Tick { const NAME: &'static str = "tick"; }
    ///
    /// let config = ChannelConfig::default().coalesce(|tick: &Tick| tick.symbol.clone());
    /// ```
    pub fn coalesce<T, K>(mut self, key: impl Fn(&T) -> K + Send + Sync + 'static) -> Self
    where
        T: TypedEvent,
        K: Into<String>,
    {
        self.coalesce
            .push(pace::Grouping::new(T::NAME, move |data| {
                T::decode(data).ok().map(|event| key(&event).into())
            }));
        self
    }

    /// The group an event belongs to, if its type coalesces.
    fn group_of(&self, event_type: Option<&str>, data: &str) -> Option<Box<str>> {
        let event_type = event_type.unwrap_or(DEFAULT_EVENT_TYPE);
        self.coalesce
            .iter()
            .find(|grouping| grouping.event_type() == event_type)
            .and_then(|grouping| grouping.group(data))
    }
}

/// A stream of events that clients subscribe to, with a replay log for resuming.
///
/// Every event published gets an ID. A client that subscribes with the ID of the last event it
/// saw (see [`LastEventId`](crate::LastEventId)) first receives every event after it, then the
/// live ones, with no gap and no duplicate, even while events are being published: replay and
/// live delivery read the same log through the same cursor.
///
/// The log keeps a bounded window of events ([`ChannelConfig`]). A client whose ID is older than
/// the window, unknown, or from before a server restart gets a **resync** event instead of a
/// silent gap: type [`RESYNC_EVENT`] (`tidings-resync`), data `{"reason":"…"}`, and the ID of
/// the newest event, so that its next resume starts from there. On resync a client should reload
/// its state (refetch a snapshot); the stream then goes on with live events.
///
/// # Slow clients
///
/// Each subscriber is only a cursor into the shared log: a client that reads slowly holds no
/// buffer of its own and slows no one else (its connection is simply written to when it can
/// take more). If it falls so far behind that its next event has left the log, its stream ends;
/// it reconnects with its last ID and is told to resync. Size the window for the slowest client
/// you want to serve without loss.
///
/// IDs are opaque strings to clients. They carry the channel's epoch (its creation time), so
/// that an ID from an earlier run of the server is recognised as unknown.
///
/// `Channel` is cheap to clone; clones share the log.
///
/// ```
/// use axum::{Router, extract::State, routing::get};
/// use tidings_axum::{Channel, EventStream, LastEventId};
///
/// async fn events(State(channel): State<Channel>, LastEventId(id): LastEventId) -> EventStream {
///     channel.subscribe(id.as_deref())
/// }
///
/// # async fn run() {
/// let channel = Channel::new();
/// let app: Router = Router::new().route("/events", get(events)).with_state(channel.clone());
/// channel.publish_data(Some("greeting"), "hello");
/// # }
/// ```
#[derive(Clone)]
pub struct Channel {
    shared: Arc<Shared>,
}

struct Shared {
    config: ChannelConfig,
    ids: Ids,
    log: RwLock<Log>,
    /// Whether the task that drops expired events runs.
    expiring: AtomicBool,
    /// The sequence number the next event will get: long-polls and the expiry task wait for
    /// it to move.
    next_seq: watch::Sender<u64>,
    /// Wakes the live streams when an event is added.
    wake: Arc<Notify>,
}

/// Where event IDs come from.
enum Ids {
    /// Made here: `<epoch>-<seq>`, the epoch being the channel's creation time.
    Local { epoch: String },
    /// Given by the log this channel mirrors (see [`crate::redis`]): `<ms>-<n>`, as Redis
    /// stream IDs are. They are shared by every server that mirrors the same log.
    #[cfg(feature = "redis")]
    External,
}

/// An event's place in the order of the log: `(0, seq)` for local IDs, `(ms, n)` for external.
pub(crate) type Key = (u64, u64);

struct Log {
    entries: VecDeque<Entry>,
    /// The encoded size of the entries kept.
    bytes: usize,
    next_seq: u64,
    /// Every event after this key is in the log (or still to come); the ones at or before it
    /// may have been evicted. A client whose ID is older must resync.
    horizon: Key,
}

struct Entry {
    seq: u64,
    key: Key,
    id: Box<str>,
    /// Its `event` field, if it has one: what [`ReplayLog::recent`] picks events by.
    event_type: Option<Box<str>>,
    published: Instant,
    /// Its group, if its type coalesces (see [`ChannelConfig::coalesce`]): for paced
    /// subscribers, a newer event of the same group supersedes it.
    group: Option<Box<str>>,
    /// The encoded frame, with its ID.
    bytes: Bytes,
}

impl Entry {
    /// Whether it is an event of type `event_type` as a client sees it (`"message"` when sent
    /// without one).
    fn is_of_type(&self, event_type: &str) -> bool {
        self.event_type.as_deref().unwrap_or(DEFAULT_EVENT_TYPE) == event_type
    }

    /// The event, as a client parses it from the frame.
    fn to_event(&self) -> Option<Event> {
        // The frame is ours, whole and of known size: no limit applies.
        let mut parser = Parser::with_max_event_size(self.bytes.len().max(1));
        let mut event = None;
        parser.feed(&self.bytes, |parsed| {
            event = parsed.ok().map(|e| e.to_event())
        });
        event
    }
}

impl fmt::Debug for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let log = self.read_log();
        let ids = match &self.shared.ids {
            Ids::Local { epoch } => epoch.as_str(),
            #[cfg(feature = "redis")]
            Ids::External => "external",
        };
        f.debug_struct("Channel")
            .field("ids", &ids)
            .field("kept", &log.entries.len())
            .field("next_seq", &log.next_seq)
            .finish_non_exhaustive()
    }
}

impl Default for Channel {
    fn default() -> Self {
        Self::new()
    }
}

/// The channel's replay log, for pages rendered on the server with its events in them (see
/// `tidings::ssr`): a client resuming from the position a page names gets every event after
/// it, or a resync if those left the log meanwhile.
impl ReplayLog for Channel {
    fn position(&self) -> Option<String> {
        let log = self.read_log();
        if let Some(newest) = log.entries.back() {
            return Some(newest.id.to_string());
        }
        // None kept: name the last one published (or evicted), which resumes at the next.
        Some(match &self.shared.ids {
            Ids::Local { epoch } => format!("{epoch}-{}", log.next_seq - 1),
            #[cfg(feature = "redis")]
            Ids::External => format!("{}-{}", log.horizon.0, log.horizon.1),
        })
    }

    fn recent(&self, event_type: &str, count: usize, up_to: &str) -> Vec<Event> {
        let Some(up_to) = self.parse_id(up_to) else {
            return Vec::new();
        };
        let log = self.read_log();
        let end = log.entries.partition_point(|entry| entry.key <= up_to);
        let mut events: Vec<Event> = log
            .entries
            .range(..end)
            .rev()
            .filter(|entry| entry.is_of_type(event_type))
            .take(count)
            .filter_map(Entry::to_event)
            .collect();
        events.reverse();
        events
    }
}

/// Where a subscriber starts: at a position in the log, skipping events up to a key (an ID
/// newer than any mirrored yet), or with a resync.
enum Start {
    At(u64, Key),
    Resync(ResyncReason),
}

impl Channel {
    /// A channel with the default [`ChannelConfig`].
    #[must_use]
    pub fn new() -> Self {
        Self::with_config(ChannelConfig::default())
    }

    /// A channel configured by `config`.
    #[must_use]
    pub fn with_config(config: ChannelConfig) -> Self {
        let epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|since| since.as_micros())
            .unwrap_or_default();
        Self::with_ids(
            config,
            Ids::Local {
                epoch: format!("{epoch:x}"),
            },
        )
    }

    fn with_ids(config: ChannelConfig, ids: Ids) -> Self {
        Self {
            shared: Arc::new(Shared {
                config,
                ids,
                log: RwLock::new(Log {
                    entries: VecDeque::new(),
                    bytes: 0,
                    next_seq: 1,
                    horizon: (0, 0),
                }),
                next_seq: watch::Sender::new(1),
                wake: Arc::new(Notify::new()),
                expiring: AtomicBool::new(false),
            }),
        }
    }

    /// Publishes a typed event to every subscriber, and keeps it for replay. Returns its ID.
    ///
    /// # Errors
    ///
    /// [`EncodeError`] if the event cannot be serialised; nothing is published then.
    pub fn publish<T: TypedEvent>(&self, event: &T) -> Result<String, EncodeError> {
        let data = event.encode()?;
        Ok(self.publish_data(Some(T::NAME), &data))
    }

    /// Publishes an event of type `event_type` (`None` for the default `message`) with `data`.
    /// Returns its ID.
    ///
    /// # Panics
    ///
    /// If `event_type` contains CR or LF: use [`Channel::try_publish_data`] for types that come
    /// from outside the program.
    #[track_caller]
    pub fn publish_data(&self, event_type: Option<&str>, data: &str) -> String {
        match self.try_publish_data(event_type, data) {
            Ok(id) => id,
            Err(error) => panic!("{error}"),
        }
    }

    /// Publishes an event as [`Channel::publish_data`] does, or says why its type cannot be
    /// one; nothing is published then.
    ///
    /// # Errors
    ///
    /// [`InvalidEventType`] if `event_type` contains CR or LF.
    pub fn try_publish_data(
        &self,
        event_type: Option<&str>,
        data: &str,
    ) -> Result<String, InvalidEventType> {
        if let Some(event_type) = event_type {
            check_event_type(event_type)?;
        }
        let epoch = match &self.shared.ids {
            Ids::Local { epoch } => epoch,
            #[cfg(feature = "redis")]
            Ids::External => unreachable!("mirrors are appended to, not published to"),
        };
        // Outside the lock: it may decode the event.
        let group = self.shared.config.group_of(event_type, data);
        let mut log = self.write_log();
        let seq = log.next_seq;
        let id = format!("{epoch}-{seq}");
        self.push(&mut log, (0, seq), &id, (event_type, group), data);
        drop(log);
        self.announce(seq + 1);
        Ok(id)
    }

    /// Appends an event with its type and group (see [`ChannelConfig::group_of`]).
    fn push(
        &self,
        log: &mut Log,
        key: Key,
        id: &str,
        (event_type, group): (Option<&str>, Option<Box<str>>),
        data: &str,
    ) {
        let seq = log.next_seq;
        let mut frame = Frame::new();
        if let Some(event_type) = event_type {
            frame = frame.event(event_type);
        }
        let frame = frame.id(id).data(data);
        let now = Instant::now();
        let bytes = Bytes::from(frame.into_string());
        log.bytes += bytes.len();
        log.entries.push_back(Entry {
            seq,
            key,
            id: id.into(),
            event_type: event_type.map(Into::into),
            published: now,
            group,
            bytes,
        });
        log.next_seq = seq + 1;
        self.evict(log, now);
        self.expire_in_background();
    }

    /// A router that serves this channel at `path` the way the `tidings` client expects:
    /// `GET path` streams, resuming after the request's `Last-Event-ID` (header or query
    /// parameter); `GET path/poll` answers one long-poll, waiting up to `?wait_ms=` or
    /// [`MAX_POLL_WAIT`](crate::MAX_POLL_WAIT) for an event, which is what the client's
    /// `Polling` and `Auto` transports need. Merge it into the app's router; for limits, faults
    /// or auth, write the two handlers yourself with [`Channel::subscribe`] and
    /// [`Channel::poll`].
    ///
    /// ```
    /// use axum::Router;
    /// use tidings_axum::Channel;
    ///
    /// let ticker = Channel::new();
    /// let app: Router = Router::new().merge(ticker.routes("/api/ticker"));
    /// // GET /api/ticker streams, GET /api/ticker/poll long-polls.
    /// ticker.publish_data(Some("tick"), r#"{"price":1}"#);
    /// ```
    ///
    /// # Panics
    ///
    /// As [`Router::route`](axum::Router::route) does, if `path` is not a valid route.
    #[track_caller]
    pub fn routes<S>(&self, path: &str) -> axum::Router<S>
    where
        S: Clone + Send + Sync + 'static,
    {
        crate::routes::mount(self.clone(), path)
    }

    /// A response streaming this channel's events to one client, resuming after
    /// `last_event_id` when given: see [`Channel`]. Without an ID the client gets live events
    /// only.
    pub fn subscribe(&self, last_event_id: Option<&str>) -> EventStream {
        self.follow(last_event_id, None)
    }

    /// A response streaming this channel's events as [`subscribe`](Channel::subscribe) does,
    /// but written at most once per `pace` interval, each write carrying what came meanwhile,
    /// with superseded events left out (see [`Pace`]).
    pub fn subscribe_paced(&self, last_event_id: Option<&str>, pace: Pace) -> EventStream {
        self.follow(last_event_id, Some(pace))
    }

    /// A subscriber's stream, from after `last_event_id`, at `pace` if given.
    fn follow(&self, last_event_id: Option<&str>, pace: Option<Pace>) -> EventStream {
        let (prefix, cursor, after) = self.start(last_event_id);
        EventStream::from_bytes(follow::Follow::new(
            self.clone(),
            cursor,
            after,
            prefix,
            pace,
        ))
    }

    /// One long-poll: the events after `last_event_id` as a complete `text/event-stream`
    /// response, waiting up to `wait` for at least one when there are none yet. For clients that
    /// cannot stream (see the `tidings` client's polling transport): each response ends, and
    /// the client polls again with the ID of the last event it got.
    ///
    /// The response's headers go out at once and its body when the events do, so that a client
    /// sees its poll accepted (and shows itself connected) even on a quiet channel.
    pub fn poll(&self, last_event_id: Option<&str>, wait: Duration) -> EventStream {
        let (prefix, cursor, after) = self.start(last_event_id);
        let channel = self.clone();
        let body =
            stream::once(async move { channel.wait_for_events(prefix, cursor, after, wait).await })
                .flat_map(stream::iter);
        EventStream::from_bytes(body).without_keep_alive()
    }

    /// The body of a long-poll: `prefix`, then the events from `cursor` on, waiting up to `wait`
    /// for the first, and at most [`POLL_BYTES`] of them (the client polls again for the rest).
    /// Large events are the log's own bytes, not copies. Empty if there is nothing to send.
    async fn wait_for_events(
        &self,
        prefix: Option<Bytes>,
        mut cursor: u64,
        after: Key,
        wait: Duration,
    ) -> Vec<Bytes> {
        let mut body: Vec<Bytes> = prefix.into_iter().collect();
        let mut changes = self.shared.next_seq.subscribe();
        let deadline = Instant::now() + wait;
        loop {
            // Marked before reading, so that an event published after the read wakes the wait.
            changes.mark_unchanged();
            match self.read_batch(cursor, after, POLL_BYTES) {
                Batch::Events(chunks, next) => {
                    let mut sent: usize = chunks.iter().map(Bytes::len).sum();
                    body.extend(chunks);
                    cursor = next;
                    // Whatever else has arrived meanwhile goes in the same answer, up to its
                    // size.
                    while sent < POLL_BYTES
                        && let Batch::Events(chunks, next) =
                            self.read_batch(cursor, after, POLL_BYTES - sent)
                    {
                        sent += chunks.iter().map(Bytes::len).sum::<usize>();
                        body.extend(chunks);
                        cursor = next;
                    }
                    break;
                }
                Batch::Lagged(resync) => {
                    body.push(resync);
                    break;
                }
                Batch::Empty(_) if !body.is_empty() => break,
                Batch::Empty(next) => cursor = next,
            }
            match tokio::time::timeout_at(deadline, changes.changed()).await {
                Ok(Ok(())) => {}
                // Timed out, or the channel is gone.
                Ok(Err(_)) | Err(_) => break,
            }
        }
        body
    }

    /// The ID of the newest event, if any is kept.
    #[must_use]
    pub fn last_id(&self) -> Option<String> {
        let log = self.read_log();
        log.entries.back().map(|entry| entry.id.to_string())
    }

    /// How many events the log keeps now.
    #[must_use]
    pub fn len(&self) -> usize {
        self.read_log().entries.len()
    }

    /// Whether the log keeps no event now.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Where a subscriber with `last_event_id` starts, and the resync frame it gets first, if
    /// any.
    fn start(&self, last_event_id: Option<&str>) -> (Option<Bytes>, u64, Key) {
        self.expire_in_background();
        let mut log = self.write_log();
        self.evict(&mut log, Instant::now());
        let start = match last_event_id {
            None => Start::At(log.next_seq, (0, 0)),
            Some(id) => match self.parse_id(id) {
                None => Start::Resync(ResyncReason::UnknownId),
                // A local ID this channel has not made yet.
                Some(key)
                    if matches!(self.shared.ids, Ids::Local { .. }) && key.1 >= log.next_seq =>
                {
                    Start::Resync(ResyncReason::UnknownId)
                }
                Some(key) if key < log.horizon => Start::Resync(ResyncReason::TooOld),
                // An external ID far ahead of everything mirrored is not a lag: it is not ours.
                Some(key) if self.far_ahead_of_mirror(&log, key) => {
                    Start::Resync(ResyncReason::UnknownId)
                }
                Some(key) => {
                    // The first event after `key`; past the end, an external ID this mirror has
                    // not caught up with yet: wait for the events after it.
                    let first = log.entries.partition_point(|entry| entry.key <= key);
                    let cursor = log
                        .entries
                        .get(first)
                        .map_or(log.next_seq, |entry| entry.seq);
                    Start::At(cursor, key)
                }
            },
        };
        match start {
            Start::At(cursor, after) => (None, cursor, after),
            // The resync's ID and the cursor come from the same look at the log, under the same
            // lock: every event after the ID is sent, none before it.
            Start::Resync(reason) => (Some(resync_frame(&log, reason)), log.next_seq, (0, 0)),
        }
    }

    /// Tells the waiting that the log has moved on: `next_seq` is the next event's.
    fn announce(&self, next_seq: u64) {
        self.shared.next_seq.send_replace(next_seq);
        self.shared.wake.notify_waiters();
    }

    /// The kept events from `cursor` on whose key is past `after`: at most [`BATCH`] of them
    /// and `budget` bytes (always at least one event). Small frames are copied together into
    /// one chunk; frames from [`SHARE_FROM`] bytes up are the log's own, shared.
    fn read_batch(&self, cursor: u64, after: Key, budget: usize) -> Batch {
        let log = self.read_log();
        let first = match place(&log, cursor) {
            Ok(first) => first,
            Err(batch) => return batch,
        };
        let mut chunks = Vec::new();
        // Small frames waiting to go out together: the first one as the log holds it (a
        // batch of one, the usual live case, is sent without a copy), copied together from
        // the second on.
        let mut small = Small::None;
        let mut next = cursor;
        let (mut taken, mut size) = (0, 0);
        for entry in log.entries.iter().skip(first) {
            let len = entry.bytes.len();
            if taken > 0 && size + len > budget {
                break;
            }
            next = entry.seq + 1;
            // Only a subscriber that resumed from an ID newer than the mirror had skips any.
            if entry.key <= after {
                continue;
            }
            if len < SHARE_FROM {
                small = small.add(&entry.bytes);
            } else {
                small.flush_into(&mut chunks);
                small = Small::None;
                chunks.push(entry.bytes.clone());
            }
            taken += 1;
            size += len;
            if taken == BATCH {
                break;
            }
        }
        small.flush_into(&mut chunks);
        if chunks.is_empty() {
            Batch::Empty(next)
        } else {
            Batch::Events(chunks, next)
        }
    }

    fn evict(&self, log: &mut Log, now: Instant) {
        evict(&self.shared.config, log, now);
    }

    /// Starts, once, the task that drops events as they expire (see
    /// [`ChannelConfig::max_age`]), if they do and a Tokio runtime is at hand; without one,
    /// they go when the channel is next used, and the task starts then.
    fn expire_in_background(&self) {
        let shared = &self.shared;
        let Some(max_age) = shared.config.max_age else {
            return;
        };
        if shared.expiring.load(Ordering::Relaxed) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        if shared.expiring.swap(true, Ordering::Relaxed) {
            return;
        }
        let weak = Arc::downgrade(shared);
        let mut changes = shared.next_seq.subscribe();
        runtime.spawn(async move {
            loop {
                // The channel is held only while looking, so that the task ends with it.
                let oldest = {
                    let Some(shared) = weak.upgrade() else {
                        return;
                    };
                    let mut log = shared.log.write().unwrap_or_else(PoisonError::into_inner);
                    evict(&shared.config, &mut log, Instant::now());
                    changes.mark_unchanged();
                    log.entries.front().map(|entry| entry.published)
                };
                match oldest {
                    Some(published) => {
                        // Just past its expiry: `evict` drops what is strictly older.
                        let due = published + max_age + Duration::from_millis(1);
                        tokio::time::sleep_until(due).await;
                    }
                    // None kept: wait for one (or for the channel to go).
                    None => {
                        if changes.changed().await.is_err() {
                            return;
                        }
                    }
                }
            }
        });
    }

    fn parse_id(&self, id: &str) -> Option<Key> {
        match &self.shared.ids {
            Ids::Local { epoch } => {
                let (id_epoch, seq) = id.split_once('-')?;
                if id_epoch != epoch {
                    return None;
                }
                Some((0, seq.parse().ok()?))
            }
            #[cfg(feature = "redis")]
            Ids::External => parse_external_id(id),
        }
    }

    /// Without mirrors, no ID is external.
    #[cfg(not(feature = "redis"))]
    fn far_ahead_of_mirror(&self, _log: &Log, _key: Key) -> bool {
        false
    }

    fn read_log(&self) -> std::sync::RwLockReadGuard<'_, Log> {
        self.shared
            .log
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write_log(&self) -> std::sync::RwLockWriteGuard<'_, Log> {
        self.shared
            .log
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Drops the oldest events while the log keeps more than `config` allows (the newest stays,
/// whatever its size), moving the horizon past them.
fn evict(config: &ChannelConfig, log: &mut Log, now: Instant) {
    while let Some(front) = log.entries.front() {
        let too_many = log.entries.len() > config.capacity;
        let too_old = config
            .max_age
            .is_some_and(|age| now.duration_since(front.published) > age);
        let too_big = log.bytes > config.max_bytes && log.entries.len() > 1;
        if !(too_many || too_old || too_big) {
            break;
        }
        log.horizon = front.key;
        log.bytes -= front.bytes.len();
        log.entries.pop_front();
    }
}

/// Where a subscriber at `cursor` starts in `log` (the index of its next entry), or the batch
/// it gets instead: nothing when the log is empty, a resync when its next event has left it.
fn place(log: &Log, cursor: u64) -> Result<usize, Batch> {
    let Some(oldest) = log.entries.front().map(|entry| entry.seq) else {
        return Err(Batch::Empty(cursor));
    };
    if cursor < oldest {
        return Err(Batch::Lagged(resync_frame(log, ResyncReason::TooOld)));
    }
    Ok(usize::try_from(cursor - oldest).unwrap_or(usize::MAX))
}

/// Small frames gathered for one write.
enum Small {
    None,
    /// One frame, the log's own bytes.
    One(Bytes),
    /// Several, copied together.
    Many(BytesMut),
}

impl Small {
    fn add(self, frame: &Bytes) -> Self {
        match self {
            Self::None => Self::One(frame.clone()),
            Self::One(first) => {
                let mut many = BytesMut::with_capacity(first.len() + frame.len());
                many.extend_from_slice(&first);
                many.extend_from_slice(frame);
                Self::Many(many)
            }
            Self::Many(mut many) => {
                many.extend_from_slice(frame);
                Self::Many(many)
            }
        }
    }

    fn flush_into(self, chunks: &mut Vec<Bytes>) {
        match self {
            Self::None => {}
            Self::One(frame) => chunks.push(frame),
            Self::Many(many) => chunks.push(many.freeze()),
        }
    }
}

enum Batch {
    /// Encoded events (shared with the log, or copied together when small), and the cursor
    /// after them.
    Events(Vec<Bytes>, u64),
    /// Nothing new yet (the cursor to go on from: skipped events are passed).
    Empty(u64),
    /// The subscriber's next event has left the log: the resync to send, as of the same look.
    Lagged(Bytes),
}

/// The resync event for a client that cannot resume, carrying the ID of the newest event in
/// `log`: the client's next resume starts after it.
fn resync_frame(log: &Log, reason: ResyncReason) -> Bytes {
    let head = log.entries.back().map_or("", |entry| &entry.id);
    let data = reason.to_data();
    Bytes::from(
        Frame::new()
            .event(RESYNC_EVENT)
            .id(head)
            .data(&data)
            .into_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The chunks of the next batch from `cursor`.
    fn batch(channel: &Channel, cursor: u64, budget: usize) -> (Vec<Bytes>, u64) {
        match channel.read_batch(cursor, (0, 0), budget) {
            Batch::Events(chunks, next) => (chunks, next),
            Batch::Empty(_) => panic!("no events"),
            Batch::Lagged(_) => panic!("lagged"),
        }
    }

    /// The log's own bytes of the event with sequence number `seq`.
    fn kept(channel: &Channel, seq: u64) -> Bytes {
        let log = channel.read_log();
        let entry = log.entries.iter().find(|entry| entry.seq == seq);
        entry.expect("kept").bytes.clone()
    }

    #[test]
    fn large_events_are_shared_with_the_log_not_copied() {
        let channel = Channel::new();
        let large = "x".repeat(200_000);
        channel.publish_data(Some("post"), &large);
        channel.publish_data(Some("post"), &large);
        for subscriber in 0..3 {
            let (chunks, next) = batch(&channel, 1, BATCH_BYTES);
            // One event per batch (each alone is over the budget), pointing into the log.
            assert_eq!(chunks.len(), 1, "subscriber {subscriber}");
            assert_eq!(chunks[0].as_ptr(), kept(&channel, 1).as_ptr());
            assert_eq!(next, 2);
        }
        let (chunks, _) = batch(&channel, 2, BATCH_BYTES);
        assert_eq!(chunks[0].as_ptr(), kept(&channel, 2).as_ptr());
    }

    #[test]
    fn a_live_event_alone_is_sent_without_a_copy() {
        let channel = Channel::new();
        channel.publish_data(Some("tick"), "{}");
        let (chunks, _) = batch(&channel, 1, BATCH_BYTES);
        assert_eq!(chunks.len(), 1);
        assert_eq!(chunks[0].as_ptr(), kept(&channel, 1).as_ptr());
    }

    #[test]
    fn batches_are_bounded_in_bytes_and_small_events_go_together() {
        let channel = Channel::new();
        let data = "y".repeat(1000);
        for _ in 0..200 {
            channel.publish_data(Some("n"), &data);
        }
        let (mut cursor, mut batches, mut total) = (1, 0, 0);
        while cursor <= 200 {
            let (chunks, next) = batch(&channel, cursor, BATCH_BYTES);
            let size: usize = chunks.iter().map(Bytes::len).sum();
            assert!(size <= BATCH_BYTES, "{size} bytes in one write");
            assert_eq!(chunks.len(), 1, "small events copied together");
            total += next - cursor;
            (cursor, batches) = (next, batches + 1);
        }
        assert_eq!(total, 200);
        assert!(batches >= 200 * 1000 / BATCH_BYTES, "{batches} batches");
    }

    #[test]
    fn the_log_is_bounded_in_bytes_and_keeps_the_newest_whatever_its_size() {
        let channel = Channel::with_config(ChannelConfig::default().max_bytes(10_000));
        let ids: Vec<String> = (0..100)
            .map(|_| channel.publish_data(None, &"z".repeat(990)))
            .collect();
        let (kept, bytes) = {
            let log = channel.read_log();
            (log.entries.len(), log.bytes)
        };
        assert!(bytes <= 10_000 && kept >= 9, "{kept} events, {bytes} bytes");
        channel.publish_data(None, &"w".repeat(50_000));
        assert_eq!(channel.len(), 1);
        // A client from before the evicted events is told to resync, not left with a gap.
        let (prefix, _, _) = channel.start(Some(&ids[49]));
        assert!(prefix.is_some());
    }

    #[tokio::test(start_paused = true)]
    async fn expired_events_go_when_they_expire_even_on_an_idle_channel() {
        let config = ChannelConfig::default().max_age(Some(Duration::from_secs(60)));
        let channel = Channel::with_config(config);
        channel.publish_data(None, "old");
        tokio::time::sleep(Duration::from_secs(30)).await;
        channel.publish_data(None, "newer");
        tokio::time::sleep(Duration::from_secs(31)).await;
        // Nobody published or subscribed since: the task dropped the first.
        assert_eq!(channel.len(), 1);
        tokio::time::sleep(Duration::from_secs(30)).await;
        assert_eq!(channel.len(), 0);
        // The task ends with the channel.
        let shared = Arc::downgrade(&channel.shared);
        drop(channel);
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert!(shared.upgrade().is_none());
    }
}
