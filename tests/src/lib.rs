//! Shared helpers for the browser tests (`tests/browser.rs`, run in headless Chromium and Firefox
//! by wasm-bindgen-test) and the end-to-end tests of the demo (`tests/e2e.rs`, driven through
//! WebDriver). `cargo xtask test` starts the servers and browsers they need, and stops them.
#![deny(missing_docs)]

#[cfg(target_arch = "wasm32")]
pub mod browser;
#[cfg(target_arch = "wasm32")]
pub mod proof;

/// The demo server the browser tests talk to, fixed when they are compiled: `cargo xtask test`
/// sets `TIDINGS_TEST_SERVER` and starts the server there.
pub const TEST_SERVER: &str = match option_env!("TIDINGS_TEST_SERVER") {
    Some(url) => url,
    None => "http://127.0.0.1:3917",
};

/// The same server over HTTPS (HTTP/2 by ALPN), with a local certificate the test browsers
/// accept (`acceptInsecureCerts`): `cargo xtask test` sets `TIDINGS_TEST_TLS_SERVER`.
pub const TLS_TEST_SERVER: &str = match option_env!("TIDINGS_TEST_TLS_SERVER") {
    Some(url) => url,
    None => "https://127.0.0.1:3925",
};

/// The third-party SSE server of the interop browser tests (sse-starlette, `tests/interop/`),
/// fixed when they are compiled: `cargo xtask test` sets `TIDINGS_PEER_SERVER` and starts it.
pub const PEER_SERVER: &str = match option_env!("TIDINGS_PEER_SERVER") {
    Some(url) => url,
    None => "http://127.0.0.1:3923",
};

/// The control port of that server's supervisor (`POST /restart?down_ms=N`), likewise.
pub const PEER_CONTROL: &str = match option_env!("TIDINGS_PEER_CONTROL") {
    Some(url) => url,
    None => "http://127.0.0.1:3924",
};

/// The README's examples, compiled and run as doctests so that they stay true.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeExamples;
