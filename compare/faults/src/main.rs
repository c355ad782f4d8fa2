//! `herd-faults`: the fault harness. Puts each server of the herd in a
//! network namespace of its own, then cuts links, kills and pauses servers
//! while clients write, and checks that after each heal every server holds
//! every client's newest location. This file wires the command line to the
//! modules and writes the run directory.

#![forbid(unsafe_code)]

mod checker;
mod client;
mod herd;
mod interrupt;
mod ledger;
mod merge;
mod netns;
mod poll;
mod report;
mod scenarios;
mod topology;
mod writers;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};

use crate::checker::SyncMode;
use crate::herd::Build;
use crate::report::Row;
use crate::scenarios::{SCENARIOS, STORES, Settings};

#[derive(Parser)]
#[command(
    name = "herd-faults",
    about = "Fault harness for the herd (needs root: network namespaces)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run scenarios against builds; exits non-zero if any check fails.
    Run {
        /// Builds, comma-separated: blocking,tokio,asyncio,node.
        #[arg(
            long,
            value_delimiter = ',',
            default_value = "blocking,tokio,asyncio,node"
        )]
        builds: Vec<String>,
        /// Scenarios, comma-separated: partition,kill,pause,cs131,stores
        /// (stores: the Rust builds only).
        #[arg(
            long,
            value_delimiter = ',',
            default_value = "partition,kill,pause,cs131,stores"
        )]
        scenarios: Vec<String>,
        /// The stores scenario's sync modes, comma-separated: always,everysec,never.
        #[arg(long, value_delimiter = ',', default_value = "always,everysec")]
        store_syncs: Vec<String>,
        /// Fewer ids, shorter faults, one fault per scenario (three CS131 pairs).
        #[arg(long)]
        quick: bool,
        /// How long each fault stays on, in seconds (default 3; 1 with --quick).
        /// Long cuts show TCP's retransmission backoff after the heal.
        #[arg(long)]
        fault_secs: Option<f64>,
        /// IAMATs per second, all writers together (default 200; 100 with --quick).
        #[arg(long)]
        rate: Option<f64>,
        /// Keep the servers' logs of passing scenarios too (under --out/logs).
        #[arg(long)]
        keep_logs: bool,
        /// Run directory (default compare/runs/faults-<UTC timestamp>).
        #[arg(long)]
        out: Option<PathBuf>,
        /// The repository (default: the one this binary was built from).
        #[arg(long)]
        root: Option<PathBuf>,
    },
    /// Remove namespaces and links left by harness runs that died.
    Cleanup,
    /// Rewrite DIR/summary.md from DIR/results.jsonl (no root needed).
    Summary { dir: PathBuf },
}

fn default_root() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    here.canonicalize().unwrap_or(here)
}

