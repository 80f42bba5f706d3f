use super::*;
use proptest::prelude::*;

const SECOND: f64 = 1000.0;

fn at(seconds: f64) -> Timestamp {
    Timestamp(seconds * SECOND)
}

fn no_jitter() -> ReconnectPolicy {
    ReconnectPolicy::default().jitter(0.0)
}

fn machine(policy: ReconnectPolicy) -> Machine {
    Machine::new(policy, 42)
}

/// The timer a failure starts, if any.
fn timer(actions: &[Action]) -> Option<Duration> {
    actions.iter().find_map(|action| match action {
        Action::StartTimer(delay) => Some(*delay),
        _ => None,
    })
}

fn network() -> Input {
    Input::Failed(Failure::Network)
}

#[test]
fn backoff_doubles_up_to_the_cap() {
    let policy = no_jitter()
        .initial_delay(Duration::from_secs(1))
        .max_delay(Duration::from_secs(10));
    let delays: Vec<u64> = (1..=6)
        .map(|n| policy.delay(n, None, 0.0).as_secs())
        .collect();
    assert_eq!(delays, [1, 2, 4, 8, 10, 10]);
}

#[test]
fn server_retry_is_the_base_and_is_honoured_above_the_cap() {
    let policy = no_jitter().max_delay(Duration::from_secs(10));
    assert_eq!(
        policy.delay(1, Some(Duration::from_millis(300)), 0.0),
        Duration::from_millis(300)
    );
    assert_eq!(
        policy.delay(2, Some(Duration::from_millis(300)), 0.0),
        Duration::from_millis(600)
    );
    // A server asking for 60 s gets 60 s, even with a 10 s cap.
    assert_eq!(
        policy.delay(3, Some(Duration::from_secs(60)), 0.0),
        Duration::from_secs(60)
    );
}

proptest! {
    #[test]
    fn jitter_stays_within_its_bounds(attempt in 1u32..40, random in 0.0f64..1.0, jitter in 0.0f64..=1.0) {
        let policy = ReconnectPolicy::default().jitter(jitter);
        let full = policy.clone().jitter(0.0).delay(attempt, None, 0.0).as_secs_f64();
        let got = policy.delay(attempt, None, random).as_secs_f64();
        prop_assert!(got <= full + 1e-9, "{got} > {full}");
        prop_assert!(got >= full * (1.0 - jitter) - 1e-9, "{got} < {}", full * (1.0 - jitter));
    }
}

#[test]
fn the_machine_draws_different_jitter_each_time() {
    let mut m = machine(ReconnectPolicy::default().healthy_after(Duration::from_secs(1)));
    let mut delays = Vec::new();
    m.handle(Input::Start, at(0.0));
    for round in 0..20 {
        let t = f64::from(round) * 100.0;
        m.handle(Input::Opened(Transport::EventSource, None), at(t));
        // Open 10 s each time: healthy, so every delay is a first attempt's.
        let actions = m.handle(network(), at(t + 10.0));
        delays.push(timer(&actions).expect("a timer"));
        m.handle(Input::Timer, at(t + 11.0));
    }
    assert!(
        delays
            .iter()
            .all(|d| *d <= Duration::from_secs(1) && *d >= Duration::from_millis(500))
    );
    delays.sort();
    delays.dedup();
    assert!(delays.len() > 10, "jitter should vary: {delays:?}");
}

