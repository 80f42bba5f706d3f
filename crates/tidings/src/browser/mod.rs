//! The browser side: thin glue that carries out what the [sans-IO core](crate::sans_io)
//! decides. [`connection`] runs one stream (transport, timers, listeners, fan-out to
//! subscribers), [`sharing`] gives each page one connection per stream, [`subscriber`] delivers
//! each event to the subscribers of its type (decoding it once per Rust type), [`transport`] holds the
//! ways events arrive (each owning and releasing its closures), [`env`] is the seam between the
//! connection and the browser (so the connection runs natively in tests), [`diagnostics`] counts
//! what is held, [`frame`] holds signal notifications back to the next animation frame, and
//! [`clock`] reads the time.

pub(crate) mod clock;
pub(crate) mod connection;
pub mod diagnostics;
pub(crate) mod env;
pub(crate) mod frame;
pub(crate) mod sharing;
pub(crate) mod subscriber;
pub(crate) mod transport;
