//! [`RedisChannel`]: a [`Channel`] whose log lives in a Redis stream, shared by several servers
//! (feature `redis`).
//!
//! Every server that opens the same stream key keeps a local mirror of the stream's recent
//! events, fed by one `XREAD` loop; its clients subscribe to the mirror exactly as to a
//! [`Channel`]. Publishing on any server is an `XADD`, which every server's loop then delivers to
//! its clients. Event IDs are the Redis stream IDs, the same on every server, so a client that
//! resumes on another server (no sticky sessions) gets exactly the events it missed, and one
//! too far behind gets the same `tidings-resync` event as with an in-memory channel.
//!
//! When Redis is down, servers keep their clients' streams open (quiet, with keep-alives),
//! publishing fails with [`PublishError::Unavailable`], [`RedisChannel::health`] says so, and the
//! loop reconnects with backoff; once Redis is back, the mirrors catch up from where they
//! stopped, so clients miss nothing that Redis kept. The loop runs supervised: entries that
//! would corrupt a stream are skipped with a warning, and should the loop itself panic, health
//! turns `Down` with the panic's message and the loop starts again. Give Redis persistence (`appendonly yes`)
//! for a restart to keep the stream.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use redis::AsyncConnectionConfig;
use redis::aio::MultiplexedConnection;
use redis::streams::{StreamId, StreamRangeReply, StreamReadReply};
use tidings_wire::frame::check_event_type;
use tidings_wire::{ReplayLog, TypedEvent};
use tokio::sync::watch;

use crate::channel::{Key, parse_external_id};
use crate::{Channel, ChannelConfig, EventStream};

/// The stream entry field holding the event type (absent for `message`).
const TYPE_FIELD: &str = "t";
/// The stream entry field holding the event data.
const DATA_FIELD: &str = "d";
/// How long one `XREAD` waits for new entries before asking again.
const BLOCK: Duration = Duration::from_secs(5);
/// How many entries one read brings at most.
const READ_COUNT: usize = 1_000;
/// The first and the longest wait between two attempts to reach Redis.
const BACKOFF: (Duration, Duration) = (Duration::from_millis(100), Duration::from_secs(5));

/// Whether a [`RedisChannel`] can reach Redis.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RedisHealth {
    /// Not connected yet since the channel was opened.
    Starting,
    /// Connected: the mirror follows the stream.
    Up,
    /// Redis cannot be reached, or the mirroring task stopped on a bug (`error` says which);
    /// the channel retries with backoff, starting the task again. Live streams stay open but
    /// quiet, and publishing fails, until it is back.
    Down {
        /// What went wrong last.
        error: String,
        /// Since when, in milliseconds since the Unix epoch.
        since_ms: u64,
    },
}

pub use crate::PublishError;

/// How a [`RedisChannel`] is set up.
#[derive(Debug, Clone)]
#[must_use]
pub struct RedisConfig {
    url: String,
    key: String,
    channel: ChannelConfig,
    max_len: usize,
}

impl RedisConfig {
    /// The stream `key` on the Redis server at `url` (`redis://host:port/db`). The local
    /// mirror keeps what [`ChannelConfig::default`] keeps, and Redis about as much.
    pub fn new(url: impl Into<String>, key: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            key: key.into(),
            channel: ChannelConfig::default(),
            max_len: ChannelConfig::default().capacity_value(),
        }
    }

    /// How much each server's mirror keeps for replay; Redis keeps at least as many entries
    /// (`XADD ... MAXLEN ~`).
    pub fn channel(mut self, channel: ChannelConfig) -> Self {
        self.max_len = channel.capacity_value();
        self.channel = channel;
        self
    }
}

/// A channel whose events live in a Redis stream, shared by every server that opens the same
/// key: see the [module documentation](self). Cheap to clone; clones share the mirror. The
/// background loop stops when the last clone is dropped.
#[derive(Clone)]
pub struct RedisChannel {
    mirror: Channel,
    shared: Arc<Shared>,
}

