//! `cargo xtask bench ...`: the benchmarks, each printing its figures.
//!
//! - `wire`: the parser against `eventsource-stream` (criterion).
//! - `server [N ...]`: N concurrent SSE clients on the demo server (default 1000 and 10000):
//!   memory per connection and delivery latency.

use crate::process::{self, cargo};

pub(crate) fn run(options: &[String]) -> Result<(), String> {
    let root = crate::root();
    match options.split_first() {
        Some((which, rest)) if which == "wire" => {
            if !rest.is_empty() {
                return Err("`bench wire` takes no options".into());
            }
            process::run(
                "bench wire",
                cargo().current_dir(&root).args([
                    "bench",
                    "-p",
                    "tidings-wire",
                    "--bench",
                    "parse",
                ]),
            )
        }
        Some((which, counts)) if which == "server" => {
            if let Some(bad) = counts.iter().find(|n| n.parse::<usize>().is_err()) {
                return Err(format!("`bench server` takes client counts, not `{bad}`"));
            }
            process::run(
                "build the load test",
                cargo().current_dir(&root).args([
                    "build",
                    "--profile",
                    "bench",
                    "-p",
                    "sse-load",
                    "-p",
                    "demo-server",
                ]),
            )?;
            // The bench profile builds into target/release.
            process::run(
                "bench server",
                std::process::Command::new(root.join("target/release/sse-load"))
                    .current_dir(&root)
                    .args(counts),
            )
        }
        _ => Err(
            "which benchmark? `cargo xtask bench wire` or `cargo xtask bench server [N ...]`"
                .into(),
        ),
    }
}
