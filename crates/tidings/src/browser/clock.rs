//! The browser's clock.

/// The time in milliseconds since the Unix epoch: the browser's clock, or 0 off the browser
/// (server-side rendering shows no countdown).
pub(crate) fn now_millis() -> f64 {
    if cfg!(target_arch = "wasm32") {
        js_sys::Date::now()
    } else {
        0.0
    }
}
