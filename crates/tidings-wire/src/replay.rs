//! A server's replay log, read while rendering a page: how a page rendered on the server shows
//! a stream's recent events, and names the event it shows them up to, so that the browser
//! resumes right after it.
//!
//! `tidings-axum`'s channels implement [`ReplayLog`]; `tidings` reads one under server-side
//! rendering (`tidings::ssr`). Any store of recent events can implement it.

use crate::parser::Event;

/// Recent events of one stream, as the server keeps them for replay.
///
/// A page reads a log in two steps: first [`ReplayLog::position`], the point in the stream the
/// page reflects, then [`ReplayLog::recent`] for each event type it shows, up to that position.
/// Events published in between are left out of the page: the browser gets them when it resumes
/// from the position, so each event is shown once.
pub trait ReplayLog: Send + Sync {
    /// The ID a client resumes from (as its `Last-Event-ID`) to get every event published from
    /// now on: the newest event's ID or, when the log keeps none, an ID the log reads as "before
    /// the next event". `None` if the log cannot name one: the page then shows no events and
    /// the browser starts at the live end of the stream.
    fn position(&self) -> Option<String>;

    /// Up to `count` of the newest events of type `event_type` (`"message"` for events sent
    /// without a type) whose IDs are at or before `up_to`, oldest first. An ID the log does not
    /// know gives no events.
    fn recent(&self, event_type: &str, count: usize, up_to: &str) -> Vec<Event>;
}

impl<T: ReplayLog + ?Sized> ReplayLog for std::sync::Arc<T> {
    fn position(&self) -> Option<String> {
        (**self).position()
    }

    fn recent(&self, event_type: &str, count: usize, up_to: &str) -> Vec<Event> {
        (**self).recent(event_type, count, up_to)
    }
}
