//! A write deadline for every connection: a client that stops reading is cut off.
//!
//! An event stream never ends by itself, and a client that stops reading (a frozen tab, a dead
//! proxy, a hostile script) stops taking bytes: the socket's send buffer fills, hyper stops
//! polling the response body, and nothing in the body (its keep-alive, its lag check) runs any
//! more. The connection then holds its send buffer, its stream's place in the
//! [`ConnectionLimiter`](crate::ConnectionLimiter) and graceful shutdown, for as long as the
//! client likes.
//!
//! [`WriteDeadline`] wraps the server's listener so that a write the peer does not take within
//! the deadline fails: hyper ends that connection, the stream is dropped with its permit, and a
//! client that comes back resumes from its last event ID, so nothing is lost. NATS does the same
//! to a slow consumer (`write_deadline`, 10 s by default).
//!
//! ```no_run
//! use std::time::Duration;
//! use axum::Router;
//! use tidings_axum::deadline::{PeerAddr, WriteDeadline};
//!
//! # async fn run(app: Router) -> std::io::Result<()> {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! let listener = WriteDeadline::new(listener, Duration::from_secs(10));
//! // `ConnectInfo<PeerAddr>` in handlers, for the client's address.
//! axum::serve(listener, app.into_make_service_with_connect_info::<PeerAddr>()).await
//! # }
//! ```

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// The deadline [`WriteDeadline::default_deadline`] suggests: NATS's `write_deadline`.
pub const DEFAULT_WRITE_DEADLINE: Duration = Duration::from_secs(10);

/// A listener whose connections fail any write the peer does not take within a deadline: see
/// the [module documentation](self).
#[derive(Debug)]
pub struct WriteDeadline<L> {
    inner: L,
    deadline: Duration,
}

impl<L> WriteDeadline<L> {
    /// Wraps `listener`: a write pending for longer than `deadline` fails with
    /// [`io::ErrorKind::TimedOut`], which ends the connection.
    ///
    /// # Panics
    ///
    /// If `deadline` is zero.
    #[must_use]
    #[track_caller]
    pub fn new(listener: L, deadline: Duration) -> Self {
        assert!(
            !deadline.is_zero(),
            "a write deadline must be longer than zero"
        );
        Self {
            inner: listener,
            deadline,
        }
    }

    /// Wraps `listener` with [`DEFAULT_WRITE_DEADLINE`] (10 s).
    #[must_use]
    pub fn default_deadline(listener: L) -> Self {
        Self::new(listener, DEFAULT_WRITE_DEADLINE)
    }

    /// The deadline.
    #[must_use]
    pub fn deadline(&self) -> Duration {
        self.deadline
    }
}

impl<L: Listener> Listener for WriteDeadline<L> {
    type Io = DeadlineIo<L::Io>;
    type Addr = L::Addr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let (io, addr) = self.inner.accept().await;
        (DeadlineIo::new(io, self.deadline), addr)
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

/// A connection of a [`WriteDeadline`] listener.
#[derive(Debug)]
pub struct DeadlineIo<T> {
    inner: T,
    deadline: Duration,
    /// Armed while a write (or flush) waits for the peer to take bytes.
    stalled: Option<Pin<Box<Sleep>>>,
}

impl<T> DeadlineIo<T> {
    fn new(inner: T, deadline: Duration) -> Self {
        Self {
            inner,
            deadline,
            stalled: None,
        }
    }

    /// `poll` went through, or is still waiting: in the latter case, fails it once the peer
    /// has taken nothing for the deadline.
    fn guard<R>(&mut self, cx: &mut Context<'_>, poll: Poll<io::Result<R>>) -> Poll<io::Result<R>> {
        if poll.is_ready() {
            self.stalled = None;
            return poll;
        }
        let deadline = self.deadline;
        let stalled = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(Instant::now() + deadline)));
        ready!(stalled.as_mut().poll(cx));
        self.stalled = None;
        Poll::Ready(Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("the peer took no bytes for {deadline:?}"),
        )))
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for DeadlineIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for DeadlineIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.guard(cx, poll)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.guard(cx, poll)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let poll = Pin::new(&mut self.inner).poll_flush(cx);
        self.guard(cx, poll)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let poll = Pin::new(&mut self.inner).poll_shutdown(cx);
        self.guard(cx, poll)
    }
}

/// The peer's address, for `ConnectInfo<PeerAddr>` with a [`WriteDeadline`] listener (axum's
/// `ConnectInfo<SocketAddr>` only knows its own listeners).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PeerAddr(pub SocketAddr);

impl<L> Connected<IncomingStream<'_, WriteDeadline<L>>> for PeerAddr
where
    L: Listener<Addr = SocketAddr>,
{
    fn connect_info(stream: IncomingStream<'_, WriteDeadline<L>>) -> Self {
        Self(*stream.remote_addr())
    }
}
