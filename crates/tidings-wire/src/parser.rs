//! The incremental `text/event-stream` parser.
//!
//! [`Parser`] implements the parsing and interpretation rules of the WHATWG HTML standard,
//! [§9.2.6 "Interpreting an event stream"][spec], for input that arrives in pieces of any size:
//!
//! - UTF-8 decoding with replacement of invalid sequences, correct when a character is split
//!   between two reads (lines are decoded only once they are complete);
//! - one leading byte order mark is skipped, even when it is split between reads;
//! - CR, LF and CRLF line ends, including a CR that ends one read and an LF that starts the next;
//! - comments, fields without a colon, a single leading space after the colon, `data` lines joined
//!   with LF, `event` (empty means `message`), `id` (ignored when it contains NULL, and kept from
//!   event to event), `retry` (ASCII digits only), unknown fields ignored;
//! - no event for an empty data buffer, nor for an unterminated final block.
//!
//! It is built for speed and bounded memory: every byte is scanned once, whatever the size of
//! the reads, complete lines are read in place, and only the unfinished tail of a read is copied.
//! Events are handed out as borrowed [`EventRef`]s, so parsing allocates nothing per event once
//! its buffers have grown to the size of the largest event. One event may hold at most
//! [`Parser::max_event_size`] bytes; a larger one is skipped with [`ParseError::EventTooLarge`]
//! and parsing goes on with the next.
//!
//! ```
//! use tidings_wire::Parser;
//!
//! let mut parser = Parser::new();
//! let mut seen = Vec::new();
//! // A stream cut at awkward places: inside a field name, and between CR and LF.
//! for chunk in ["event: ti", "ck\r", "\nid: 7\ndata: {\"price\":", "101}\n\n"] {
//!     parser.feed(chunk.as_bytes(), |event| {
//!         let event = event.expect("no event here is too large");
//!         seen.push((event.event_type.to_owned(), event.data.to_owned()));
//!     });
//! }
//! assert_eq!(seen, [("tick".to_owned(), r#"{"price":101}"#.to_owned())]);
//! assert_eq!(parser.last_event_id(), "7");
//! ```
//!
//! [spec]: https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation

use std::time::Duration;

use memchr::{memchr, memchr2};

/// The largest event a [`Parser`] accepts unless told otherwise: 1 MiB of data.
pub const DEFAULT_MAX_EVENT_SIZE: usize = 1 << 20;

/// The byte order mark that may open a stream, in UTF-8.
const BOM: [u8; 3] = [0xEF, 0xBB, 0xBF];

/// The type of an event whose block has no `event` field, or an empty one.
pub const DEFAULT_EVENT_TYPE: &str = "message";

/// An event as the parser dispatches it, borrowing the parser's buffers.
///
/// Call [`EventRef::to_event`] to keep it beyond the callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventRef<'a> {
    /// The event type: the `event` field, or `"message"` when there was none.
    pub event_type: &'a str,
    /// The data: the `data` lines of the block joined with LF.
    pub data: &'a str,
    /// The last event ID in effect when the event was dispatched: the latest `id` field of this
    /// or an earlier event, or the empty string if there was none. This is the ID a client sends
    /// as `Last-Event-ID` to resume after this event.
    pub last_event_id: &'a str,
}

impl EventRef<'_> {
    /// Copies the event out of the parser's buffers (named so as not to shadow
    /// [`ToOwned::to_owned`]).
    #[must_use]
    pub fn to_event(&self) -> Event {
        Event {
            event_type: self.event_type.to_owned(),
            data: self.data.to_owned(),
            last_event_id: self.last_event_id.to_owned(),
        }
    }
}

/// An owned event, as [`EventRef::to_event`] or [`Parser::feed_owned`] make it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Event {
    /// The event type: the `event` field, or `"message"` when there was none.
    pub event_type: String,
    /// The data: the `data` lines of the block joined with LF.
    pub data: String,
    /// The last event ID in effect when the event was dispatched (empty if none yet).
    pub last_event_id: String,
}

