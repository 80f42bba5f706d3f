//! Which transport the next connection uses: the mode the app asks for ([`TransportMode`]),
//! and, with the `polling` feature, when `TransportMode::Auto` falls back to polling and back
//! (`FallbackPolicy`). Pure, like the state machine: tested natively. Without the feature the
//! chooser only picks the streaming transport, and none of the fallback's code reaches the page.

use std::time::Duration;

use super::failure::Failure;
use super::state::{FallbackReason, Timestamp, Transport};

/// Which transport carries the stream: see [`SseOptions::transport`](crate::SseOptions::transport).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TransportMode {
    /// The browser's `EventSource` (the default): no custom headers, methods or bodies. Its
    /// first reconnect after a drop is the browser's own, with the `Last-Event-ID` header; a
    /// resume the library makes itself goes over `fetch` (see [`ResumeVia`](crate::ResumeVia)).
    #[default]
    EventSource,
    /// `fetch` with a streamed body, parsed in wasm: custom headers (computed afresh for each
    /// connection), `POST` and a body, the HTTP status and content type in view, keep-alives
    /// seen by the watchdog, `retry:` honoured, and faster on busy streams (no DOM event per
    /// message).
    Fetch,
    /// Polls the server's polling endpoint (see [`SseOptions::poll_url`](crate::SseOptions::poll_url)): for when streaming
    /// is impossible. The endpoint is a `tidings-axum` one ([`Channel::poll`]): a server that
    /// answers it 404 or 405 has none, and the connection streams with `fetch` instead (the
    /// state says so once, as [`DisconnectReason::PollingUnavailable`]).
    ///
    /// [`Channel::poll`]: https://docs.rs/tidings-axum/latest/tidings_axum/struct.Channel.html#method.poll
    /// [`DisconnectReason::PollingUnavailable`]: crate::DisconnectReason::PollingUnavailable
    #[cfg(feature = "polling")]
    #[cfg_attr(docsrs, doc(cfg(feature = "polling")))]
    Polling,
    /// Streams with `fetch`, and falls back to polling when streaming keeps failing or stalls
    /// (as behind a buffering proxy), trying to stream again now and then: see
    /// [`FallbackPolicy`]. Against a server with no polling endpoint (any SSE server that is
    /// not `tidings-axum`), it finds none (404 or 405) and keeps streaming, reconnecting with
    /// backoff: it never gives up for want of one.
    #[cfg(feature = "polling")]
    #[cfg_attr(docsrs, doc(cfg(feature = "polling")))]
    Auto,
}

/// When [`TransportMode::Auto`] falls back to polling, and how soon it tries streaming again.
#[cfg(feature = "polling")]
#[cfg_attr(docsrs, doc(cfg(feature = "polling")))]
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct FallbackPolicy {
    pub(crate) after_failures: u32,
    pub(crate) stall_after: Duration,
    pub(crate) retry_streaming_after: Duration,
}

#[cfg(feature = "polling")]
impl Default for FallbackPolicy {
    /// Falls back after 3 failed streaming attempts in a row, or a stream silent (keep-alives
    /// included) for 20 s; tries streaming again after 30 s of polling.
    fn default() -> Self {
        Self {
            after_failures: 3,
            stall_after: Duration::from_secs(20),
            retry_streaming_after: Duration::from_secs(30),
        }
    }
}

#[cfg(feature = "polling")]
impl FallbackPolicy {
    /// Falls back to polling after this many failed streaming attempts in a row.
    pub fn after_failures(mut self, failures: u32) -> Self {
        self.after_failures = failures.max(1);
        self
    }

    /// Falls back to polling when an open stream brings nothing, not even a keep-alive, for
    /// this long: a proxy is buffering it. Set it above the server's keep-alive interval.
    pub fn stall_after(mut self, after: Duration) -> Self {
        self.stall_after = after;
        self
    }

    /// While polling, tries streaming again after this long.
    pub fn retry_streaming_after(mut self, after: Duration) -> Self {
        self.retry_streaming_after = after;
        self
    }
}

