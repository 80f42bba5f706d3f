//! Graceful shutdown of a server of streams, over real sockets on loopback: axum's own waits
//! while any stream is open; with [`Shutdown`] the streams end when shutdown begins, and
//! `run` gives up on clients that stopped reading once the deadline has passed. Both measured
//! in the same run.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::Router;
use axum::middleware::from_fn_with_state;
use tidings_axum::Channel;
use tidings_axum::shutdown::{Shutdown, end_on_shutdown};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};

/// Opens the stream; `reads` clients get a normal socket, the others a small receive buffer
/// and never read past the headers.
async fn client(addr: SocketAddr, reads: bool) -> TcpStream {
    let socket = TcpSocket::new_v4().expect("a socket");
    if !reads {
        socket.set_recv_buffer_size(4096).expect("a small buffer");
    }
    let mut stream = socket.connect(addr).await.expect("connects");
    let request = format!("GET /events HTTP/1.1\r\nHost: {addr}\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("sends");
    let mut start = vec![0; 256];
    let n = stream.read(&mut start).await.expect("the response starts");
    assert!(start[..n].starts_with(b"HTTP/1.1 200"));
    stream
}

/// Publishes 64 KiB events every 5 ms, for a bounded time: enough to fill what a client that
/// does not read can buffer.
fn publish(channel: &Channel) -> tokio::task::JoinHandle<()> {
    let channel = channel.clone();
    tokio::spawn(async move {
        let data = "x".repeat(64 * 1024);
        for _ in 0..2_000 {
            channel.publish_data(Some("big"), &data);
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
}

/// Reads until the stream ends (EOF or the chunked terminator), up to `patience`; whether it did.
async fn ends_within(stream: &mut TcpStream, patience: Duration) -> bool {
    let deadline = Instant::now() + patience;
    let mut tail = Vec::new();
    let mut buffer = vec![0; 64 * 1024];
    while Instant::now() < deadline {
        match tokio::time::timeout_at(deadline.into(), stream.read(&mut buffer)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(n)) => {
                tail.extend_from_slice(&buffer[..n]);
                if tail.ends_with(b"\r\n0\r\n\r\n") {
                    return true;
                }
                let keep = tail.len().saturating_sub(16);
                tail.drain(..keep);
            }
            Err(_) => return false,
        }
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_end_at_shutdown_and_stuck_clients_are_given_up_after_the_deadline() {
    // axum's graceful shutdown alone: with streams open it does not finish.
    let channel = Channel::new();
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
    let addr = listener.local_addr().expect("bound");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let plain = tokio::spawn(
        axum::serve(listener, channel.routes::<()>("/events"))
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .into_future(),
    );
    let _reader = client(addr, true).await;
    let publisher = publish(&channel);
    let _ = stop.send(());
    let waited = tokio::time::timeout(Duration::from_secs(2), plain).await;
    assert!(
        waited.is_err(),
        "graceful shutdown finished with a stream open"
    );
    publisher.abort();

    // With Shutdown: the reader's stream ends; the stuck clients are dropped at the deadline.
    let channel = Channel::new();
    let shutdown = Shutdown::new();
    let app: Router = channel
        .routes("/events")
        .route_layer(from_fn_with_state(shutdown.clone(), end_on_shutdown));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
    let addr = listener.local_addr().expect("bound");
    let signal = Shutdown::new();
    let server = axum::serve(listener, app).with_graceful_shutdown({
        let signal = signal.clone();
        shutdown.clone().after(async move { signal.begun().await })
    });
    let running = tokio::spawn({
        let shutdown = shutdown.clone();
        async move { shutdown.run(server, Duration::from_secs(1)).await }
    });
    let mut reader = client(addr, true).await;
    let mut stuck = Vec::new();
    for _ in 0..5 {
        stuck.push(client(addr, false).await);
    }
    let publisher = publish(&channel);
    // Let the stuck clients' buffers fill.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let begun = Instant::now();
    signal.begin();
    assert!(
        ends_within(&mut reader, Duration::from_secs(3)).await,
        "the reading client's stream did not end"
    );
    let ended = tokio::time::timeout(Duration::from_secs(5), running)
        .await
        .expect("the server stopped")
        .expect("joined");
    assert!(ended.is_ok(), "{ended:?}");
    let took = begun.elapsed();
    assert!(took < Duration::from_secs(3), "shutdown took {took:?}");
    eprintln!(
        "shutdown with 1 reading and 5 stuck clients: {} ms (deadline 1 s)",
        took.as_millis()
    );
    publisher.abort();
    drop(stuck);
}
