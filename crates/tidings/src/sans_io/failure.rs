//! What a failed attempt means: [`Failure`], as a transport or the probe saw it, and which
//! failures retrying cannot fix.

use std::time::Duration;

use super::state::FailReason;

/// Why a connection attempt or an open connection failed, as the transport or the probe saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Failure {
    /// The connection dropped or could not be made.
    Network,
    /// The server answered with this status (other than 200).
    Status {
        status: u16,
        retry_after: Option<Duration>,
        /// The start of the answer's body, if read.
        body: String,
    },
    /// The server answered 200 with a type other than `text/event-stream`.
    WrongContentType(String),
    /// Nothing arrived, not even a keep-alive, for the watchdog's time.
    Stalled,
    /// The polling endpoint answered this status (404, 405): the server has none, so the
    /// connection streams instead.
    #[cfg_attr(not(feature = "polling"), allow(dead_code))]
    PollingUnavailable { status: u16 },
    /// The browser would not make the request (an invalid method or header): the app's
    /// mistake, which retrying cannot fix.
    InvalidRequest(String),
    /// The browser could not parse the stream's URL: the app's mistake too.
    InvalidUrl(String),
}

/// The failures that retrying cannot fix.
pub(crate) fn permanent(failure: &Failure) -> Option<FailReason> {
    match failure {
        Failure::Status { status: 204, .. } => Some(FailReason::ServerSaidStop),
        Failure::Status { status, body, .. } if matches!(status, 401 | 403) => {
            Some(FailReason::Unauthorized {
                status: *status,
                body: body.clone(),
            })
        }
        // Other client errors will not change by retrying, except time-outs and rate limits.
        Failure::Status { status, body, .. }
            if (400..500).contains(status) && !matches!(status, 408 | 429) =>
        {
            Some(FailReason::Status {
                status: *status,
                body: body.clone(),
            })
        }
        Failure::WrongContentType(content_type) => Some(FailReason::WrongContentType {
            content_type: content_type.clone(),
        }),
        Failure::InvalidRequest(message) => Some(FailReason::InvalidRequest {
            message: message.clone(),
        }),
        Failure::InvalidUrl(message) => Some(FailReason::InvalidUrl {
            message: message.clone(),
        }),
        _ => None,
    }
}

/// Whether an answer with `status` and `content_type` is an event stream, and if not, what kind
/// of failure it is; `body` is the start of its body, if read.
pub(crate) fn classify(
    status: u16,
    content_type: &str,
    retry_after: Option<&str>,
    body: String,
) -> Result<(), Failure> {
    let is_event_stream = content_type
        .split(';')
        .next()
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case(tidings_wire::CONTENT_TYPE));
    match status {
        200 if is_event_stream => Ok(()),
        200 => Err(Failure::WrongContentType(content_type.to_owned())),
        status => Err(Failure::Status {
            status,
            retry_after: retry_after
                .and_then(|value| value.trim().parse::<u64>().ok())
                .map(Duration::from_secs),
            body,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_classified() {
        assert_eq!(
            classify(200, "text/event-stream", None, String::new()),
            Ok(())
        );
        assert_eq!(
            classify(200, "text/event-stream; charset=utf-8", None, String::new()),
            Ok(())
        );
        assert_eq!(
            classify(200, "text/plain", None, String::new()),
            Err(Failure::WrongContentType("text/plain".into()))
        );
        assert_eq!(
            classify(200, "", None, String::new()),
            Err(Failure::WrongContentType(String::new()))
        );
        assert_eq!(
            classify(503, "text/plain", Some("7"), String::new()),
            Err(Failure::Status {
                status: 503,
                retry_after: Some(Duration::from_secs(7)),
                body: String::new()
            })
        );
        assert_eq!(
            classify(204, "", Some("soon"), String::new()),
            Err(Failure::Status {
                status: 204,
                retry_after: None,
                body: String::new()
            })
        );
    }
}
