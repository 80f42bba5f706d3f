use super::*;
use proptest::prelude::*;

/// What a whole stream yields: events as (type, data, last id), then the final last id and retry.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    events: Vec<Result<(String, String, String), ParseError>>,
    last_event_id: String,
    retry: Option<Duration>,
}

fn run_chunks<'a>(parser: &mut Parser, chunks: impl IntoIterator<Item = &'a [u8]>) -> Outcome {
    let mut events = Vec::new();
    for chunk in chunks {
        parser.feed(chunk, |event| {
            events.push(event.map(|e| {
                (
                    e.event_type.to_owned(),
                    e.data.to_owned(),
                    e.last_event_id.to_owned(),
                )
            }));
        });
    }
    parser.end_of_stream();
    Outcome {
        events,
        last_event_id: parser.last_event_id().to_owned(),
        retry: parser.retry(),
    }
}

fn parse_whole(input: &[u8]) -> Outcome {
    run_chunks(&mut Parser::new(), [input])
}

/// Parses `input` in one read, byte by byte, and cut at every one and every two places, and
/// checks that every way gives the same outcome. Returns it.
fn parse_every_split(input: &[u8]) -> Outcome {
    let whole = parse_whole(input);
    let bytewise = run_chunks(&mut Parser::new(), input.chunks(1));
    assert_eq!(bytewise, whole, "byte-by-byte differs for {input:?}");
    for i in 0..=input.len() {
        let (a, b) = input.split_at(i);
        assert_eq!(
            run_chunks(&mut Parser::new(), [a, b]),
            whole,
            "split at {i} of {input:?}"
        );
        if input.len() <= 64 {
            for j in i..=input.len() {
                let (b, c) = input[i..].split_at(j - i);
                let three = run_chunks(&mut Parser::new(), [a, b, c]);
                assert_eq!(three, whole, "split at {i} and {j} of {input:?}");
            }
        }
    }
    whole
}

fn ev(event_type: &str, data: &str, id: &str) -> Result<(String, String, String), ParseError> {
    Ok((event_type.to_owned(), data.to_owned(), id.to_owned()))
}

