//! `herd-lab`: the herd's benchmark lab. This file wires the command line
//! to the modules: `run` prepares the builds, says how long the run will
//! take, runs every point of the chosen scenarios (`scenario/`, run by
//! `measure.rs`) `--repeats` times, interleaved across the builds, with a
//! progress bar, appends rows and writes the report (`report/`); `soak`
//! hands over to `soak/`; `report` re-reads a run directory.

#![forbid(unsafe_code)]

mod builds;
mod cli;
mod env;
mod log_propagation;
mod measure;
mod plots;
mod point;
mod procs;
mod report;
mod rows;
mod sample;
mod scenario;
mod servers;
mod soak;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Value, json};

use crate::cli::{Cli, Commands, RunArgs};
use crate::point::{Point, Settings, build_settings, default_repeats, interleave};

fn default_root() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    here.canonicalize().unwrap_or(here)
}

/// The chosen scenarios (all by default); fails on an unknown build or
/// scenario.
fn chosen_scenarios(args: &RunArgs) -> Result<Vec<String>> {
    for b in &args.builds {
        if !builds::BUILDS.contains(&b.as_str()) {
            bail!("unknown build {b:?} (blocking, tokio, asyncio, node)");
        }
    }
    let names = scenario::names();
    let scenarios: Vec<String> = if args.scenarios.is_empty() {
        names.iter().map(|s| (*s).to_owned()).collect()
    } else {
        args.scenarios.clone()
    };
    for s in &scenarios {
        if !names.contains(&s.as_str()) {
            bail!("unknown scenario {s:?} ({})", names.join(", "));
        }
    }
    Ok(scenarios)
}

/// `--out`, or compare/runs/<UTC timestamp>[-quick].
fn out_dir(args: &RunArgs, root: &Path) -> PathBuf {
    match &args.out {
        Some(o) => o.clone(),
        None => {
            let stamp = humantime::format_rfc3339_seconds(std::time::SystemTime::now())
                .to_string()
                .replace(':', "");
            let suffix = if args.quick { "-quick" } else { "" };
            root.join("compare/runs").join(format!("{stamp}{suffix}"))
        }
    }
}

fn round1(x: f64) -> Value {
    json!((x * 10.0).round() / 10.0)
}

/// The points of the chosen builds and scenarios (and `--connections`),
/// each `--repeats` times, in the order they run.
fn planned(args: &RunArgs, scenarios: &[String]) -> (usize, u32, Vec<Point>) {
    let plan: Vec<_> = scenario::plan(&args.builds, scenarios, args.quick)
        .into_iter()
        .filter(|p| {
            args.connections.is_empty()
                || p.params
                    .get("connections")
                    .and_then(Value::as_u64)
                    .is_none_or(|c| args.connections.contains(&c))
        })
        .collect();
    let repeats = args.repeats.unwrap_or_else(|| default_repeats(args.quick));
    (plan.len(), repeats, interleave(plan, repeats))
}

fn run(args: RunArgs) -> Result<()> {
    let root = args.root.clone().unwrap_or_else(default_root);
    let paths = builds::paths(&root, args.target_dir.as_deref());
    let scenarios = chosen_scenarios(&args)?;
    let out = out_dir(&args, &root);
    let scratch = std::env::temp_dir().join(format!("herd-lab-{}", std::process::id()));
    let settings = Settings {
        paths: paths.clone(),
        quick: args.quick,
        server_cpus: args.server_cpus.clone(),
        loadgen_cpus: args.loadgen_cpus.clone(),
        scratch: scratch.clone(),
        // Absolute: the nodes run in the repository root, not here.
        out: std::path::absolute(&out).unwrap_or_else(|_| out.clone()),
    };
    let (distinct, repeats, points) = planned(&args, &scenarios);
    eprintln!(
        "herd-lab: {distinct} points x {repeats} repeats, about {:.0} minutes",
        (scenario::estimate_s(&points, &settings) / 60.0).ceil()
    );
    if args.dry_run {
        for sc in &scenarios {
            let of: Vec<&Point> = points
                .iter()
                .filter(|p| p.scenario == sc.as_str())
                .collect();
            if of.is_empty() {
                continue;
            }
            let seconds = scenario::estimate_s(of.iter().copied(), &settings);
            eprintln!("  {sc}: {} measurements, about {seconds:.0} s", of.len());
        }
        return Ok(());
    }
    procs::install_signal_handler()?;
    let nofile = procs::raise_nofile().ok();
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    let rows_path = out.join("rows.jsonl");
    if rows_path.exists() {
        bail!("{} exists: pick a new --out", rows_path.display());
    }
    let begun = Instant::now();
    let prepared = if args.no_build {
        Vec::new()
    } else {
        builds::prepare(&paths, &args.builds)?
    };
    let pinning = json!({"server_cpus": args.server_cpus, "loadgen_cpus": args.loadgen_cpus});
    let mut environment = env::capture(&paths, args.quick, &pinning, nofile);
    environment["builds"] = json!(args.builds);
    environment["scenarios"] = json!(scenarios);
    environment["prepare_commands"] = json!(prepared);
    environment["repeats"] = json!(repeats);
    environment["distinct_points"] = json!(distinct);
    let env_path = out.join("environment.json");
    std::fs::write(&env_path, serde_json::to_string_pretty(&environment)?)
        .with_context(|| format!("cannot write {}", env_path.display()))?;

    let measured = Instant::now();
    let failed = measure_all(&settings, &points, &rows_path)?;
    let _ = std::fs::remove_dir_all(&scratch);
    procs::check_interrupted()?;
    environment["measure_seconds"] = round1(measured.elapsed().as_secs_f64());
    environment["total_seconds"] = round1(begun.elapsed().as_secs_f64());
    environment["points"] = json!(points.len());
    environment["points_failed"] = json!(failed);
    std::fs::write(&env_path, serde_json::to_string_pretty(&environment)?)?;
    report::write(&out)?;
    eprintln!(
        "herd-lab: {} measurements ({} failed) in {:.0} s; report: {}",
        points.len(),
        failed,
        begun.elapsed().as_secs_f64(),
        out.join("report.md").display()
    );
    // The report is written either way; the exit status says whether every
    // point was measured (CI's smoke run relies on it).
    if failed > 0 {
        bail!(
            "{failed} of {} measurements failed (see rows.jsonl)",
            points.len()
        );
    }
    Ok(())
}

/// Runs every point with a progress bar, appending each row as it is
/// made; returns how many failed.
fn measure_all(settings: &Settings, points: &[Point], rows_path: &Path) -> Result<usize> {
    let bar = ProgressBar::new(points.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let mut failed = 0;
    for (i, point) in points.iter().enumerate() {
        procs::check_interrupted()?;
        bar.set_message(point.title());
        let mut row = measure::run_point(settings, point, i);
        let threads = row
            .params
            .get("server_threads_flag")
            .and_then(Value::as_u64);
        row.settings = build_settings(&row.build, threads);
        if let Some(e) = &row.error {
            failed += 1;
            bar.println(format!(
                "point {} failed: {}",
                point.title(),
                e.lines().next().unwrap_or("")
            ));
        }
        rows::append(rows_path, &row)?;
        bar.inc(1);
    }
    bar.finish_with_message("done");
    Ok(failed)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Commands::Run(args) => run(args),
        Commands::Soak(args) => soak::soak(args, default_root()),
        Commands::Report { dir } => report::write(&dir),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("herd-lab: {e:#}");
            ExitCode::FAILURE
        }
    }
}
