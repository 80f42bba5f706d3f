//! [`Channel`]: a stream of events with a replay log, so that clients resume without loss.

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use futures_util::stream::{self, Stream};
use tidings_wire::{EncodeError, Frame, TypedEvent};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::EventStream;

/// The event type of the resync signal: see [`Channel`].
pub const RESYNC_EVENT: &str = "tidings-resync";

/// How many log entries a stream sends in one write.
const BATCH: usize = 256;

/// How much a [`Channel`] remembers for replay.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct ChannelConfig {
    capacity: usize,
    max_age: Option<Duration>,
}

impl Default for ChannelConfig {
    fn default() -> Self {
        Self {
            capacity: 10_000,
            max_age: Some(Duration::from_secs(300)),
        }
    }
}

impl ChannelConfig {
    /// Keeps at most `capacity` events for replay (default 10 000).
    ///
    /// # Panics
    ///
    /// If `capacity` is zero.
    pub fn capacity(mut self, capacity: usize) -> Self {
        assert!(capacity > 0, "a channel must keep at least one event");
        self.capacity = capacity;
        self
    }

    /// Keeps events for replay for at most `max_age` (default 5 minutes); `None` keeps them
    /// until `capacity` pushes them out.
    pub fn max_age(mut self, max_age: Option<Duration>) -> Self {
        self.max_age = max_age;
        self
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
    epoch: String,
    log: RwLock<Log>,
    /// The sequence number the next event will get: subscribers wait for it to move.
    next_seq: watch::Sender<u64>,
}

struct Log {
    entries: VecDeque<Entry>,
    next_seq: u64,
}

struct Entry {
    seq: u64,
    published: Instant,
    /// The encoded frame, with its ID.
    bytes: Bytes,
}

impl fmt::Debug for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let log = self.read_log();
        f.debug_struct("Channel")
            .field("epoch", &self.shared.epoch)
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

/// Why a client was sent a resync event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ResyncReason {
    /// The ID is not one this channel made (another server run, or garbage).
    Unknown,
    /// The events after the ID have left the log.
    TooOld,
}

impl ResyncReason {
    fn as_str(self) -> &'static str {
        match self {
            Self::Unknown => "unknown-id",
            Self::TooOld => "too-old",
        }
    }
}