impl Event {
    /// Borrows the event as an [`EventRef`].
    #[must_use]
    pub fn as_ref(&self) -> EventRef<'_> {
        EventRef {
            event_type: &self.event_type,
            data: &self.data,
            last_event_id: &self.last_event_id,
        }
    }
}

/// What can go wrong while parsing. Parsing always goes on after an error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// An event's data, or a single line of the stream, was larger than the parser's limit. The
    /// event was dropped without being buffered; its other fields (`id`, `event`, `retry`) still
    /// took effect, so a client that resumes from [`Parser::last_event_id`] does not ask for it
    /// again.
    #[error(
        "an event larger than {limit} bytes was skipped; if such events are expected, \
         raise the limit (Parser::with_max_event_size)"
    )]
    EventTooLarge {
        /// The limit in force, in bytes.
        limit: usize,
    },
}

/// An incremental, push-style parser for `text/event-stream`.
///
/// Feed it the bytes of a stream in pieces of any size with [`Parser::feed`]; it calls back once
/// per dispatched event. The events do not depend on how the stream was split. When a stream ends
/// (say the connection closed), call [`Parser::end_of_stream`]: this drops an unfinished final
/// event, as the standard requires, and readies the parser for the next stream of the same source
/// while keeping its [last event ID](Parser::last_event_id) and [reconnection
/// time](Parser::retry).
///
/// See the [module documentation](self) for the rules it follows.
#[derive(Debug, Clone)]
pub struct Parser {
    max_event_size: usize,
    /// The start of a line whose end has not arrived yet.
    line: Vec<u8>,
    /// The last read ended with CR: an LF that starts the next read belongs to that line end.
    pending_cr: bool,
    /// At the start of a stream, how many bytes of a byte order mark have been seen so far;
    /// `None` once past the start.
    bom_matched: Option<usize>,
    /// The rest of the current line is being dropped: it made the event too large.
    skipping_line: bool,
    /// The current event went over the limit: its data is being dropped.
    oversized: bool,
    data: String,
    event_type: String,
    /// The `id` buffer of the standard: becomes the last event ID when the event is dispatched.
    id_buffer: String,
    id_buffer_changed: bool,
    last_event_id: String,
    retry: Option<Duration>,
}

impl Default for Parser {
    fn default() -> Self {
        Self::new()
    }
}

impl Parser {
    /// A parser with the [default event size limit](DEFAULT_MAX_EVENT_SIZE).
    #[must_use]
    pub fn new() -> Self {
        Self::with_max_event_size(DEFAULT_MAX_EVENT_SIZE)
    }

    /// A parser that accepts events of at most `max_event_size` bytes of data (as decoded
    /// UTF-8), and lines of at most that many bytes; larger ones are reported as
    /// [`ParseError::EventTooLarge`] and skipped. The parser buffers at most a small multiple of
    /// this many bytes.
    ///
    /// # Panics
    ///
    /// If `max_event_size` is zero: no event could ever be received.
    #[must_use]
    #[track_caller]
    pub fn with_max_event_size(max_event_size: usize) -> Self {
        assert!(
            max_event_size > 0,
            "the maximum event size must be at least one byte"
        );
        Self {
            max_event_size,
            line: Vec::new(),
            pending_cr: false,
            bom_matched: Some(0),
            skipping_line: false,
            oversized: false,
            data: String::new(),
            event_type: String::new(),
            id_buffer: String::new(),
            id_buffer_changed: false,
            last_event_id: String::new(),
            retry: None,
        }
    }

    /// Sets the last event ID, as a client does when it resumes a stream from an ID it kept.
    /// The next stream's events carry it until the stream sends an `id` of its own.
    pub fn set_last_event_id(&mut self, id: impl Into<String>) {
        self.last_event_id = id.into();
        self.id_buffer.clone_from(&self.last_event_id);
        self.id_buffer_changed = false;
    }