struct Shared {
    key: String,
    max_len: usize,
    client: redis::Client,
    /// The publishing connection, made on first use and dropped on error.
    publisher: tokio::sync::Mutex<Publisher>,
    health: watch::Sender<RedisHealth>,
    /// The mirroring loop, stopped with the channel.
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

/// The connection publishes go through.
enum Publisher {
    None,
    Connected(MultiplexedConnection),
    /// The last attempt to connect failed, at this time: publishes fail at once until
    /// [`CONNECT_AGAIN_AFTER`] has passed, rather than each waiting out a connect, unless the
    /// health has changed since (the mirror found Redis back): the receiver tells.
    Failed(Instant, String, watch::Receiver<RedisHealth>),
}

/// How long after a failed connect publishing fails without trying again.
const CONNECT_AGAIN_AFTER: Duration = Duration::from_secs(1);

impl Drop for Shared {
    fn drop(&mut self) {
        if let Some(task) = self
            .task
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            task.abort();
        }
    }
}

impl std::fmt::Debug for RedisChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisChannel")
            .field("key", &self.shared.key)
            .field("health", &*self.shared.health.borrow())
            .field("mirror", &self.mirror)
            .finish()
    }
}

impl RedisChannel {
    /// Opens the channel and starts mirroring in the background (so it must be called inside a
    /// tokio runtime). Redis need not be up: the channel connects when it can, and
    /// [`RedisChannel::health`] tells.
    ///
    /// # Errors
    ///
    /// If the URL is not a Redis URL.
    pub fn open(config: RedisConfig) -> Result<Self, redis::RedisError> {
        let client = redis::Client::open(config.url.as_str())?;
        let shared = Arc::new(Shared {
            key: config.key,
            max_len: config.max_len,
            client,
            publisher: tokio::sync::Mutex::new(Publisher::None),
            health: watch::Sender::new(RedisHealth::Starting),
            task: Mutex::new(None),
        });
        let mirror = Channel::mirror(config.channel);
        let task = tokio::spawn(follow(Arc::downgrade(&shared), mirror.clone()));
        *shared.task.lock().unwrap_or_else(PoisonError::into_inner) = Some(task);
        Ok(Self { mirror, shared })
    }

    /// A router serving the stream and its polling endpoint at `path`: see
    /// [`Channel::routes`].
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

    /// A response streaming the events to one client, resuming after `last_event_id`: see
    /// [`Channel::subscribe`].
    pub fn subscribe(&self, last_event_id: Option<&str>) -> EventStream {
        self.mirror.subscribe(last_event_id)
    }

    /// A response streaming the events to one client at `pace`: see
    /// [`Channel::subscribe_paced`]. Coalescing follows the [`ChannelConfig`] given in
    /// [`RedisConfig::channel`], applied on each server as it mirrors the events.
    pub fn subscribe_paced(&self, last_event_id: Option<&str>, pace: crate::Pace) -> EventStream {
        self.mirror.subscribe_paced(last_event_id, pace)
    }

    /// One long-poll: see [`Channel::poll`].
    pub fn poll(&self, last_event_id: Option<&str>, wait: Duration) -> EventStream {
        self.mirror.poll(last_event_id, wait)
    }

    /// Publishes a typed event to the clients of every server. Returns its ID.
    ///
    /// # Errors
    ///
    /// If the event cannot be serialised, or Redis cannot take it.
    pub async fn publish<T: TypedEvent>(&self, event: &T) -> Result<String, PublishError> {
        let data = event.encode()?;
        self.publish_data(Some(T::NAME), &data).await
    }

    /// Publishes an event of type `event_type` (`None` for `message`) with `data`. Returns
    /// its ID.
    ///
    /// # Errors
    ///
    /// [`PublishError::Unavailable`] if Redis cannot take it,
    /// [`PublishError::InvalidEventType`] if `event_type` contains CR or LF.
    pub async fn publish_data(
        &self,
        event_type: Option<&str>,
        data: &str,
    ) -> Result<String, PublishError> {
        let mut ids = self.publish_batch(&[(event_type, data)]).await?;
        ids.pop()
            .ok_or_else(|| PublishError::Unavailable("Redis answered no ID".into()))
    }

