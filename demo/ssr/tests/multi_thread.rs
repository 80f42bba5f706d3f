//! Pages with tidings render through leptos_axum on a multi-threaded runtime, as production
//! servers run them: every request completes, and nothing panics on any thread
//! (`cargo test -p demo-ssr --features ssr`).
#![cfg(feature = "ssr")]

use std::sync::atomic::{AtomicUsize, Ordering};

use demo_events::Tick;
use leptos::prelude::*;
use tidings_axum::Channel;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Panics anywhere in the process, on any thread, counted by the panic hook.
static PANICS: AtomicUsize = AtomicUsize::new(0);

const REQUESTS: usize = 200;
const CONCURRENCY: usize = 10;

/// One page, fetched over HTTP/1.1: the status line and the whole body, still chunk-encoded.
async fn get(addr: std::net::SocketAddr, path: &str) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(addr).await?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await?;
    Ok(String::from_utf8_lossy(&response).into_owned())
}

#[test]
fn pages_render_on_every_thread_without_a_panic() -> Result<(), Box<dyn std::error::Error>> {
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        PANICS.fetch_add(1, Ordering::SeqCst);
        report(info);
    }));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()?;
    let complete = runtime.block_on(async {
        let options = LeptosOptions::builder().output_name("demo-ssr").build();
        let ticker = Channel::new();
        let pages = demo_ssr::server::pages(options, {
            let ticker = ticker.clone();
            move || tidings::ssr::provide_replay_log(demo_ssr::app::TICKER, ticker.clone())
        });
        // A tick in the log before the first request, which every page then renders (the first
        // requests once raced the publisher and rendered the empty log's "waiting" note), and
        // ticks published all along, as pages render from the log.
        let first = Tick {
            symbol: "ACME".into(),
            price: 100.0,
            seq: 0,
        };
        ticker.publish(&first).expect("a tick serialises");
        let publisher = tokio::spawn(async move {
            for seq in 1.. {
                let tick = Tick {
                    symbol: "ACME".into(),
                    price: 100.0,
                    seq,
                };
                ticker.publish(&tick).expect("a tick serialises");
                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            }
        });
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let server = tokio::spawn(axum::serve(listener, pages).into_future());
        let mut complete = 0;
        for _ in 0..REQUESTS / CONCURRENCY {
            // The ticker (a Suspense beside rendered ticks) and the blog, in turns.
            let batch: Vec<_> = (0..CONCURRENCY)
                .map(|n| {
                    let path = if n % 2 == 0 { "/" } else { "/blog" };
                    (path, tokio::spawn(get(addr, path)))
                })
                .collect();
            for (path, request) in batch {
                let response = request.await??;
                assert!(response.starts_with("HTTP/1.1 200"), "{response}");
                let rendered = match path {
                    // The Suspense chunk streamed after the shell, and the rendered ticks.
                    "/" => response.contains("Markets are open.") && response.contains("ACME"),
                    _ => response.contains("No posts yet."),
                };
                // The whole page: the end of the chunked body.
                if rendered && response.ends_with("0\r\n\r\n") {
                    complete += 1;
                } else {
                    eprintln!("incomplete response:\n{response}");
                }
            }
        }
        server.abort();
        publisher.abort();
        Ok::<_, Box<dyn std::error::Error>>(complete)
    })?;
    let panics = PANICS.load(Ordering::SeqCst);
    println!("{REQUESTS} requests on 4 worker threads: {complete} complete, {panics} panics");
    assert_eq!(panics, 0, "panics while rendering");
    assert_eq!(complete, REQUESTS, "incomplete responses");
    Ok(())
}
