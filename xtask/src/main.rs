//! `cargo xtask`: the project's commands.
//!
//! - `cargo xtask setup`: installs what the project needs, skipping whatever is already there.
//! - `cargo xtask demo`: the demo server and `trunk serve`, same origin through trunk's proxy;
//!   `--ssr`: the server-rendered demo instead (leptos_axum, hydrated in the browser). It prints
//!   the demo accounts and the chaos panel's token, made up afresh for each run.
//! - `cargo xtask test`: formatting, lints, native tests, browser tests in headless Chromium and
//!   Firefox, and the end-to-end test of the demo.
//! - `cargo xtask bench ...`: the benchmarks.
//! - `cargo xtask fuzz [seconds]`: fuzzes the parser.
//! - `cargo xtask package`: packages the library crates and checks apps built on them.
//!
//! Run `cargo xtask help` for the options.

mod balancer;
mod bench;
mod demo;
mod process;
mod setup;
mod ssr;
mod test;
mod tls;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

const HELP: &str = "\
cargo xtask <command> [options]

commands:
  setup            install the toolchain pieces the project needs (each skipped when present)
  demo             run the demo: demo server on 127.0.0.1:3000, trunk serve on http://127.0.0.1:8080
      --release    build the app in release mode
      --instances N  N demo servers sharing their feeds through a Redis of their own
                   (127.0.0.1:6399), behind a round-robin balancer on 127.0.0.1:3000
      --ssr        the server-rendered demo instead (leptos_axum + hydrate) on
                   http://127.0.0.1:3000
      --no-chaos   the plain demo server, without the chaos panel's fault injection
                   (otherwise the fixture server, behind a token printed at start-up)
      --tls        the app built once and served by the demo server over HTTPS and HTTP/2 on
                   https://127.0.0.1:3443, with a local certificate made for it
  test             fmt, clippy (native and wasm32), docs, native tests, 30 s of fuzzing per
                   target, browser tests in headless Chromium and Firefox (bad input, chaos and
                   a short soak among them), interop tests against third-party clients,
                   end-to-end tests of the demo and of the server-rendered demo
      --skip-setup do not check the toolchain first
  bench wire       parser throughput against eventsource-stream (criterion)
  bench server [N ...]
                   the heap of one idle stream, then N concurrent SSE clients (default
                   1000 10000) of tidings and of plain axum: memory per connection,
                   delivery latency p50/p99
  bench browser    events/s in headless Chromium: each transport against native EventSource
                   and fetch + npm eventsource-parser
  bench latency    publish -> typed callback p50/p99 at 1000 events/s, per transport
  bench memory     wasm memory and JS heap over 1000 reconnect cycles, per transport
  bench chaos      10000 events under random drops and 503s, per transport: lost, duplicates
  bench frames     20000 events at 10000/s to a rendered view: re-renders, frames painted and
                   dropped, lateness, with signals per frame (the default) and per event
  bench http2      12 streams in one page over HTTP/1.1 and over HTTP/2 (TLS): streams live,
                   events delivered, lateness
  bench compression
                   the ticker and an LLM token stream, uncompressed, gzip, Brotli, zstd: bytes,
                   latency, heap per stream, next to axum + tower-http's CompressionLayer
  bench codecs     sensor readings as JSON and as postcard: bytes per event, decoding alone
                   (next to JSON.parse) and streamed through each transport (next to EventSource)
  bench soak [MINUTES] [eventsource|fetch|polling]
                   a steady stream with faults every 30 s (default 60 minutes, fetch)
  bench size       gzipped wasm of a minimal Leptos app without and with tidings
  bench scale [N]  the broadcast through Redis with 2 servers and N clients each (default
                   1000), next to one in-memory server with 2N clients
  fuzz [SECONDS]   fuzz each parser target for SECONDS (default 600)
  package          package the library crates (cargo package) and check a browser app
                   (pinned to the oldest wasm-bindgen) and a server on them (a step of `test`)
  help             this text
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((command, options)) = args.split_first() else {
        eprint!("{HELP}");
        return ExitCode::FAILURE;
    };
    process::install_interrupt_handler();
    let started = Instant::now();
    let outcome = match command.as_str() {
        "setup" => setup::run().map(|_| ()),
        "demo" => demo::run(options),
        "test" => test::run(options),
        "bench" => bench::run(options),
        "fuzz" => setup::run().and_then(|_| match options {
            [] => test::fuzz(&root(), 600),
            [seconds] => match seconds.parse() {
                Ok(seconds) => test::fuzz(&root(), seconds),
                Err(_) => Err(format!("`fuzz` takes seconds, not `{seconds}`")),
            },
            _ => Err("`cargo xtask fuzz [seconds]`".into()),
        }),
        "package" if options.is_empty() => test::packaged_apps(&root()),
        "help" | "--help" | "-h" => {
            print!("{HELP}");
            Ok(())
        }
        other => Err(format!("unknown command `{other}`\n\n{HELP}")),
    };
    process::stop_all();
    match outcome {
        Ok(()) => {
            println!("xtask {command}: done in {}", process::elapsed(started));
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("\nxtask {command} FAILED: {message}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root (the parent of this crate's directory).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}
