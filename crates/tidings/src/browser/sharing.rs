//! Which connection a user gets: one it shares with the other users of the same URL, chosen by
//! its options' [`Sharing`], or one of its own.

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use super::connection::{BrowserConnection, Connection};
use super::env::{Browser, Env};
use crate::options::{Sharing, SseOptions};

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
            let mut same_url = connections
                .iter()
                .filter_map(Weak::upgrade)
                .filter(|connection| connection.url() == url);
            match &options.sharing {
                Sharing::Own => None,
                Sharing::Group(_) => {
                    same_url.find(|connection| connection.options().sharing == options.sharing)
                }
                Sharing::EqualOptions => {
                    let same_url: Vec<_> = same_url.collect();
                    let equal = same_url
                        .iter()
                        .find(|connection| connection.options() == options)
                        .cloned();
                    if equal.is_none() {
                        warn_of_a_second_connection(url, options, &same_url);
                    }
                    equal
                }
            }
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

/// In debug builds, says why a second connection to `url` opens beside `others`: their
/// options differ from `options`, which is rarely what an app means when two components
/// subscribe to one stream.
fn warn_of_a_second_connection<E: Env>(
    url: &str,
    options: &SseOptions,
    others: &[Rc<Connection<E>>],
) {
    if !cfg!(debug_assertions) {
        return;
    }
    for other in others
        .iter()
        .filter(|other| other.options().sharing == Sharing::EqualOptions)
    {
        leptos::logging::warn!(
            "tidings: a second connection to {url}, because its options differ in {}. To share \
             one connection, pass the same SseOptions, or name a group in both: \
             SseOptions::sharing(Sharing::group(..)).",
            options.differences(other.options()).join(", ")
        );
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
