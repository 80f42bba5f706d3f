//! When and how to reconnect: [`ReconnectPolicy`] and the connection state machine.
//!
//! Everything here is pure: the machine takes inputs (what the transport saw, what the app asked,
//! the time) and returns actions (connect, disconnect, start a timer), so that it is tested
//! natively with a fake clock. The browser glue in `connection.rs` only carries them out.

use std::time::Duration;

pub(crate) use super::failure::Failure;
use super::failure::permanent;
use super::state::{
    ConnectionState, DisconnectReason, FailReason, FallbackReason, PauseReason, Timestamp,
    Transport,
};

/// How the library reconnects after a connection is lost: exponential backoff with jitter.
///
/// The `n`th attempt in a row waits `base × multiplier^(n-1)`, capped at `max_delay`, then
/// shortened by a random fraction of up to `jitter` (so that many clients cut off together do not
/// come back together). `base` is the server's `retry:` when it sent one, else `initial_delay`.
/// The count of attempts starts again once a connection has stayed open for `healthy_after`.
///
/// ```
/// use std::time::Duration;
/// use tidings::ReconnectPolicy;
///
/// let policy = ReconnectPolicy::default()
///     .initial_delay(Duration::from_millis(500))
///     .max_delay(Duration::from_secs(10))
///     .max_attempts(8);
/// ```
#[derive(Debug, Clone, PartialEq)]
#[must_use]
pub struct ReconnectPolicy {
    pub(crate) initial_delay: Duration,
    pub(crate) max_delay: Duration,
    pub(crate) multiplier: f64,
    pub(crate) jitter: f64,
    pub(crate) max_attempts: Option<u32>,
    pub(crate) healthy_after: Duration,
}

impl Default for ReconnectPolicy {
    /// 1 s at first, doubling up to 30 s, up to half of it as jitter, no attempt limit, the count
    /// reset after 5 s open.
    fn default() -> Self {
        Self {
            initial_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(30),
            multiplier: 2.0,
            jitter: 0.5,
            max_attempts: None,
            healthy_after: Duration::from_secs(5),
        }
    }
}

impl ReconnectPolicy {
    /// The wait before the first attempt, when the server sent no `retry:` (default 1 s).
    pub fn initial_delay(mut self, delay: Duration) -> Self {
        self.initial_delay = delay;
        self
    }

    /// The longest wait between attempts (default 30 s). A server's `retry:` longer than this
    /// is still honoured.
    pub fn max_delay(mut self, delay: Duration) -> Self {
        self.max_delay = delay;
        self
    }

    /// How much each wait grows over the last (default 2).
    ///
    /// # Panics
    ///
    /// If `multiplier` is below 1 or not finite.
    #[track_caller]
    pub fn multiplier(mut self, multiplier: f64) -> Self {
        assert!(
            multiplier.is_finite() && multiplier >= 1.0,
            "the backoff multiplier must be at least 1"
        );
        self.multiplier = multiplier;
        self
    }

    /// The largest fraction taken off a wait at random (default 0.5); 0 for none.
    ///
    /// # Panics
    ///
    /// If `jitter` is not between 0 and 1.
    #[track_caller]
    pub fn jitter(mut self, jitter: f64) -> Self {
        assert!(
            (0.0..=1.0).contains(&jitter),
            "jitter is a fraction between 0 and 1"
        );
        self.jitter = jitter;
        self
    }

    /// Gives up after this many failed attempts in a row (default: never). The state then
    /// becomes [`ConnectionState::Failed`] with [`FailReason::AttemptsExhausted`].
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = Some(attempts);
        self
    }

    /// How long a connection must stay open to count as healthy, which starts the count of
    /// attempts again (default 5 s). A server that accepts and then drops at once is thus still
    /// backed off from.
    pub fn healthy_after(mut self, duration: Duration) -> Self {
        self.healthy_after = duration;
        self
    }

    /// The wait before attempt number `attempt` (1 for the first after a loss), given the
    /// server's `retry:` if any and `random`, a number in `[0, 1)`.
    #[must_use]
    pub fn delay(&self, attempt: u32, server_retry: Option<Duration>, random: f64) -> Duration {
        let base = server_retry.unwrap_or(self.initial_delay).as_secs_f64();
        let cap = self.max_delay.as_secs_f64().max(base);
        let exponent = i32::try_from(attempt.saturating_sub(1)).unwrap_or(i32::MAX);
        let grown = (base * self.multiplier.powi(exponent)).min(cap);
        let jittered = grown * (1.0 - self.jitter * random.clamp(0.0, 1.0));
        // In whole microseconds, by a cast that saturates: `Duration::from_secs_f64` panics on
        // a NaN or an overflow (a policy can be odd), and links its messages into every page.
        Duration::from_micros((jittered * 1e6) as u64)
    }
}

/// How long a browser's `EventSource` waits before reconnecting by itself when the server sent
/// no `retry:` (Chromium's default; Firefox waits 5 s).
pub(crate) const BROWSER_RETRY: Duration = Duration::from_secs(3);