#[test]
fn lifecycle_connect_open_lose_wait_reconnect() {
    let mut m = machine(no_jitter());
    assert_eq!(m.state(), ConnectionState::Idle);
    assert_eq!(
        m.handle(Input::Start, at(0.0)),
        [Action::CancelTimer, Action::Disconnect, Action::Connect]
    );
    assert_eq!(m.state(), ConnectionState::Connecting { attempt: 1 });
    m.handle(Input::Opened(Transport::EventSource, None), at(0.5));
    assert_eq!(
        m.state(),
        ConnectionState::Open {
            transport: Transport::EventSource,
            since: at(0.5),
            fallback: None
        }
    );

    let actions = m.handle(network(), at(1.0));
    assert_eq!(
        actions,
        [
            Action::Disconnect,
            Action::StartTimer(Duration::from_secs(1))
        ]
    );
    assert_eq!(
        m.state(),
        ConnectionState::Reconnecting {
            attempt: 1,
            at: at(2.0),
            reason: DisconnectReason::Network
        }
    );
    assert_eq!(
        m.handle(Input::Timer, at(2.0)),
        [Action::Disconnect, Action::Connect]
    );
    assert_eq!(m.state(), ConnectionState::Connecting { attempt: 2 });
}

#[test]
fn failures_in_a_row_back_off_and_a_healthy_connection_resets_the_count() {
    let mut m = machine(no_jitter());
    m.handle(Input::Start, at(0.0));
    let mut waits = Vec::new();
    let mut now = 0.0;
    for _ in 0..4 {
        let actions = m.handle(network(), at(now)); // fails while connecting
        let delay = timer(&actions).expect("a timer");
        waits.push(delay.as_secs());
        now += delay.as_secs_f64();
        m.handle(Input::Timer, at(now));
    }
    assert_eq!(waits, [1, 2, 4, 8]);

    // Opens, but drops after 1 s: not healthy, the backoff keeps growing.
    m.handle(Input::Opened(Transport::EventSource, None), at(now));
    let delay = timer(&m.handle(network(), at(now + 1.0))).expect("a timer");
    assert_eq!(delay.as_secs(), 16);
    now += 1.0 + 16.0;
    m.handle(Input::Timer, at(now));

    // Opens and stays up 5 s (healthy_after): the next loss starts from the first delay.
    m.handle(Input::Opened(Transport::EventSource, None), at(now));
    let delay = timer(&m.handle(network(), at(now + 5.0))).expect("a timer");
    assert_eq!(delay.as_secs(), 1);
}

#[test]
fn server_retry_sets_the_machines_base() {
    let mut m = machine(no_jitter());
    m.handle(Input::Start, at(0.0));
    m.handle(Input::Opened(Transport::EventSource, None), at(0.0));
    m.handle(Input::ServerRetry(Duration::from_millis(250)), at(0.0));
    let delay = timer(&m.handle(network(), at(10.0))).expect("a timer");
    assert_eq!(delay, Duration::from_millis(250));
}

#[test]
fn the_attempt_limit_fails_and_says_so() {
    let mut m = machine(no_jitter().max_attempts(2));
    m.handle(Input::Start, at(0.0));
    let mut now = 0.0;
    for _ in 0..2 {
        let delay = timer(&m.handle(network(), at(now))).expect("a timer");
        now += delay.as_secs_f64();
        m.handle(Input::Timer, at(now));
    }
    assert_eq!(
        m.handle(network(), at(now)),
        [Action::Disconnect, Action::GaveUp]
    );
    assert_eq!(
        m.state(),
        ConnectionState::Failed {
            reason: FailReason::AttemptsExhausted { attempts: 2 }
        }
    );
    // Opening again by hand starts a fresh count.
    m.handle(Input::ConnectNow, at(now + 1.0));
    assert_eq!(m.state(), ConnectionState::Connecting { attempt: 1 });
}

