//! The [`EventStream`] response.

use std::convert::Infallible;
use std::future::Future as _;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::body::Body;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::stream::{BoxStream, Stream, StreamExt};
use pin_project_lite::pin_project;
use tidings_wire::Frame;
use tokio::time::{Instant, Sleep};

/// The keep-alive interval of a new [`EventStream`]: a comment after 15 idle seconds, well under
/// the idle time-outs of common proxies and load balancers (often 30 to 60 s).
pub const DEFAULT_KEEP_ALIVE: Duration = Duration::from_secs(15);

/// An SSE response: the given frames, streamed as `text/event-stream`.
///
/// It sets `Content-Type: text/event-stream`, `Cache-Control: no-cache` and
/// `X-Accel-Buffering: no` (which stops nginx, and proxies that follow it, from buffering the
/// stream), sends an optional [`retry`](EventStream::retry) hint first, and sends a comment
/// whenever the stream has been idle for the [keep-alive](EventStream::keep_alive) interval, so
/// that idle connections are neither cut by proxies nor taken for dead by clients.
#[must_use]
pub struct EventStream {
    /// Encoded frames.
    frames: BoxStream<'static, Bytes>,
    keep_alive: Option<Duration>,
    retry: Option<Duration>,
    /// Values kept alive as long as the stream: see [`EventStream::hold`].
    held: Vec<Box<dyn Send + Sync>>,
    #[cfg(feature = "compression")]
    compression: Option<crate::compress::Compression>,
}

impl EventStream {
    /// A response streaming `frames`, with the [default keep-alive](DEFAULT_KEEP_ALIVE).
    pub fn new<S>(frames: S) -> Self
    where
        S: Stream<Item = Frame> + Send + 'static,
    {
        Self::from_bytes(frames.map(|frame| Bytes::from(frame.into_string())))
    }

    /// A response streaming frames that are already encoded (whole frames, in order).
    pub(crate) fn from_bytes<S>(frames: S) -> Self
    where
        S: Stream<Item = Bytes> + Send + 'static,
    {
        Self {
            frames: frames.boxed(),
            keep_alive: Some(DEFAULT_KEEP_ALIVE),
            retry: None,
            held: Vec::new(),
            #[cfg(feature = "compression")]
            compression: None,
        }
    }

    /// Keeps `value` alive until the stream ends (the client disconnects, or the frames end):
    /// a connection permit from a [`ConnectionLimiter`](crate::ConnectionLimiter), say.
    pub fn hold(mut self, value: impl Send + Sync + 'static) -> Self {
        self.held.push(Box::new(value));
        self
    }

    /// Sends a keep-alive comment after each `interval` without a frame: the line `:`, with no
    /// blank line after it, so that no client dispatches an empty event for it.
    ///
    /// # Panics
    ///
    /// If `interval` is zero.
    #[track_caller]
    pub fn keep_alive(mut self, interval: Duration) -> Self {
        assert!(
            !interval.is_zero(),
            "the keep-alive interval must not be zero"
        );
        self.keep_alive = Some(interval);
        self
    }

    /// Sends no keep-alive comments.
    pub fn without_keep_alive(mut self) -> Self {
        self.keep_alive = None;
        self
    }

    /// Opens the stream with a `retry` field: how long a client should wait before reconnecting
    /// after the connection is lost. It is sent as a line of its own, with no blank line after
    /// it, so that no client dispatches an empty event for it (see [`Frame`]).
    pub fn retry(mut self, delay: Duration) -> Self {
        self.retry = Some(delay);
        self
    }

    /// Compresses the stream with `coding` (none for `None`), flushing after every write so
    /// that each event goes out whole and at once: see [`compress`](crate::compress). Pass what
    /// [`AcceptEncoding`](crate::compress::AcceptEncoding) (or
    /// [`Compression::negotiate`](crate::compress::Compression::negotiate)) found in the
    /// request: a client must have offered the coding. The response says `Content-Encoding`
    /// and `Vary: Accept-Encoding`.
    #[cfg(feature = "compression")]
    #[cfg_attr(docsrs, doc(cfg(feature = "compression")))]
    pub fn compress(mut self, coding: Option<crate::compress::Compression>) -> Self {
        self.compression = coding;
        self
    }
}