/// The table of rules: input, the events it yields, and the last event ID afterwards.
#[test]
fn rules_hold_under_every_split() {
    type Row = (
        &'static str,
        &'static [u8],
        Vec<(&'static str, &'static str, &'static str)>,
        &'static str,
    );
    let table: Vec<Row> = vec![
        (
            "simple",
            b"data: hello\n\n",
            vec![("message", "hello", "")],
            "",
        ),
        (
            "data lines joined with LF",
            b"data: a\ndata: b\ndata\n\n",
            vec![("message", "a\nb\n", "")],
            "",
        ),
        (
            "CRLF line ends",
            b"data: a\r\ndata: b\r\n\r\n",
            vec![("message", "a\nb", "")],
            "",
        ),
        (
            "CR line ends",
            b"data: a\rdata: b\r\r",
            vec![("message", "a\nb", "")],
            "",
        ),
        (
            "mixed line ends",
            b"data: a\r\ndata: b\rdata: c\n\r\n",
            vec![("message", "a\nb\nc", "")],
            "",
        ),
        (
            "only one space stripped",
            b"data:  two\n\ndata:none\n\n",
            vec![("message", " two", ""), ("message", "none", "")],
            "",
        ),
        (
            "field without colon",
            b"data\n\n",
            vec![("message", "", "")],
            "",
        ),
        (
            "named event",
            b"event: tick\ndata: 1\n\n",
            vec![("tick", "1", "")],
            "",
        ),
        (
            "event type resets after dispatch",
            b"event: tick\ndata: 1\n\ndata: 2\n\n",
            vec![("tick", "1", ""), ("message", "2", "")],
            "",
        ),
        (
            "empty event means message",
            b"event: x\nevent:\ndata: 1\n\n",
            vec![("message", "1", "")],
            "",
        ),
        (
            "event without data is not dispatched",
            b"event: tick\n\ndata: 2\n\n",
            vec![("message", "2", "")],
            "",
        ),
        (
            "comments ignored",
            b": hi\ndata: 1\n:\n\n",
            vec![("message", "1", "")],
            "",
        ),
        (
            "comment-only block dispatches nothing",
            b": keep-alive\n\n",
            vec![],
            "",
        ),
        (
            "unknown fields ignored",
            b"foo: bar\ndata: 1\nDATA: 2\n\n",
            vec![("message", "1", "")],
            "",
        ),
        (
            "id persists across events",
            b"id: 1\ndata: a\n\ndata: b\n\n",
            vec![("message", "a", "1"), ("message", "b", "1")],
            "1",
        ),
        (
            "empty id resets",
            b"id: 1\ndata: a\n\nid\ndata: b\n\n",
            vec![("message", "a", "1"), ("message", "b", "")],
            "",
        ),
        (
            "id with NULL ignored",
            b"id: 1\ndata: a\n\nid: 2\0x\ndata: b\n\n",
            vec![("message", "a", "1"), ("message", "b", "1")],
            "1",
        ),
        ("id-only block sets the last id", b"id: 5\n\n", vec![], "5"),
        (
            "id of an unfinished block is dropped",
            b"id: 1\ndata: a\n\nid: 2\ndata: b\n",
            vec![("message", "a", "1")],
            "1",
        ),
        (
            "unterminated final event dropped",
            b"data: a\n\ndata: b",
            vec![("message", "a", "")],
            "",
        ),
        (
            "unterminated final event dropped even after a line end",
            b"data: a\n",
            vec![],
            "",
        ),
        (
            "leading BOM skipped",
            b"\xEF\xBB\xBFdata: a\n\n",
            vec![("message", "a", "")],
            "",
        ),
        (
            "second BOM kept as text",
            b"\xEF\xBB\xBF\xEF\xBB\xBFdata: a\n\ndata: b\n\n",
            vec![("message", "b", "")],
            "",
        ),
        (
            "BOM only at stream start",
            b"data: \xEF\xBB\xBFa\n\n",
            vec![("message", "\u{FEFF}a", "")],
            "",
        ),
        (
            "partial BOM is text",
            b"\xEF\xBBdata: a\n\ndata: b\n\n",
            vec![("message", "b", "")],
            "",
        ),
        (
            "multi-byte characters",
            "data: héllo wörld ✓ 🎉\n\n".as_bytes(),
            vec![("message", "héllo wörld ✓ 🎉", "")],
            "",
        ),
        (
            "invalid UTF-8 replaced",
            b"data: a\xFFb\xE2\x82\n\n",
            vec![("message", "a\u{FFFD}b\u{FFFD}", "")],
            "",
        ),
        (
            "colon in value kept",
            b"data: a: b\n\n",
            vec![("message", "a: b", "")],
            "",
        ),
        (
            "space before colon is part of the name",
            b"data : x\ndata: y\n\n",
            vec![("message", "y", "")],
            "",
        ),
        (
            "blank lines between events",
            b"\n\n\ndata: a\n\n\n\n",
            vec![("message", "a", "")],
            "",
        ),
        (
            "spec example: two events with id",
            b"data: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n\n",
            vec![
                ("message", "first event", "1"),
                ("message", "second event", ""),
                ("message", " third event", ""),
            ],
            "",
        ),
        (
            "spec example: trailing data dropped",
            b"data\n\ndata\ndata\n\ndata:",
            vec![("message", "", ""), ("message", "\n", "")],
            "",
        ),
    ];
    for (name, input, events, last_id) in table {
        let outcome = parse_every_split(input);
        let expected: Vec<_> = events.into_iter().map(|(t, d, i)| ev(t, d, i)).collect();
        assert_eq!(outcome.events, expected, "{name}");
        assert_eq!(outcome.last_event_id, last_id, "{name}: last event id");
    }
}

#[test]
fn retry_takes_ascii_digits_only() {
    let table: [(&[u8], Option<u64>); 8] = [
        (b"retry: 3000\n\n", Some(3000)),
        (b"retry:0\n\n", Some(0)),
        (b"retry: 30.5\n\n", None),
        (b"retry: -1\n\n", None),
        (b"retry: 1e3\n\n", None),
        (b"retry:\n\n", None),
        (b"retry: \xD9\xA3\n\n", None), // ARABIC-INDIC DIGIT THREE is not an ASCII digit
        (b"retry: 99999999999999999999999999\n\n", Some(u64::MAX)),
    ];
    for (input, millis) in table {
        let outcome = parse_every_split(input);
        assert_eq!(
            outcome.retry,
            millis.map(Duration::from_millis),
            "{input:?}"
        );
    }
    // A later valid value replaces an earlier one; an invalid one leaves it.
    let outcome = parse_every_split(b"retry: 10\n\nretry: x\n\nretry: 20\nretry: y\n\n");
    assert_eq!(outcome.retry, Some(Duration::from_millis(20)));
}

#[test]
fn retry_applies_without_a_blank_line() {
    // The standard applies `retry` as soon as the line is read.
    let mut parser = Parser::new();
    parser.feed(b"retry: 1500\n", |_| {});
    assert_eq!(parser.retry(), Some(Duration::from_millis(1500)));
}

#[test]
fn utf8_character_split_between_reads() {
    let input = "data: 🎉é\n\n".as_bytes();
    // The emoji is 4 bytes from index 6; cut inside it at every place.
    for cut in 7..10 {
        let (a, b) = input.split_at(cut);
        let outcome = run_chunks(&mut Parser::new(), [a, b]);
        assert_eq!(
            outcome.events,
            vec![ev("message", "🎉é", "")],
            "cut at {cut}"
        );
    }
}

#[test]
fn cr_at_end_of_read_and_lf_at_start_of_next_is_one_line_end() {
    let outcome = run_chunks(
        &mut Parser::new(),
        [&b"data: a\r"[..], b"\ndata: b\r", b"\n\r", b"\n"],
    );
    assert_eq!(outcome.events, vec![ev("message", "a\nb", "")]);
}

#[test]
fn last_event_id_survives_end_of_stream_and_resumes() {
    let mut parser = Parser::new();
    parser.feed(b"id: 41\ndata: a\n\nid: 42\ndata: b", |_| {});
    parser.end_of_stream();
    assert_eq!(
        parser.last_event_id(),
        "41",
        "the unfinished event's id must not count"
    );
    let events = parser.feed_owned(b"data: c\n\n");
    assert_eq!(
        events,
        vec![Ok(Event {
            event_type: "message".into(),
            data: "c".into(),
            last_event_id: "41".into(),
        })]
    );
}

#[test]
fn new_stream_may_start_with_a_bom_again() {
    let mut parser = Parser::new();
    let first = parser.feed_owned(b"\xEF\xBB\xBFdata: a\n\n");
    parser.end_of_stream();
    let second = parser.feed_owned(b"\xEF\xBB\xBFdata: b\n\n");
    assert_eq!(first.len() + second.len(), 2);
    assert_eq!(second[0].as_ref().map(|e| e.data.as_str()), Ok("b"));
}

#[test]
fn set_last_event_id_applies_to_next_events() {
    let mut parser = Parser::new();
    parser.set_last_event_id("17");
    let events = parser.feed_owned(b"data: x\n\n");
    assert_eq!(
        events[0].as_ref().map(|e| e.last_event_id.as_str()),
        Ok("17")
    );
}

#[test]
fn oversized_event_is_reported_skipped_and_parsing_continues() {
    let big = format!("id: 1\ndata: {}\n\nid: 2\ndata: ok\n\n", "x".repeat(100));
    for chunk_size in [1, 3, 7, 16, 64, 1024] {
        let mut parser = Parser::with_max_event_size(32);
        let outcome = run_chunks(&mut parser, big.as_bytes().chunks(chunk_size));
        assert_eq!(
            outcome.events,
            vec![
                Err(ParseError::EventTooLarge { limit: 32 }),
                ev("message", "ok", "2")
            ],
            "chunk size {chunk_size}"
        );
    }
}

#[test]
fn oversized_event_still_advances_the_last_event_id() {
    let input = format!("id: 7\ndata: {}\n\n", "x".repeat(64));
    let mut parser = Parser::with_max_event_size(16);
    let outcome = run_chunks(&mut parser, [input.as_bytes()]);
    assert_eq!(
        outcome.events,
        vec![Err(ParseError::EventTooLarge { limit: 16 })]
    );
    assert_eq!(outcome.last_event_id, "7");
}

#[test]
fn many_data_lines_over_the_limit_are_one_error() {
    let input = format!("{}\ndata: after\n\n", "data: 0123456789\n".repeat(20));
    let mut parser = Parser::with_max_event_size(50);
    let outcome = run_chunks(&mut parser, input.as_bytes().chunks(5));
    assert_eq!(
        outcome.events,
        vec![
            Err(ParseError::EventTooLarge { limit: 50 }),
            ev("message", "after", "")
        ]
    );
}

#[test]
fn endless_line_is_bounded() {
    // A server that never ends its line must not make the parser grow without bound.
    let mut parser = Parser::with_max_event_size(1024);
    let chunk = [b'x'; 4096];
    let mut errors = 0;
    parser.feed(b"data: ", |_| {});
    for _ in 0..1000 {
        parser.feed(&chunk, |e| {
            assert!(e.is_err());
            errors += 1;
        });
        assert!(
            parser.line.capacity() <= 2048,
            "buffered {} bytes",
            parser.line.capacity()
        );
    }
    assert_eq!(errors, 1, "one error for the whole oversized line");
    let events = parser.feed_owned(b"\n\ndata: next\n\n");
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].as_ref().map(|e| e.data.as_str()), Ok("next"));
}

