//! Compressed event streams (feature `compression`): [`Compression`], negotiated from the
//! request's `Accept-Encoding` by [`AcceptEncoding`], and applied by
//! [`EventStream::compress`](crate::EventStream::compress).
//!
//! A compressor keeps what it is given until it has enough to be worth compressing: a general
//! compression middleware on an event stream holds every small event back, for seconds or for
//! ever (tower-http's `CompressionLayer` leaves `text/event-stream` alone for that reason). Here
//! the compressor is flushed after every write the stream makes (an event, a batch of them, a
//! keep-alive), so each goes out whole and at once, and the compression context carries over
//! from one event to the next: repeated field names and values cost a few bytes after the first.
//!
//! The price is memory: each compressed stream holds its compressor's state, where an idle
//! uncompressed stream holds 0.3 KiB. Measured by `cargo xtask bench compression`: zstd 33 KiB,
//! gzip 341 KiB, Brotli 1 068 KiB per stream. zstd is chosen first when a client offers several
//! (it also compresses event streams nearly as well as Brotli: 27% of the bytes against 22%,
//! gzip 38%). Compress the busy streams of a few clients (dashboards, LLM tokens over slow
//! links), not ten thousand idle ones.

use std::convert::Infallible;
use std::fmt;
use std::io::Write as _;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::extract::FromRequestParts;
use axum::http::header::ACCEPT_ENCODING;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue};
use bytes::Bytes;
use pin_project_lite::pin_project;

/// A content coding for an event stream: see the [module documentation](self).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Compression {
    /// `gzip` (level 6), which every client decodes. About 341 KiB per stream.
    Gzip,
    /// `br`, Brotli (quality 5, a 256 KiB window): browsers offer it to secure origins
    /// (HTTPS, and loopback). About 1 MiB per stream.
    Brotli,
    /// `zstd` (level 3, a 256 KiB window): Chromium 123+ and Firefox 126+ offer it to secure
    /// origins. About 33 KiB per stream.
    Zstd,
}

/// The codings a client may be given, best first when it likes several as much.
const PREFERENCE: [Compression; 3] = [Compression::Zstd, Compression::Brotli, Compression::Gzip];

impl Compression {
    /// The coding's name in `Accept-Encoding` and `Content-Encoding`.
    #[must_use]
    pub fn token(self) -> &'static str {
        match self {
            Self::Gzip => "gzip",
            Self::Brotli => "br",
            Self::Zstd => "zstd",
        }
    }

    /// The coding to answer a request with `headers`: the one of [`Compression`] the
    /// `Accept-Encoding` header likes most (by `q`, ties going to zstd, then Brotli, then gzip),
    /// or `None` when it names none of them (or there is no such header: no compression).
    #[must_use]
    pub fn negotiate(headers: &HeaderMap) -> Option<Self> {
        let mut best: Option<(Self, u16)> = None;
        for value in headers.get_all(ACCEPT_ENCODING) {
            let Ok(value) = value.to_str() else { continue };
            for coding in value.split(',') {
                let mut parts = coding.split(';');
                let name = parts.next().unwrap_or_default().trim();
                let quality = parts
                    .find_map(|param| {
                        let (key, value) = param.split_once('=')?;
                        (key.trim().eq_ignore_ascii_case("q")).then(|| parse_quality(value.trim()))
                    })
                    .unwrap_or(Some(1000));
                let Some(quality) = quality.filter(|&q| q > 0) else {
                    continue;
                };
                let candidates: &[Self] = if name == "*" {
                    &PREFERENCE
                } else {
                    match PREFERENCE.iter().find(|c| {
                        c.token().eq_ignore_ascii_case(name)
                            || (**c == Self::Gzip && name.eq_ignore_ascii_case("x-gzip"))
                    }) {
                        Some(coding) => std::slice::from_ref(coding),
                        None => continue,
                    }
                };
                for &candidate in candidates {
                    let rank = |c: Self| {
                        PREFERENCE
                            .iter()
                            .position(|p| *p == c)
                            .unwrap_or(usize::MAX)
                    };
                    let better = match best {
                        None => true,
                        Some((current, q)) => {
                            quality > q || (quality == q && rank(candidate) < rank(current))
                        }
                    };
                    // `*` does not override a coding the header names.
                    if better && !(name == "*" && names(headers, candidate)) {
                        best = Some((candidate, quality));
                    }
                }
            }
        }
        best.map(|(coding, _)| coding)
    }
}

/// Whether `headers`' `Accept-Encoding` names `coding` itself (whatever its `q`).
fn names(headers: &HeaderMap, coding: Compression) -> bool {
    headers
        .get_all(ACCEPT_ENCODING)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|item| {
            item.split(';')
                .next()
                .is_some_and(|name| name.trim().eq_ignore_ascii_case(coding.token()))
        })
}

