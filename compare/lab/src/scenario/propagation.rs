//! `propagation`: how long an update takes to reach every server of the
//! five-server herd, idle and under a 32-connection IAMAT load, as polling
//! clients see it (`herd-loadgen propagate`) and as the servers' own logs
//! stamp it (`log_propagation.rs`), which leaves out the polls' own load.

use std::fmt::Write as _;
use std::path::Path;
use std::thread;
use std::time::Duration;

use anyhow::{Result, bail};
use herd_launch::Proc;
use serde_json::{Value, json};

use crate::builds::{BUILDS, TPC};
use crate::log_propagation;
use crate::measure::{Ctx, Load, parse_json};
use crate::point::{Point, Settings, with_threads};
use crate::report::page;
use crate::report::query::{Rows, spread_of};
use crate::report::units::{lat_s, num, rps_s};
use crate::rows::Row;
use crate::scenario::Scenario;

pub struct Propagation;

/// The scenario's name in rows, `--scenarios` and the report.
pub const NAME: &str = "propagation";

/// Probes per point: enough that a p99 is not just the slowest probe (with
/// 40, as before, it was, and identical runs differed several-fold). Under
/// load 400, 50 ms apart, for the Rust builds, whose herds keep up: 20 s a
/// point. The one-loop builds' herds fall behind a 32-connection load, so
/// that their probes wait out the probe timeout one after another (400 of
/// them would take half an hour): they keep 40.
fn probes(s: &Settings, loaded: bool, build: &str) -> usize {
    let keeps_up = keeps_up(build);
    match (s.quick, loaded, keeps_up) {
        (true, _, _) => 10,
        (false, false, _) => 200,
        (false, true, true) => 400,
        (false, true, false) => 40,
    }
}

/// The builds whose herds keep up with a 32-connection load.
fn keeps_up(build: &str) -> bool {
    matches!(build, "blocking" | "blocking-parked" | "tokio")
}

/// Longest wait for one probe: an overloaded herd's backlog would
/// otherwise make a point last probes x 5 s.
fn probe_timeout_ms(s: &Settings) -> u64 {
    if s.quick { 2000 } else { 5000 }
}

