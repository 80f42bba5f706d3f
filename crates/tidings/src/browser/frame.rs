//! Once per frame: notifications of a signal held back to the next animation frame, so that a
//! burst of events re-renders what reads it once per frame, not once per event.
//!
//! The frame is asked for with a promise that `requestAnimationFrame` resolves, so no closure is
//! handed to the browser at all. In a hidden page the browser runs no frames: notifications wait
//! until it is shown again (the values themselves are current at once, and `on` callbacks see
//! every event).

use std::cell::Cell;
use std::rc::Rc;

use wasm_bindgen::JsValue;

/// Holds back the notifications of one signal: at most one waits at a time.
#[derive(Default)]
pub(crate) struct PerFrame {
    waiting: Rc<Cell<bool>>,
}

impl PerFrame {
    /// Runs `notify` at the next animation frame, unless a notification of this signal already
    /// waits for it.
    pub(crate) fn notify(&self, notify: impl FnOnce() + 'static) {
        if self.waiting.replace(true) {
            return;
        }
        let waiting = self.waiting.clone();
        wasm_bindgen_futures::spawn_local(async move {
            next_frame().await;
            waiting.set(false);
            notify();
        });
    }
}

/// Resolves at the next animation frame (at once where there are no frames: no window).
async fn next_frame() {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        let asked = web_sys::window()
            .is_some_and(|window| window.request_animation_frame(&resolve).is_ok());
        if !asked {
            let _ = resolve.call0(&JsValue::UNDEFINED);
        }
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}
