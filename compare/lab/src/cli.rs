//! The command line of herd-lab: `run` measures, `report` turns a run
//! directory into report.md and SVG plots.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Benchmark lab of the herd: runs every build under herd-loadgen, samples
/// the servers from /proc, and writes rows.jsonl, environment.json and a
/// report with plots.
#[derive(Parser)]
#[command(name = "herd-lab", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Commands,
}

#[derive(Subcommand)]
pub enum Commands {
    /// Measure every build x scenario x point; then write the report.
    Run(RunArgs),
    /// Soak every build in turn: mixed load, churn, idle hoarders and
    /// tricklers for a bounded time; RSS, fds and threads must stay flat.
    Soak(SoakArgs),
    /// Write DIR/report.md and DIR/*.svg from DIR/rows.jsonl.
    Report {
        /// A run directory (holds rows.jsonl and environment.json).
        dir: PathBuf,
    },
}

#[derive(clap::Args)]
pub struct RunArgs {
    /// Fewer points, 1-2 s each, measured once (under 5 minutes on two
    /// cores).
    #[arg(long)]
    pub quick: bool,
    /// Output directory [default: compare/runs/<UTC timestamp>[-quick]].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Measurements of every point, interleaved across the builds (each
    /// round runs every build of a point once) [default: 3, quick: 1].
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=20))]
    pub repeats: Option<u32>,
    /// Print the plan's size and time estimate per scenario; measure
    /// nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Builds to measure.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "blocking,blocking-parked,blocking-tpc,tokio,asyncio,node"
    )]
    pub builds: Vec<String>,
    /// Scenarios to run [default: all, in this order]: iamat_conns,
    /// iamat_herd, iamat_open, cores_sweep, whatsat_latency, idle_hoarders,
    /// memory, cpu (derived), threads_sweep, propagation, store_cost.
    #[arg(long, value_delimiter = ',')]
    pub scenarios: Vec<String>,
    /// Only the points with these connection counts (points of scenarios
    /// without a connection count are kept).
    #[arg(long, value_delimiter = ',')]
    pub connections: Vec<u64>,
    /// Pin the servers with `taskset -c LIST`.
    #[arg(long)]
    pub server_cpus: Option<String>,
    /// Pin herd-loadgen (and the Places stand-in) with `taskset -c LIST`.
    #[arg(long)]
    pub loadgen_cpus: Option<String>,
    /// The repository root [default: where this crate was built from].
    #[arg(long)]
    pub root: Option<PathBuf>,
    /// Do not run cargo / setup.sh / npm ci first.
    #[arg(long)]
    pub no_build: bool,
    /// Where the release binaries are: DIR/release/herd, ... (as cargo's
    /// --target-dir) [default: $CARGO_TARGET_DIR, else ROOT/target].
    #[arg(long, value_name = "DIR")]
    pub target_dir: Option<PathBuf>,
}

#[derive(clap::Args)]
pub struct SoakArgs {
    /// Minutes per build.
    #[arg(long, default_value_t = 10.0)]
    pub minutes: f64,
    /// Builds to soak, in turn.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "blocking,tokio,asyncio,node"
    )]
    pub builds: Vec<String>,
    /// Output directory [default: compare/runs/soak-<UTC timestamp>].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Do not run cargo / setup.sh / npm ci first.
    #[arg(long)]
    pub no_build: bool,
    /// The repository root [default: where this crate was built from].
    #[arg(long)]
    pub root: Option<PathBuf>,
    /// The servers' idle limit, seconds (PROTOCOL's default is 60).
    #[arg(long, default_value_t = 60.0)]
    pub idle_s: f64,
    /// Idle hoarders held on one server the whole time.
    #[arg(long, default_value_t = 1000)]
    pub hoarders: usize,
    /// Slowloris clients (one byte a second, no newline).
    #[arg(long, default_value_t = 4)]
    pub tricklers: usize,
    /// Connections churned over the run (open, one request, close).
    #[arg(long, default_value_t = 10_000)]
    pub churn: u64,
    /// Steady requests per second over the five servers.
    #[arg(long, default_value_t = 100.0)]
    pub rate: f64,
    /// Steady persistent connections.
    #[arg(long, default_value_t = 20)]
    pub connections: usize,
    /// Blocking build: --threads of the hoarded server [default: hoarders + 100].
    #[arg(long)]
    pub hoard_threads: Option<u32>,
    /// How late after the idle limit a trickler may be closed, seconds.
    #[arg(long, default_value_t = 2.0)]
    pub slack_s: f64,
}
