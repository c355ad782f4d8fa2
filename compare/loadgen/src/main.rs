//! `herd-loadgen`: the herd's load generator. This file is the command line
//! only: it parses the arguments, raises the open-files limit, builds the
//! tokio runtime and hands each subcommand to its module. Every subcommand
//! prints exactly one JSON object on stdout at the end; progress and notes
//! go to stderr.

#![forbid(unsafe_code)]

mod closed_loop;
mod echo;
mod hoard;
mod hold;
mod open_loop;
mod propagate;
mod report;
mod requests;
mod run;
mod stop;
mod trickle;
mod wire;

use std::net::{SocketAddr, ToSocketAddrs};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};

use requests::{Mix, Plan};

/// Load generator for the herd protocol (PROTOCOL.md): closed/open-loop
/// load, flood propagation latency, idle connection holders, and an echo
/// server that measures the loopback ceiling.
#[derive(Parser)]
#[command(name = "herd-loadgen", version, about, propagate_version = true)]
struct Cli {
    /// tokio worker threads (1 fits the generator on one pinned core).
    #[arg(long, global = true, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
    workers: u16,
    #[command(subcommand)]
    command: Commands,
}

#[derive(Subcommand)]
enum Commands {
    /// Send IAMAT/WHATSAT load and report throughput, latency and errors.
    Run(RunCli),
    /// A trivial line echo server (IAMAT answered with an AT line).
    Echo(EchoCli),
    /// Measure how long an IAMAT takes to reach every other server.
    Propagate(PropagateCli),
    /// Open K idle connections and hold them.
    Hold(HoldCli),
    /// Slowloris: N connections writing one byte per interval, no newline;
    /// report how long the server takes to close each.
    Trickle(TrickleCli),
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ModeArg {
    /// Each connection: send, wait for the answer, send the next.
    Closed,
    /// A fixed total rate; latency from each request's intended send time.
    Open,
}

#[derive(clap::Args)]
struct RunCli {
    /// Servers to load, HOST:PORT[,HOST:PORT...]; connections go round-robin.
    #[arg(long, value_delimiter = ',', required = true, num_args = 1..)]
    target: Vec<String>,
    #[arg(long, value_enum, default_value_t = ModeArg::Closed)]
    mode: ModeArg,
    /// Concurrent connections (request slots with --one-shot).
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..))]
    connections: u32,
    /// Open loop: requests per second over all connections.
    #[arg(long)]
    rate: Option<f64>,
    /// Seconds recorded (after the warmup).
    #[arg(long, default_value_t = 10.0)]
    duration_s: f64,
    /// Seconds of load before recording starts (not recorded).
    #[arg(long, default_value_t = 1.0)]
    warmup_s: f64,
    /// Relative weights of the commands.
    #[arg(long, default_value = "iamat=9,whatsat=1")]
    mix: Mix,
    /// Each request on a fresh connection (latency includes the connect).
    #[arg(long)]
    one_shot: bool,
    /// Distinct client ids (lg<pid>-<i>).
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..))]
    clients: u32,
    /// WHATSAT radius in km (0 < r <= 50).
    #[arg(long, default_value_t = 10.0)]
    radius_km: f64,
    /// WHATSAT bound on results (1..=20).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=20))]
    bound: u32,
    /// Extra connections opened first and held idle (never written) all run.
    #[arg(long, default_value_t = 0)]
    idle: usize,
    /// Deadline of one request (connect + write + whole answer), ms.
    #[arg(long, default_value_t = 5000)]
    timeout_ms: u64,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum EchoModel {
    /// std TcpListener, one OS thread per connection.
    Threads,
    /// tokio runtime with --workers threads, one task per connection.
    Tokio,
}

#[derive(clap::Args)]
struct EchoCli {
    /// Address to listen on (port 0: any free port, printed when ready).
    #[arg(long)]
    addr: String,
    #[arg(long, value_enum)]
    model: EchoModel,
}

#[derive(clap::Args)]
struct PropagateCli {
    /// The server that receives each probe's IAMAT.
    #[arg(long)]
    at: String,
    /// The servers polled for it, HOST:PORT,...
    #[arg(long, value_delimiter = ',', required = true, num_args = 1..)]
    others: Vec<String>,
    /// Number of probes (one fresh client id each).
    #[arg(long, default_value_t = 20)]
    probes: usize,
    /// Pause between probes, ms.
    #[arg(long, default_value_t = 100)]
    interval_ms: u64,
    /// Optional closed-loop IAMAT load during the probes, HOST:PORT,...
    #[arg(long, value_delimiter = ',', num_args = 1..)]
    load_target: Vec<String>,
    /// Connections of that load.
    #[arg(long, default_value_t = 16)]
    load_connections: usize,
    /// Longest wait for one probe to reach every server (and for one
    /// request), ms.
    #[arg(long, default_value_t = 5000)]
    timeout_ms: u64,
}

#[derive(clap::Args)]
struct HoldCli {
    /// The server to hold connections to, HOST:PORT.
    #[arg(long)]
    target: String,
    /// How many idle connections.
    #[arg(long)]
    connections: usize,
    /// Stop after this many seconds (else: stdin EOF or SIGTERM/SIGINT).
    #[arg(long)]
    for_s: Option<f64>,
    /// Do not stop at stdin's EOF (for a background job whose stdin is
    /// /dev/null).
    #[arg(long)]
    ignore_stdin: bool,
    /// Connect deadline, ms.
    #[arg(long, default_value_t = 5000)]
    timeout_ms: u64,
    /// Re-open every connection the server closes (idle hoarders of a soak).
    #[arg(long)]
    reopen: bool,
    /// With --reopen: spread the first opens over this many seconds.
    #[arg(long, default_value_t = 0.0)]
    ramp_s: f64,
}