/// The streaming transport for `mode`: fetch when the request needs it (an `EventSource` can
/// send no headers, method or body), else the one the mode names.
fn streaming(mode: TransportMode, needs_fetch: bool) -> Transport {
    match mode {
        TransportMode::EventSource if !needs_fetch => Transport::EventSource,
        _ => Transport::Fetch,
    }
}

/// Chooses the transport for each connection: without the `polling` feature, always the
/// streaming one.
#[cfg(not(feature = "polling"))]
#[derive(Debug, Clone)]
pub(crate) struct Chooser {
    streaming: Transport,
}

#[cfg(not(feature = "polling"))]
impl Chooser {
    pub(crate) fn new(mode: TransportMode, needs_fetch: bool) -> Self {
        Self {
            streaming: streaming(mode, needs_fetch),
        }
    }

    pub(crate) fn next(&mut self, _now: Timestamp, _streamable: bool) -> Transport {
        self.streaming
    }

    pub(crate) fn fallback(&self) -> Option<FallbackReason> {
        None
    }

    pub(crate) fn stall_after(&self, _transport: Transport) -> Option<Duration> {
        None
    }

    pub(crate) fn retry_streaming_after(&self) -> Option<Duration> {
        None
    }

    pub(crate) fn active(&mut self, _transport: Transport) {}

    pub(crate) fn failed(&mut self, _: Transport, _: &Failure, _: Timestamp) -> bool {
        false
    }

    pub(crate) fn polling_failed(&mut self, failure: Failure) -> Failure {
        failure
    }
}

/// Chooses the transport for each connection.
#[cfg(feature = "polling")]
#[derive(Debug, Clone)]
pub(crate) struct Chooser {
    mode: TransportMode,
    policy: FallbackPolicy,
    /// The streaming transport: fetch when the request needs it (or in auto mode), else
    /// EventSource.
    streaming: Transport,
    /// Polling since this time, and why.
    polling: Option<(Timestamp, FallbackReason)>,
    /// Streaming failures in a row.
    failures: u32,
    /// The current connection is a try at streaming again, not yet proven.
    trial: bool,
    /// The server has no polling endpoint (it answered 404 or 405): stream, whatever the mode.
    no_polling: bool,
}

#[cfg(feature = "polling")]
impl Chooser {
    pub(crate) fn new(mode: TransportMode, policy: FallbackPolicy, needs_fetch: bool) -> Self {
        Self {
            mode,
            policy,
            streaming: streaming(mode, needs_fetch),
            polling: None,
            failures: 0,
            trial: false,
            no_polling: false,
        }
    }

    /// The transport for the next connection, at `now`; `streamable` says whether the browser
    /// can stream at all (it has `EventSource`, and `fetch` with readable bodies).
    pub(crate) fn next(&mut self, now: Timestamp, streamable: bool) -> Transport {
        if self.no_polling {
            return self.streaming;
        }
        match self.mode {
            TransportMode::Polling => Transport::Polling,
            TransportMode::Auto => {
                if !streamable {
                    self.polling
                        .get_or_insert((now, FallbackReason::Unsupported));
                    return Transport::Polling;
                }
                match self.polling {
                    Some((since, _))
                        if now.0 - since.0
                            >= self.policy.retry_streaming_after.as_secs_f64() * 1000.0 =>
                    {
                        self.trial = true;
                        self.streaming
                    }
                    Some(_) => Transport::Polling,
                    None => self.streaming,
                }
            }
            _ => self.streaming,
        }
    }

    /// Why the connection is polling, when it fell back.
    pub(crate) fn fallback(&self) -> Option<FallbackReason> {
        self.polling.map(|(_, reason)| reason)
    }

    /// How long an open stream may stay silent before it counts as stalled, in auto mode.
    pub(crate) fn stall_after(&self, transport: Transport) -> Option<Duration> {
        (self.mode == TransportMode::Auto && transport != Transport::Polling)
            .then_some(self.policy.stall_after)
    }

