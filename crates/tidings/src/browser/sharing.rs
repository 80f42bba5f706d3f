//! One connection per stream per page: users of the same URL with equal options share it.

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use super::connection::{BrowserConnection, Connection};
use super::env::{Browser, Env};
use crate::options::SseOptions;

/// The open connections of one page, each shared by its users.
pub(crate) struct Registry<E: Env> {
    connections: RefCell<Vec<Weak<Connection<E>>>>,
}

impl<E: Env> Default for Registry<E> {
    fn default() -> Self {
        Self {
            connections: RefCell::new(Vec::new()),
        }
    }
}

impl<E: Env + Clone> Registry<E> {
    /// The open connection to `url` with `options`, or a new one in `env`, connected, starting
    /// after `start_id` if given (the position a server-rendered page reflects).
    pub(crate) fn acquire(
        &self,
        env: &E,
        url: &str,
        options: &SseOptions,
        start_id: Option<String>,
    ) -> Rc<Connection<E>> {
        let existing = {
            let mut connections = self.connections.borrow_mut();
            connections.retain(|connection| connection.strong_count() > 0);
            connections
                .iter()
                .filter_map(Weak::upgrade)
                .find(|connection| connection.url() == url && connection.options() == options)
        };
        if let Some(connection) = existing {
            return connection;
        }
        let connection = Connection::new(env.clone(), options.clone(), start_id);
        self.connections
            .borrow_mut()
            .push(Rc::downgrade(&connection));
        connection.connect(url);
        connection
    }
}

thread_local! {
    static PAGE: Registry<Browser> = Registry::default();
}

/// [`Registry::acquire`] in this page.
pub(crate) fn acquire(
    url: &str,
    options: &SseOptions,
    start_id: Option<String>,
) -> Rc<BrowserConnection> {
    PAGE.with(|page| page.acquire(&Browser, url, options, start_id))
}
