//! Compressed streams (feature `compression`) through a real router: negotiated from
//! `Accept-Encoding`, each live event decodable the moment it is written, resumes exact.
#![cfg(feature = "compression")]

use std::io::Write;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{Request, header};
use axum::routing::get;
use http_body_util::BodyExt;
use tidings_axum::compress::AcceptEncoding;
use tidings_axum::{Channel, EventStream, LastEventId};
use tidings_wire::Parser;
use tower::ServiceExt;

async fn events(
    State(channel): State<Channel>,
    LastEventId(id): LastEventId,
    AcceptEncoding(coding): AcceptEncoding,
) -> EventStream {
    channel
        .subscribe(id.as_deref())
        .keep_alive(Duration::from_millis(200))
        .compress(coding)
}

async fn open(channel: &Channel, accept: &str, last: Option<&str>) -> axum::response::Response {
    let mut request = Request::get("/events").header(header::ACCEPT_ENCODING, accept);
    if let Some(last) = last {
        request = request.header("last-event-id", last);
    }
    Router::new()
        .route("/events", get(events))
        .with_state(channel.clone())
        .oneshot(request.body(Body::empty()).expect("a request"))
        .await
        .expect("infallible")
}

/// Feeds a decoder one write, and returns what it decodes to.
type Feed = dyn FnMut(&[u8]) -> Vec<u8>;

/// Decodes what it is fed, write by write.
struct Decoder(Box<Feed>);

impl Decoder {
    fn for_coding(coding: &str) -> Self {
        fn drain<W: Write + 'static>(mut decoder: W, take: fn(&mut W) -> &mut Vec<u8>) -> Decoder {
            Decoder(Box::new(move |bytes| {
                decoder.write_all(bytes).expect("decodes");
                decoder.flush().expect("decodes");
                std::mem::take(take(&mut decoder))
            }))
        }
        match coding {
            "gzip" => drain(flate2::write::GzDecoder::new(Vec::new()), |d| d.get_mut()),
            "br" => drain(brotli::DecompressorWriter::new(Vec::new(), 4096), |d| {
                d.get_mut()
            }),
            "zstd" => drain(
                zstd::stream::write::Decoder::new(Vec::new()).expect("a decoder"),
                |d| d.get_mut(),
            ),
            other => panic!("no decoder for {other}"),
        }
    }
}

#[tokio::test]
async fn each_live_event_decodes_as_soon_as_it_is_written_in_every_coding() {
    for (accept, coding) in [
        ("gzip, deflate", "gzip"),
        ("gzip, br", "br"),
        ("br, zstd", "zstd"),
    ] {
        let channel = Channel::new();
        let response = open(&channel, accept, None).await;
        assert_eq!(response.headers()[header::CONTENT_ENCODING], coding);
        assert_eq!(response.headers()[header::VARY], "accept-encoding");
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            "text/event-stream"
        );
        let mut body = response.into_body();
        let mut decode = Decoder::for_coding(coding);
        let mut parser = Parser::new();
        for n in 0..20 {
            let id = channel.publish_data(Some("tick"), &format!(r#"{{"n":{n}}}"#));
            // The next write alone decodes to this event: nothing is held back.
            let frame = tokio::time::timeout(Duration::from_secs(2), body.frame())
                .await
                .expect("written at once")
                .expect("open")
                .expect("infallible");
            let events = parser.feed_owned(&decode.0(&frame.into_data().expect("data")));
            let event = events
                .first()
                .and_then(|e| e.as_ref().ok())
                .expect("one event");
            assert_eq!(
                (event.data.as_str(), event.last_event_id.as_str()),
                (format!(r#"{{"n":{n}}}"#).as_str(), id.as_str())
            );
        }
        // Idle, a keep-alive goes out compressed and decodes to the comment.
        let frame = body.frame().await.expect("open").expect("infallible");
        let text = decode.0(&frame.into_data().expect("data"));
        assert_eq!(text, b":\n", "{coding}: the keep-alive");
    }
}

#[tokio::test]
async fn without_a_coding_the_client_offered_the_stream_is_not_compressed_and_resumes() {
    let channel = Channel::new();
    let ids: Vec<String> = (0..5)
        .map(|n| channel.publish_data(None, &n.to_string()))
        .collect();
    let response = open(&channel, "identity, deflate", Some(&ids[1])).await;
    assert!(response.headers().get(header::CONTENT_ENCODING).is_none());
    let frame = response
        .into_body()
        .frame()
        .await
        .expect("open")
        .expect("infallible");
    let text = String::from_utf8(frame.into_data().expect("data").to_vec()).expect("UTF-8");
    assert!(
        text.starts_with(&format!("id: {}\ndata: 2\n\n", ids[2])),
        "{text}"
    );
}