    /// The last event ID: the `id` in effect at the latest dispatched event (or a block with an
    /// `id` and no data), or the empty string. Send it as `Last-Event-ID` to resume.
    #[must_use]
    pub fn last_event_id(&self) -> &str {
        &self.last_event_id
    }

    /// The reconnection time the stream asked for with a `retry` field, if it did.
    #[must_use]
    pub fn retry(&self) -> Option<Duration> {
        self.retry
    }

    /// The largest event, in bytes of data, that this parser accepts.
    #[must_use]
    pub fn max_event_size(&self) -> usize {
        self.max_event_size
    }

    /// Parses the next piece of the stream, calling `sink` with each event it completes (or an
    /// error for an event that was too large), in stream order.
    ///
    /// ```
    /// # use tidings_wire::Parser;
    /// let mut parser = Parser::new();
    /// let mut data = Vec::new();
    /// parser.feed(b"data: one\n\ndata: tw", |e| data.push(e.unwrap().data.to_owned()));
    /// parser.feed(b"o\n\n", |e| data.push(e.unwrap().data.to_owned()));
    /// assert_eq!(data, ["one", "two"]);
    /// ```
    pub fn feed<F>(&mut self, chunk: &[u8], mut sink: F)
    where
        F: FnMut(Result<EventRef<'_>, ParseError>),
    {
        let mut rest = chunk;
        if rest.is_empty() {
            return;
        }
        if self.pending_cr {
            self.pending_cr = false;
            if rest[0] == b'\n' {
                rest = &rest[1..];
            }
        }
        if self.bom_matched.is_some() {
            rest = self.skip_bom(rest);
        }
        // The read's UTF-8 is validated once, when its first line end is found: its complete lines
        // are then handed on as `&str` and need no check of their own. Lines that cross reads
        // (or an invalid tail) go by bytes. A read inside one long line is not validated here.
        let mut text: Option<&str> = None;
        let mut start = 0;
        while let Some(found) = find_line_end(&rest[start..]) {
            let end = start + found;
            let content = &rest[start..end];
            start = end + 1;
            if rest[end] == b'\r' {
                match rest.get(start) {
                    Some(b'\n') => start += 1,
                    Some(_) => {}
                    None => self.pending_cr = true,
                }
            }
            if self.skipping_line {
                self.skipping_line = false;
            } else if self.line.is_empty() {
                if content.len() > self.max_event_size {
                    self.overflow(&mut sink);
                } else if let Some(valid) = text
                    .get_or_insert_with(|| valid_prefix(rest))
                    .get(end - content.len()..end)
                {
                    self.process_line(valid, &mut sink);
                } else {
                    self.process_line(content, &mut sink);
                }
            } else if self.line.len() + content.len() > self.max_event_size {
                self.line.clear();
                self.overflow(&mut sink);
            } else {
                let mut line = std::mem::take(&mut self.line);
                line.extend_from_slice(content);
                self.process_line(line.as_slice(), &mut sink);
                line.clear();
                self.line = line;
            }
        }
        let rest = &rest[start..];
        if !rest.is_empty() && !self.skipping_line {
            if self.line.len() + rest.len() > self.max_event_size {
                self.line.clear();
                self.skipping_line = true;
                self.overflow(&mut sink);
            } else {
                self.line.extend_from_slice(rest);
            }
        }
    }

    /// Parses the next piece of the stream and returns the completed events, owned.
    ///
    /// A convenience over [`Parser::feed`], which allocates nothing per event.
    pub fn feed_owned(&mut self, chunk: &[u8]) -> Vec<Result<Event, ParseError>> {
        let mut out = Vec::new();
        self.feed(chunk, |event| out.push(event.map(|e| e.to_event())));
        out
    }

    /// Ends the current stream: drops an unfinished final event (the standard dispatches an event
    /// only at the blank line that ends it) and readies the parser for the next stream of the same
    /// source, such as a reconnection. The last event ID and reconnection time are kept.
    pub fn end_of_stream(&mut self) {
        self.line.clear();
        self.pending_cr = false;
        self.bom_matched = Some(0);
        self.skipping_line = false;
        self.oversized = false;
        self.data.clear();
        self.event_type.clear();
        self.id_buffer.clone_from(&self.last_event_id);
        self.id_buffer_changed = false;
    }

    /// Consumes the bytes of a byte order mark at the start of a stream, across reads.
    fn skip_bom<'c>(&mut self, chunk: &'c [u8]) -> &'c [u8] {
        let Some(mut matched) = self.bom_matched else {
            return chunk;
        };
        let mut used = 0;
        while matched < BOM.len() {
            let Some(&byte) = chunk.get(used) else {
                self.bom_matched = Some(matched);
                return &chunk[used..];
            };
            if byte != BOM[matched] {
                // Not a byte order mark after all: what matched so far opens the first line.
                self.line.extend_from_slice(&BOM[..matched]);
                self.bom_matched = None;
                return &chunk[used..];
            }
            matched += 1;
            used += 1;
        }
        self.bom_matched = None;
        &chunk[used..]
    }

    /// Interprets one complete line (without its line end).
    fn process_line<F, T>(&mut self, line: T, sink: &mut F)
    where
        F: FnMut(Result<EventRef<'_>, ParseError>),
        T: LineText,
    {
        let bytes = line.as_bytes();
        // Field names are short: a plain scan finds the colon sooner than a SIMD search.
        let (name, value) = match bytes.iter().position(|&byte| byte == b':') {
            None if bytes.is_empty() => return self.dispatch(sink),
            Some(0) => return, // a comment
            None => (bytes, line.tail(bytes.len())),
            Some(colon) => {
                let skip = if bytes.get(colon + 1) == Some(&b' ') {
                    2
                } else {
                    1
                };
                (&bytes[..colon], line.tail(colon + skip))
            }
        };
        let value_bytes = value.as_bytes();
        match name {
            // Limits are checked on the decoded text: an invalid byte becomes a three-byte U+FFFD.
            b"data" => {
                if self.oversized {
                    return;
                }
                value.push_to(&mut self.data);
                self.data.push('\n');
                if self.data.len() > self.max_event_size {
                    self.overflow(sink);
                }
            }
            b"event" => {
                self.event_type.clear();
                value.push_to(&mut self.event_type);
                if self.event_type.len() > self.max_event_size {
                    self.event_type.clear();
                    self.overflow(sink);
                }
            }
            b"id" => {
                if memchr(0, value_bytes).is_some() {
                    return;
                }
                self.id_buffer.clear();
                value.push_to(&mut self.id_buffer);
                if self.id_buffer.len() > self.max_event_size {
                    // Too long to keep: the ID in effect stays as it was.
                    self.id_buffer.clone_from(&self.last_event_id);
                    self.id_buffer_changed = false;
                    self.overflow(sink);
                    return;
                }
                self.id_buffer_changed = true;
            }
            b"retry" if !value_bytes.is_empty() && value_bytes.iter().all(u8::is_ascii_digit) => {
                let millis = value_bytes.iter().fold(0u64, |acc, digit| {
                    acc.saturating_mul(10)
                        .saturating_add(u64::from(digit - b'0'))
                });
                self.retry = Some(Duration::from_millis(millis));
            }
            _ => {}
        }
    }

    /// The blank line that ends an event: dispatch it, as the standard says.
    fn dispatch<F>(&mut self, sink: &mut F)
    where
        F: FnMut(Result<EventRef<'_>, ParseError>),
    {
        if self.id_buffer_changed {
            // A swap, not a copy: the buffer's stale content is never read again before the next
            // `id` field overwrites it (or `end_of_stream` resets it).
            std::mem::swap(&mut self.last_event_id, &mut self.id_buffer);
            self.id_buffer_changed = false;
        }
        if self.oversized {
            self.oversized = false;
        } else if !self.data.is_empty() {
            let data = &self.data[..self.data.len() - 1];
            let event_type = match self.event_type.as_str() {
                "" => DEFAULT_EVENT_TYPE,
                name => name,
            };
            sink(Ok(EventRef {
                event_type,
                data,
                last_event_id: &self.last_event_id,
            }));
        }
        self.data.clear();
        self.event_type.clear();
    }

    /// The current event has grown past the limit: report it once and drop its data.
    fn overflow<F>(&mut self, sink: &mut F)
    where
        F: FnMut(Result<EventRef<'_>, ParseError>),
    {
        if !self.oversized {
            self.oversized = true;
            sink(Err(ParseError::EventTooLarge {
                limit: self.max_event_size,
            }));
        }
        self.data.clear();
    }
}

/// The longest prefix of `bytes` that is valid UTF-8.
fn valid_prefix(bytes: &[u8]) -> &str {
    match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(error) => std::str::from_utf8(&bytes[..error.valid_up_to()]).unwrap_or_default(),
    }
}

/// The position of the first CR or LF in `bytes`.
///
/// Most lines of an event stream are short, and for short distances a SIMD search costs more to
/// set up than it saves: the first 64 bytes are scanned eight at a time in a plain `u64`, and only
/// a longer line is handed to `memchr`.
#[inline]
fn find_line_end(bytes: &[u8]) -> Option<usize> {
    const LF: u64 = u64::from_ne_bytes([b'\n'; 8]);
    const CR: u64 = u64::from_ne_bytes([b'\r'; 8]);
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    /// A high bit in each byte of `word` that is zero; the lowest flagged byte is exact.
    const fn zero_bytes(word: u64) -> u64 {
        word.wrapping_sub(ONES) & !word & HIGHS
    }
    const SHORT: usize = 64;

    let head = &bytes[..bytes.len().min(SHORT)];
    let mut words = head.chunks_exact(8);
    let mut offset = 0;
    for word in &mut words {
        let word = u64::from_le_bytes([
            word[0], word[1], word[2], word[3], word[4], word[5], word[6], word[7],
        ]);
        let hits = zero_bytes(word ^ LF) | zero_bytes(word ^ CR);
        if hits != 0 {
            return Some(offset + (hits.trailing_zeros() / 8) as usize);
        }
        offset += 8;
    }
    if let Some(i) = words
        .remainder()
        .iter()
        .position(|&b| b == b'\n' || b == b'\r')
    {
        return Some(offset + i);
    }
    if bytes.len() <= SHORT {
        return None;
    }
    memchr2(b'\n', b'\r', &bytes[SHORT..]).map(|i| i + SHORT)
}

/// A line's text: already-validated `&str`, or raw bytes decoded when used.
trait LineText: Copy {
    /// The raw bytes.
    fn as_bytes(&self) -> &[u8];
    /// The text from byte `from` on; `from` is always just after an ASCII byte.
    fn tail(self, from: usize) -> Self;
    /// Appends the text, decoded as UTF-8 with invalid sequences replaced by U+FFFD.
    fn push_to(self, out: &mut String);
}

impl LineText for &str {
    fn as_bytes(&self) -> &[u8] {
        str::as_bytes(self)
    }

    fn tail(self, from: usize) -> Self {
        self.get(from..).unwrap_or_default()
    }

    fn push_to(self, out: &mut String) {
        out.push_str(self);
    }
}

impl LineText for &[u8] {
    fn as_bytes(&self) -> &[u8] {
        self
    }

    fn tail(self, from: usize) -> Self {
        self.get(from..).unwrap_or_default()
    }

    fn push_to(self, out: &mut String) {
        match std::str::from_utf8(self) {
            Ok(text) => out.push_str(text),
            Err(_) => out.push_str(&String::from_utf8_lossy(self)),
        }
    }
}

#[cfg(test)]
mod tests;
