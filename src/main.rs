//! The `herd` command line: parses arguments, loads the config, and runs a
//! node, a whole local herd, a client, or prints the default config.
//!
//! Errors leave here as one line on stderr and an exit code: 2 for a bad
//! command line or config (before any port is opened), 1 for anything that
//! fails while running.

#![forbid(unsafe_code)]

use std::io::{self, BufRead, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use herd::client::Client;
use herd::config::{self, Config, Overrides};
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
enum Commands {
    /// Run one server of the herd.
    Node(NodeArgs),
    /// Run every server of the config as child processes; Ctrl-C stops them.
    Up(UpArgs),
    /// Send lines to a server and print its answers (lines from the
    /// arguments, or from stdin, one per line).
    Client(ClientArgs),
    /// Print the default config (the five-server herd) as commented TOML.
    Config,
}

#[derive(Args)]
struct NodeArgs {
    /// Server name, as in the config (default herd: Bernard, Clark, Jaquez,
    /// Johnson, Juzang).
    name: String,
    #[command(flatten)]
    common: CommonArgs,
    #[command(flatten)]
    limits: LimitArgs,
}

#[derive(Args)]
struct UpArgs {
    #[command(flatten)]
    common: CommonArgs,
}

#[derive(Args)]
struct CommonArgs {
    /// Herd config (TOML); without it, the default herd on 127.0.0.1:12331-12335.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Client worker threads in the fixed pool [default: 128, or the config's].
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
    /// Where <NAME>.log is written (created if missing).
    #[arg(long, value_name = "DIR", default_value = "logs")]
    log_dir: PathBuf,
}

/// Every limit of PROTOCOL §5; each overrides the config's `[limits]`.
#[derive(Args)]
struct LimitArgs {
    /// Longest line in bytes [default: 65536].
    #[arg(long, value_name = "BYTES")]
    max_line_bytes: Option<usize>,
    /// Close a client that completes no line for this long [default: 60000].
    #[arg(long, value_name = "MS")]
    idle_timeout_ms: Option<u64>,
    /// Client connections served plus waiting [default: 1024].
    #[arg(long, value_name = "N")]
    max_clients: Option<usize>,
    /// Close a client that does not take an answer for this long [default: 10000].
    #[arg(long, value_name = "MS")]
    write_timeout_ms: Option<u64>,
    /// First neighbour reconnect wait [default: 100].
    #[arg(long, value_name = "MS")]
    reconnect_min_ms: Option<u64>,
    /// Longest neighbour reconnect wait [default: 2000].
    #[arg(long, value_name = "MS")]
    reconnect_max_ms: Option<u64>,
    /// Invalid lines before a neighbour's link is closed [default: 10].
    #[arg(long, value_name = "N")]
    peer_garbage_lines: Option<u32>,
    /// Updates queued per neighbour [default: 10000].
    #[arg(long, value_name = "N")]
    peer_queue: Option<usize>,
    /// How long a WHATSAT waits for Places [default: 5000].
    #[arg(long, value_name = "MS")]
    places_timeout_ms: Option<u64>,
}

#[derive(Args)]
struct ClientArgs {
    /// host:port, or a server name from the config.
    server: String,
    /// Lines to send; without any, lines are read from stdin.
    lines: Vec<String>,
    /// Herd config used to look a server name up [default: the default herd].
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// How long to wait to connect and for each answer.
    #[arg(long, value_name = "MS", default_value_t = 10_000)]
    timeout_ms: u64,
}

/// A failure that ends the program: message and exit code.
struct Failure(String, u8);

fn main() -> ExitCode {
    // ureq logs request URLs, the legacy API's key among them, at debug and
    // trace level; whatever RUST_LOG says, its targets stay at warn.
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"))
        .filter_module("ureq", log::LevelFilter::Warn)
        .filter_module("ureq_proto", log::LevelFilter::Warn)
        .init();
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
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure(message, code)) => {
            eprintln!("herd: {message}");
            ExitCode::from(code)
        }
    }
}

fn config_error(e: impl ToString) -> Failure {
    Failure(e.to_string(), 2)
}

fn load_config(path: Option<&Path>, overrides: &Overrides) -> Result<Config, Failure> {
    match path {
        Some(path) => Config::load(path, overrides).map_err(config_error),
        None => Config::parse(config::DEFAULT_CONFIG, overrides).map_err(config_error),
    }
}

