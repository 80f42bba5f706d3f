//! The tidings demo rendered on the server: the live ticker and the live blog of the CSR
//! demo, as a leptos_axum app that renders each page on the server and hydrates it in the browser.
//!
//! Built the way Leptos SSR apps are: one crate, a `ssr` feature for the server binary and a
//! `hydrate` feature for the browser's wasm.
#![deny(missing_docs)]
#![allow(unreachable_pub, reason = "#[component] generates a pub props struct")]

pub mod app;
pub mod blog;
#[cfg(feature = "ssr")]
pub mod server;

/// The browser's entry point: hydrates the page the server rendered.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
}