/// A `q` value (`0` to `1`, up to three decimals) in thousandths.
fn parse_quality(text: &str) -> Option<u16> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let fraction: u16 = format!("{fraction:0<3}").parse().ok()?;
    match whole {
        "0" => Some(fraction),
        "1" if fraction == 0 => Some(1000),
        _ => None,
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.token())
    }
}

/// The coding a request's `Accept-Encoding` asks for, as an extractor: see
/// [`Compression::negotiate`]. It never rejects a request.
///
/// ```
/// use axum::extract::State;
/// use tidings_axum::compress::AcceptEncoding;
/// use tidings_axum::{Channel, EventStream, LastEventId};
///
/// async fn events(
///     State(channel): State<Channel>,
///     LastEventId(id): LastEventId,
///     AcceptEncoding(coding): AcceptEncoding,
/// ) -> EventStream {
///     channel.subscribe(id.as_deref()).compress(coding)
/// }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AcceptEncoding(pub Option<Compression>);

impl<S: Send + Sync> FromRequestParts<S> for AcceptEncoding {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(Compression::negotiate(&parts.headers)))
    }
}

/// A compressor writing into a buffer that is emptied after each write.
enum Encoder {
    Gzip(flate2::write::GzEncoder<Vec<u8>>),
    Brotli(Box<brotli::CompressorWriter<Vec<u8>>>),
    Zstd(zstd::stream::write::Encoder<'static, Vec<u8>>),
}

impl Encoder {
    fn new(coding: Compression) -> std::io::Result<Self> {
        Ok(match coding {
            Compression::Gzip => Self::Gzip(flate2::write::GzEncoder::new(
                Vec::new(),
                flate2::Compression::new(6),
            )),
            Compression::Brotli => Self::Brotli(Box::new(brotli::CompressorWriter::new(
                Vec::new(),
                4096,
                5,
                18,
            ))),
            Compression::Zstd => {
                let mut encoder = zstd::stream::write::Encoder::new(Vec::new(), 3)?;
                encoder.window_log(18)?;
                Self::Zstd(encoder)
            }
        })
    }

    /// Compresses `data` and flushes, returning every byte that makes it decodable.
    fn write(&mut self, data: &[u8]) -> std::io::Result<Bytes> {
        let out = match self {
            Self::Gzip(encoder) => {
                encoder.write_all(data)?;
                encoder.flush()?;
                encoder.get_mut()
            }
            Self::Brotli(encoder) => {
                encoder.write_all(data)?;
                encoder.flush()?;
                encoder.get_mut()
            }
            Self::Zstd(encoder) => {
                encoder.write_all(data)?;
                encoder.flush()?;
                encoder.get_mut()
            }
        };
        Ok(Bytes::from(std::mem::take(out)))
    }

