//! Counts of what tidings holds in the browser right now, for leak checks in tests and for
//! debugging: every connection, transport, listener and task it creates is counted, and
//! uncounted when released. A leaf: it calls nothing else in the crate.

use std::cell::Cell;

thread_local! {
    static TRANSPORTS: Cell<usize> = const { Cell::new(0) };
    static LISTENERS: Cell<usize> = const { Cell::new(0) };
    static TASKS: Cell<usize> = const { Cell::new(0) };
    static CONNECTIONS: Cell<usize> = const { Cell::new(0) };
}

/// How many of tidings' background tasks (fetch requests being sent or read) are running now.
/// A closed transport's task ends once the browser has aborted its request.
#[must_use]
pub fn live_tasks() -> usize {
    TASKS.with(Cell::get)
}

/// Runs `task` in the background, counted by [`live_tasks`].
pub(crate) fn spawn(task: impl std::future::Future<Output = ()> + 'static) {
    TASKS.with(|count| count.set(count.get() + 1));
    wasm_bindgen_futures::spawn_local(async move {
        task.await;
        TASKS.with(|count| count.set(count.get().saturating_sub(1)));
    });
}

/// How many transports (`EventSource`s and their closures) are open now.
#[must_use]
pub fn live_transports() -> usize {
    TRANSPORTS.with(Cell::get)
}

/// How many connections are open now (users of one URL with equal options share one).
#[must_use]
pub fn live_connections() -> usize {
    CONNECTIONS.with(Cell::get)
}

/// How many event listeners tidings has registered on transports and not yet removed.
#[must_use]
pub fn live_listeners() -> usize {
    LISTENERS.with(Cell::get)
}

pub(crate) fn opened_connection() {
    CONNECTIONS.with(|count| count.set(count.get() + 1));
}

pub(crate) fn closed_connection() {
    CONNECTIONS.with(|count| count.set(count.get().saturating_sub(1)));
}

pub(crate) fn opened_transport() {
    TRANSPORTS.with(|count| count.set(count.get() + 1));
}

pub(crate) fn closed_transport() {
    TRANSPORTS.with(|count| count.set(count.get().saturating_sub(1)));
}

pub(crate) fn added_listeners(n: usize) {
    LISTENERS.with(|count| count.set(count.get() + n));
}

pub(crate) fn removed_listeners(n: usize) {
    LISTENERS.with(|count| count.set(count.get().saturating_sub(n)));
}