    /// When to try streaming again, while polling in auto mode.
    pub(crate) fn retry_streaming_after(&self) -> Option<Duration> {
        (self.mode == TransportMode::Auto && self.polling.is_some())
            .then_some(self.policy.retry_streaming_after)
    }

    /// Data arrived on `transport`: a stream that brings data works.
    pub(crate) fn active(&mut self, transport: Transport) {
        if transport != Transport::Polling {
            self.failures = 0;
            if self.trial {
                self.trial = false;
                self.polling = None;
            }
        }
    }

    /// `transport` failed with `failure` at `now`. Returns whether the next connection polls
    /// because of it.
    pub(crate) fn failed(
        &mut self,
        transport: Transport,
        failure: &Failure,
        now: Timestamp,
    ) -> bool {
        if self.mode != TransportMode::Auto || transport == Transport::Polling || self.no_polling {
            return false;
        }
        if self.trial {
            // Streaming still does not work: back to polling, and wait again before the next try.
            self.trial = false;
            let reason = self.fallback().unwrap_or(FallbackReason::StreamingFailed);
            self.polling = Some((now, reason));
            return true;
        }
        let reason = match failure {
            Failure::Stalled => Some(FallbackReason::Stalled),
            Failure::Network | Failure::Status { .. } => {
                self.failures += 1;
                (self.failures >= self.policy.after_failures)
                    .then_some(FallbackReason::StreamingFailed)
            }
            Failure::WrongContentType(_)
            | Failure::PollingUnavailable { .. }
            | Failure::InvalidRequest(_)
            | Failure::InvalidUrl(_) => None,
        };
        match reason {
            Some(reason) => {
                self.polling = Some((now, reason));
                self.failures = 0;
                true
            }
            None => false,
        }
    }
}

#[cfg(feature = "polling")]
impl Chooser {
    /// The polling endpoint failed with `failure`. A 404 or 405 means the server has none (a
    /// standard SSE server, say): the connection streams from now on, whatever the mode, and the
    /// machine hears of a missing endpoint, not of a refusal that would end the connection for
    /// good. Returns the failure as the machine should see it.
    pub(crate) fn polling_failed(&mut self, failure: Failure) -> Failure {
        match failure {
            Failure::Status {
                status: status @ (404 | 405),
                ..
            } => {
                self.no_polling = true;
                self.polling = None;
                self.trial = false;
                Failure::PollingUnavailable { status }
            }
            other => other,
        }
    }
}

#[cfg(all(test, feature = "polling"))]
mod tests {
    use super::*;
    use std::time::Duration;

    fn auto() -> Chooser {
        let policy = FallbackPolicy::default()
            .after_failures(2)
            .retry_streaming_after(Duration::from_secs(30));
        Chooser::new(TransportMode::Auto, policy, false)
    }

    fn at(seconds: f64) -> Timestamp {
        Timestamp(seconds * 1000.0)
    }

    #[test]
    fn explicit_modes_never_switch() {
        for (mode, needs_fetch, expected) in [
            (TransportMode::EventSource, false, Transport::EventSource),
            (TransportMode::EventSource, true, Transport::Fetch),
            (TransportMode::Fetch, false, Transport::Fetch),
            (TransportMode::Polling, false, Transport::Polling),
        ] {
            let mut chooser = Chooser::new(mode, FallbackPolicy::default(), needs_fetch);
            for _ in 0..5 {
                assert!(!chooser.failed(expected, &Failure::Stalled, at(0.0)));
            }
            assert_eq!(chooser.next(at(100.0), true), expected, "{mode:?}");
            assert_eq!(chooser.stall_after(expected), None);
        }
    }

    #[test]
    fn auto_streams_then_polls_after_failures_in_a_row() {
        let mut chooser = auto();
        assert_eq!(chooser.next(at(0.0), true), Transport::Fetch);
        assert!(!chooser.failed(Transport::Fetch, &Failure::Network, at(1.0)));
        // A stream that brings data resets the count.
        chooser.active(Transport::Fetch);
        assert!(!chooser.failed(Transport::Fetch, &Failure::Network, at(2.0)));
        assert!(chooser.failed(Transport::Fetch, &Failure::Network, at(3.0)));
        assert_eq!(chooser.next(at(3.0), true), Transport::Polling);
        assert_eq!(chooser.fallback(), Some(FallbackReason::StreamingFailed));
    }

