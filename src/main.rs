//! The `herd` command line: parses arguments, loads the config, and runs a
//! node, a whole local herd, a client, or prints the default config.
//!
//! Errors leave here as one line on stderr and an exit code (`cli.rs`): 2
//! for a bad command line or config (before any port is opened), 1 for
//! anything that fails while running.

#![forbid(unsafe_code)]

use std::io::{self, BufRead, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use herd::cli::{self, Failure, herd_secret, load_config, open_store, resolve_flag_addr};
use herd::client::{self, Client};
use herd::config::{self, Overrides};
use herd::logfile::NodeLog;
use herd::node_args::{NodeArgs, UpArgs};
use herd::shutdown::Shutdown;
use herd::{NodeOptions, places, up};

/// A proxy herd of location servers: multithreaded, blocking, in Rust.
#[derive(Parser)]
#[command(name = "herd", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Commands,
}

#[derive(Subcommand)]
// Parsed once per run: the size of the largest variant costs nothing.
#[allow(clippy::large_enum_variant)]
enum Commands {
    /// Run one server of the herd.
    Node(NodeArgs),
    /// Run every server of the config as child processes, restarting any
    /// that exits; Ctrl-C stops them.
    Up(UpArgs),
    /// Send lines to a server and print its answers (lines from the
    /// arguments, or from stdin, one per line).
    ///
    /// Short forms: `herd client Clark iamat ID LOCATION` sends an IAMAT
    /// with the current time; `herd client Johnson whatsat ID RADIUS BOUND`
    /// sends a WHATSAT.
    Client(ClientArgs),
    /// Print the default config (the five-server herd) as commented TOML.
    Config,
}

#[derive(Args)]
struct ClientArgs {
    /// host:port, or a server name from the config.
    server: String,
    /// Lines to send (each argument one line), or a short form
    /// (`iamat ID LOCATION`, `whatsat ID RADIUS BOUND`); without any, lines
    /// are read from stdin.
    #[arg(allow_hyphen_values = true)]
    lines: Vec<String>,
    /// Herd config used to look a server name up [default: the default herd].
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// How long to wait to connect and for each answer.
    #[arg(long, value_name = "MS", default_value_t = 10_000)]
    timeout_ms: u64,
}

fn main() -> ExitCode {
    // ureq logs request URLs, the legacy API's key among them, at debug and
    // trace level; whatever RUST_LOG says, its targets stay at warn.
    cli::init_logging(&["ureq", "ureq_proto"]);
    let cli = Cli::parse();
    let result = match cli.command {
        Commands::Node(args) => run_node(args),
        Commands::Up(args) => run_up(args),
        Commands::Client(args) => run_client(args),
        Commands::Config => {
            print!("{}", config::DEFAULT_CONFIG);
            Ok(())
        }
    };
    cli::exit("herd", result)
}

fn run_node(args: NodeArgs) -> Result<(), Failure> {
    let overrides = args.overrides();
    let config = load_config(args.common.config.as_deref(), &overrides)?;
    let metrics_addr = match &args.metrics_addr {
        Some(text) => Some(resolve_flag_addr("--metrics-addr", text)?),
        None => None,
    };
    let me = config.server(&args.name).map_err(Failure::config)?;
    // Two descriptors per client (see `fd_limit.rs`).
    herd::fd_limit::raise_for(config.limits.max_clients, 2, me.peers.len());
    let api_key = std::env::var("PLACES_API_KEY").ok();
    let places = places::from_config(&config.places, api_key).map_err(Failure::config)?;
    let secret = herd_secret(&config)?;
    // The durable store is read before any port opens: one that cannot be
    // opened or read is a start-up error (PROTOCOL §8).
    let store = open_store(&args.store, me)?;
    // Catch SIGINT/SIGTERM before the port opens: from the moment a client
    // (or `herd up`) can see the node, a signal means a clean stop. SIGHUP
    // reopens the log (PROTOCOL §4), one caught before the start included.
    let signals = catch_signals(true)?;
    // The metrics port first: a bad one stops start-up before any client
    // can reach the node.
    let metrics_listener = match metrics_addr {
        Some(addr) => Some(TcpListener::bind(addr).map_err(|e| {
            Failure::running(format!("{}: cannot serve metrics on {addr}: {e}", me.name))
        })?),
        None => None,
    };
    let listener = TcpListener::bind(&me.addr)
        .map_err(|e| Failure::running(format!("{}: cannot listen on {}: {e}", me.name, me.addr)))?;
    let options = NodeOptions {
        name: &args.name,
        listener,
        places,
        log_dir: &args.common.log_dir,
        clock: herd::clock::system_clock,
        secret,
        store,
    };
    let node = herd::start(&config, options)
        .map_err(|e| Failure::running(format!("{}: cannot start: {e}", args.name)))?;
    forward_signals(signals, node.shutdown(), Some(node.state().log.clone()))?;
    let metrics = match metrics_listener {
        Some(listener) => Some(
            herd::metrics::http::serve(listener, Arc::clone(node.state())).map_err(|e| {
                Failure::running(format!("{}: cannot serve metrics: {e}", args.name))
            })?,
        ),
        None => None,
    };
    log::info!(
        "{} listening on {}, {} workers, log {}",
        args.name,
        node.addr(),
        config.limits.threads,
        node.state().log.path().display()
    );
    if let Some(metrics) = &metrics {
        log::info!(
            "{} serving metrics on http://{}/metrics",
            args.name,
            metrics.addr()
        );
    }
    node.wait_for_stop_signal();
    let report = node.stop();
    if let Some(metrics) = metrics {
        metrics.stop();
    }
    log::info!(
        "{} stopped in {} ms ({} worker panics)",
        args.name,
        report.took.as_millis(),
        report.panics
    );
    Ok(())
}