#[test]
fn comments_do_not_count_towards_the_limit() {
    let input = ": keep-alive\n".repeat(1000) + "data: x\n\n";
    let outcome = run_chunks(&mut Parser::with_max_event_size(64), [input.as_bytes()]);
    assert_eq!(outcome.events, vec![ev("message", "x", "")]);
}

#[test]
fn limits_are_exact() {
    let parse =
        |limit, input: &[u8]| run_chunks(&mut Parser::with_max_event_size(limit), [input]).events;
    // The data limit counts the data with its joining line feeds: "1234567\n12345\n" is 14 bytes.
    assert_eq!(
        parse(14, b"data: 1234567\ndata: 12345\n\n"),
        vec![ev("message", "1234567\n12345", "")]
    );
    assert_eq!(
        parse(14, b"data: 1234567\ndata: 123456\n\n"),
        vec![Err(ParseError::EventTooLarge { limit: 14 })]
    );
    // The line limit counts the whole line without its line end: "data: 123456789" is 15 bytes.
    assert_eq!(
        parse(14, b"data: 123456789\n\n"),
        vec![Err(ParseError::EventTooLarge { limit: 14 })]
    );
    assert_eq!(
        parse(14, b": 345678901234\ndata: x\n\n"),
        vec![ev("message", "x", "")]
    );
    assert_eq!(
        parse(14, b": 3456789012345\ndata: x\n\n"),
        vec![Err(ParseError::EventTooLarge { limit: 14 })]
    );
}