#[derive(clap::Args)]
struct TrickleCli {
    /// The server to trickle to, HOST:PORT.
    #[arg(long)]
    target: String,
    /// Tricklers at once (each replaced when the server closes it).
    #[arg(long, default_value_t = 4)]
    connections: usize,
    /// Pause between two bytes, ms.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..))]
    interval_ms: u64,
    /// Seconds to run (SIGTERM/SIGINT ends it early).
    #[arg(long)]
    for_s: f64,
    /// Connect deadline, ms.
    #[arg(long, default_value_t = 5000)]
    timeout_ms: u64,
}

/// Resolves each `HOST:PORT` to its first address.
fn addrs(list: &[String]) -> Result<Vec<SocketAddr>, String> {
    list.iter()
        .filter(|s| !s.trim().is_empty())
        .map(|s| {
            s.trim()
                .to_socket_addrs()
                .map_err(|e| format!("bad address {s:?}: {e}"))?
                .next()
                .ok_or_else(|| format!("address {s:?} resolves to nothing"))
        })
        .collect()
}

fn one_addr(text: &str) -> Result<SocketAddr, String> {
    addrs(&[text.to_owned()])?
        .into_iter()
        .next()
        .ok_or_else(|| format!("no address in {text:?}"))
}

fn seconds(name: &str, value: f64) -> Result<Duration, String> {
    Duration::try_from_secs_f64(value).map_err(|_| format!("--{name} must be >= 0, not {value}"))
}

fn run_args(cli: RunCli, workers: usize) -> Result<run::RunArgs, String> {
    let targets = addrs(&cli.target)?;
    if targets.is_empty() {
        return Err("--target names no server".into());
    }
    let mode = match cli.mode {
        ModeArg::Closed => run::Mode::Closed,
        ModeArg::Open => run::Mode::Open,
    };
    if mode == run::Mode::Open && !cli.rate.is_some_and(|r| r > 0.0 && r.is_finite()) {
        return Err("--mode open needs --rate R > 0".into());
    }
    if !(cli.radius_km > 0.0 && cli.radius_km <= 50.0) {
        return Err("--radius-km must be in (0, 50]".into());
    }
    Ok(run::RunArgs {
        targets,
        mode,
        connections: cli.connections as usize,
        rate: if mode == run::Mode::Open {
            cli.rate
        } else {
            None
        },
        duration: seconds("duration-s", cli.duration_s)?,
        warmup: seconds("warmup-s", cli.warmup_s)?,
        one_shot: cli.one_shot,
        plan: Plan {
            prefix: format!("lg{}", std::process::id()),
            clients: cli.clients,
            mix: cli.mix,
            radius_km: cli.radius_km,
            bound: cli.bound,
        },
        idle: cli.idle,
        workers,
        timeout: Duration::from_millis(cli.timeout_ms),
    })
}

/// Lifts the soft open-files limit to the hard one (10,000+ sockets).
fn raise_nofile() {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) if limit < 20_000 => {
            eprintln!("herd-loadgen: open-files limit is {limit}: fewer connections than that")
        }
        Ok(_) => {}
        Err(e) => eprintln!("herd-loadgen: cannot raise the open-files limit: {e}"),
    }
}

fn runtime(workers: usize) -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    raise_nofile();
    let workers = usize::from(cli.workers);
    let result: Result<(), String> = (|| {
        if let Commands::Echo(echo) = &cli.command
            && echo.model == EchoModel::Threads
        {
            let addr = one_addr(&echo.addr)?;
            return echo::run_threads(addr).map_err(|e| format!("echo on {addr}: {e}"));
        }
        let rt = runtime(workers).map_err(|e| format!("cannot start tokio: {e}"))?;
        let report = match cli.command {
            Commands::Run(args) => rt.block_on(run::run(run_args(args, workers)?)),
            Commands::Echo(echo) => {
                let addr = one_addr(&echo.addr)?;
                rt.block_on(echo::run_tokio(addr))
                    .map_err(|e| format!("echo on {addr}: {e}"))?;
                return Ok(());
            }
            Commands::Propagate(p) => {
                let args = propagate::PropagateArgs {
                    at: one_addr(&p.at)?,
                    others: addrs(&p.others)?,
                    probes: p.probes,
                    interval: Duration::from_millis(p.interval_ms),
                    timeout: Duration::from_millis(p.timeout_ms),
                    load_targets: addrs(&p.load_target)?,
                    load_connections: p.load_connections,
                };
                rt.block_on(propagate::propagate(args))
            }
            Commands::Hold(h) => {
                let args = hold::HoldArgs {
                    target: one_addr(&h.target)?,
                    connections: h.connections,
                    for_s: h
                        .for_s
                        .map(|s| seconds("for-s", s))
                        .transpose()?
                        .map(|d| d.as_secs_f64()),
                    watch_stdin: !h.ignore_stdin,
                    timeout: Duration::from_millis(h.timeout_ms),
                    reopen: h.reopen,
                    ramp: seconds("ramp-s", h.ramp_s)?,
                };
                rt.block_on(hold::hold(args))
            }
            Commands::Trickle(t) => {
                let args = trickle::TrickleArgs {
                    target: one_addr(&t.target)?,
                    connections: t.connections,
                    interval: Duration::from_millis(t.interval_ms),
                    for_s: seconds("for-s", t.for_s)?.as_secs_f64(),
                    timeout: Duration::from_millis(t.timeout_ms),
                };
                rt.block_on(trickle::trickle(args))
            }
        };
        report::emit(&report);
        // Idle watcher tasks and the like are not waited for.
        rt.shutdown_background();
        Ok(())
    })();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("herd-loadgen: {message}");
            ExitCode::from(2)
        }
    }
}
