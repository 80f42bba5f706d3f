//! The encoder: [`Frame`], one block of a `text/event-stream`.
//!
//! A frame is an event (`data`, with an optional `event` type and `id`), a comment (such as a
//! keep-alive), a `retry` hint, or any mix of these.
//!
//! # Written so that every popular client reads it the same
//!
//! The standard lets a writer spell some things several ways; some popular clients understand
//! only one of them. `Frame` always writes the one they all agree on:
//!
//! - An empty value keeps its colon (`data:`, `id:`), never a bare field name: the standard
//!   reads both alike, but `@microsoft/fetch-event-source` ignores lines without a colon, which
//!   corrupted data with blank lines (Markdown, LLM text) and lost empty-ID resets.
//! - A frame with neither `data` nor `id` (a comment, a `retry` hint) is written as lines
//!   **without** the closing blank line. Such a block dispatches nothing in the standard, but
//!   `httpx-sse` and `fetch-event-source` turn every blank line into an (empty) event, and
//!   `httpx-sse`'s documented reconnect loop then forgets its resume ID. A comment or `retry`
//!   line takes effect as soon as its line ends, so nothing is lost by leaving the block open:
//!   the next event's lines simply join it.
//! - A frame with an `id` but no `data` ends with the blank line, as it must for the ID to take
//!   effect. Know that `eventsource-parser` 3 (inside the npm `eventsource` 3 and 4) drops the ID
//!   of such a block: prefer giving IDs to events that carry data.
//!
//! ```
//! use std::time::Duration;
//! use tidings_wire::Frame;
//!
//! let frame = Frame::new().event("tick").id("42").data("line one\nline two");
//! assert_eq!(frame.as_str(), "event: tick\nid: 42\ndata: line one\ndata: line two\n\n");
//!
//! // Comments and retry hints dispatch nothing, so they end with no blank line.
//! assert_eq!(Frame::new().comment("keep-alive").as_str(), ": keep-alive\n");
//! assert_eq!(Frame::new().retry(Duration::from_secs(3)).as_str(), "retry: 3000\n");
//! // An empty value keeps its colon.
//! assert_eq!(Frame::new().data("").as_str(), "data:\n\n");
//! ```
//!
//! Fields are written in the order the builder methods are called. See the standard's
//! [event stream format](https://html.spec.whatwg.org/multipage/server-sent-events.html#parsing-an-event-stream).

use std::fmt;
use std::time::Duration;

/// One block of an event stream, ready to be written: see the [module documentation](self).
///
/// A frame with `data` or an `id` ends with the blank line that makes a client dispatch it; a
/// frame of comments and `retry` hints only does not (see the [module documentation](self)).
/// A frame with no `data` dispatches no event (but its `id` and `retry` still take effect); to
/// send an event with empty data, call [`Frame::data`] with `""`.
#[derive(Clone, PartialEq, Eq, Hash)]
#[must_use]
pub struct Frame {
    /// The encoded fields, each line ended by LF, and then the closing LF if `block`.
    text: String,
    /// Whether the frame has a `data` or `id` field, and so ends with a blank line.
    block: bool,
}

impl Default for Frame {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Frame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Frame").field(&self.text).finish()
    }
}

impl Frame {
    /// An empty frame, to which the builder methods add fields.
    pub fn new() -> Self {
        Self {
            text: String::new(),
            block: false,
        }
    }

    /// Sets the event type (the `event` field), under which a client's `addEventListener`
    /// receives it. Without it, the event's type is `message`.
    ///
    /// See [MDN: event](https://developer.mozilla.org/en-US/docs/Web/API/Server-sent_events/Using_server-sent_events#event).
    ///
    /// # Panics
    ///
    /// If `name` contains a CR or LF: it would end the field and corrupt the stream. Event types
    /// are normally constants, so this is a programmer's mistake; for names that come from
    /// outside the program, use [`Frame::try_event`].
    #[track_caller]
    pub fn event(self, name: &str) -> Self {
        match self.try_event(name) {
            Ok(frame) => frame,
            Err(error) => panic!("{error}"),
        }
    }