    /// Publishes several events in one round trip (a pipeline of `XADD`s), in order. Returns
    /// their IDs.
    ///
    /// # Errors
    ///
    /// [`PublishError::Unavailable`] if Redis cannot take them (some may have been
    /// published); [`PublishError::InvalidEventType`] if an event type contains CR or LF, in
    /// which case none is.
    pub async fn publish_batch(
        &self,
        events: &[(Option<&str>, &str)],
    ) -> Result<Vec<String>, PublishError> {
        for (event_type, _) in events {
            if let Some(event_type) = event_type {
                check_event_type(event_type)?;
            }
        }
        let mut pipeline = redis::pipe();
        for (event_type, data) in events {
            pipeline.add_command(self.xadd(*event_type, data));
        }
        // Multiplexed: every publish shares the connection, none waits behind another's query.
        let mut connection = self.publisher().await?;
        match pipeline.query_async::<Vec<String>>(&mut connection).await {
            Ok(ids) => Ok(ids),
            Err(error) => {
                // Made afresh next time.
                *self.shared.publisher.lock().await = Publisher::None;
                Err(PublishError::Unavailable(Box::new(error)))
            }
        }
    }

    /// The `XADD` of one event.
    fn xadd(&self, event_type: Option<&str>, data: &str) -> redis::Cmd {
        let mut command = redis::cmd("XADD");
        command
            .arg(&self.shared.key)
            .arg("MAXLEN")
            .arg("~")
            .arg(self.shared.max_len)
            .arg("*");
        if let Some(event_type) = event_type {
            command.arg(TYPE_FIELD).arg(event_type);
        }
        command.arg(DATA_FIELD).arg(data);
        command
    }

    /// The publishing connection, made if there is none. While the mirror finds Redis down,
    /// publishing fails at once with its error rather than each publish waiting out a connect
    /// of its own; the lock is held only to make or copy the connection, never across a
    /// query, and one connect serves every publish waiting for it.
    async fn publisher(&self) -> Result<MultiplexedConnection, PublishError> {
        if let RedisHealth::Down { error, .. } = self.health() {
            return Err(PublishError::Unavailable(
                format!("Redis is down: {error}").into(),
            ));
        }
        let mut publisher = self.shared.publisher.lock().await;
        match &*publisher {
            Publisher::Connected(connection) => return Ok(connection.clone()),
            Publisher::Failed(at, error, health)
                if at.elapsed() < CONNECT_AGAIN_AFTER && !health.has_changed().unwrap_or(true) =>
            {
                return Err(PublishError::Unavailable(
                    format!("cannot connect to Redis: {error}").into(),
                ));
            }
            Publisher::Failed(..) | Publisher::None => {}
        }
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(5)));
        match self
            .shared
            .client
            .get_multiplexed_async_connection_with_config(&config)
            .await
        {
            Ok(connection) => {
                *publisher = Publisher::Connected(connection.clone());
                Ok(connection)
            }
            Err(error) => {
                *publisher = Publisher::Failed(
                    Instant::now(),
                    error.to_string(),
                    self.shared.health.subscribe(),
                );
                Err(PublishError::Unavailable(Box::new(error)))
            }
        }
    }

    /// Whether Redis can be reached now.
    #[must_use]
    pub fn health(&self) -> RedisHealth {
        self.shared.health.borrow().clone()
    }

    /// The ID of the newest event mirrored here, if any.
    #[must_use]
    pub fn last_id(&self) -> Option<String> {
        self.mirror.last_id()
    }
}

/// The events mirrored here, for pages rendered on the server: see [`ReplayLog`]. Every server
/// mirroring the stream shares its IDs, so a page rendered by one resumes on any other.
impl ReplayLog for RedisChannel {
    fn position(&self) -> Option<String> {
        self.mirror.position()
    }