#[test]
fn permanent_failures_give_up_at_once_without_a_timer() {
    let table = [
        (
            Failure::Status {
                status: 204,
                retry_after: None,
                body: String::new(),
            },
            FailReason::ServerSaidStop,
        ),
        (
            Failure::Status {
                status: 401,
                retry_after: None,
                body: String::new(),
            },
            FailReason::Unauthorized {
                status: 401,
                body: String::new(),
            },
        ),
        (
            Failure::Status {
                status: 403,
                retry_after: None,
                body: String::new(),
            },
            FailReason::Unauthorized {
                status: 403,
                body: String::new(),
            },
        ),
        (
            Failure::Status {
                status: 404,
                retry_after: None,
                body: String::new(),
            },
            FailReason::Status {
                status: 404,
                body: String::new(),
            },
        ),
        (
            Failure::WrongContentType("text/html".into()),
            FailReason::WrongContentType {
                content_type: "text/html".into(),
            },
        ),
    ];
    for (failure, reason) in table {
        let mut m = machine(no_jitter());
        m.handle(Input::Start, at(0.0));
        assert_eq!(
            m.handle(Input::Failed(failure.clone()), at(1.0)),
            [Action::Disconnect],
            "{failure:?}"
        );
        assert_eq!(m.state(), ConnectionState::Failed { reason });
        // Nothing more happens by itself.
        assert!(m.handle(Input::Timer, at(100.0)).is_empty());
    }
}

#[test]
fn transient_statuses_back_off_and_honour_retry_after() {
    for status in [500, 502, 503, 408, 429] {
        let mut m = machine(no_jitter());
        m.handle(Input::Start, at(0.0));
        let failure = Failure::Status {
            status,
            retry_after: None,
            body: String::new(),
        };
        let delay = timer(&m.handle(Input::Failed(failure), at(0.0))).expect("a timer");
        assert_eq!(delay, Duration::from_secs(1), "HTTP {status}");
        assert!(
            matches!(m.state(), ConnectionState::Reconnecting { reason: DisconnectReason::Status(s), .. } if s == status)
        );
    }
    let mut m = machine(no_jitter());
    m.handle(Input::Start, at(0.0));
    let failure = Failure::Status {
        status: 503,
        retry_after: Some(Duration::from_secs(7)),
        body: String::new(),
    };
    assert_eq!(
        timer(&m.handle(Input::Failed(failure), at(0.0))),
        Some(Duration::from_secs(7))
    );
}

#[test]
fn close_stops_everything_and_late_reports_are_ignored() {
    let mut m = machine(no_jitter());
    m.handle(Input::Start, at(0.0));
    m.handle(Input::Opened(Transport::EventSource, None), at(0.0));
    assert_eq!(
        m.handle(Input::Close, at(1.0)),
        [Action::CancelTimer, Action::Disconnect]
    );
    assert_eq!(m.state(), ConnectionState::Closed);
    assert!(m.handle(network(), at(1.1)).is_empty());
    assert!(m.handle(Input::Timer, at(5.0)).is_empty());
    assert!(m.handle(Input::Online, at(5.0)).is_empty());
    assert_eq!(m.state(), ConnectionState::Closed);
}

#[test]
fn offline_pauses_and_online_reconnects_at_once() {
    let mut m = machine(no_jitter());
    m.handle(Input::Start, at(0.0));
    m.handle(Input::Opened(Transport::EventSource, None), at(0.0));
    assert_eq!(
        m.handle(Input::Offline, at(1.0)),
        [Action::CancelTimer, Action::Disconnect]
    );
    assert_eq!(
        m.state(),
        ConnectionState::Paused {
            reason: PauseReason::Offline
        }
    );
    assert!(
        m.handle(Input::Visible, at(2.0)).is_empty(),
        "shown is not online"
    );
    assert_eq!(
        m.handle(Input::Online, at(3.0)),
        [Action::CancelTimer, Action::Disconnect, Action::Connect]
    );
    assert_eq!(m.state(), ConnectionState::Connecting { attempt: 1 });

    // Waiting for a retry when the network comes back: retry now.
    m.handle(network(), at(4.0));
    assert!(matches!(m.state(), ConnectionState::Reconnecting { .. }));
    assert_eq!(
        m.handle(Input::Online, at(4.1)),
        [Action::CancelTimer, Action::Disconnect, Action::Connect]
    );
}

