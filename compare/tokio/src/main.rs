//! The `herd-tokio` command line: `herd-tokio node NAME [--config F]
//! [--threads N] [--log-dir D] [limit flags]` (PROTOCOL §6), the same flags
//! as the blocking `herd node`. `--threads` sets the tokio runtime's worker
//! threads. SIGINT and SIGTERM stop the node; SIGHUP reopens its log
//! (PROTOCOL §4). Errors leave as one line on stderr: exit 2 for a bad command
//! line or config (before any port is opened), 1 for anything else.

#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use herd::cli::{self, Failure, herd_secret, load_config, open_store};
use herd::node_args::NodeArgs;
use herd_tokio::places::Provider;
use herd_tokio::{NodeOptions, start};
use tokio::net::TcpListener;
use tokio::signal::unix::{SignalKind, signal};

/// The herd on tokio: one server of the herd, async I/O.
#[derive(Parser)]
#[command(name = "herd-tokio", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Commands,
}

#[derive(Subcommand)]
enum Commands {
    /// Run one server of the herd.
    Node(NodeArgs),
}

fn main() -> ExitCode {
    // No HTTP or TLS library logs below warn: their debug output can carry
    // request details, and the legacy API's key is in its URL.
    cli::init_logging(&["hyper", "hyper_util", "hyper_rustls", "rustls"]);
    let Commands::Node(args) = Cli::parse().command;
    cli::exit("herd-tokio", run_node(args))
}

fn run_node(args: NodeArgs) -> Result<(), Failure> {
    // The flag is shared with the blocking build, which alone serves metrics.
    if args.metrics_addr.is_some() {
        return Err(Failure::config("--metrics-addr: not built in this build"));
    }
    let overrides = args.overrides();
    let config = load_config(args.common.config.as_deref(), &overrides)?;
    let me = config.server(&args.name).map_err(Failure::config)?.clone();
    // One descriptor per client here (no wake-up handles are kept).
    herd::fd_limit::raise_for(config.limits.max_clients, 1, me.peers.len());
    let workers = config.limits.threads.max(1);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .thread_name(format!("tokio-{}", me.name))
        .enable_all()
        .build()
        .map_err(|e| Failure::running(format!("cannot start the runtime: {e}")))?;
    runtime.block_on(async move {
        // The provider's HTTP client needs the runtime; its checks are
        // config errors all the same, before any port opens.
        let api_key = std::env::var("PLACES_API_KEY").ok();
        let places = Provider::from_config(&config.places, api_key).map_err(Failure::config)?;
        let secret = herd_secret(&config)?;
        // The durable store is read before any port opens (PROTOCOL §8);
        // reading it blocks, which is fine before the node serves anyone.
        let store = open_store(&args.store, &me)?;
        // Catch SIGINT/SIGTERM before the port opens: from the moment a
        // client can see the node, a signal means a clean stop.
        let mut sigterm = signal(SignalKind::terminate())
            .map_err(|e| Failure::running(format!("cannot install signal handlers: {e}")))?;
        let mut sigint = signal(SignalKind::interrupt())
            .map_err(|e| Failure::running(format!("cannot install signal handlers: {e}")))?;
        // SIGHUP reopens the log (PROTOCOL §4); it no longer stops the node.
        let mut sighup = signal(SignalKind::hangup())
            .map_err(|e| Failure::running(format!("cannot install signal handlers: {e}")))?;
        let listener = TcpListener::bind(&me.addr).await.map_err(|e| {
            Failure::running(format!("{}: cannot listen on {}: {e}", me.name, me.addr))
        })?;
        let options = NodeOptions {
            name: &me.name,
            listener,
            places,
            log_dir: &args.common.log_dir,
            clock: herd::clock::system_clock,
            secret,
            store,
        };
        let node = start(&config, options)
            .map_err(|e| Failure::running(format!("{}: cannot start: {e}", me.name)))?;
        log::info!(
            "{} listening on {}, {workers} runtime workers, log {}",
            me.name,
            node.addr(),
            node.state().log.path().display()
        );
        loop {
            tokio::select! {
                _ = sigterm.recv() => break,
                _ = sigint.recv() => break,
                _ = sighup.recv() => {
                    // Opening a file blocks, briefly: off the runtime's workers.
                    let log = node.state().log.clone();
                    let _ = tokio::task::spawn_blocking(move || log.reopen()).await;
                }
            }
        }
        let (took, clean) = node.stop().await;
        log::info!(
            "{} stopped in {} ms{}",
            me.name,
            took.as_millis(),
            if clean { "" } else { " (some tasks abandoned)" }
        );
        Ok(())
    })
}
