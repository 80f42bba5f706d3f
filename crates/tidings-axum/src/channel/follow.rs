//! [`Follow`]: the live part of a subscription, as a stream of its own rather than a chain of
//! combinators: one idle stream is held by every connected client, so its size is the
//! server's memory per client.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::Stream;
use pin_project_lite::pin_project;
use tokio::sync::futures::OwnedNotified;

use super::pace::{Pace, Pacing};
use super::{BATCH_BYTES, Batch, Channel, Key};

/// The cursor of a stream that has ended (no sequence number gets this far): a flag of its
/// own would make every idle stream 8 bytes larger.
const ENDED: u64 = u64::MAX;

pin_project! {
    /// The frames of a channel from a cursor on: what is kept, then what comes, in batches of
    /// at most [`BATCH_BYTES`]. It ends when its next event has left the log (the client comes
    /// back with its last ID and is told to resync).
    pub(super) struct Follow {
        channel: Channel,
        cursor: u64,
        // Events at or before it are skipped: set only for a resume from an ID newer than the
        // mirror had (boxed: 8 bytes where most streams need none), and cleared once passed.
        after: Option<Box<Key>>,
        // What is still to send of the last batch (or the resync that comes first).
        pending: std::vec::IntoIter<Bytes>,
        // Armed before each look at the log, so that an event published after the look wakes
        // the stream.
        #[pin]
        wake: OwnedNotified,
        // For a paced subscriber (boxed: most are not, and every idle stream holds one).
        pacing: Option<Box<Pacing>>,
    }
}

impl Follow {
    /// Follows `channel` from `cursor`, sending `first` (a resync) before anything else, at
    /// `pace` if given.
    pub(super) fn new(
        channel: Channel,
        cursor: u64,
        after: Key,
        first: Option<Bytes>,
        pace: Option<Pace>,
    ) -> Self {
        let wake = channel.shared.wake.clone().notified_owned();
        Self {
            channel,
            cursor,
            after: (after > (0, 0)).then(|| Box::new(after)),
            pending: first
                .map(|first| vec![first])
                .unwrap_or_default()
                .into_iter(),
            wake,
            pacing: pace.map(|pace| Box::new(Pacing::new(pace))),
        }
    }
}

impl Stream for Follow {
    type Item = Bytes;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        let mut this = self.project();
        loop {
            if let Some(chunk) = this.pending.next() {
                return Poll::Ready(Some(chunk));
            }
            // The batch's buffer is not kept while the stream waits.
            *this.pending = Vec::new().into_iter();
            if *this.cursor == ENDED {
                return Poll::Ready(None);
            }
            if let Some(pacing) = this.pacing.as_mut()
                && !pacing.poll_ready(cx)
            {
                return Poll::Pending;
            }
            // Registered before the look: an event published after it wakes the stream.
            this.wake.as_mut().enable();
            let after = this.after.as_deref().copied().unwrap_or((0, 0));
            let batch = match this.pacing.as_mut() {
                None => this.channel.read_batch(*this.cursor, after, BATCH_BYTES),
                Some(pacing) => {
                    let (batch, more) = this.channel.read_paced(*this.cursor, after, BATCH_BYTES);
                    // A backlog goes out as fast as the client takes it; at the head, the
                    // next write waits.
                    if matches!(batch, Batch::Events(..)) && !more {
                        pacing.wrote();
                    }
                    batch
                }
            };
            match batch {
                Batch::Events(chunks, next) => {
                    // Sent past it: nothing after this is at or before it.
                    *this.after = None;
                    *this.cursor = next;
                    *this.pending = chunks.into_iter();
                    continue;
                }
                Batch::Lagged(_) => {
                    *this.cursor = ENDED;
                    return Poll::Ready(None);
                }
                Batch::Empty(next) => *this.cursor = next,
            }
            match this.wake.as_mut().poll(cx) {
                Poll::Pending => return Poll::Pending,
                // Something was published: arm again, and look.
                Poll::Ready(()) => {
                    let again = this.channel.shared.wake.clone().notified_owned();
                    this.wake.set(again);
                }
            }
        }
    }
}
