//! Typed, reactive Server-Sent Events for [Leptos](https://leptos.dev).
//!
//! [`use_sse`] connects a component to an event stream and returns an [`Sse`] handle. From it,
//! each event type becomes its own typed signal, decoded with serde from the same Rust type the
//! server sends (see [`TypedEvent`]), and the connection's state is a signal too, for reconnect
//! indicators.
//!
//! ```no_run
//! use leptos::prelude::*;
//! use serde::{Deserialize, Serialize};
//! use tidings::{TypedEvent, use_sse};
//!
//! #[derive(Clone, Debug, Serialize, Deserialize)]
//! struct Tick {
//!     symbol: String,
//!     price: f64,
//! }
//!
//! impl TypedEvent for Tick {
//!     const NAME: &'static str = "tick";
//! }
//!
//! #[component]
//! fn Ticker() -> impl IntoView {
//!     let sse = use_sse("/api/ticker");
//!     let tick = sse.latest::<Tick>();
//!     let state = sse.state();
//!     view! {
//!         <p>{move || state.get().to_string()}</p>
//!         <p>{move || tick.get().map(|t| format!("{} {:.2}", t.symbol, t.price))}</p>
//!     }
//! }
//! ```
//!
//! # Reconnects
//!
//! Every reconnect resumes with the standard `Last-Event-ID` header, which any spec server
//! reads ([`resume`] has the table of what goes over the wire, per transport). When an open
//! `EventSource` drops, the browser makes the first attempt itself, because only its own
//! reconnect can carry that header; if that attempt fails too, or does not come in time, tidings
//! takes over with backoff (exponential, with jitter: [`ReconnectPolicy`]) and resumes over
//! `fetch` with the header. [`Sse::state`] says what is happening throughout. When the
//! browser's `EventSource` gives up without saying why, one `fetch` probe reads the status and
//! content type: `204`, `401`/`403`, other client errors and a wrong content type end in
//! [`ConnectionState::Failed`]; server errors, `408`, `429` and network errors back off and
//! retry. Going offline pauses; coming back online reconnects at once. A server that cannot
//! resume sends a [`Resync`] ([`Sse::on_resync`]).
//! See [`SseOptions`] for the watchdog, pausing hidden pages and resuming after a reload.
//!
//! Browsers hide two things from scripts using `EventSource`: the `retry:` field and keep-alive
//! comments. So with that transport the policy's delays apply, and the watchdog counts events
//! only; the fetch and polling transports see both.
//!
//! # Transports
//!
//! [`TransportMode::EventSource`] (the default) uses the browser's client;
//! [`TransportMode::Fetch`] streams with `fetch` and parses in wasm (custom headers computed for
//! each connection, `POST` and a body, the status of errors in view). With the `polling`
//! feature, `TransportMode::Polling` polls the server's polling endpoint and
//! `TransportMode::Auto` streams and falls back to polling when streaming keeps failing or
//! stalls, then returns. All resume from the same last event ID. Polling needs a `tidings-axum`
//! polling endpoint; against any other server (one that answers it 404 or 405), Polling and Auto
//! stream instead, and never give up for want of one.
//!
//! # Features
//!
//! - `polling` (off by default): the polling transport and `TransportMode::Auto`, with
//!   `FallbackPolicy` and `SseOptions::poll_url`, `poll_interval` and `fallback`. Off, none of
//!   their code reaches the page (about 2 KiB gzipped).
//! - `ssr` (off by default): server-side rendering; see below.
//!
//! # Sharing
//!
//! Components that open the same URL with equal options share one connection: each keeps its
//! own signals and subscriptions, which end with it; the connection closes when the last user
//! unmounts. [`Sse::pause`] and [`Sse::close`] act for one component: the connection pauses once
//! none of its users wants it open, and closes once all of them closed it. Options with
//! callbacks of their own are not equal: name a [`Sharing::Group`] to share anyway, or ask for a
//! connection of its own with [`Sharing::Own`] ([`SseOptions::sharing`]). Passing the `Copy`
//! [`Sse`] handle to child components shares it too.
//!
//! # Server-side rendering
//!
//! With the `ssr` feature the hook connects to nothing and keeps nothing tied to one thread, so
//! pages render on multi-threaded servers (leptos_axum). Given the stream's replay log
//! ([`ssr::provide_replay_log`], for example a `tidings-axum` channel), `latest` and `history`
//! render with the newest events already in them; the page carries the event ID they reflect,
//! and the browser hydrates with the same values and resumes from that ID: no event lost
//! between render and connect, none shown twice, no flash of empty values. Without a log,
//! signals render their initial values (`None`, an empty history) and the browser connects
//! once it hydrates. See [`ssr`].
//!
//! There is no `hydrate` feature: in the browser tidings is the same for client-rendered and
//! hydrated apps, and the app's own `leptos/hydrate` is what reads the rendered values back.
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod browser;
pub mod component;
mod hook;
mod options;
mod sans_io;
pub mod ssr;

// Counts for leak checks in tests (tidings' own browser tests use them): not part of the API
// an app builds on.
#[doc(hidden)]
pub use browser::diagnostics;
pub use component::ConnectionBadge;
pub use hook::{ArcDecodeError, Sse, use_sse, use_sse_with_options};
pub use options::{Sharing, SseOptions};
#[cfg(feature = "polling")]
pub use sans_io::fallback::FallbackPolicy;
pub use sans_io::fallback::TransportMode;
pub use sans_io::reconnect::ReconnectPolicy;
pub use sans_io::resume::ResumeVia;
pub use sans_io::resync::{Resync, ResyncReason};
pub use sans_io::state::{
    ConnectionState, DisconnectReason, FailReason, FallbackReason, PauseReason, Timestamp,
    Transport,
};
pub use sans_io::{resume, resync, state};
pub use tidings_wire::{self as wire, DecodeError, Encoding, TypedEvent};

/// The crate's README, whose examples run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