/// How much longer than its expected delay the browser's own reconnect may take before the
/// library stops waiting for it and reconnects by itself.
pub(crate) const BROWSER_GRACE: Duration = Duration::from_secs(3);

/// What the machine is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Input {
    /// Connect (a URL was set).
    Start,
    /// The transport is open (and, when it fell back to polling, why).
    Opened(Transport, Option<FallbackReason>),
    /// The transport failed.
    Failed(Failure),
    /// The open `EventSource` lost its connection and the browser is reconnecting by itself,
    /// with the `Last-Event-ID` header that a new `EventSource` could not send.
    BrowserRetrying,
    /// The server asked for this reconnection time (`retry:`).
    ServerRetry(Duration),
    /// The backoff timer fired.
    Timer,
    /// The app asked to connect now (`Sse::open`).
    ConnectNow,
    /// The app closed the connection.
    Close,
    /// The browser went offline / came back online.
    Offline,
    Online,
    /// The page was hidden / shown (only when pausing hidden pages).
    Hidden,
    Visible,
    /// The app paused / resumed the connection.
    Pause,
    Resume,
}

/// What the machine asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    /// Open a transport (resuming from the last event ID).
    Connect,
    /// Drop the transport.
    Disconnect,
    /// Fire [`Input::Timer`] after this long (replacing any timer).
    StartTimer(Duration),
    /// Cancel the timer.
    CancelTimer,
    /// The attempt limit was reached.
    GaveUp,
}

/// Where the machine stands.
#[derive(Debug, Clone, PartialEq)]
enum Phase {
    Idle,
    Connecting,
    Open {
        since: Timestamp,
        transport: Transport,
        fallback: Option<FallbackReason>,
    },
    Waiting {
        at: Timestamp,
        reason: DisconnectReason,
    },
    /// The browser is reconnecting by itself, due at `at`; the timer stands guard.
    BrowserRetrying {
        at: Timestamp,
    },
    Paused(PauseReason),
    Closed,
    Failed(FailReason),
}

/// The connection state machine: see the [module documentation](self).
#[derive(Debug, Clone)]
pub(crate) struct Machine {
    policy: ReconnectPolicy,
    phase: Phase,
    /// Failed attempts in a row.
    failures: u32,
    server_retry: Option<Duration>,
    rng: u64,
}

impl Machine {
    /// A machine following `policy`, its jitter drawn from a generator seeded with `seed`.
    pub(crate) fn new(policy: ReconnectPolicy, seed: u64) -> Self {
        Self {
            policy,
            phase: Phase::Idle,
            failures: 0,
            server_retry: None,
            rng: seed | 1,
        }
    }

    /// The state to show.
    pub(crate) fn state(&self) -> ConnectionState {
        match &self.phase {
            Phase::Idle => ConnectionState::Idle,
            Phase::Connecting => ConnectionState::Connecting {
                attempt: self.failures + 1,
            },
            Phase::Open {
                since,
                transport,
                fallback,
            } => ConnectionState::Open {
                transport: *transport,
                since: *since,
                fallback: *fallback,
            },
            Phase::Waiting { at, reason } => ConnectionState::Reconnecting {
                attempt: self.failures,
                at: *at,
                reason: reason.clone(),
            },
            Phase::BrowserRetrying { at } => ConnectionState::Reconnecting {
                attempt: self.failures,
                at: *at,
                reason: DisconnectReason::Network,
            },
            Phase::Paused(reason) => ConnectionState::Paused { reason: *reason },
            Phase::Closed => ConnectionState::Closed,
            Phase::Failed(reason) => ConnectionState::Failed {
                reason: reason.clone(),
            },
        }
    }

