//! `demo-ssr`: serves the server-rendered demo beside the demo's API. See `demo-ssr --help`.

use std::path::PathBuf;

use clap::Parser;
use leptos::prelude::LeptosOptions;
use tidings_axum::deadline::{PeerAddr, WriteDeadline};

/// The server-rendered demo: the demo server's flags, and where the browser build is.
#[derive(Debug, Parser)]
#[command(name = "demo-ssr", about = "The tidings demo, rendered on the server")]
struct Args {
    #[command(flatten)]
    server: demo_server::Config,
    /// The site: the browser build in `pkg/` (`cargo xtask demo --ssr` makes it).
    #[arg(long, env = "TIDINGS_DEMO_SITE", default_value = "target/site")]
    site: PathBuf,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let listener = tokio::net::TcpListener::bind(args.server.addr).await?;
    let addr = listener.local_addr()?;
    let options = LeptosOptions::builder()
        .output_name("demo-ssr")
        .site_root(args.site.to_string_lossy().into_owned())
        .site_addr(addr)
        .build();
    let (api, shutdown, state) =
        demo_server::app_with_state(&args.server).map_err(std::io::Error::other)?;
    let context = demo_ssr::server::demo_context(&state);
    let app = api.merge(demo_ssr::server::pages(options, context));
    // A line for scripts and people alike.
    println!("demo-ssr listening on http://{addr}");
    // Clients that stop reading are cut off; with the peer's address, for the per-client cap.
    let listener = WriteDeadline::new(listener, args.server.write_deadline);
    let server = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<PeerAddr>(),
    )
    .with_graceful_shutdown(shutdown.clone().after(async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            eprintln!("cannot listen for Ctrl-C: {error}");
            std::future::pending::<()>().await;
        }
    }));
    shutdown.run(server, args.server.shutdown_deadline).await
}