/// Takes over SIGINT and SIGTERM (and SIGHUP if `hangup`); they wait in
/// the returned handle until [`forward_signals`] hands them on.
fn catch_signals(hangup: bool) -> Result<Signals, Failure> {
    let wanted: &[i32] = if hangup {
        &[SIGINT, SIGTERM, SIGHUP]
    } else {
        &[SIGINT, SIGTERM]
    };
    Signals::new(wanted)
        .map_err(|e| Failure::running(format!("cannot install signal handlers: {e}")))
}

/// Triggers `shutdown` on the first SIGINT or SIGTERM (one already caught
/// counts); each SIGHUP reopens `log`.
fn forward_signals(
    mut signals: Signals,
    shutdown: Arc<Shutdown>,
    log: Option<NodeLog>,
) -> Result<(), Failure> {
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            for signal in signals.forever() {
                if signal == SIGHUP {
                    if let Some(log) = &log {
                        log.reopen();
                    }
                    continue;
                }
                shutdown.trigger();
                return;
            }
        })
        .map_err(|e| Failure::running(format!("cannot start the signal thread: {e}")))?;
    Ok(())
}

fn run_up(args: UpArgs) -> Result<(), Failure> {
    let overrides = Overrides {
        threads: args.common.threads,
        ..Overrides::default()
    };
    let config = load_config(args.common.config.as_deref(), &overrides)?;
    // Each node reads the secret itself; checking it here gives one error
    // instead of five.
    herd_secret(&config)?;
    let exe = std::env::current_exe()
        .map_err(|e| Failure::running(format!("cannot find the herd binary: {e}")))?;
    let options = up::UpOptions {
        exe,
        config_path: args.common.config,
        threads: args.common.threads,
        log_dir: args.common.log_dir,
        exit_on_failure: args.exit_on_failure,
    };
    let stop = Arc::new(Shutdown::new());
    forward_signals(catch_signals(false)?, Arc::clone(&stop), None)?;
    let code = up::run(&config, &options, &stop, &mut io::stdout());
    if code == 0 {
        Ok(())
    } else {
        Err(Failure::running("the herd did not run cleanly"))
    }
}

fn run_client(args: ClientArgs) -> Result<(), Failure> {
    // A short form with the wrong words fails before anything is sent.
    let short = client::short_form(&args.lines, herd::clock::system_clock())
        .transpose()
        .map_err(Failure::config)?;
    let addr = if args.server.contains(':') {
        args.server.clone()
    } else {
        let config = load_config(args.config.as_deref(), &Overrides::default())?;
        config
            .server(&args.server)
            .map_err(Failure::config)?
            .addr
            .clone()
    };
    let timeout = Duration::from_millis(args.timeout_ms.max(1));
    let mut client = Client::connect(addr.as_str(), timeout)
        .map_err(|e| Failure::running(format!("cannot connect to {addr}: {e}")))?;
    let mut stdout = io::stdout();
    let mut ask = |line: &[u8]| -> Result<(), Failure> {
        let answer = client
            .request(line)
            .map_err(|e| Failure::running(format!("{addr}: {e}")))?;
        if let Some(answer) = answer {
            stdout
                .write_all(&answer)
                .and_then(|()| stdout.flush())
                .map_err(|e| Failure::running(format!("stdout: {e}")))?;
        }
        Ok(())
    };
    if let Some(line) = short {
        return ask(line.as_bytes());
    }
    if !args.lines.is_empty() {
        for line in &args.lines {
            ask(line.as_bytes())?;
        }
        return Ok(());
    }
    let mut stdin = io::stdin().lock();
    let mut line = Vec::new();
    loop {
        line.clear();
        let read = stdin
            .read_until(b'\n', &mut line)
            .map_err(|e| Failure::running(format!("stdin: {e}")))?;
        if read == 0 {
            return Ok(());
        }
        let text = line.strip_suffix(b"\n").unwrap_or(&line);
        let text = text.strip_suffix(b"\r").unwrap_or(text);
        ask(text)?;
    }
}