    /// Sets the event type, or says why it cannot be one: see [`Frame::event`].
    ///
    /// # Errors
    ///
    /// [`InvalidEventType`] if `name` contains a CR or LF.
    pub fn try_event(self, name: &str) -> Result<Self, InvalidEventType> {
        check_event_type(name)?;
        Ok(self.field("event", name, false))
    }

    /// Sets the event ID (the `id` field): the client sends the ID of the last event it saw as
    /// `Last-Event-ID` when it reconnects, to resume after it. An empty ID resets it.
    ///
    /// See [MDN: id](https://developer.mozilla.org/en-US/docs/Web/API/Server-sent_events/Using_server-sent_events#id).
    /// A frame with an ID and no data sets the client's ID without an event, but
    /// `eventsource-parser` 3 ignores such a block: see the [module documentation](self).
    ///
    /// # Panics
    ///
    /// If `id` contains a CR, LF or NULL: a line break would corrupt the stream, and clients
    /// ignore an ID with NULL. Use [`Frame::try_id`] for IDs that come from outside the program.
    #[track_caller]
    pub fn id(self, id: &str) -> Self {
        match self.try_id(id) {
            Ok(frame) => frame,
            Err(error) => panic!("{error}"),
        }
    }

    /// Sets the event ID, or says why it cannot be one: see [`Frame::id`].
    ///
    /// # Errors
    ///
    /// [`InvalidId`] if `id` contains a CR, LF or NULL.
    pub fn try_id(self, id: &str) -> Result<Self, InvalidId> {
        if id.contains(['\r', '\n', '\0']) {
            return Err(InvalidId { id: id.to_owned() });
        }
        Ok(self.field("id", id, true))
    }

    /// Adds data (the `data` field): one `data` line for each line of `text`. A client joins the
    /// lines of an event with LF, so CR and CRLF line breaks in `text` arrive as LF. Called again,
    /// it adds further lines to the same event.
    ///
    /// See [MDN: data](https://developer.mozilla.org/en-US/docs/Web/API/Server-sent_events/Using_server-sent_events#data).
    pub fn data(mut self, text: &str) -> Self {
        for line in lines(text) {
            self = self.field("data", line, true);
        }
        self
    }

    /// Adds `value` serialised as compact JSON as the data (compact JSON is a single line).
    ///
    /// # Errors
    ///
    /// The error of `serde_json` if `value` cannot be serialised (a map with non-string keys,
    /// say, or a failing `Serialize` implementation).
    #[cfg(feature = "json")]
    #[cfg_attr(docsrs, doc(cfg(feature = "json")))]
    pub fn json_data<T: serde::Serialize + ?Sized>(
        self,
        value: &T,
    ) -> Result<Self, serde_json::Error> {
        let text = serde_json::to_string(value)?;
        Ok(self.field("data", &text, true))
    }

    /// Adds a comment: clients ignore it, but it keeps idle connections (and proxies) alive.
    /// Each line of `text` becomes one comment line.
    pub fn comment(mut self, text: &str) -> Self {
        for line in lines(text) {
            self.push_line("", line, false);
        }
        self
    }

    /// Tells the client how long to wait before reconnecting (the `retry` field), to the
    /// millisecond.
    ///
    /// See [MDN: retry](https://developer.mozilla.org/en-US/docs/Web/API/Server-sent_events/Using_server-sent_events#retry).
    pub fn retry(self, delay: Duration) -> Self {
        let millis = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        self.field("retry", &millis.to_string(), false)
    }

    /// The encoded frame.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The encoded frame as bytes.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        self.text.as_bytes()
    }

    /// Takes the encoded text out of the frame.
    #[must_use]
    pub fn into_string(self) -> String {
        self.text
    }

    fn field(mut self, name: &str, value: &str, dispatches: bool) -> Self {
        self.push_line(name, value, dispatches);
        self
    }

    /// Appends the line `name: value` (`name:` when the value is empty, `: value` for a
    /// comment), keeping the closing blank line last once a field that `dispatches` is in.
    fn push_line(&mut self, name: &str, value: &str, dispatches: bool) {
        if self.block {
            self.text.pop();
        }
        self.text.push_str(name);
        self.text.push(':');
        if !value.is_empty() {
            self.text.push(' ');
            self.text.push_str(value);
        }
        self.text.push('\n');
        self.block |= dispatches;
        if self.block {
            self.text.push('\n');
        }
    }
}

