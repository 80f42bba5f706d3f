//! The browser side: thin glue that carries out what the [sans-IO core](crate::sans_io)
//! decides. [`connection`] runs one stream (transport, timers, listeners, fan-out to
//! subscribers), [`sharing`] gives each page one connection per stream, [`transport`] holds the
//! ways events arrive (each owning and releasing its closures), [`diagnostics`] counts what is
//! held, and [`clock`] reads the time.

pub(crate) mod clock;
pub(crate) mod connection;
pub mod diagnostics;
pub(crate) mod sharing;
pub(crate) mod transport;