    fn recent(&self, event_type: &str, count: usize, up_to: &str) -> Vec<tidings_wire::Event> {
        self.mirror.recent(event_type, count, up_to)
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| {
            u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
        })
}

/// The mirroring loop: connect, catch up, follow; on any error, report it, wait, and again.
async fn follow(shared: std::sync::Weak<Shared>, mirror: Channel) {
    let Some(strong) = shared.upgrade() else {
        return;
    };
    let (key, health) = (strong.key.clone(), strong.health.clone());
    drop(strong);
    supervise(&key, &health, BACKOFF, move || {
        let shared = shared.upgrade()?;
        let (client, key, capacity, health) = (
            shared.client.clone(),
            shared.key.clone(),
            shared.max_len,
            shared.health.clone(),
        );
        let mirror = mirror.clone();
        Some(async move {
            mirror_stream(&client, &key, capacity, &mirror, &health)
                .await
                // Kept as text for the health signal, which clients of the channel read.
                .map_err(|error| error.to_string())
        })
    })
    .await;
}

/// Runs `attempt` as a task of its own, again and again with `backoff` between, until it
/// returns `None` (the channel is gone) or a task ends with `Ok`. A task that fails or panics
/// turns health `Down` with the cause until the next one reports `Up`: a bug in the mirror
/// shows on the health endpoint and heals, instead of leaving the channel up and silent. (With
/// `panic = "abort"` a panic ends the process instead, as anywhere else.)
async fn supervise<F, A>(
    key: &str,
    health: &watch::Sender<RedisHealth>,
    backoff: (Duration, Duration),
    mut attempt: F,
) where
    F: FnMut() -> Option<A>,
    A: Future<Output = Result<(), String>> + Send + 'static,
{
    let mut wait = backoff.0;
    while let Some(run) = attempt() {
        let mut task = AbortOnDrop(tokio::spawn(run));
        let error = match (&mut task.0).await {
            Ok(Ok(())) => return,
            Ok(Err(error)) => error,
            Err(stopped) => {
                let error = format!("the mirror stopped: {}", panic_message(stopped));
                tracing::error!(key, "{error}; starting it again");
                error
            }
        };
        let was_up = *health.borrow() == RedisHealth::Up;
        health.send_if_modified(|state| match state {
            RedisHealth::Down { error: last, .. } => {
                let changed = *last != error;
                last.clone_from(&error);
                changed
            }
            _ => {
                *state = RedisHealth::Down {
                    error: error.clone(),
                    since_ms: now_ms(),
                };
                true
            }
        });
        if was_up {
            tracing::error!(key, "lost Redis: {error}; retrying");
            wait = backoff.0;
        } else {
            tracing::warn!(key, "cannot reach Redis: {error}; retrying in {wait:?}");
        }
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(backoff.1);
    }
}

/// What a stopped task said.
fn panic_message(stopped: tokio::task::JoinError) -> String {
    if !stopped.is_panic() {
        return "it was cancelled".to_owned();
    }
    let payload = stopped.into_panic();
    let text = payload
        .downcast_ref::<&str>()
        .map(|text| (*text).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned());
    match text {
        Some(text) => format!("it panicked: {text}"),
        None => "it panicked".to_owned(),
    }
}

