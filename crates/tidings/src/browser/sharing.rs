//! One connection per stream per page: users of the same URL with equal options share it.

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use super::connection::Connection;
use crate::options::SseOptions;

thread_local! {
    static CONNECTIONS: RefCell<Vec<Weak<Connection>>> = const { RefCell::new(Vec::new()) };
}

/// The open connection to `url` with `options`, or a new one, connected, starting after
/// `start_id` if given (the position a server-rendered page reflects).
pub(crate) fn acquire(url: &str, options: &SseOptions, start_id: Option<String>) -> Rc<Connection> {
    let existing = CONNECTIONS.with(|connections| {
        let mut connections = connections.borrow_mut();
        connections.retain(|connection| connection.strong_count() > 0);
        connections
            .iter()
            .filter_map(Weak::upgrade)
            .find(|connection| connection.url() == url && connection.options() == options)
    });
    if let Some(connection) = existing {
        return connection;
    }
    let connection = Connection::new(options.clone(), start_id);
    CONNECTIONS.with(|connections| connections.borrow_mut().push(Rc::downgrade(&connection)));
    connection.connect(url);
    connection
}