impl From<Frame> for String {
    fn from(frame: Frame) -> Self {
        frame.into_string()
    }
}

impl AsRef<[u8]> for Frame {
    fn as_ref(&self) -> &[u8] {
        self.as_bytes()
    }
}

/// An event type that cannot be sent: it contains a CR or LF, which would end the field and
/// corrupt the stream.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("an SSE event type must not contain CR or LF: {name:?}")]
pub struct InvalidEventType {
    name: String,
}

impl InvalidEventType {
    /// The rejected name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// Fails if `name` cannot be an event type: see [`Frame::try_event`].
///
/// # Errors
///
/// [`InvalidEventType`] if `name` contains a CR or LF.
pub fn check_event_type(name: &str) -> Result<(), InvalidEventType> {
    if name.contains(['\r', '\n']) {
        return Err(InvalidEventType {
            name: name.to_owned(),
        });
    }
    Ok(())
}

/// An event ID that cannot be sent: it contains a CR, LF or NULL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("an SSE event ID must not contain CR, LF or NULL: {id:?}")]
pub struct InvalidId {
    id: String,
}

impl InvalidId {
    /// The rejected ID.
    #[must_use]
    pub fn id(&self) -> &str {
        &self.id
    }
}

/// The lines of `text`, split at CRLF, CR and LF as an SSE parser would split them. An empty
/// text is one empty line, and a trailing line break makes a last empty line.
fn lines(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(text);
    std::iter::from_fn(move || {
        let current = rest?;
        match current.find(['\r', '\n']) {
            None => {
                rest = None;
                Some(current)
            }
            Some(i) => {
                let after = if current[i..].starts_with("\r\n") {
                    i + 2
                } else {
                    i + 1
                };
                rest = Some(&current[after..]);
                Some(&current[..i])
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Parser;
    use proptest::prelude::*;

    #[test]
    fn encodes_byte_exact() {
        let table = [
            (Frame::new().data("hello"), "data: hello\n\n"),
            (Frame::new().data(""), "data:\n\n"),
            (
                Frame::new().data("a\nb\r\nc\rd"),
                "data: a\ndata: b\ndata: c\ndata: d\n\n",
            ),
            (Frame::new().data("a\n"), "data: a\ndata:\n\n"),
            (
                Frame::new().data("# Title\n\nBody"),
                "data: # Title\ndata:\ndata: Body\n\n",
            ),
            (Frame::new().data(" lead"), "data:  lead\n\n"),
            (Frame::new().data("a").data("b"), "data: a\ndata: b\n\n"),
            (
                Frame::new().event("tick").id("1").data("x"),
                "event: tick\nid: 1\ndata: x\n\n",
            ),
            (Frame::new().id(""), "id:\n\n"),
            (Frame::new().id("7"), "id: 7\n\n"),
            // Comments and retry hints dispatch nothing: no closing blank line.
            (Frame::new().comment(""), ":\n"),
            (Frame::new().comment("a\nb"), ": a\n: b\n"),
            (
                Frame::new().retry(Duration::from_millis(1500)),
                "retry: 1500\n",
            ),
            (
                Frame::new().comment("hi").retry(Duration::from_secs(1)),
                ": hi\nretry: 1000\n",
            ),
            // Until a field that dispatches joins them.
            (
                Frame::new().retry(Duration::from_secs(1)).data("x"),
                "retry: 1000\ndata: x\n\n",
            ),
            (
                Frame::new().comment("c").data("x").comment("d"),
                ": c\ndata: x\n: d\n\n",
            ),
            (Frame::new(), ""),
        ];
        for (frame, expected) in table {
            assert_eq!(frame.as_str(), expected);
        }
    }

    /// Keep-alives and retry hints between events put no blank line on the wire, so that no
    /// client (httpx-sse, fetch-event-source) dispatches an empty event for them.
    #[test]
    fn only_events_end_blocks() {
        let stream = [
            Frame::new().retry(Duration::from_secs(2)),
            Frame::new().comment(""),
            Frame::new().id("1").data("a\n\nb"),
            Frame::new().comment("keep-alive"),
            Frame::new().comment(""),
            Frame::new().id("2").data(""),
        ]
        .map(Frame::into_string)
        .concat();
        assert_eq!(
            stream,
            "retry: 2000\n:\nid: 1\ndata: a\ndata:\ndata: b\n\n: keep-alive\n:\nid: 2\ndata:\n\n"
        );
        assert_eq!(
            stream.matches("\n\n").count(),
            2,
            "one blank line per event"
        );
        let events = Parser::new().feed_owned(stream.as_bytes());
        let got: Vec<_> = events
            .into_iter()
            .map(|e| {
                let e = e.expect("small");
                (e.last_event_id, e.data)
            })
            .collect();
        assert_eq!(
            got,
            [("1".into(), "a\n\nb".into()), ("2".into(), String::new())]
        );
    }

    #[cfg(feature = "json")]
    #[test]
    fn json_data_is_one_line() {
        let frame = Frame::new()
            .event("note")
            .json_data(&serde_json::json!({"text": "two\nlines"}))
            .expect("serialisable");
        assert_eq!(
            frame.as_str(),
            "event: note\ndata: {\"text\":\"two\\nlines\"}\n\n"
        );
    }

    #[test]
    #[should_panic(expected = "must not contain CR or LF")]
    fn event_type_with_line_break_panics() {
        let _ = Frame::new().event("a\nb");
    }

    #[test]
    #[should_panic(expected = "must not contain CR, LF or NULL")]
    fn id_with_line_break_panics() {
        let _ = Frame::new().id("1\r");
    }

    #[test]
    fn try_event_rejects_clearly() {
        for bad in ["a\nb", "a\r", "\r\n"] {
            let error = Frame::new().try_event(bad).expect_err("a line break");
            assert_eq!(error.name(), bad);
            assert!(error.to_string().contains("must not contain CR or LF"));
        }
        assert_eq!(
            Frame::new().try_event("tick").expect("fine").as_str(),
            "event: tick\n"
        );
    }

    #[test]
    fn try_id_rejects_clearly() {
        let error = Frame::new()
            .try_id("a\0b")
            .expect_err("NULL is not allowed");
        assert_eq!(error.id(), "a\0b");
        assert!(Frame::new().try_id("fine").is_ok());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]

        /// Encode then parse gives the same event, with line breaks normalised to LF.
        #[test]
        fn round_trip(
            event in proptest::option::of("[^\r\n]{0,12}"),
            id in proptest::option::of("[^\r\n\0]{0,12}"),
            data in "(\\PC|\r|\n|\r\n){0,40}",
            comment in proptest::option::of("\\PC{0,12}"),
            retry in proptest::option::of(0u64..1_000_000),
        ) {
            let mut frame = Frame::new();
            if let Some(comment) = &comment {
                frame = frame.comment(comment);
            }
            if let Some(event) = &event {
                frame = frame.event(event);
            }
            if let Some(id) = &id {
                frame = frame.id(id);
            }
            if let Some(millis) = retry {
                frame = frame.retry(Duration::from_millis(millis));
            }
            frame = frame.data(&data);

            let mut parser = Parser::new();
            let events = parser.feed_owned(frame.as_bytes());
            prop_assert_eq!(events.len(), 1);
            let parsed = events[0].clone().expect("small event");
            let expected_type = match event.as_deref() {
                None | Some("") => "message",
                Some(name) => name,
            };
            prop_assert_eq!(parsed.event_type, expected_type);
            prop_assert_eq!(parsed.data, data.replace("\r\n", "\n").replace('\r', "\n"));
            prop_assert_eq!(parsed.last_event_id, id.unwrap_or_default());
            prop_assert_eq!(parser.retry(), retry.map(Duration::from_millis));
        }

        /// Many frames back to back parse as many events, in order.
        #[test]
        fn frames_concatenate(datas in proptest::collection::vec("[^\r\n]{0,8}", 0..20)) {
            let stream: String = datas
                .iter()
                .enumerate()
                .map(|(i, d)| Frame::new().id(&i.to_string()).data(d).into_string())
                .collect();
            let events = Parser::new().feed_owned(stream.as_bytes());
            let got: Vec<_> = events.into_iter().map(|e| e.expect("small").data).collect();
            prop_assert_eq!(got, datas);
        }
    }
}
