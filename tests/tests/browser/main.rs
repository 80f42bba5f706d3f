//! tidings in a real browser, against the live fixture server (the demo server with fault
//! injection and test streams: `tests/fixture-server`)
//! (`cargo xtask test` runs these in headless Chromium and Firefox).
#![cfg(target_arch = "wasm32")]

mod basics;
mod chaos;
mod codecs;
mod compression;
mod features;
mod hostile;
mod http2;
mod interop;
mod reconnect;
mod transports;

use std::time::Duration;

use tidings_tests::TEST_SERVER;
use wasm_bindgen_test::wasm_bindgen_test_configure;

wasm_bindgen_test_configure!(run_in_browser);

/// How long a test waits for what it expects before failing.
const PATIENCE: Duration = Duration::from_secs(10);

fn url(path: &str) -> String {
    format!("{TEST_SERVER}{path}")
}
