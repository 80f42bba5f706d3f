//! [`AnyChannel`]: one channel type for an app whose log lives in this server's memory in one
//! deployment and in Redis in another, chosen at start-up.

use std::time::Duration;

use tidings_wire::{Event, ReplayLog, TypedEvent};

use crate::{Channel, ChannelConfig, EventStream};

/// Why an event could not be published.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PublishError {
    /// The event could not be serialised.
    #[error(transparent)]
    Encode(#[from] tidings_wire::EncodeError),
    /// The log could not be reached (Redis is down), or refused the event; nothing was
    /// published. Its [`source`](std::error::Error::source) says why.
    #[error("the event log is unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// An event type contains CR or LF; nothing was published.
    #[error(transparent)]
    InvalidEventType(#[from] tidings_wire::InvalidEventType),
}

/// A [`Channel`] in this server's memory, or (feature `redis`) a
/// [`RedisChannel`](crate::redis::RedisChannel) shared by several servers, behind one type:
/// handlers, publishers and server-side rendering take an `AnyChannel` and work with either.
///
/// Publishing is `async` for both (a memory channel publishes at once). It is cheap to clone:
/// clones share the log.
///
/// ```
/// use axum::Router;
/// use tidings_axum::{AnyChannel, ChannelConfig};
///
/// # async fn run(redis_url: Option<String>) -> Result<(), Box<dyn std::error::Error>> {
/// let ticker = match redis_url {
///     #[cfg(feature = "redis")]
///     Some(url) => AnyChannel::from(tidings_axum::redis::RedisChannel::open(
///         tidings_axum::redis::RedisConfig::new(url, "ticker"),
///     )?),
///     _ => AnyChannel::memory(ChannelConfig::default()),
/// };
/// let app: Router = ticker.routes("/api/ticker");
/// ticker.publish_data(Some("tick"), "{\"price\":101.5}").await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct AnyChannel {
    backend: Backend,
}

#[derive(Debug, Clone)]
enum Backend {
    Memory(Channel),
    #[cfg(feature = "redis")]
    Redis(crate::redis::RedisChannel),
}

impl From<Channel> for AnyChannel {
    fn from(channel: Channel) -> Self {
        Self {
            backend: Backend::Memory(channel),
        }
    }
}

#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
impl From<crate::redis::RedisChannel> for AnyChannel {
    fn from(channel: crate::redis::RedisChannel) -> Self {
        Self {
            backend: Backend::Redis(channel),
        }
    }
}

impl AnyChannel {
    /// A channel in this server's memory, keeping what `config` says.
    pub fn memory(config: ChannelConfig) -> Self {
        Channel::with_config(config).into()
    }

    /// The channel in memory, if that is where it lives.
    #[must_use]
    pub fn as_memory(&self) -> Option<&Channel> {
        match &self.backend {
            Backend::Memory(channel) => Some(channel),
            #[cfg(feature = "redis")]
            Backend::Redis(_) => None,
        }
    }

    /// The Redis channel, if that is where it lives.
    #[cfg(feature = "redis")]
    #[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
    #[must_use]
    pub fn as_redis(&self) -> Option<&crate::redis::RedisChannel> {
        match &self.backend {
            Backend::Memory(_) => None,
            Backend::Redis(channel) => Some(channel),
        }
    }

    /// Whether the channel's Redis can be reached: `None` for a channel in memory.
    #[cfg(feature = "redis")]
    #[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
    #[must_use]
    pub fn redis_health(&self) -> Option<crate::redis::RedisHealth> {
        self.as_redis().map(crate::redis::RedisChannel::health)
    }

    /// A stream for one client, resuming after `last_event_id`: see [`Channel::subscribe`].
    pub fn subscribe(&self, last_event_id: Option<&str>) -> EventStream {
        match &self.backend {
            Backend::Memory(channel) => channel.subscribe(last_event_id),
            #[cfg(feature = "redis")]
            Backend::Redis(channel) => channel.subscribe(last_event_id),
        }
    }