/// Where a subscriber starts.
enum Start {
    At(u64),
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
        Self {
            shared: Arc::new(Shared {
                config,
                epoch: format!("{epoch:x}"),
                log: RwLock::new(Log {
                    entries: VecDeque::new(),
                    next_seq: 1,
                }),
                next_seq: watch::Sender::new(1),
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
    /// If `event_type` contains CR or LF.
    pub fn publish_data(&self, event_type: Option<&str>, data: &str) -> String {
        let mut log = self.write_log();
        let seq = log.next_seq;
        let id = self.id_of(seq);
        let mut frame = Frame::new();
        if let Some(event_type) = event_type {
            frame = frame.event(event_type);
        }
        let frame = frame.id(&id).data(data);
        let now = Instant::now();
        log.entries.push_back(Entry {
            seq,
            published: now,
            bytes: Bytes::from(frame.into_string()),
        });
        log.next_seq = seq + 1;
        self.evict(&mut log, now);
        drop(log);
        self.shared.next_seq.send_replace(seq + 1);
        id
    }

    /// A response streaming this channel's events to one client, resuming after
    /// `last_event_id` when given: see [`Channel`]. Without an ID the client gets live events
    /// only.
    pub fn subscribe(&self, last_event_id: Option<&str>) -> EventStream {
        let (prefix, cursor) = self.start(last_event_id);
        EventStream::from_bytes(stream::iter(prefix).chain(self.follow(cursor)))
    }

    /// One long-poll: the events after `last_event_id` as a complete `text/event-stream`
    /// response, waiting up to `wait` for at least one when there are none yet. For clients that
    /// cannot stream (see the `tidings` client's polling transport): each response ends, and
    /// the client polls again with the ID of the last event it got.
    ///
    /// The response's headers go out at once and its body when the events do, so that a client
    /// sees its poll accepted (and shows itself connected) even on a quiet channel.
    pub fn poll(&self, last_event_id: Option<&str>, wait: Duration) -> EventStream {
        let (prefix, cursor) = self.start(last_event_id);
        let channel = self.clone();
        let body = stream::once(async move { channel.wait_for_events(prefix, cursor, wait).await })
            .filter_map(|body| async move { body });
        EventStream::from_bytes(body).without_keep_alive()
    }

    /// The body of a long-poll: `prefix`, then the events from `cursor` on, waiting up to `wait`
    /// for the first; `None` if there is nothing to send.
    async fn wait_for_events(
        &self,
        prefix: Option<Bytes>,
        mut cursor: u64,
        wait: Duration,
    ) -> Option<Bytes> {
        let mut body = BytesMut::new();
        if let Some(prefix) = prefix {
            body.extend_from_slice(&prefix);
        }
        let mut changes = self.shared.next_seq.subscribe();
        let deadline = Instant::now() + wait;
        loop {
            // Marked before reading, so that an event published after the read wakes the wait.
            changes.mark_unchanged();
            match self.read_batch(cursor) {
                Batch::Events(bytes, next) => {
                    body.extend_from_slice(&bytes);
                    cursor = next;
                    // Whatever else has arrived meanwhile goes in the same response.
                    while let Batch::Events(bytes, next) = self.read_batch(cursor) {
                        body.extend_from_slice(&bytes);
                        cursor = next;
                    }
                    break;
                }
                Batch::Lagged => {
                    body.extend_from_slice(&self.resync_frame(ResyncReason::TooOld));
                    break;
                }
                Batch::Empty if !body.is_empty() => break,
                Batch::Empty => {}
            }
            match tokio::time::timeout_at(deadline, changes.changed()).await {
                Ok(Ok(())) => {}
                // Timed out, or the channel is gone.
                Ok(Err(_)) | Err(_) => break,
            }
        }
        (!body.is_empty()).then(|| body.freeze())
    }

    /// The ID of the newest event, if any is kept.
    #[must_use]
    pub fn last_id(&self) -> Option<String> {
        let log = self.read_log();
        log.entries.back().map(|entry| self.id_of(entry.seq))
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
    fn start(&self, last_event_id: Option<&str>) -> (Option<Bytes>, u64) {
        let mut log = self.write_log();
        self.evict(&mut log, Instant::now());
        let start = match last_event_id {
            None => Start::At(log.next_seq),
            Some(id) => match self.parse_id(id) {
                None => Start::Resync(ResyncReason::Unknown),
                Some(seq) if seq >= log.next_seq => Start::Resync(ResyncReason::Unknown),
                Some(seq) => {
                    let oldest_kept = log.entries.front().map_or(log.next_seq, |entry| entry.seq);
                    if seq + 1 < oldest_kept {
                        Start::Resync(ResyncReason::TooOld)
                    } else {
                        Start::At(seq + 1)
                    }
                }
            },
        };
        let next_seq = log.next_seq;
        drop(log);
        match start {
            Start::At(cursor) => (None, cursor),
            Start::Resync(reason) => (Some(self.resync_frame(reason)), next_seq),
        }
    }

    /// The live part of a subscription: batches from `cursor` on, as events arrive.
    fn follow(&self, cursor: u64) -> impl Stream<Item = Bytes> + Send + 'static {
        let channel = self.clone();
        let changes = self.shared.next_seq.subscribe();
        stream::unfold(
            (channel, changes, cursor),
            |(channel, mut changes, cursor)| async move {
                loop {
                    changes.mark_unchanged();
                    match channel.read_batch(cursor) {
                        Batch::Events(bytes, next) => {
                            return Some((bytes, (channel, changes, next)));
                        }
                        // Its next event has left the log: end the stream; the client reconnects
                        // with its last ID and is told to resync.
                        Batch::Lagged => return None,
                        Batch::Empty => {}
                    }
                    // An error means the channel is gone: end the stream.
                    changes.changed().await.ok()?;
                }
            },
        )
    }

    /// The kept events from `cursor` on, at most [`BATCH`] of them, as one chunk.
    fn read_batch(&self, cursor: u64) -> Batch {
        let log = self.read_log();
        let Some(oldest) = log.entries.front().map(|entry| entry.seq) else {
            return Batch::Empty;
        };
        if cursor < oldest {
            return Batch::Lagged;
        }
        let first = usize::try_from(cursor - oldest).unwrap_or(usize::MAX);
        let mut chunk = BytesMut::new();
        let mut next = cursor;
        for entry in log.entries.iter().skip(first).take(BATCH) {
            chunk.extend_from_slice(&entry.bytes);
            next = entry.seq + 1;
        }
        if chunk.is_empty() {
            Batch::Empty
        } else {
            Batch::Events(chunk.freeze(), next)
        }
    }

    fn resync_frame(&self, reason: ResyncReason) -> Bytes {
        let head = self.last_id().unwrap_or_default();
        let data = format!("{{\"reason\":\"{}\"}}", reason.as_str());
        Bytes::from(
            Frame::new()
                .event(RESYNC_EVENT)
                .id(&head)
                .data(&data)
                .into_string(),
        )
    }

    fn evict(&self, log: &mut Log, now: Instant) {
        let config = &self.shared.config;
        while log.entries.len() > config.capacity {
            log.entries.pop_front();
        }
        if let Some(max_age) = config.max_age {
            while log
                .entries
                .front()
                .is_some_and(|entry| now.duration_since(entry.published) > max_age)
            {
                log.entries.pop_front();
            }
        }
    }

    fn id_of(&self, seq: u64) -> String {
        format!("{}-{seq}", self.shared.epoch)
    }

    fn parse_id(&self, id: &str) -> Option<u64> {
        let (epoch, seq) = id.split_once('-')?;
        if epoch != self.shared.epoch {
            return None;
        }
        seq.parse().ok()
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

enum Batch {
    /// Encoded events, and the cursor after them.
    Events(Bytes, u64),
    /// Nothing new yet.
    Empty,
    /// The subscriber's next event has left the log.
    Lagged,
}
