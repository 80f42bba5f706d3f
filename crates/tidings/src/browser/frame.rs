//! Once per frame: notifications of signals held back to the next animation frame, so that a
//! burst of events re-renders what reads them once per frame, not once per event.
//!
//! A notification waits in a page-wide queue; the first one of a frame asks for the frame with a
//! promise that `requestAnimationFrame` resolves, so no closure is handed to the browser at all.
//! In a hidden page the browser runs no frames: notifications wait until it is shown again (the
//! values themselves are current at once, and `on` callbacks see every event).

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use wasm_bindgen::JsValue;

thread_local! {
    static DUE: RefCell<Vec<Box<dyn FnOnce()>>> = const { RefCell::new(Vec::new()) };
    static ASKED: Cell<bool> = const { Cell::new(false) };
}

/// Holds back the notifications of one signal: at most one waits at a time.
#[derive(Clone, Default)]
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
        at_next_frame(move || {
            waiting.set(false);
            notify();
        });
    }
}

/// Runs `f` at the next animation frame.
fn at_next_frame(f: impl FnOnce() + 'static) {
    DUE.with(|due| due.borrow_mut().push(Box::new(f)));
    if ASKED.with(|asked| asked.replace(true)) {
        return;
    }
    wasm_bindgen_futures::spawn_local(async {
        next_frame().await;
        ASKED.with(|asked| asked.set(false));
        // Taken first: a notification may ask for the next frame.
        for f in DUE.with(|due| due.take()) {
            f();
        }
    });
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