/// A task that is aborted when its handle is dropped, so that stopping the supervisor stops
/// the mirror it runs.
struct AbortOnDrop(tokio::task::JoinHandle<Result<(), String>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Connects, brings the mirror up to date, then follows the stream until an error.
async fn mirror_stream(
    client: &redis::Client,
    key: &str,
    capacity: usize,
    mirror: &Channel,
    health: &watch::Sender<RedisHealth>,
) -> Result<(), redis::RedisError> {
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(2)))
        .set_response_timeout(Some(BLOCK + Duration::from_secs(5)));
    let mut connection = client
        .get_multiplexed_async_connection_with_config(&config)
        .await?;
    if mirror.newest_key() == (0, 0) {
        backfill(&mut connection, key, capacity, mirror).await?;
    } else {
        check_for_hole(&mut connection, key, mirror).await?;
    }
    if health.send_replace(RedisHealth::Up) != RedisHealth::Up {
        tracing::info!(key, "following the Redis stream");
    }
    loop {
        let (ms, n) = mirror.newest_key();
        let reply: Option<StreamReadReply> = redis::cmd("XREAD")
            .arg("COUNT")
            .arg(READ_COUNT)
            .arg("BLOCK")
            .arg(u64::try_from(BLOCK.as_millis()).unwrap_or(5_000))
            .arg("STREAMS")
            .arg(key)
            .arg(format!("{ms}-{n}"))
            .query_async(&mut connection)
            .await?;
        for stream in reply.into_iter().flat_map(|reply| reply.keys) {
            for entry in &stream.ids {
                append(mirror, entry);
            }
        }
    }
}

/// Loads the newest `capacity` entries into an empty mirror, and marks what is older as gone.
async fn backfill(
    connection: &mut MultiplexedConnection,
    key: &str,
    capacity: usize,
    mirror: &Channel,
) -> Result<(), redis::RedisError> {
    // One more than kept: the oldest one read marks the horizon.
    let reply: StreamRangeReply = redis::cmd("XREVRANGE")
        .arg(key)
        .arg("+")
        .arg("-")
        .arg("COUNT")
        .arg(capacity + 1)
        .query_async(connection)
        .await?;
    let mut entries = reply.ids;
    entries.reverse();
    if entries.len() > capacity
        && let Some(key) = parse_external_id(&entries[0].id)
    {
        mirror.reset_external(key);
        entries.remove(0);
    }
    for entry in &entries {
        append(mirror, entry);
    }
    Ok(())
}

/// After a reconnect: if Redis dropped entries the mirror never saw (it trimmed them, or lost
/// them in a restart without persistence), clients resuming from before the hole must resync.
async fn check_for_hole(
    connection: &mut MultiplexedConnection,
    key: &str,
    mirror: &Channel,
) -> Result<(), redis::RedisError> {
    let newest = mirror.newest_key();
    // The oldest entry Redis still has after the newest mirrored, and the one just before.
    let next: StreamRangeReply = redis::cmd("XRANGE")
        .arg(key)
        .arg(format!("({}-{}", newest.0, newest.1))
        .arg("+")
        .arg("COUNT")
        .arg(1)
        .query_async(&mut *connection)
        .await?;
    let Some(next) = next.ids.first() else {
        return Ok(());
    };
    let Some(next_key) = parse_external_id(&next.id) else {
        return Ok(());
    };
    let previous: StreamRangeReply = redis::cmd("XREVRANGE")
        .arg(key)
        .arg(format!("({}-{}", next_key.0, next_key.1))
        .arg("-")
        .arg("COUNT")
        .arg(1)
        .query_async(&mut *connection)
        .await?;
    let previous: Option<Key> = previous
        .ids
        .first()
        .and_then(|entry| parse_external_id(&entry.id));
    // No hole when the entry before the next one is the newest mirrored.
    if previous != Some(newest) {
        tracing::warn!(
            key,
            "Redis no longer has every entry after {}-{}: clients from before resync",
            newest.0,
            newest.1
        );
        // Everything before the next entry counts as gone.
        let horizon = if next_key.1 > 0 {
            (next_key.0, next_key.1 - 1)
        } else {
            (next_key.0.saturating_sub(1), u64::MAX)
        };
        mirror.reset_external(horizon);
    }
    Ok(())
}