fn main() -> ExitCode {
    match real_main() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("herd-faults: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn real_main() -> Result<bool> {
    let cli = Cli::parse();
    interrupt::install()?;
    match cli.command {
        Command::Summary { dir } => {
            let rows = report::read(&dir.join("results.jsonl"))?;
            let header = fs::read_to_string(dir.join("summary.md"))
                .ok()
                .and_then(|s| report::header_of(&s))
                .unwrap_or_else(|| "Rebuilt from results.jsonl.".into());
            report::write_summary(&dir, &rows, &header, 0)?;
            print!("{}", report::table(&rows));
            Ok(rows.iter().all(|r| r.pass))
        }
        Command::Cleanup => {
            netns::preflight()?;
            println!("removed {} leftovers", netns::remove_stale()?);
            Ok(true)
        }
        Command::Run {
            builds,
            scenarios,
            store_syncs,
            quick,
            fault_secs,
            rate,
            keep_logs,
            out,
            root,
        } => {
            let builds = builds
                .iter()
                .map(|b| Build::parse(b).with_context(|| format!("unknown build {b:?}")))
                .collect::<Result<Vec<_>>>()?;
            let scenarios = scenarios
                .iter()
                .map(|s| {
                    SCENARIOS
                        .iter()
                        .copied()
                        .find(|k| k == s)
                        .with_context(|| format!("unknown scenario {s:?}"))
                })
                .collect::<Result<Vec<_>>>()?;
            let root = root.unwrap_or_else(default_root);
            let mut settings = Settings::new(quick);
            if let Some(secs) = fault_secs {
                settings.fault = std::time::Duration::try_from_secs_f64(secs)
                    .ok()
                    .filter(|d| !d.is_zero())
                    .context("--fault-secs: a positive number of seconds")?;
            }
            if let Some(rate) = rate {
                if !(rate.is_finite() && rate >= 1.0) {
                    bail!("--rate: at least 1 IAMAT per second");
                }
                settings.rate = rate;
            }
            settings.keep_logs = keep_logs;
            settings.store_syncs = store_syncs
                .iter()
                .map(|m| SyncMode::parse(m).with_context(|| format!("unknown sync mode {m:?}")))
                .collect::<Result<Vec<_>>>()?;
            run(&builds, &scenarios, &settings, out, &root)
        }
    }
}

fn run(
    builds: &[Build],
    scenarios: &[&'static str],
    settings: &Settings,
    out: Option<PathBuf>,
    root: &Path,
) -> Result<bool> {
    let quick = settings.quick;
    netns::preflight()?;
    let stale = netns::remove_stale()?;
    if stale > 0 {
        eprintln!("removed {stale} namespaces/links left by an earlier run");
    }
    for b in builds {
        herd::prepare(*b, root)?;
    }
    let stamp = humantime::format_rfc3339_seconds(std::time::SystemTime::now())
        .to_string()
        .replace(['-', ':'], "");
    let out = out.unwrap_or_else(|| root.join(format!("compare/runs/faults-{stamp}")));
    fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    // Absolute: the servers run with other working directories and read
    // their config and stores from here.
    let out =
        fs::canonicalize(&out).with_context(|| format!("cannot resolve {}", out.display()))?;
    let results = out.join("results.jsonl");
    if results.exists() {
        bail!("{} exists: pick a fresh --out", results.display());
    }
    let net = netns::Net::create(topology::SERVERS.len())?;
    let mut rows: Vec<Row> = Vec::new();
    let mut errors = Vec::new();
    let mut skipped = Vec::new();
    for &build in builds {
        for &scenario in scenarios {
            if scenario == STORES && !herd::keeps_stores(build) {
                let line = format!(
                    "{} {scenario}: skipped, the {} build refuses a store (PROTOCOL §8: exit 2)",
                    build.name(),
                    build.name()
                );
                println!("{line}");
                skipped.push(line);
                continue;
            }
            let logs = out
                .join("logs")
                .join(format!("{}-{scenario}", build.name()));
            let first = rows.len();
            let mut emit = |row: Row| -> Result<()> {
                report::append(&results, &row)?;
                println!(
                    "{:<9} {:<10} {:<34} lost {:>3}  at kill {:>5}  {}converge {}s  {}{}",
                    row.build,
                    row.scenario,
                    row.fault,
                    row.lost,
                    report::at_kill(&row),
                    row.recovery_s
                        .map_or(String::new(), |s| format!("recovery {s:.2}s  ")),
                    row.converge_s.map_or("-".into(), |s| format!("{s:.2}")),
                    if row.pass { "ok" } else { "FAIL" },
                    if row.note.is_empty() {
                        String::new()
                    } else {
                        format!("  ({})", row.note)
                    }
                );
                rows.push(row);
                Ok(())
            };
            let result = scenarios::run(build, scenario, root, &net, settings, &logs, &mut emit);
            interrupt::check()?;
            match result {
                Ok(()) if !settings.keep_logs && rows[first..].iter().all(|r| r.pass) => {
                    let _ = fs::remove_dir_all(&logs); // keep logs of failures only
                }
                Ok(()) => {}
                Err(e) => {
                    eprintln!(
                        "{} {scenario}: {e:#} (logs in {})",
                        build.name(),
                        logs.display()
                    );
                    errors.push(format!("{} {scenario}: {e:#}", build.name()));
                }
            }
        }
    }
    drop(net);
    let _ = fs::remove_dir(out.join("logs"));
    let header = format!(
        "Builds: {}. Scenarios: {}. {} ids, {} writers at {}/s, faults {:?} on (CS131 pairs {:?}), bound {:?}{}{}.",
        builds
            .iter()
            .map(|b| b.name())
            .collect::<Vec<_>>()
            .join(", "),
        scenarios.join(", "),
        settings.ids,
        settings.writers,
        settings.rate,
        settings.fault,
        settings.pair_down,
        settings.bound,
        if scenarios.contains(&STORES) {
            format!(
                ", store sync modes {}",
                settings
                    .store_syncs
                    .iter()
                    .map(|m| m.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        } else {
            String::new()
        },
        if quick { ", --quick" } else { "" },
    );
    let mut header = header;
    if !skipped.is_empty() {
        header += &format!("\n\nNot run (not failures): {}.", skipped.join("; "));
    }
    for e in &errors {
        header += &format!("\n\nERROR: {e}");
    }
    report::write_summary(&out, &rows, &header, errors.len())?;
    print!("\n{}", report::table(&rows));
    println!("results: {}", out.display());
    Ok(errors.is_empty() && rows.iter().all(|r| r.pass))
}
