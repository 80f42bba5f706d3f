//! `fixture-server`: the demo server with test fixtures. See `fixture-server --help`.

use clap::Parser;

/// The demo server's flags, and the chaos token.
#[derive(Debug, Parser)]
#[command(
    name = "fixture-server",
    about = "The tidings demo backend with test fixtures (faults, hostile streams, echo, firehose)"
)]
struct Args {
    #[command(flatten)]
    demo: demo_server::Config,

    /// A token the fixture routes want in `X-Chaos-Token` (the chaos panel reads it from its
    /// page's `?chaos=` parameter). Without one, the server listens on loopback only.
    #[arg(long, env = "TIDINGS_CHAOS_TOKEN")]
    chaos_token: Option<String>,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    demo_server::serve::init_logging();
    let mut args = Args::parse();
    let listener = demo_server::serve::bind(&mut args.demo).await?;
    let addr = args.demo.addr;
    let (app, shutdown, state) = fixture_server::app(&args.demo, args.chaos_token.as_deref())
        .map_err(std::io::Error::other)?;
    tracing::info!(%addr, dist = ?args.demo.dist, redis = ?args.demo.redis, "fixture server listening");
    demo_server::serve::announce("fixture-server", &args.demo, &state.accounts);
    demo_server::serve::serve(
        listener,
        app,
        &args.demo,
        shutdown,
        demo_server::serve::ctrl_c_or_sigterm(),
    )
    .await
}