// --- A reference model, written as plainly as the standard reads, for the property tests. ---

/// The standard's algorithm over a whole stream, with no care for speed or memory.
fn reference(input: &[u8]) -> Outcome {
    let input = input.strip_prefix(&BOM[..]).unwrap_or(input);
    let text = String::from_utf8_lossy(input);
    let mut lines = Vec::new();
    let mut current = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                lines.push(std::mem::take(&mut current));
            }
            '\n' => lines.push(std::mem::take(&mut current)),
            c => current.push(c),
        }
    }
    // `current` is an unterminated final line: ignored.
    let (mut data, mut event_type, mut id_buffer, mut last_id) =
        (String::new(), String::new(), String::new(), String::new());
    let mut retry = None;
    let mut events = Vec::new();
    for line in lines {
        if line.is_empty() {
            last_id.clone_from(&id_buffer);
            if data.is_empty() {
                event_type.clear();
                continue;
            }
            if data.ends_with('\n') {
                data.pop();
            }
            let ty = if event_type.is_empty() {
                "message".to_owned()
            } else {
                event_type.clone()
            };
            events.push(Ok((ty, std::mem::take(&mut data), last_id.clone())));
            event_type.clear();
            continue;
        }
        if line.starts_with(':') {
            continue;
        }
        let (name, value) = match line.find(':') {
            Some(i) => {
                let v = &line[i + 1..];
                (&line[..i], v.strip_prefix(' ').unwrap_or(v))
            }
            None => (line.as_str(), ""),
        };
        match name {
            "event" => event_type = value.to_owned(),
            "data" => {
                data.push_str(value);
                data.push('\n');
            }
            "id" if !value.contains('\0') => id_buffer = value.to_owned(),
            "retry" if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) => {
                // Digits beyond u64 saturate: the standard sets no upper bound.
                retry = Some(Duration::from_millis(
                    value.parse::<u64>().unwrap_or(u64::MAX),
                ));
            }
            _ => {}
        }
    }
    Outcome {
        events,
        last_event_id: last_id,
        retry,
    }
}

