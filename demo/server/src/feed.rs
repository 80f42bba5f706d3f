//! [`Feed`]: a feed's event log, in this server's memory or shared through Redis
//! (`--redis URL`), behind one interface for the handlers.

use std::time::Duration;

use tidings_axum::redis::{PublishError, RedisChannel, RedisHealth};
use tidings_axum::{Channel, EventStream, TypedEvent};
use tidings_wire::{Event, ReplayLog};

/// Where a feed's events live.
#[derive(Debug, Clone)]
pub enum Feed {
    /// In this server's memory: only its own clients see the events.
    Memory(Channel),
    /// In a Redis stream: every server on the same key delivers them, and clients resume on any.
    Redis(RedisChannel),
}

impl From<Channel> for Feed {
    fn from(channel: Channel) -> Self {
        Self::Memory(channel)
    }
}

/// The feed's recent events, for the server-rendered demo's pages.
impl ReplayLog for Feed {
    fn position(&self) -> Option<String> {
        match self {
            Self::Memory(channel) => channel.position(),
            Self::Redis(channel) => channel.position(),
        }
    }

    fn recent(&self, event_type: &str, count: usize, up_to: &str) -> Vec<Event> {
        match self {
            Self::Memory(channel) => channel.recent(event_type, count, up_to),
            Self::Redis(channel) => channel.recent(event_type, count, up_to),
        }
    }
}

impl Feed {
    /// A stream for one client, resuming after `last_event_id`.
    pub fn subscribe(&self, last_event_id: Option<&str>) -> EventStream {
        match self {
            Self::Memory(channel) => channel.subscribe(last_event_id),
            Self::Redis(channel) => channel.subscribe(last_event_id),
        }
    }

    /// One long-poll.
    pub fn poll(&self, last_event_id: Option<&str>, wait: Duration) -> EventStream {
        match self {
            Self::Memory(channel) => channel.poll(last_event_id, wait),
            Self::Redis(channel) => channel.poll(last_event_id, wait),
        }
    }

    /// Publishes a typed event; returns its ID.
    ///
    /// # Errors
    ///
    /// If it cannot be serialised, or Redis cannot take it.
    pub async fn publish<T: TypedEvent>(&self, event: &T) -> Result<String, PublishError> {
        match self {
            Self::Memory(channel) => Ok(channel.publish(event)?),
            Self::Redis(channel) => channel.publish(event).await,
        }
    }

    /// Publishes events in order (in one round trip to Redis); returns their IDs.
    ///
    /// # Errors
    ///
    /// If Redis cannot take them.
    pub async fn publish_batch(
        &self,
        events: &[(Option<&str>, &str)],
    ) -> Result<Vec<String>, PublishError> {
        match self {
            Self::Memory(channel) => Ok(events
                .iter()
                .map(|(event_type, data)| channel.publish_data(*event_type, data))
                .collect()),
            Self::Redis(channel) => channel.publish_batch(events).await,
        }
    }

    /// Whether the feed's Redis can be reached (`None` for a feed in memory).
    pub fn redis_health(&self) -> Option<RedisHealth> {
        match self {
            Self::Memory(_) => None,
            Self::Redis(channel) => Some(channel.health()),
        }
    }
}