/// Appends one stream entry to the mirror (entries it has already are skipped).
fn append(mirror: &Channel, entry: &StreamId) {
    let Some(key) = parse_external_id(&entry.id) else {
        tracing::warn!(
            id = entry.id,
            "skipping a stream entry with an unexpected ID"
        );
        return;
    };
    let event_type: Option<String> = entry.get(TYPE_FIELD);
    let data: String = entry.get(DATA_FIELD).unwrap_or_default();
    if let Err(error) = mirror.append_external(&entry.id, key, event_type.as_deref(), &data) {
        tracing::warn!(
            id = entry.id,
            %error,
            "skipping a stream entry whose event type would corrupt the stream"
        );
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    const QUICK: (Duration, Duration) = (Duration::from_millis(10), Duration::from_millis(40));

    /// Waits until health matches, for at most a second of (paused) time.
    async fn until(health: &mut watch::Receiver<RedisHealth>, wanted: fn(&RedisHealth) -> bool) {
        tokio::time::timeout(Duration::from_secs(1), health.wait_for(wanted))
            .await
            .expect("health did not change in time")
            .expect("the health sender is alive");
    }

    #[tokio::test(start_paused = true)]
    async fn a_mirror_that_panics_shows_down_with_the_cause_and_is_started_again() {
        let health = watch::Sender::new(RedisHealth::Starting);
        let mut seen = health.subscribe();
        let runs = Arc::new(AtomicUsize::new(0));
        let supervisor = tokio::spawn({
            let (health, runs) = (health.clone(), Arc::clone(&runs));
            async move {
                supervise("k", &health.clone(), QUICK, move || {
                    let (health, run) = (health.clone(), runs.fetch_add(1, Ordering::SeqCst));
                    Some(async move {
                        health.send_replace(RedisHealth::Up);
                        assert!(run > 0, "a bug in the mirror");
                        std::future::pending::<Result<(), String>>().await
                    })
                })
                .await;
            }
        });
        until(&mut seen, |state| {
            matches!(state, RedisHealth::Down { error, .. }
                if error == "the mirror stopped: it panicked: a bug in the mirror")
        })
        .await;
        until(&mut seen, |state| *state == RedisHealth::Up).await;
        assert_eq!(
            runs.load(Ordering::SeqCst),
            2,
            "started once more, not in a loop"
        );
        supervisor.abort();
    }

    #[tokio::test(start_paused = true)]
    async fn stopping_the_supervisor_stops_the_mirror_it_runs() {
        let health = watch::Sender::new(RedisHealth::Starting);
        let (dropped, mut on_drop) = watch::channel(false);
        struct Flag(watch::Sender<bool>);
        impl Drop for Flag {
            fn drop(&mut self) {
                self.0.send_replace(true);
            }
        }
        let flag = Arc::new(Mutex::new(Some(Flag(dropped))));
        let supervisor = tokio::spawn(async move {
            supervise("k", &health, QUICK, move || {
                let flag = flag.lock().unwrap_or_else(PoisonError::into_inner).take();
                Some(async move {
                    let _flag = flag;
                    std::future::pending::<Result<(), String>>().await
                })
            })
            .await;
        });
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert!(!*on_drop.borrow());
        supervisor.abort();
        tokio::time::timeout(Duration::from_secs(1), on_drop.wait_for(|dropped| *dropped))
            .await
            .expect("the mirror task was not stopped")
            .expect("the flag was dropped");
    }

    #[tokio::test(start_paused = true)]
    async fn a_mirror_that_fails_is_retried_with_backoff_and_ends_when_the_channel_is_gone() {
        let health = watch::Sender::new(RedisHealth::Starting);
        let mut seen = health.subscribe();
        let started = tokio::time::Instant::now();
        let runs = AtomicUsize::new(0);
        supervise("k", &health, QUICK, || {
            (runs.fetch_add(1, Ordering::SeqCst) < 4).then_some(async { Err("refused".to_owned()) })
        })
        .await;
        assert_eq!(runs.load(Ordering::SeqCst), 5);
        // 10 + 20 + 40 + 40 ms of backoff between the four attempts and the end.
        assert!(
            started.elapsed() >= Duration::from_millis(110),
            "{:?}",
            started.elapsed()
        );
        until(
            &mut seen,
            |state| matches!(state, RedisHealth::Down { error, .. } if error == "refused"),
        )
        .await;
    }
}