/// Streams made of the pieces that matter: fields, values with awkward bytes, all line ends.
fn stream_strategy() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        Just(b"data".to_vec()),
        Just(b"data:".to_vec()),
        Just(b"data: ".to_vec()),
        Just(b"event:".to_vec()),
        Just(b"event: tick".to_vec()),
        Just(b"id: ".to_vec()),
        Just(b"id".to_vec()),
        Just(b"retry: ".to_vec()),
        Just(b":comment".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"\r".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"\n\n".to_vec()),
        Just(b"\0".to_vec()),
        Just(b" ".to_vec()),
        Just(b":".to_vec()),
        Just(BOM.to_vec()),
        Just("é🎉".as_bytes().to_vec()),
        Just(b"\xE2\x82".to_vec()),
        Just(b"\xFF".to_vec()),
        "[0-9]{1,4}".prop_map(String::into_bytes),
        "[a-z]{1,6}".prop_map(String::into_bytes),
    ];
    prop::collection::vec(piece, 0..40).prop_map(|pieces| pieces.concat())
}

/// Cut points for a stream, as sizes of the reads.
fn chunk_sizes() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(1usize..12, 1..20)
}

fn chunked(input: &[u8], sizes: &[usize]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut rest = input;
    let mut i = 0;
    while !rest.is_empty() {
        let n = sizes[i % sizes.len()].min(rest.len());
        out.push(rest[..n].to_vec());
        rest = &rest[n..];
        i += 1;
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn matches_the_reference_model(input in stream_strategy()) {
        prop_assert_eq!(parse_whole(&input), reference(&input));
    }

    #[test]
    fn any_chunking_gives_the_same_events(input in stream_strategy(), sizes in chunk_sizes()) {
        let whole = parse_whole(&input);
        let chunks = chunked(&input, &sizes);
        let pieces = run_chunks(&mut Parser::new(), chunks.iter().map(Vec::as_slice));
        prop_assert_eq!(pieces, whole);
    }

    #[test]
    fn with_a_limit_any_chunking_gives_the_same_events(input in stream_strategy(), sizes in chunk_sizes()) {
        // Small enough that many generated events and lines go over it.
        let limit = 12;
        let whole = run_chunks(&mut Parser::with_max_event_size(limit), [input.as_slice()]);
        let chunks = chunked(&input, &sizes);
        let pieces = run_chunks(&mut Parser::with_max_event_size(limit), chunks.iter().map(Vec::as_slice));
        prop_assert_eq!(pieces, whole);
    }

    #[test]
    fn a_limit_above_every_line_changes_nothing(input in stream_strategy()) {
        // The limit counts decoded text, and a malformed byte decodes to U+FFFD, three bytes:
        // a line can decode to three times its raw length (found by proptest: `data:` and
        // four malformed sequences, 13 bytes, decode to 14).
        let limit = 3 * input.len() + 1;
        prop_assert_eq!(run_chunks(&mut Parser::with_max_event_size(limit), [input.as_slice()]), parse_whole(&input));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(5000))]

    /// The word-at-a-time line-end search agrees with the obvious one, at every length and
    /// position (including past the 64-byte head, where memchr takes over).
    #[test]
    fn find_line_end_agrees_with_a_plain_scan(
        bytes in prop::collection::vec(prop_oneof![8 => any::<u8>(), 1 => Just(b'\n'), 1 => Just(b'\r')], 0..200),
        skip in 0usize..200,
    ) {
        let skip = skip.min(bytes.len());
        // Also from odd offsets, so that words straddle differently.
        let slice = &bytes[skip..];
        let expected = slice.iter().position(|&b| b == b'\n' || b == b'\r');
        prop_assert_eq!(super::find_line_end(slice), expected);
    }
}

#[test]
fn the_limit_counts_decoded_text_not_raw_bytes() {
    // Found by the fuzzer: 20 invalid bytes are 20 raw bytes but 60 bytes of U+FFFD.
    let mut input = b"data: ".to_vec();
    input.extend_from_slice(&[0xFF; 20]);
    input.extend_from_slice(b"\n\ndata: ok\n\n");
    let outcome = run_chunks(&mut Parser::with_max_event_size(32), [input.as_slice()]);
    assert_eq!(
        outcome.events,
        vec![
            Err(ParseError::EventTooLarge { limit: 32 }),
            ev("message", "ok", "")
        ]
    );
}
