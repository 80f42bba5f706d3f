//! Any event the encoder accepts parses back to itself (line breaks in data normalised to LF).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tidings_wire::{Frame, Parser};

fuzz_target!(|input: &[u8]| {
    let text = String::from_utf8_lossy(input);
    // Fields separated by U+001F: event type, id, data.
    let mut parts = text.splitn(3, '\u{1F}');
    let event = parts.next().unwrap_or_default().replace(['\r', '\n'], "");
    let id = parts.next().unwrap_or_default().replace(['\r', '\n', '\0'], "");
    let data = parts.next().unwrap_or_default();

    let frame = Frame::new().event(&event).id(&id).data(data);
    let events = Parser::new().feed_owned(frame.as_bytes());
    assert_eq!(events.len(), 1);
    let parsed = events[0].as_ref().expect("under the default limit");
    let expected_type = if event.is_empty() { "message" } else { event.as_str() };
    assert_eq!(parsed.event_type, expected_type);
    assert_eq!(parsed.last_event_id, id);
    assert_eq!(parsed.data, data.replace("\r\n", "\n").replace('\r', "\n"));
});
