//! `demo-ssr`: serves the server-rendered demo beside the demo's API. See `demo-ssr --help`.

use std::path::PathBuf;

use clap::Parser;
use leptos::prelude::LeptosOptions;

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
    demo_server::serve::init_logging();
    let mut args = Args::parse();
    let listener = demo_server::serve::bind(&mut args.server).await?;
    let addr = args.server.addr;
    let options = LeptosOptions::builder()
        .output_name("demo-ssr")
        .site_root(args.site.to_string_lossy().into_owned())
        .site_addr(addr)
        .build();
    let (api, shutdown, state) =
        demo_server::app_with_state(&args.server).map_err(std::io::Error::other)?;
    let context = demo_ssr::server::demo_context(&state);
    // The pages pass the same guard as the API (a `Host` of this server's).
    let pages =
        demo_server::guard::protect(demo_ssr::server::pages(options, context), &args.server);
    let app = api.merge(pages);
    demo_server::serve::announce("demo-ssr", &args.server, &state.accounts);
    demo_server::serve::serve(
        listener,
        app,
        &args.server,
        shutdown,
        demo_server::serve::ctrl_c_or_sigterm(),
    )
    .await
}