impl IntoResponse for EventStream {
    fn into_response(self) -> Response {
        let hint = self
            .retry
            .map(|delay| Bytes::from(Frame::new().retry(delay).into_string()));
        // One allocation for the whole body: every idle client holds one.
        let body = SseBody {
            hint,
            frames: self.frames,
            keep_alive: self.keep_alive.map(|interval| KeepAlive {
                idle: tokio::time::sleep(interval),
                interval,
            }),
            _held: self.held,
        };
        let headers = [
            (
                CONTENT_TYPE,
                HeaderValue::from_static(tidings_wire::CONTENT_TYPE),
            ),
            (CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            (
                axum::http::HeaderName::from_static("x-accel-buffering"),
                HeaderValue::from_static("no"),
            ),
        ];
        #[cfg(feature = "compression")]
        let body = match self.compression {
            None => body,
            Some(coding) => match crate::compress::Compressed::new(body, coding) {
                Ok(compressed) => {
                    let mut response = (headers, Body::new(compressed)).into_response();
                    let response_headers = response.headers_mut();
                    response_headers.insert(
                        axum::http::header::CONTENT_ENCODING,
                        crate::compress::header_value(coding),
                    );
                    response_headers.append(
                        axum::http::header::VARY,
                        HeaderValue::from_static("accept-encoding"),
                    );
                    return response;
                }
                // No compressor to be had: the stream goes out as it is.
                Err(body) => body,
            },
        };
        (headers, Body::new(body)).into_response()
    }
}

pin_project! {
    /// The bytes as they go out: the retry hint, the frames, a comment whenever none came for
    /// the keep-alive interval; the held values are dropped with it.
    struct SseBody {
        hint: Option<Bytes>,
        frames: BoxStream<'static, Bytes>,
        #[pin]
        keep_alive: Option<KeepAlive>,
        _held: Vec<Box<dyn Send + Sync>>,
    }
}

pin_project! {
    struct KeepAlive {
        #[pin]
        idle: Sleep,
        interval: Duration,
    }
}

impl http_body::Body for SseBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Infallible>>> {
        let mut this = self.project();
        if let Some(hint) = this.hint.take() {
            return Poll::Ready(Some(Ok(http_body::Frame::data(hint))));
        }
        if let Poll::Ready(next) = this.frames.poll_next_unpin(cx) {
            if let Some(keep_alive) = this.keep_alive.as_mut().as_pin_mut() {
                let keep_alive = keep_alive.project();
                keep_alive.idle.reset(Instant::now() + *keep_alive.interval);
            }
            return Poll::Ready(next.map(|bytes| Ok(http_body::Frame::data(bytes))));
        }
        let Some(keep_alive) = this.keep_alive.as_mut().as_pin_mut() else {
            return Poll::Pending;
        };
        let mut keep_alive = keep_alive.project();
        ready!(keep_alive.idle.as_mut().poll(cx));
        keep_alive.idle.reset(Instant::now() + *keep_alive.interval);
        // A comment line with no blank line after it: no client takes it for an event.
        Poll::Ready(Some(Ok(http_body::Frame::data(Bytes::from_static(b":\n")))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::stream;
    use http_body_util::BodyExt;
    use tokio_stream::wrappers::ReceiverStream;

    async fn next_chunk(body: &mut Body) -> Option<String> {
        let frame = body.frame().await?.expect("infallible body");
        let data = frame.into_data().expect("a data frame");
        Some(String::from_utf8(data.to_vec()).expect("UTF-8"))
    }

    #[tokio::test]
    async fn headers_stop_proxies_from_buffering() {
        let response = EventStream::new(stream::empty()).into_response();
        let headers = response.headers();
        assert_eq!(headers[CONTENT_TYPE], "text/event-stream");
        assert_eq!(headers[CACHE_CONTROL], "no-cache");
        assert_eq!(headers["x-accel-buffering"], "no");
    }

    #[tokio::test]
    async fn retry_hint_comes_first_then_frames() {
        let frames = stream::iter([
            Frame::new().id("1").data("a"),
            Frame::new().id("2").data("b"),
        ]);
        let response = EventStream::new(frames)
            .retry(Duration::from_millis(2500))
            .into_response();
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("infallible")
            .to_bytes();
        // The hint is a line of its own with no blank line after it: it dispatches nothing.
        assert_eq!(bytes, "retry: 2500\nid: 1\ndata: a\n\nid: 2\ndata: b\n\n");
    }

    #[tokio::test(start_paused = true)]
    async fn keep_alive_only_while_idle() {
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        let response = EventStream::new(ReceiverStream::new(rx))
            .keep_alive(Duration::from_secs(10))
            .into_response();
        let mut body = response.into_body();
        let start = Instant::now();

        // Idle: a comment after exactly one interval, then another after the next.
        assert_eq!(next_chunk(&mut body).await.as_deref(), Some(":\n"));
        assert_eq!(start.elapsed(), Duration::from_secs(10));
        assert_eq!(next_chunk(&mut body).await.as_deref(), Some(":\n"));
        assert_eq!(start.elapsed(), Duration::from_secs(20));

        // A frame at 27 s resets the timer: the next comment is due at 37 s, not 30 s.
        tokio::time::sleep(Duration::from_secs(7)).await;
        tx.send(Frame::new().data("x"))
            .await
            .expect("receiver alive");
        assert_eq!(next_chunk(&mut body).await.as_deref(), Some("data: x\n\n"));
        assert_eq!(next_chunk(&mut body).await.as_deref(), Some(":\n"));
        assert_eq!(start.elapsed(), Duration::from_secs(37));

        // The stream ends when its frames end.
        drop(tx);
        assert_eq!(next_chunk(&mut body).await, None);
    }
}
