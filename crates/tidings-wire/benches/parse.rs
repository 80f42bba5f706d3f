//! Parser throughput on realistic streams, next to the `eventsource-stream` crate in the same
//! run. `cargo bench -p tidings-wire --bench parse` (or `cargo xtask bench wire`).
//!
//! Each stream is parsed from reads of 16 KiB (a busy connection) and of 64 bytes (a trickle);
//! the read size must not change the cost per byte.

use std::convert::Infallible;
use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use eventsource_stream::Eventsource;
use futures::StreamExt;
use tidings_wire::Parser;

struct Stream {
    name: &'static str,
    bytes: Vec<u8>,
    events: usize,
}

/// Small JSON ticks with an event type and an ID: a market feed, a dashboard.
fn ticks() -> Stream {
    let mut bytes = Vec::new();
    let events = 10_000;
    for seq in 0..events {
        bytes.extend_from_slice(
            format!(
                "event: tick\nid: {seq}\ndata: {{\"symbol\":\"ACME\",\"price\":{}.{:02},\"seq\":{seq}}}\n\n",
                100 + seq % 50,
                seq % 100
            )
            .as_bytes(),
        );
    }
    Stream {
        name: "json ticks",
        bytes,
        events,
    }
}

/// Tiny token deltas, as LLM APIs stream them.
fn tokens() -> Stream {
    let words = [
        " the", " quick", " brown", " fox", " jumps", " over", " a", " lazy", " dog", ".",
    ];
    let mut bytes = Vec::new();
    let events = 20_000;
    for i in 0..events {
        bytes.extend_from_slice(
            format!("data: {{\"delta\":\"{}\"}}\n\n", words[i % words.len()]).as_bytes(),
        );
    }
    Stream {
        name: "token deltas",
        bytes,
        events,
    }
}

/// Four events of 256 KiB: snapshots, documents.
fn large() -> Stream {
    let payload = "x".repeat(256 * 1024);
    let mut bytes = Vec::new();
    let events = 4;
    for id in 0..events {
        bytes.extend_from_slice(
            format!("event: snapshot\nid: {id}\ndata: {payload}\n\n").as_bytes(),
        );
    }
    Stream {
        name: "256 KiB events",
        bytes,
        events,
    }
}

/// Multi-line events with CRLF line ends: logs from a Windows server.
fn crlf() -> Stream {
    let mut bytes = Vec::new();
    let events = 5_000;
    for id in 0..events {
        bytes.extend_from_slice(
            format!("event: log\r\nid: {id}\r\ndata: first line of entry {id}\r\ndata: second line\r\ndata: third line, a little longer than the others\r\n\r\n")
                .as_bytes(),
        );
    }
    Stream {
        name: "multi-line CRLF",
        bytes,
        events,
    }
}

fn tidings_borrowed(chunks: &[&[u8]]) -> usize {
    let mut parser = Parser::new();
    let mut count = 0;
    let mut bytes = 0;
    for chunk in chunks {
        parser.feed(chunk, |event| {
            if let Ok(event) = event {
                count += 1;
                bytes += event.data.len();
            }
        });
    }
    black_box(bytes);
    count
}

fn tidings_owned(chunks: &[&[u8]]) -> usize {
    let mut parser = Parser::new();
    let mut count = 0;
    for chunk in chunks {
        for event in parser.feed_owned(chunk) {
            black_box(&event);
            count += usize::from(event.is_ok());
        }
    }
    count
}

fn eventsource_stream(chunks: &[&[u8]]) -> usize {
    let stream =
        futures::stream::iter(chunks.iter().map(|c| Ok::<_, Infallible>(*c))).eventsource();
    futures::executor::block_on(stream.fold(0, |count, event| async move {
        black_box(&event);
        count + usize::from(event.is_ok())
    }))
}

fn bench(c: &mut Criterion) {
    for stream in [ticks(), tokens(), large(), crlf()] {
        for read_size in [16 * 1024, 64] {
            let chunks: Vec<&[u8]> = stream.bytes.chunks(read_size).collect();
            // The same events from each, or the comparison means nothing.
            assert_eq!(tidings_borrowed(&chunks), stream.events, "{}", stream.name);
            assert_eq!(tidings_owned(&chunks), stream.events, "{}", stream.name);
            assert_eq!(
                eventsource_stream(&chunks),
                stream.events,
                "{}",
                stream.name
            );

            let mut group =
                c.benchmark_group(format!("{} / {}-byte reads", stream.name, read_size));
            group.throughput(Throughput::Bytes(stream.bytes.len() as u64));
            group.sample_size(10);
            group.warm_up_time(Duration::from_millis(500));
            group.measurement_time(Duration::from_secs(2));
            group.bench_function(BenchmarkId::from_parameter("tidings-wire"), |b| {
                b.iter(|| tidings_borrowed(&chunks))
            });
            group.bench_function(BenchmarkId::from_parameter("tidings-wire owned"), |b| {
                b.iter(|| tidings_owned(&chunks))
            });
            group.bench_function(BenchmarkId::from_parameter("eventsource-stream"), |b| {
                b.iter(|| eventsource_stream(&chunks))
            });
            group.finish();
        }
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
