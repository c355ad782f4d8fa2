//! The `soak` subcommand end to end: check the arguments, prepare the
//! builds, soak each in turn (`build::soak_build`), append its samples and
//! summary to soak.jsonl as soon as it is done, write soak.md and the
//! charts, and fail (non-zero exit) when any build failed a check.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use herd_launch::Paths;
use serde_json::{Value, json};

use crate::builds;
use crate::cli::SoakArgs;
use crate::point::Settings;
use crate::procs;
use crate::soak::build::soak_build;
use crate::soak::config::SoakConfig;
use crate::soak::report;

fn config(args: &SoakArgs) -> Result<SoakConfig> {
    if !(args.minutes > 0.0 && args.minutes.is_finite()) {
        bail!("--minutes must be > 0");
    }
    if !(args.idle_s >= 1.0 && args.idle_s.is_finite()) {
        bail!("--idle-s must be >= 1");
    }
    if !(args.rate > 0.0 && args.rate.is_finite()) {
        bail!("--rate must be > 0");
    }
    if args.connections == 0 || args.hoarders == 0 || args.tricklers == 0 {
        bail!("--connections, --hoarders and --tricklers must be >= 1");
    }
    let seconds = args.minutes * 60.0;
    if seconds < args.idle_s + args.slack_s + 2.0 {
        bail!(
            "a soak of {seconds} s does not outlast the idle limit ({} s): no trickler \
             could be closed; lower --idle-s",
            args.idle_s
        );
    }
    Ok(SoakConfig {
        seconds,
        idle_ms: (args.idle_s * 1000.0).round() as u64,
        hoarders: args.hoarders,
        tricklers: args.tricklers,
        churn_total: args.churn,
        rate: args.rate,
        connections: args.connections,
        hoard_threads: args.hoard_threads.unwrap_or(args.hoarders as u32 + 100),
        slack_ms: args.slack_s * 1000.0,
    })
}

pub fn soak(args: SoakArgs, default_root: PathBuf) -> Result<()> {
    let root = args.root.clone().unwrap_or(default_root);
    let paths = Paths::new(&root);
    for b in &args.builds {
        if !builds::BUILDS.contains(&b.as_str()) {
            bail!("unknown build {b:?} (blocking, tokio, asyncio, node)");
        }
    }
    let cfg = config(&args)?;
    procs::install_signal_handler()?;
    let nofile = procs::raise_nofile().ok();
    let stamp = humantime::format_rfc3339_seconds(std::time::SystemTime::now())
        .to_string()
        .replace(':', "");
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| root.join("compare/runs").join(format!("soak-{stamp}")));
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    let jsonl = out.join("soak.jsonl");
    if jsonl.exists() {
        bail!("{} exists: pick a new --out", jsonl.display());
    }
    let prepared = if args.no_build {
        Vec::new()
    } else {
        builds::prepare(&paths, &args.builds)?
    };
    report::append(&jsonl, &config_line(&args, &cfg, &paths, prepared, nofile))?;
    let scratch = std::env::temp_dir().join(format!("herd-soak-{}", std::process::id()));
    let settings = Settings {
        paths,
        quick: false,
        server_cpus: None,
        loadgen_cpus: None,
        scratch: scratch.clone(),
        out: out.clone(),
    };
    let mut failed = Vec::new();
    for build in &args.builds {
        if !soak_one(&settings, &cfg, build, &jsonl)? {
            failed.push(build.clone());
        }
    }
    let _ = std::fs::remove_dir_all(&scratch);
    report::write(&out)?;
    eprintln!("herd-lab soak: report {}", out.join("soak.md").display());
    if !failed.is_empty() {
        bail!("failed a check: {} (see soak.md)", failed.join(", "));
    }
    Ok(())
}

/// soak.jsonl's first line: when, where, which builds, the soak's
/// settings and the environment.
fn config_line(
    args: &SoakArgs,
    cfg: &SoakConfig,
    paths: &Paths,
    prepared: Vec<String>,
    nofile: Option<u64>,
) -> Value {
    let mut environment = crate::env::capture(paths, false, &json!(null), nofile);
    environment["prepare_commands"] = json!(prepared);
    json!({
        "type": "config",
        "started_at": crate::rows::now_utc(),
        "host": format!("{} x{}", environment["cpu_model"].as_str().unwrap_or("?"), environment["cores"]),
        "builds": args.builds,
        "soak": cfg.to_json(),
        "environment": environment,
    })
}

/// Soaks `build` and appends its samples and summary (or its error) to
/// `jsonl`; returns whether it passed.
fn soak_one(settings: &Settings, cfg: &SoakConfig, build: &str, jsonl: &Path) -> Result<bool> {
    procs::check_interrupted()?;
    let begun = Instant::now();
    eprintln!("herd-lab soak: {build} for {:.0} s", cfg.seconds);
    let dir = settings.scratch.join(build);
    std::fs::create_dir_all(&dir)?;
    let pass = match soak_build(settings, cfg, build, &dir) {
        Ok(done) => {
            for line in report::sample_lines(build, &done.samples) {
                report::append(jsonl, &line)?;
            }
            report::append(jsonl, &done.summary)?;
            done.pass
        }
        Err(e) => {
            procs::check_interrupted()?;
            report::append(
                jsonl,
                &json!({"type": "summary", "build": build, "pass": false,
                    "error": format!("{e:#}"), "checks": [], "servers": []}),
            )?;
            false
        }
    };
    eprintln!(
        "herd-lab soak: {build} done in {:.0} s",
        begun.elapsed().as_secs_f64()
    );
    Ok(pass)
}