    #[test]
    fn auto_polls_at_once_when_a_stream_stalls_and_tries_again_later() {
        let mut chooser = auto();
        chooser.next(at(0.0), true);
        assert_eq!(
            chooser.stall_after(Transport::Fetch),
            Some(Duration::from_secs(20))
        );
        assert!(chooser.failed(Transport::Fetch, &Failure::Stalled, at(10.0)));
        assert_eq!(chooser.next(at(10.0), true), Transport::Polling);
        assert_eq!(chooser.fallback(), Some(FallbackReason::Stalled));
        assert_eq!(chooser.next(at(39.0), true), Transport::Polling, "not yet");

        // 30 s on: a try at streaming. It opens but stalls again: back to polling, for 30 s more.
        assert_eq!(chooser.next(at(40.0), true), Transport::Fetch);
        assert!(chooser.failed(Transport::Fetch, &Failure::Stalled, at(45.0)));
        assert_eq!(chooser.next(at(46.0), true), Transport::Polling);
        assert_eq!(chooser.next(at(74.0), true), Transport::Polling);

        // The next try brings data: streaming again, for good.
        assert_eq!(chooser.next(at(76.0), true), Transport::Fetch);
        chooser.active(Transport::Fetch);
        assert_eq!(chooser.fallback(), None);
        assert_eq!(chooser.next(at(77.0), true), Transport::Fetch);
    }

    #[test]
    fn auto_polls_when_the_browser_cannot_stream() {
        let mut chooser = auto();
        assert_eq!(chooser.next(at(0.0), false), Transport::Polling);
        assert_eq!(chooser.fallback(), Some(FallbackReason::Unsupported));
    }

    #[test]
    fn a_missing_poll_endpoint_means_streaming_for_good() {
        for status in [404, 405] {
            let missing = || Failure::Status {
                status,
                retry_after: None,
                body: String::new(),
            };
            // Auto, after a stall: polls, finds no endpoint, streams again and stays streaming.
            let mut chooser = auto();
            chooser.failed(Transport::Fetch, &Failure::Stalled, at(0.0));
            assert_eq!(chooser.next(at(0.0), true), Transport::Polling);
            assert_eq!(
                chooser.polling_failed(missing()),
                Failure::PollingUnavailable { status }
            );
            assert_eq!(chooser.next(at(1.0), true), Transport::Fetch);
            assert_eq!(chooser.fallback(), None);
            assert!(!chooser.failed(Transport::Fetch, &Failure::Stalled, at(2.0)));
            assert_eq!(chooser.next(at(3.0), true), Transport::Fetch);
            assert_eq!(chooser.next(at(100.0), true), Transport::Fetch);

            // Polling asked for: streams instead.
            let mut chooser =
                Chooser::new(TransportMode::Polling, FallbackPolicy::default(), false);
            assert_eq!(chooser.next(at(0.0), true), Transport::Polling);
            chooser.polling_failed(missing());
            assert_eq!(chooser.next(at(1.0), true), Transport::Fetch);
        }
        // Other polling failures are the machine's business.
        let mut chooser = auto();
        let refused = Failure::Status {
            status: 503,
            retry_after: None,
            body: String::new(),
        };
        assert_eq!(chooser.polling_failed(refused.clone()), refused);
        assert!(!chooser.no_polling);
    }

    #[test]
    fn polling_failures_are_the_machines_business() {
        let mut chooser = auto();
        chooser.failed(Transport::Fetch, &Failure::Stalled, at(0.0));
        assert!(!chooser.failed(Transport::Polling, &Failure::Network, at(1.0)));
        assert_eq!(chooser.next(at(2.0), true), Transport::Polling);
    }
}
