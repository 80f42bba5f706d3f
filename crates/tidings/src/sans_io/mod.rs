//! The sans-IO core: everything tidings decides, as pure functions and state machines that take
//! inputs (what a transport saw, what the app asked, the time) and return what to do. Nothing
//! here touches the browser (no web-sys, no timers, no clock), so it is all tested natively.
//!
//! - [`reconnect`]: the backoff policy and the connection state machine;
//! - [`failure`]: what a failed attempt means (retry, or give up);
//! - [`fallback`]: which transport the next connection uses, and when `Auto` polls;
//! - [`resume`]: how the last event ID reaches the server;
//! - [`resync`]: the server's word that it could not resume;
//! - [`state`]: the state a page shows.

pub(crate) mod failure;
pub(crate) mod fallback;
pub(crate) mod reconnect;
pub mod resume;
pub mod resync;
pub mod state;