#[test]
fn hidden_pauses_and_visible_resumes() {
    let mut m = machine(no_jitter());
    m.handle(Input::Start, at(0.0));
    m.handle(Input::Opened(Transport::EventSource, None), at(0.0));
    m.handle(Input::Hidden, at(1.0));
    assert_eq!(
        m.state(),
        ConnectionState::Paused {
            reason: PauseReason::Hidden
        }
    );
    assert!(
        m.handle(Input::Online, at(1.5)).is_empty(),
        "online is not shown"
    );
    assert_eq!(
        m.handle(Input::Visible, at(2.0)),
        [Action::CancelTimer, Action::Disconnect, Action::Connect]
    );
}

#[test]
fn connect_now_skips_the_wait() {
    let mut m = machine(no_jitter());
    m.handle(Input::Start, at(0.0));
    m.handle(network(), at(0.0));
    assert_eq!(
        m.handle(Input::ConnectNow, at(0.2)),
        [Action::CancelTimer, Action::Disconnect, Action::Connect]
    );
    // The count is kept: this is attempt 2 of the same outage.
    assert_eq!(m.state(), ConnectionState::Connecting { attempt: 2 });
}

#[test]
fn the_app_pauses_and_resumes_and_nothing_else_resumes_it() {
    let mut m = machine(no_jitter());
    m.handle(Input::Start, at(0.0));
    m.handle(Input::Opened(Transport::EventSource, None), at(0.0));
    assert_eq!(
        m.handle(Input::Pause, at(1.0)),
        [Action::CancelTimer, Action::Disconnect]
    );
    assert_eq!(
        m.state(),
        ConnectionState::Paused {
            reason: PauseReason::App
        }
    );
    // Neither the network nor the page coming back resumes what the app paused.
    m.handle(Input::Offline, at(2.0));
    assert!(m.handle(Input::Online, at(3.0)).is_empty());
    assert!(m.handle(Input::Visible, at(3.0)).is_empty());
    assert_eq!(
        m.state(),
        ConnectionState::Paused {
            reason: PauseReason::App
        }
    );
    assert_eq!(
        m.handle(Input::Resume, at(4.0)),
        [Action::CancelTimer, Action::Disconnect, Action::Connect]
    );
    // Pausing a closed connection does nothing.
    m.handle(Input::Close, at(5.0));
    assert!(m.handle(Input::Pause, at(6.0)).is_empty());
    assert_eq!(m.state(), ConnectionState::Closed);
}

/// The first loss of an open `EventSource` is left to the browser, which reconnects with the
/// `Last-Event-ID` header; the machine shows it as reconnecting and stands guard with a timer.
#[test]
fn the_browser_makes_the_first_reconnect_of_an_open_event_source() {
    let mut m = machine(no_jitter());
    m.handle(Input::Start, at(0.0));
    m.handle(Input::ServerRetry(Duration::from_secs(2)), at(0.0));
    m.handle(Input::Opened(Transport::EventSource, None), at(0.0));

    let actions = m.handle(Input::BrowserRetrying, at(10.0));
    assert!(
        !actions.contains(&Action::Disconnect),
        "the browser's source is kept: {actions:?}"
    );
    assert_eq!(
        timer(&actions),
        Some(Duration::from_secs(2) + BROWSER_GRACE)
    );
    assert_eq!(
        m.state(),
        ConnectionState::Reconnecting {
            attempt: 1,
            at: at(12.0),
            reason: DisconnectReason::Network,
        }
    );
    // The browser's reconnect opens: open again, the guard cancelled, and the count starts
    // over once healthy.
    assert_eq!(
        m.handle(Input::Opened(Transport::EventSource, None), at(12.0)),
        [Action::CancelTimer]
    );
    assert!(m.state().is_open());
    assert!(
        m.handle(Input::Timer, at(16.0)).is_empty(),
        "a stale guard does nothing"
    );

    // Healthy for long enough: the next loss is the browser's to reconnect again.
    let actions = m.handle(Input::BrowserRetrying, at(100.0));
    assert_eq!(m.failures, 1, "healthy for long enough: counted afresh");
    assert_eq!(
        timer(&actions),
        Some(Duration::from_secs(2) + BROWSER_GRACE)
    );
}