    /// A stream for one client at `pace`: see [`Channel::subscribe_paced`].
    pub fn subscribe_paced(&self, last_event_id: Option<&str>, pace: crate::Pace) -> EventStream {
        match &self.backend {
            Backend::Memory(channel) => channel.subscribe_paced(last_event_id, pace),
            #[cfg(feature = "redis")]
            Backend::Redis(channel) => channel.subscribe_paced(last_event_id, pace),
        }
    }

    /// One long-poll: see [`Channel::poll`].
    pub fn poll(&self, last_event_id: Option<&str>, wait: Duration) -> EventStream {
        match &self.backend {
            Backend::Memory(channel) => channel.poll(last_event_id, wait),
            #[cfg(feature = "redis")]
            Backend::Redis(channel) => channel.poll(last_event_id, wait),
        }
    }

    /// The stream at `path` and its polling endpoint: see [`Channel::routes`].
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

    /// Publishes a typed event; returns its ID.
    ///
    /// # Errors
    ///
    /// [`PublishError::Encode`] if it cannot be serialised, [`PublishError::Unavailable`] if
    /// Redis cannot take it.
    pub async fn publish<T: TypedEvent>(&self, event: &T) -> Result<String, PublishError> {
        match &self.backend {
            Backend::Memory(channel) => Ok(channel.publish(event)?),
            #[cfg(feature = "redis")]
            Backend::Redis(channel) => channel.publish(event).await,
        }
    }

    /// Publishes an event of type `event_type` (`None` for `message`) with `data`; returns its
    /// ID.
    ///
    /// # Errors
    ///
    /// [`PublishError::InvalidEventType`] if `event_type` contains CR or LF,
    /// [`PublishError::Unavailable`] if Redis cannot take it.
    pub async fn publish_data(
        &self,
        event_type: Option<&str>,
        data: &str,
    ) -> Result<String, PublishError> {
        match &self.backend {
            Backend::Memory(channel) => Ok(channel.try_publish_data(event_type, data)?),
            #[cfg(feature = "redis")]
            Backend::Redis(channel) => channel.publish_data(event_type, data).await,
        }
    }

    /// Publishes events in order (in one round trip to Redis); returns their IDs.
    ///
    /// # Errors
    ///
    /// [`PublishError::InvalidEventType`] if an event type contains CR or LF, in which case
    /// none is published; [`PublishError::Unavailable`] if Redis cannot take them.
    pub async fn publish_batch(
        &self,
        events: &[(Option<&str>, &str)],
    ) -> Result<Vec<String>, PublishError> {
        match &self.backend {
            Backend::Memory(channel) => {
                for (event_type, _) in events {
                    if let Some(event_type) = event_type {
                        tidings_wire::frame::check_event_type(event_type)?;
                    }
                }
                Ok(events
                    .iter()
                    .map(|(event_type, data)| channel.publish_data(*event_type, data))
                    .collect())
            }
            #[cfg(feature = "redis")]
            Backend::Redis(channel) => channel.publish_batch(events).await,
        }
    }

    /// The ID of the newest event this server holds, if any.
    #[must_use]
    pub fn last_id(&self) -> Option<String> {
        match &self.backend {
            Backend::Memory(channel) => channel.last_id(),
            #[cfg(feature = "redis")]
            Backend::Redis(channel) => channel.last_id(),
        }
    }
}

/// The channel's recent events, for pages rendered on the server (`tidings::ssr`).
impl ReplayLog for AnyChannel {
    fn position(&self) -> Option<String> {
        match &self.backend {
            Backend::Memory(channel) => channel.position(),
            #[cfg(feature = "redis")]
            Backend::Redis(channel) => channel.position(),
        }
    }

    fn recent(&self, event_type: &str, count: usize, up_to: &str) -> Vec<Event> {
        match &self.backend {
            Backend::Memory(channel) => channel.recent(event_type, count, up_to),
            #[cfg(feature = "redis")]
            Backend::Redis(channel) => channel.recent(event_type, count, up_to),
        }
    }
}

impl crate::routes::Serve for AnyChannel {
    fn stream(&self, last_event_id: Option<&str>) -> EventStream {
        self.subscribe(last_event_id)
    }

    fn long_poll(&self, last_event_id: Option<&str>, wait: Duration) -> EventStream {
        self.poll(last_event_id, wait)
    }
}
