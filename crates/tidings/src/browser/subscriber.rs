//! Subscribers to one event type, and delivering an event to all of them: raw subscribers see
//! the event as it came; typed ones see it decoded, once per event and Rust type however many
//! subscribe to that type (in one component or several sharing the connection).

use std::any::{Any, TypeId};
use std::rc::Rc;
use std::sync::Arc;

use tidings_wire::{DecodeError, EventRef, TypedEvent};

/// A subscriber to one event type.
#[derive(Clone)]
pub(crate) enum Handler {
    /// Called with the event as it came, ID included.
    Raw(Rc<dyn Fn(EventRef<'_>)>),
    /// Called with the event decoded into a Rust type.
    Typed(Rc<dyn TypedHandler>),
}

/// A typed subscriber, its Rust type erased so that subscribers of many types share one list.
pub(crate) trait TypedHandler {
    /// The Rust type it decodes into: subscribers with the same one share a decode.
    fn decoded_type(&self) -> TypeId;
    /// Decodes `data` and takes the value: for the only subscriber of its type.
    fn call(&self, data: &str);
    /// Decodes `data`, for [`TypedHandler::call_decoded`] of every subscriber of its type.
    fn decode(&self, data: &str) -> Box<dyn Any>;
    /// Takes a value another subscriber of its type decoded: a clone of it, or the value itself
    /// when `last` (no other subscriber needs it after this one).
    fn call_decoded(&self, decoded: &mut Option<Box<dyn Any>>, last: bool);
}

/// What a typed subscriber is given: the value, or why it could not be decoded (shared, since
/// every subscriber of the type reports it).
type Decoded<T> = Result<T, Arc<DecodeError>>;

/// A subscriber to the events of `T`'s type, decoded into `T`.
pub(crate) struct Typed<T> {
    on_value: Box<dyn Fn(T)>,
    on_error: Box<dyn Fn(Arc<DecodeError>)>,
}

impl<T: TypedEvent + Clone + 'static> Typed<T> {
    /// Calls `on_value` with each decoded event, `on_error` with each that does not decode.
    pub(crate) fn handler(
        on_value: impl Fn(T) + 'static,
        on_error: impl Fn(Arc<DecodeError>) + 'static,
    ) -> Handler {
        Handler::Typed(Rc::new(Self {
            on_value: Box::new(on_value),
            on_error: Box::new(on_error),
        }))
    }

    fn take(&self, decoded: Decoded<T>) {
        match decoded {
            Ok(value) => (self.on_value)(value),
            Err(error) => (self.on_error)(error),
        }
    }
}

impl<T: TypedEvent + Clone + 'static> TypedHandler for Typed<T> {
    fn decoded_type(&self) -> TypeId {
        TypeId::of::<T>()
    }

    fn call(&self, data: &str) {
        self.take(T::decode(data).map_err(Arc::new));
    }

    fn decode(&self, data: &str) -> Box<dyn Any> {
        Box::new(T::decode(data).map_err(Arc::new))
    }

    fn call_decoded(&self, decoded: &mut Option<Box<dyn Any>>, last: bool) {
        let value = if last {
            decoded
                .take()
                .and_then(|decoded| decoded.downcast::<Decoded<T>>().ok())
                .map(|decoded| *decoded)
        } else {
            decoded
                .as_ref()
                .and_then(|decoded| decoded.downcast_ref::<Decoded<T>>())
                .cloned()
        };
        // Always there: the connection decodes with a subscriber of the same type.
        if let Some(value) = value {
            self.take(value);
        }
    }
}

/// The subscribers of one event type as of the last change, ready to deliver to: each typed
/// one knows whether it shares its decode, and whether it is the last of its type.
pub(crate) struct Delivery {
    entries: Vec<(Handler, Share)>,
    /// Whether any subscriber wants the event's ID (copying it out of the browser costs).
    pub(crate) wants_id: bool,
}

#[derive(Clone, Copy)]
enum Share {
    /// A raw subscriber, or the only one of its Rust type.
    Alone,
    /// One of several subscribers of its Rust type; `last` takes the decoded value.
    Shared { last: bool },
}

impl Delivery {
    /// Prepares delivery to `handlers`, in order.
    pub(crate) fn new(handlers: impl IntoIterator<Item = Handler>) -> Self {
        let handlers: Vec<Handler> = handlers.into_iter().collect();
        let type_of = |handler: &Handler| match handler {
            Handler::Typed(typed) => Some(typed.decoded_type()),
            Handler::Raw(_) => None,
        };
        let entries = handlers
            .iter()
            .enumerate()
            .map(|(i, handler)| {
                let share = match type_of(handler) {
                    Some(own) => {
                        let same = |other: &Handler| type_of(other) == Some(own);
                        let before = handlers[..i].iter().any(same);
                        let after = handlers[i + 1..].iter().any(same);
                        if before || after {
                            Share::Shared { last: !after }
                        } else {
                            Share::Alone
                        }
                    }
                    None => Share::Alone,
                };
                (handler.clone(), share)
            })
            .collect();
        Self {
            entries,
            wants_id: handlers
                .iter()
                .any(|handler| matches!(handler, Handler::Raw(_))),
        }
    }

    /// Whether there is no subscriber.
    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Delivers `event` to every subscriber, in order, decoding it once per Rust type.
    pub(crate) fn deliver(&self, event: EventRef<'_>) {
        // The decoded values of the shared types, made as the first of each asks.
        let mut decoded: Vec<(TypeId, Option<Box<dyn Any>>)> = Vec::new();
        for (handler, share) in &self.entries {
            match (handler, share) {
                (Handler::Raw(call), _) => call(event),
                (Handler::Typed(typed), Share::Alone) => typed.call(event.data),
                (Handler::Typed(typed), Share::Shared { last }) => {
                    let own = typed.decoded_type();
                    let slot = match decoded.iter().position(|(kind, _)| *kind == own) {
                        Some(slot) => slot,
                        None => {
                            decoded.push((own, Some(typed.decode(event.data))));
                            decoded.len() - 1
                        }
                    };
                    typed.call_decoded(&mut decoded[slot].1, *last);
                }
            }
        }
    }
}