impl Scenario for Propagation {
    fn name(&self) -> &'static str {
        NAME
    }

    /// Idle, and under 32 connections of IAMAT load; every build but
    /// `blocking-tpc` (with 64 workers for 32 connections the plain pool
    /// already is a thread per connection).
    fn plan(&self, builds: &[&'static str], _quick: bool) -> Vec<Point> {
        let mut points = Vec::new();
        for load in [0u64, 32] {
            for b in builds.iter().filter(|b| **b != TPC) {
                let p = with_threads(b, json!({"load_connections": load, "servers": 5}), 64);
                points.push(Point::new(b, NAME, p));
            }
        }
        points
    }

    fn herd(&self) -> bool {
        true
    }

    fn load(&self, ctx: &mut Ctx<'_>) -> Result<Load> {
        let load = ctx.point.u("load_connections");
        let probes = probes(ctx.s, load > 0, &ctx.point.build);
        let timeout_ms = probe_timeout_ms(ctx.s);
        ctx.param("probes", json!(probes));
        ctx.param("probe_timeout_ms", json!(timeout_ms));
        let mut spec = ctx
            .loadgen("propagate")
            .args([
                "propagate",
                "--at",
                &ctx.addrs[0],
                "--others",
                &ctx.addrs[1..].join(","),
            ])
            .args(["--probes", &probes.to_string(), "--interval-ms", "50"])
            .args(["--timeout-ms", &timeout_ms.to_string()]);
        if load > 0 {
            spec = spec.args([
                "--load-target",
                &ctx.addrs.join(","),
                "--load-connections",
                &load.to_string(),
            ]);
        }
        let t0 = ctx.sampler.now();
        ctx.commands.push(spec.line());
        let p = Proc::spawn(&spec, &ctx.s.paths.root)?;
        let prefix = format!("lgp{}-", p.pid());
        // Every probe may wait its whole timeout on an overloaded herd.
        let worst = Duration::from_millis(probes as u64 * (timeout_ms + 50));
        let (status, out) = p.wait_output(ctx.long() + worst)?;
        if !status.success() {
            bail!("herd-loadgen propagate exited {status}");
        }
        let t1 = ctx.sampler.now();
        // The nodes' log writers flush within a few ms of a line.
        thread::sleep(Duration::from_millis(100));
        if let Some(from_logs) = log_propagation::measure(&ctx.dir.join("logs"), &prefix) {
            ctx.row
                .derived
                .insert("server_log_propagation".into(), from_logs);
        }
        Ok(Load {
            window: (t0, t1),
            loadgen: parse_json(&out)?,
        })
    }

    /// A probe every 50 ms; under load, the one-loop builds' probes wait
    /// out about half the probe timeout each (2026-12-04: asyncio 176 s,
    /// Node 19 s for 40 probes).
    fn seconds(&self, point: &Point, s: &Settings) -> f64 {
        let loaded = point.u("load_connections") > 0;
        let n = probes(s, loaded, &point.build) as f64;
        let behind = loaded && !keeps_up(&point.build);
        let waits = if behind {
            n * probe_timeout_ms(s) as f64 / 2000.0
        } else {
            0.0
        };
        n * 0.05 + waits + super::start_stop_s(&point.build, true)
    }

    fn report(&self, dir: &Path, md: &mut String, rows: &Rows<'_>) {
        let list = rows.of(NAME);
        let heading = "## 7. Flood propagation (`propagation`)";
        if !page::section(md, heading, !list.is_empty()) {
            return;
        }
        page::para(
            md,
            "Five servers of one build in the default topology. `herd-loadgen propagate` sends each \
             probe's IAMAT to Bernard and polls the four others with WHATSAT until each shows it; \
             \"all servers\" is the time until the slowest of the four had it (resolution: one \
             WHATSAT round trip). Loaded: a closed-loop IAMAT load on all five at the same time. \
             On two cores those polls compete with the flood for the CPUs, so the lab also reads \
             each server's log: the time from the probe's IAMAT arriving at Bernard to its AT line \
             arriving at each other server, stamped by the servers on the same clock (\"server \
             logs\" columns) — the propagation itself, without the measurement's load.",
        );
        crate::report::figures::draw(dir, md, crate::report::figures::propagation(rows));
        table(md, rows);
        let p99s = |load: f64| -> Vec<String> {
            BUILDS
                .iter()
                .filter_map(|b| {
                    let p99 =
                        rows.spread(b, NAME, &[("load_connections", load)], |r| prop_p(r, "p99"))?;
                    Some(format!("{b} {}", lat_s(Some(p99))))
                })
                .collect()
        };
        let _ = writeln!(
            md,
            "\nOn an idle herd an update reached every server within (p99, as the polls saw it): \
             {}. Under load: {}{}. An update crosses at \
             most two links (Bernard to Clark goes through Jaquez or Juzang), each a write to a \
             persistent connection and a parse and cache merge at the other end; under load it \
             queues behind the clients' requests on the same cores.\n",
            page::list_or_dash(&p99s(0.0)),
            page::list_or_dash(&p99s(32.0)),
            rows.medians_note(NAME)
        );
    }
}

/// A percentile of the all-servers propagation time as polling clients
/// saw it, µs.
pub fn prop_p(r: &Row, which: &str) -> Option<f64> {
    r.lg(&format!("/all_servers_latency_us/{which}"))
}

/// The same from the servers' logs (see `log_propagation.rs`).
pub fn prop_log_p(r: &Row, which: &str) -> Option<f64> {
    r.derived
        .get("server_log_propagation")
        .and_then(|v| v.pointer(&format!("/all_servers_us/{which}")))
        .and_then(Value::as_f64)
}

/// Every point: medians over its repeats with their ranges.
fn table(md: &mut String, rows: &Rows<'_>) {
    page::head(
        md,
        &[
            "build",
            "load connections",
            "probes complete",
            "all servers p50 (polls)",
            "p99 (polls)",
            "max (polls)",
            "p50 (server logs)",
            "p99 (server logs)",
            "max (server logs)",
            "load req/s",
        ],
    );
    for reps in rows.points(NAME) {
        let of = |f: &dyn Fn(&Row) -> Option<f64>| spread_of(reps.iter().copied(), f);
        let complete: f64 = reps.iter().filter_map(|r| r.lg("/probes_complete")).sum();
        let sent: f64 = reps.iter().filter_map(|r| r.lg("/probes")).sum();
        page::row(
            md,
            &[
                reps[0].build.clone(),
                num(reps[0].param("load_connections"), 0),
                format!("{complete:.0}/{sent:.0}"),
                lat_s(of(&|r| prop_p(r, "p50"))),
                lat_s(of(&|r| prop_p(r, "p99"))),
                lat_s(of(&|r| prop_p(r, "max"))),
                lat_s(of(&|r| prop_log_p(r, "p50"))),
                lat_s(of(&|r| prop_log_p(r, "p99"))),
                lat_s(of(&|r| prop_log_p(r, "max"))),
                rps_s(of(&|r| r.lg("/load/throughput_rps"))),
            ],
        );
    }
}
