//! [`Pace`]: subscribers written to at most once per interval, with superseded events left out.

use std::collections::HashSet;
use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::{Instant, Sleep};

use super::{Batch, Channel, Key, Small, place};

/// How many of the events waiting for a paced write are looked at together, at most: events
/// supersede one another within such a window.
const WINDOW: usize = 4096;

/// How often a paced subscriber is written to: see [`Channel::subscribe_paced`].
///
/// A paced subscriber gets at most one write per interval. An event that comes after a quiet
/// interval goes out at once; what comes within the interval after a write waits for the next
/// one, and goes out with the others in one write. Of the events waiting, those of a type that
/// [coalesces](crate::ChannelConfig::coalesce) are sent only as the newest of their group (the
/// latest price per symbol, say); every other event is sent, in order.
///
/// Resuming stays exact: each write ends with the newest event waiting (which nothing
/// supersedes), so the client's `Last-Event-ID` is always the newest event it has been told
/// about, and a client that reconnects gets everything after it, paced the same way. A
/// backlog (a resume, or a client that fell behind) goes out as fast as the client takes it,
/// coalesced 4 096 events at a time, and the pace applies again once it has caught up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Pace {
    interval: Duration,
}

impl Pace {
    /// At most one write per `interval`.
    ///
    /// # Panics
    ///
    /// If `interval` is zero.
    #[must_use]
    #[track_caller]
    pub fn every(interval: Duration) -> Self {
        assert!(!interval.is_zero(), "a pace's interval must not be zero");
        Self { interval }
    }

    /// At most `writes` writes a second.
    ///
    /// # Panics
    ///
    /// If `writes` is zero.
    #[must_use]
    #[track_caller]
    pub fn per_second(writes: u32) -> Self {
        assert!(writes > 0, "a pace needs at least one write a second");
        Self::every(Duration::from_secs(1) / writes)
    }

    /// The least time between two writes.
    #[must_use]
    pub fn interval(self) -> Duration {
        self.interval
    }
}

/// Reads an event's group from its data.
type GroupKey = dyn Fn(&str) -> Option<String> + Send + Sync;

/// One type's grouping for [`ChannelConfig::coalesce`](crate::ChannelConfig::coalesce).
#[derive(Clone)]
pub(super) struct Grouping {
    event_type: Box<str>,
    key: Arc<GroupKey>,
}

impl Grouping {
    pub(super) fn new(
        event_type: &str,
        key: impl Fn(&str) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        Self {
            event_type: event_type.into(),
            key: Arc::new(key),
        }
    }

    pub(super) fn event_type(&self) -> &str {
        &self.event_type
    }

    /// The group of an event of this type with `data`, if its key can be read from it.
    pub(super) fn group(&self, data: &str) -> Option<Box<str>> {
        (self.key)(data).map(Into::into)
    }
}

impl fmt::Debug for Grouping {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Grouping")
            .field("event_type", &self.event_type)
            .finish_non_exhaustive()
    }
}

/// A paced stream's clock: when it may be written to next.
pub(super) struct Pacing {
    interval: Duration,
    next_write: Pin<Box<Sleep>>,
    /// Whether a write went out less than an interval ago.
    waiting: bool,
}

impl Pacing {
    pub(super) fn new(pace: Pace) -> Self {
        Self {
            interval: pace.interval,
            next_write: Box::pin(tokio::time::sleep(Duration::ZERO)),
            waiting: false,
        }
    }

    /// Whether the stream may be written to now; if not, the task is woken when it may.
    pub(super) fn poll_ready(&mut self, cx: &mut std::task::Context<'_>) -> bool {
        if self.waiting {
            if self.next_write.as_mut().poll(cx).is_pending() {
                return false;
            }
            self.waiting = false;
        }
        true
    }

    /// A write went out: the next waits an interval.
    pub(super) fn wrote(&mut self) {
        self.next_write
            .as_mut()
            .reset(Instant::now() + self.interval);
        self.waiting = true;
    }
}

impl Channel {
    /// The kept events from `cursor` on whose key is past `after`, as [`Channel::read_batch`]
    /// reads them, but leaving out those that a newer one waiting supersedes (within
    /// [`WINDOW`] events), and whether more are waiting after the batch.
    pub(super) fn read_paced(&self, cursor: u64, after: Key, budget: usize) -> (Batch, bool) {
        let log = self.read_log();
        let first = match place(&log, cursor) {
            Ok(first) => first,
            Err(batch) => return (batch, false),
        };
        let window: Vec<_> = log.entries.iter().skip(first).take(WINDOW).collect();
        // From the newest back: an event is superseded when a newer one of its group waits.
        let mut groups = HashSet::new();
        let superseded: Vec<bool> = window
            .iter()
            .rev()
            .map(|entry| entry.group.as_deref().is_some_and(|g| !groups.insert(g)))
            .collect();
        let mut chunks = Vec::new();
        let mut small = Small::None;
        let mut next = cursor;
        let mut size = 0;
        for (entry, superseded) in window.iter().zip(superseded.iter().rev()) {
            if *superseded || entry.key <= after {
                next = entry.seq + 1;
                continue;
            }
            let len = entry.bytes.len();
            if size > 0 && size + len > budget {
                break;
            }
            next = entry.seq + 1;
            small = small.add(&entry.bytes);
            size += len;
        }
        small.flush_into(&mut chunks);
        let more = next < log.next_seq;
        if chunks.is_empty() {
            (Batch::Empty(next), more)
        } else {
            (Batch::Events(chunks, next), more)
        }
    }
}
