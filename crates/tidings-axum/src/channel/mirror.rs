//! A [`Channel`] as the mirror of another log (a Redis stream, see [`crate::redis`]): its
//! events are appended with that log's IDs instead of published, and IDs from the log that this
//! mirror has not seen yet are told apart from IDs of another stream.

use std::time::Duration;

use tidings_wire::InvalidEventType;
use tidings_wire::frame::check_event_type;

use super::{Channel, ChannelConfig, Ids, Key, Log};

/// How far (in the milliseconds of its IDs) an external ID may be ahead of the newest event a
/// mirror holds and still be taken for an event not mirrored yet.
const MIRROR_LAG: Duration = Duration::from_secs(60);

impl Log {
    /// The key of the newest event kept, or the horizon if none is.
    pub(super) fn newest_key(&self) -> Key {
        self.entries.back().map_or(self.horizon, |entry| entry.key)
    }
}

impl Channel {
    /// A channel whose events come from another log, with that log's IDs: see
    /// [`Channel::append_external`].
    pub(crate) fn mirror(config: ChannelConfig) -> Self {
        Self::with_ids(config, Ids::External)
    }

    /// Appends an event that got `id` (with order `key`) in the log this channel mirrors.
    /// Returns `Ok(false)`, appending nothing, unless `key` is newer than every event kept.
    ///
    /// # Errors
    ///
    /// Entries come from outside the program: one whose type would corrupt the stream is
    /// refused with [`InvalidEventType`] (for the mirror to log), never a panic.
    pub(crate) fn append_external(
        &self,
        id: &str,
        key: Key,
        event_type: Option<&str>,
        data: &str,
    ) -> Result<bool, InvalidEventType> {
        if let Some(event_type) = event_type {
            check_event_type(event_type)?;
        }
        let group = self.shared.config.group_of(event_type, data);
        let mut log = self.write_log();
        if key <= log.newest_key() {
            return Ok(false);
        }
        let seq = log.next_seq;
        self.push(&mut log, key, id, (event_type, group), data);
        drop(log);
        self.announce(seq + 1);
        Ok(true)
    }

    /// Forgets every event kept, and declares that the events up to `horizon` are lost: clients
    /// resuming from before it resync. For a mirror that found a hole in what it mirrors.
    pub(crate) fn reset_external(&self, horizon: Key) {
        let mut log = self.write_log();
        log.entries.clear();
        log.bytes = 0;
        log.horizon = log.horizon.max(horizon);
    }

    /// The key of the newest event kept, or the horizon if none is.
    pub(crate) fn newest_key(&self) -> Key {
        self.read_log().newest_key()
    }

    /// Whether `key` is an external ID so far ahead of everything mirrored that it is not a lag
    /// but an ID from another stream.
    pub(super) fn far_ahead_of_mirror(&self, log: &Log, key: Key) -> bool {
        let newest = log.newest_key();
        matches!(self.shared.ids, Ids::External)
            && newest != (0, 0)
            && key.0 > newest.0.saturating_add(MIRROR_LAG.as_millis() as u64)
    }
}

/// The order of a Redis-style ID, `<ms>-<n>`.
pub(crate) fn parse_external_id(id: &str) -> Option<Key> {
    let (ms, n) = id.split_once('-')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(ms) || !digits(n) {
        return None;
    }
    Some((ms.parse().ok()?, n.parse().ok()?))
}