    /// Takes `input` at time `now` and returns what to do.
    pub(crate) fn handle(&mut self, input: Input, now: Timestamp) -> Vec<Action> {
        match input {
            Input::Start => {
                self.failures = 0;
                self.connect(true)
            }
            Input::ConnectNow => {
                if matches!(self.phase, Phase::Closed | Phase::Failed(_) | Phase::Idle) {
                    self.failures = 0;
                }
                self.connect(true)
            }
            Input::Opened(transport, fallback) => {
                // The browser's own reconnect came in time: its guard is no longer needed.
                let guarded = matches!(self.phase, Phase::BrowserRetrying { .. });
                if guarded || self.phase == Phase::Connecting {
                    self.phase = Phase::Open {
                        since: now,
                        transport,
                        fallback,
                    };
                }
                if guarded {
                    vec![Action::CancelTimer]
                } else {
                    Vec::new()
                }
            }
            Input::Failed(failure) => self.fail(failure, now, false),
            Input::BrowserRetrying => self.fail(Failure::Network, now, true),
            Input::ServerRetry(delay) => {
                self.server_retry = Some(delay);
                Vec::new()
            }
            Input::Timer => match self.phase {
                // The backoff is over, or the browser did not reconnect in time: connect.
                Phase::Waiting { .. } | Phase::BrowserRetrying { .. } => self.connect(false),
                _ => Vec::new(),
            },
            Input::Close => {
                self.phase = Phase::Closed;
                vec![Action::CancelTimer, Action::Disconnect]
            }
            Input::Pause => match self.phase {
                Phase::Closed | Phase::Failed(_) | Phase::Idle => Vec::new(),
                _ => {
                    self.phase = Phase::Paused(PauseReason::App);
                    vec![Action::CancelTimer, Action::Disconnect]
                }
            },
            Input::Resume => match self.phase {
                Phase::Paused(PauseReason::App) => {
                    self.failures = 0;
                    self.connect(true)
                }
                _ => Vec::new(),
            },
            Input::Offline | Input::Hidden => {
                let reason = if input == Input::Offline {
                    PauseReason::Offline
                } else {
                    PauseReason::Hidden
                };
                match self.phase {
                    Phase::Connecting
                    | Phase::Open { .. }
                    | Phase::Waiting { .. }
                    | Phase::BrowserRetrying { .. } => {
                        self.phase = Phase::Paused(reason);
                        vec![Action::CancelTimer, Action::Disconnect]
                    }
                    // Offline while hidden (or the reverse) stays paused, for the first reason.
                    _ => Vec::new(),
                }
            }
            Input::Online | Input::Visible => match self.phase {
                // Each pause is lifted by its own cause only: online for offline, shown for
                // hidden; a pause by the app only by the app.
                Phase::Paused(PauseReason::Offline) if input == Input::Online => {
                    self.failures = 0;
                    self.connect(true)
                }
                Phase::Paused(PauseReason::Hidden) if input == Input::Visible => {
                    self.failures = 0;
                    self.connect(true)
                }
                // Back online while waiting to retry: retry now rather than later.
                Phase::Waiting { .. } | Phase::BrowserRetrying { .. } if input == Input::Online => {
                    self.connect(true)
                }
                _ => Vec::new(),
            },
        }
    }

    fn connect(&mut self, cancel_timer: bool) -> Vec<Action> {
        self.phase = Phase::Connecting;
        let mut actions = Vec::with_capacity(3);
        if cancel_timer {
            actions.push(Action::CancelTimer);
        }
        actions.extend([Action::Disconnect, Action::Connect]);
        actions
    }

    /// The connection failed with `failure`. `browser_retrying`: the browser is reconnecting
    /// the open `EventSource` by itself, and the first attempt of a loss is left to it (it sends
    /// `Last-Event-ID`, which the library cannot on a new `EventSource`); a later one, or one
    /// that does not come in time, the library makes itself, with backoff.
    fn fail(&mut self, failure: Failure, now: Timestamp, browser_retrying: bool) -> Vec<Action> {
        let since = match self.phase {
            Phase::Connecting | Phase::BrowserRetrying { .. } => None,
            Phase::Open { since, .. } => Some(since),
            // A late report from a transport already given up on.
            _ => return Vec::new(),
        };
        if let Some(reason) = permanent(&failure) {
            self.phase = Phase::Failed(reason);
            return vec![Action::Disconnect];
        }
        // A connection that stayed open long enough was healthy: start counting again.
        if let Some(since) = since
            && now.0 - since.0 >= self.policy.healthy_after.as_secs_f64() * 1000.0
        {
            self.failures = 0;
        }
        self.failures += 1;
        if let Some(limit) = self.policy.max_attempts
            && self.failures > limit
        {
            self.phase = Phase::Failed(FailReason::AttemptsExhausted { attempts: limit });
            return vec![Action::Disconnect, Action::GaveUp];
        }
        if browser_retrying && since.is_some() && self.failures == 1 {
            let expected = self.server_retry.unwrap_or(BROWSER_RETRY);
            let at = Timestamp(now.0 + expected.as_secs_f64() * 1000.0);
            self.phase = Phase::BrowserRetrying { at };
            return vec![Action::StartTimer(expected + BROWSER_GRACE)];
        }
        let random = self.random();
        let mut delay = self.policy.delay(self.failures, self.server_retry, random);
        let reason = match failure {
            Failure::Status {
                status,
                retry_after,
                ..
            } => {
                if let Some(retry_after) = retry_after {
                    delay = delay.max(retry_after);
                }
                DisconnectReason::Status(status)
            }
            Failure::Stalled => DisconnectReason::Stalled,
            Failure::PollingUnavailable { status } => DisconnectReason::PollingUnavailable(status),
            Failure::Network
            | Failure::WrongContentType(_)
            | Failure::InvalidRequest(_)
            | Failure::InvalidUrl(_) => DisconnectReason::Network,
        };
        let at = Timestamp(now.0 + delay.as_secs_f64() * 1000.0);
        self.phase = Phase::Waiting { at, reason };
        vec![Action::Disconnect, Action::StartTimer(delay)]
    }

    /// A number in `[0, 1)` (xorshift64*).
    fn random(&mut self) -> f64 {
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        let bits = self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11;
        bits as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests;
