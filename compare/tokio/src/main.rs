//! The `herd-tokio` command line: `herd-tokio node NAME [--config F]
//! [--threads N] [--log-dir D] [limit flags]` (PROTOCOL §6), the same flags
//! as the blocking `herd node`. `--threads` sets the tokio runtime's worker
//! threads. Errors leave as one line on stderr: exit 2 for a bad command
//! line or config (before any port is opened), 1 for anything else.

#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use herd::config::{self, Config};
use herd::node_args::NodeArgs;
use herd::peer_auth::HerdSecret;
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

/// A failure that ends the program: message and exit code.
struct Failure(String, u8);

fn main() -> ExitCode {
    // No HTTP or TLS library logs below warn: their debug output can carry
    // request details, and the legacy API's key is in its URL.
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"))
        .filter_module("hyper", log::LevelFilter::Warn)
        .filter_module("hyper_util", log::LevelFilter::Warn)
        .filter_module("hyper_rustls", log::LevelFilter::Warn)
        .filter_module("rustls", log::LevelFilter::Warn)
        .init();
    let Commands::Node(args) = Cli::parse().command;
    match run_node(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure(message, code)) => {
            eprintln!("herd-tokio: {message}");
            ExitCode::from(code)
        }
    }
}

fn config_error(e: impl ToString) -> Failure {
    Failure(e.to_string(), 2)
}

fn run_node(args: NodeArgs) -> Result<(), Failure> {
    // The flag is shared with the blocking build, which alone serves metrics.
    if args.metrics_addr.is_some() {
        return Err(config_error("--metrics-addr: not built in this build"));
    }
    let overrides = args.overrides();
    let config = match args.common.config.as_deref() {
        Some(path) => Config::load(path, &overrides),
        None => Config::parse(config::DEFAULT_CONFIG, &overrides),
    }
    .map_err(config_error)?;
    let me = config.server(&args.name).map_err(config_error)?.clone();
    // One descriptor per client here (no wake-up handles are kept).
    herd::fd_limit::raise_for(config.limits.max_clients, 1, me.peers.len());
    let workers = config.limits.threads.max(1);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .thread_name(format!("tokio-{}", me.name))
        .enable_all()
        .build()
        .map_err(|e| Failure(format!("cannot start the runtime: {e}"), 1))?;
    runtime.block_on(async move {
        // The provider's HTTP client needs the runtime; its checks are
        // config errors all the same, before any port opens.
        let api_key = std::env::var("PLACES_API_KEY").ok();
        let places = Provider::from_config(&config.places, api_key).map_err(config_error)?;
        let secret = config
            .secret_env
            .as_deref()
            .map(HerdSecret::from_env)
            .transpose()
            .map_err(config_error)?;
        // Catch SIGINT/SIGTERM before the port opens: from the moment a
        // client can see the node, a signal means a clean stop.
        let mut sigterm = signal(SignalKind::terminate())
            .map_err(|e| Failure(format!("cannot install signal handlers: {e}"), 1))?;
        let mut sigint = signal(SignalKind::interrupt())
            .map_err(|e| Failure(format!("cannot install signal handlers: {e}"), 1))?;
        let listener = TcpListener::bind(&me.addr)
            .await
            .map_err(|e| Failure(format!("{}: cannot listen on {}: {e}", me.name, me.addr), 1))?;
        let options = NodeOptions {
            name: &me.name,
            listener,
            places,
            log_dir: &args.common.log_dir,
            clock: herd::node::system_clock,
            secret,
        };
        let node = start(&config, options)
            .map_err(|e| Failure(format!("{}: cannot start: {e}", me.name), 1))?;
        log::info!(
            "{} listening on {}, {workers} runtime workers, log {}",
            me.name,
            node.addr(),
            node.state().log.path().display()
        );
        tokio::select! {
            _ = sigterm.recv() => {}
            _ = sigint.recv() => {}
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