    /// Ends the compressed stream: its last bytes.
    fn finish(self) -> std::io::Result<Bytes> {
        let out = match self {
            Self::Gzip(encoder) => encoder.finish()?,
            Self::Brotli(encoder) => encoder.into_inner(),
            Self::Zstd(encoder) => encoder.finish()?,
        };
        Ok(Bytes::from(out))
    }
}

pin_project! {
    /// `inner`'s bytes, compressed, each write flushed.
    pub(crate) struct Compressed<B> {
        #[pin]
        inner: B,
        // `None` once the stream has ended.
        encoder: Option<Encoder>,
    }
}

impl<B> Compressed<B> {
    /// `inner` in `coding`, or `inner` back if its compressor cannot be made.
    pub(crate) fn new(inner: B, coding: Compression) -> Result<Self, B> {
        match Encoder::new(coding) {
            Ok(encoder) => Ok(Self {
                inner,
                encoder: Some(encoder),
            }),
            Err(_) => Err(inner),
        }
    }
}

/// The `Content-Encoding` value of `coding`.
pub(crate) fn header_value(coding: Compression) -> HeaderValue {
    HeaderValue::from_static(coding.token())
}

impl<B> http_body::Body for Compressed<B>
where
    B: http_body::Body<Data = Bytes, Error = Infallible>,
{
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Infallible>>> {
        let mut this = self.project();
        loop {
            let Some(encoder) = this.encoder.as_mut() else {
                return Poll::Ready(None);
            };
            let frame = match std::task::ready!(this.inner.as_mut().poll_frame(cx)) {
                Some(Ok(frame)) => frame,
                Some(Err(never)) => match never {},
                None => {
                    // The end: the compressor's trailer, if it can make one.
                    let last = this.encoder.take().and_then(|e| e.finish().ok());
                    return Poll::Ready(last.map(|bytes| Ok(http_body::Frame::data(bytes))));
                }
            };
            let Ok(data) = frame.into_data() else {
                continue;
            };
            match encoder.write(&data) {
                Ok(bytes) if bytes.is_empty() => continue,
                Ok(bytes) => return Poll::Ready(Some(Ok(http_body::Frame::data(bytes)))),
                // A compressor that fails (it writes to memory; it should not) ends the stream,
                // which the client resumes from its last event.
                Err(_) => {
                    *this.encoder = None;
                    return Poll::Ready(None);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accepting(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            ACCEPT_ENCODING,
            HeaderValue::from_str(value).expect("a header value"),
        );
        headers
    }

    #[test]
    fn negotiation_follows_q_values_then_preference() {
        use Compression::{Brotli, Gzip, Zstd};
        for (header, expected) in [
            ("", None),
            ("identity", None),
            ("deflate", None),
            ("gzip, deflate", Some(Gzip)),
            ("gzip, deflate, br, zstd", Some(Zstd)),
            ("gzip, deflate, br", Some(Brotli)),
            ("br;q=0.5, gzip;q=0.9", Some(Gzip)),
            ("br;q=0.5, gzip;q=0", Some(Brotli)),
            ("gzip;q=0", None),
            ("*", Some(Zstd)),
            ("*;q=0.1, gzip", Some(Gzip)),
            ("zstd;q=0, *", Some(Brotli)),
            ("X-GZIP", Some(Gzip)),
            ("gzip;q=2", None),
            ("gzip;q=0.1234", None),
            ("gzip ; q=0.001", Some(Gzip)),
        ] {
            assert_eq!(
                Compression::negotiate(&accepting(header)),
                expected,
                "Accept-Encoding: {header}"
            );
        }
        assert_eq!(Compression::negotiate(&HeaderMap::new()), None);
    }

    /// A decoder of `coding`, writing what it decodes into a `Vec`.
    enum Decoder {
        Gzip(flate2::write::GzDecoder<Vec<u8>>),
        Brotli(Box<brotli::DecompressorWriter<Vec<u8>>>),
        Zstd(zstd::stream::write::Decoder<'static, Vec<u8>>),
    }

    impl Decoder {
        fn new(coding: Compression) -> Self {
            match coding {
                Compression::Gzip => Self::Gzip(flate2::write::GzDecoder::new(Vec::new())),
                Compression::Brotli => {
                    Self::Brotli(Box::new(brotli::DecompressorWriter::new(Vec::new(), 4096)))
                }
                Compression::Zstd => {
                    Self::Zstd(zstd::stream::write::Decoder::new(Vec::new()).expect("a decoder"))
                }
            }
        }

        /// Feeds `bytes`, and returns everything decoded so far.
        fn feed(&mut self, bytes: &[u8]) -> String {
            let out = match self {
                Self::Gzip(decoder) => {
                    decoder.write_all(bytes).expect("gzip");
                    decoder.flush().expect("gzip");
                    decoder.get_ref()
                }
                Self::Brotli(decoder) => {
                    decoder.write_all(bytes).expect("brotli");
                    decoder.flush().expect("brotli");
                    decoder.get_ref()
                }
                Self::Zstd(decoder) => {
                    decoder.write_all(bytes).expect("zstd");
                    decoder.flush().expect("zstd");
                    decoder.get_ref()
                }
            };
            String::from_utf8(out.clone()).expect("UTF-8")
        }
    }

    /// Each write is decodable as soon as it is out: fed the writes so far, a decoder gives
    /// back every event so far, and the context makes later events cheap.
    #[test]
    fn each_write_decodes_whole_at_once_and_later_ones_cost_little() {
        let events: Vec<String> = (0..50)
            .map(|n| {
                format!("event: tick\ndata: {{\"symbol\":\"ACME\",\"price\":{n}.5}}\nid: {n}\n\n")
            })
            .collect();
        for coding in PREFERENCE {
            let mut encoder = Encoder::new(coding).expect("an encoder");
            let mut decoder = Decoder::new(coding);
            let mut sizes = Vec::new();
            for (n, event) in events.iter().enumerate() {
                let bytes = encoder.write(event.as_bytes()).expect("compressed");
                sizes.push(bytes.len());
                assert_eq!(
                    decoder.feed(&bytes),
                    events[..=n].concat(),
                    "{coding}, event {n}"
                );
            }
            let end = encoder.finish().expect("the end");
            assert_eq!(decoder.feed(&end), events.concat());
            let later: usize = sizes[10..].iter().sum::<usize>() / (sizes.len() - 10);
            println!(
                "{coding}: {later} bytes for an event of {}",
                events[10].len()
            );
            assert!(
                later * 2 < events[10].len(),
                "{coding}: {later} bytes for an event of {}",
                events[10].len()
            );
        }
    }
}