fn run_node(args: NodeArgs) -> Result<(), Failure> {
    let l = args.limits;
    let overrides = Overrides {
        threads: args.common.threads,
        max_line_bytes: l.max_line_bytes,
        idle_timeout_ms: l.idle_timeout_ms,
        max_clients: l.max_clients,
        write_timeout_ms: l.write_timeout_ms,
        reconnect_min_ms: l.reconnect_min_ms,
        reconnect_max_ms: l.reconnect_max_ms,
        peer_garbage_lines: l.peer_garbage_lines,
        peer_queue: l.peer_queue,
        places_timeout_ms: l.places_timeout_ms,
    };
    let config = load_config(args.common.config.as_deref(), &overrides)?;
    let me = config.server(&args.name).map_err(config_error)?;
    let api_key = std::env::var("PLACES_API_KEY").ok();
    let places = places::from_config(&config.places, api_key).map_err(config_error)?;
    // Catch SIGINT/SIGTERM before the port opens: from the moment a client
    // (or `herd up`) can see the node, a signal means a clean stop.
    let signals = catch_signals()?;
    let listener = TcpListener::bind(&me.addr)
        .map_err(|e| Failure(format!("{}: cannot listen on {}: {e}", me.name, me.addr), 1))?;
    let options = NodeOptions {
        name: &args.name,
        listener,
        places,
        log_dir: &args.common.log_dir,
        clock: herd::node::system_clock,
    };
    let node = herd::start(&config, options)
        .map_err(|e| Failure(format!("{}: cannot start: {e}", args.name), 1))?;
    forward_signals(signals, node.shutdown())?;
    log::info!(
        "{} listening on {}, {} workers, log {}",
        args.name,
        node.addr(),
        config.limits.threads,
        node.state().log.path().display()
    );
    node.wait_for_stop_signal();
    let report = node.stop();
    log::info!(
        "{} stopped in {} ms ({} worker panics)",
        args.name,
        report.took.as_millis(),
        report.panics
    );
    Ok(())
}

/// Takes over SIGINT and SIGTERM; they wait in the returned handle until
/// [`forward_signals`] hands them on.
fn catch_signals() -> Result<Signals, Failure> {
    Signals::new([SIGINT, SIGTERM])
        .map_err(|e| Failure(format!("cannot install signal handlers: {e}"), 1))
}

/// Triggers `shutdown` on the first SIGINT or SIGTERM (one already caught
/// counts).
fn forward_signals(mut signals: Signals, shutdown: Arc<Shutdown>) -> Result<(), Failure> {
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            if signals.forever().next().is_some() {
                shutdown.trigger();
            }
        })
        .map_err(|e| Failure(format!("cannot start the signal thread: {e}"), 1))?;
    Ok(())
}

fn run_up(args: UpArgs) -> Result<(), Failure> {
    let overrides = Overrides {
        threads: args.common.threads,
        ..Overrides::default()
    };
    let config = load_config(args.common.config.as_deref(), &overrides)?;
    let exe = std::env::current_exe()
        .map_err(|e| Failure(format!("cannot find the herd binary: {e}"), 1))?;
    let options = up::UpOptions {
        exe,
        config_path: args.common.config,
        threads: args.common.threads,
        log_dir: args.common.log_dir,
    };
    let stop = Arc::new(Shutdown::new());
    forward_signals(catch_signals()?, Arc::clone(&stop))?;
    let code = up::run(&config, &options, &stop, &mut io::stdout());
    if code == 0 {
        Ok(())
    } else {
        Err(Failure("the herd did not run cleanly".into(), 1))
    }
}

fn run_client(args: ClientArgs) -> Result<(), Failure> {
    let addr = if args.server.contains(':') {
        args.server.clone()
    } else {
        let config = load_config(args.config.as_deref(), &Overrides::default())?;
        config
            .server(&args.server)
            .map_err(config_error)?
            .addr
            .clone()
    };
    let timeout = Duration::from_millis(args.timeout_ms.max(1));
    let mut client = Client::connect(addr.as_str(), timeout)
        .map_err(|e| Failure(format!("cannot connect to {addr}: {e}"), 1))?;
    let mut stdout = io::stdout();
    let mut ask = |line: &[u8]| -> Result<(), Failure> {
        let answer = client
            .request(line)
            .map_err(|e| Failure(format!("{addr}: {e}"), 1))?;
        if let Some(answer) = answer {
            stdout
                .write_all(&answer)
                .and_then(|()| stdout.flush())
                .map_err(|e| Failure(format!("stdout: {e}"), 1))?;
        }
        Ok(())
    };
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
            .map_err(|e| Failure(format!("stdin: {e}"), 1))?;
        if read == 0 {
            return Ok(());
        }
        let text = line.strip_suffix(b"\n").unwrap_or(&line);
        let text = text.strip_suffix(b"\r").unwrap_or(text);
        ask(text)?;
    }
}