/// If the browser's reconnect fails too, or does not come in time, the machine takes over with
/// its own backoff.
#[test]
fn the_machine_takes_over_when_the_browser_reconnect_fails_or_is_late() {
    let mut m = machine(no_jitter());
    m.handle(Input::Start, at(0.0));
    m.handle(Input::Opened(Transport::EventSource, None), at(0.0));
    let actions = m.handle(Input::BrowserRetrying, at(10.0));
    assert_eq!(timer(&actions), Some(BROWSER_RETRY + BROWSER_GRACE));

    // Its retry fails as well: the second attempt is the machine's, after backoff.
    let actions = m.handle(Input::BrowserRetrying, at(13.0));
    assert!(actions.contains(&Action::Disconnect), "{actions:?}");
    assert_eq!(timer(&actions), Some(Duration::from_secs(2)));
    assert!(matches!(
        m.state(),
        ConnectionState::Reconnecting { attempt: 2, .. }
    ));
    assert_eq!(
        m.handle(Input::Timer, at(15.0)),
        [Action::Disconnect, Action::Connect]
    );

    // A browser reconnect that does not come in time: the guard connects.
    let mut m = machine(no_jitter());
    m.handle(Input::Start, at(0.0));
    m.handle(Input::Opened(Transport::EventSource, None), at(0.0));
    m.handle(Input::BrowserRetrying, at(10.0));
    assert_eq!(
        m.handle(Input::Timer, at(16.0)),
        [Action::Disconnect, Action::Connect]
    );
    assert_eq!(m.state(), ConnectionState::Connecting { attempt: 2 });
}

/// A stream that keeps dropping soon after it opens is backed off from, browser or not.
#[test]
fn a_flapping_stream_is_not_left_to_the_browser() {
    let mut m = machine(no_jitter());
    m.handle(Input::Start, at(0.0));
    m.handle(Input::Opened(Transport::EventSource, None), at(0.0));
    m.handle(Input::BrowserRetrying, at(1.0));
    m.handle(Input::Opened(Transport::EventSource, None), at(4.0));
    // Dropped again 1 s later, long before it counts as healthy: the machine backs off.
    let actions = m.handle(Input::BrowserRetrying, at(5.0));
    assert!(actions.contains(&Action::Disconnect), "{actions:?}");
    assert_eq!(timer(&actions), Some(Duration::from_secs(2)));
}

/// A polling endpoint that does not exist is not a reason to give up.
#[test]
fn a_missing_polling_endpoint_is_retried_not_failed() {
    let mut m = machine(no_jitter());
    m.handle(Input::Start, at(0.0));
    let actions = m.handle(
        Input::Failed(Failure::PollingUnavailable { status: 404 }),
        at(1.0),
    );
    assert_eq!(timer(&actions), Some(Duration::from_secs(1)));
    assert_eq!(
        m.state(),
        ConnectionState::Reconnecting {
            attempt: 1,
            at: at(2.0),
            reason: DisconnectReason::PollingUnavailable(404),
        }
    );
}

/// A request the browser will not make (an invalid method or header) is the app's mistake:
/// retrying cannot fix it.
#[test]
fn an_invalid_request_fails_at_once() {
    let mut m = machine(no_jitter());
    m.handle(Input::Start, at(0.0));
    let actions = m.handle(
        Input::Failed(Failure::InvalidRequest(
            "\"G ET\" is not an HTTP method".into(),
        )),
        at(1.0),
    );
    assert_eq!(actions, [Action::Disconnect]);
    assert_eq!(
        m.state(),
        ConnectionState::Failed {
            reason: FailReason::InvalidRequest {
                message: "\"G ET\" is not an HTTP method".into()
            }
        }
    );
}
