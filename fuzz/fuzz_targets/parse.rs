//! Any bytes, cut into reads of any sizes: the parser never panics, gives the same events
//! whatever the cuts, and never hands out an event over its limit.
#![no_main]

use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use tidings_wire::{ParseError, Parser};

type Outcome = (Vec<Result<(String, String, String), ParseError>>, String, Option<Duration>);

fn parse<'a>(limit: usize, reads: impl Iterator<Item = &'a [u8]>) -> Outcome {
    let mut parser = Parser::with_max_event_size(limit);
    let mut events = Vec::new();
    for read in reads {
        parser.feed(read, |event| {
            if let Ok(event) = &event {
                assert!(event.data.len() <= limit, "an event over the limit came out");
            }
            events.push(event.map(|e| (e.event_type.to_owned(), e.data.to_owned(), e.last_event_id.to_owned())));
        });
    }
    parser.end_of_stream();
    (events, parser.last_event_id().to_owned(), parser.retry())
}

fuzz_target!(|input: &[u8]| {
    // The first bytes choose the limit and the read sizes; the rest is the stream.
    let (plan, stream) = input.split_at(input.len().min(9));
    let limit = match plan.first() {
        Some(&b) if b < 128 => usize::from(b) + 1,
        _ => usize::MAX,
    };
    let sizes: Vec<usize> = plan.iter().skip(1).map(|&b| usize::from(b % 32) + 1).collect();
    let sizes = if sizes.is_empty() { vec![1] } else { sizes };

    let whole = parse(limit, std::iter::once(stream));
    let mut reads = Vec::new();
    let mut rest = stream;
    for n in sizes.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (read, after) = rest.split_at((*n).min(rest.len()));
        reads.push(read);
        rest = after;
    }
    assert_eq!(whole, parse(limit, reads.into_iter()));
});
