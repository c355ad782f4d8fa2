//! `iamat_open`: the headline latency figures. A closed loop hides queueing
//! (a slow answer delays the next request, so the wait it causes is never
//! measured: coordinated omission); here each build's node gets an open
//! loop of IAMATs on 64 connections at a fixed share ([`LOAD_FRACTION`]) of
//! its own closed-loop capacity, and latency runs from each request's
//! intended send time (`herd-loadgen run --mode open`). The capacity is the
//! median `iamat_conns` throughput at 64 connections of the same build
//! earlier in the same run, or, when the run has none, a short closed-loop
//! probe of the same node just before the open loop.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Result, bail};
use serde_json::{Value, json};

use crate::builds::BUILDS;
use crate::measure::{Ctx, Load, round3};
use crate::plots::Chart;
use crate::point::{Point, one_per_build_but_tpc};
use crate::report::page::{self, plot, series};
use crate::report::query::{Rows, Spread};
use crate::report::units::{lat, rps, spread};
use crate::rows::{self, Row};
use crate::scenario::{Scenario, iamat_conns};

pub struct IamatOpen;

/// The scenario's name in rows, `--scenarios` and the report.
pub const NAME: &str = "iamat_open";

/// The open loop's rate as a share of the build's closed-loop capacity.
pub const LOAD_FRACTION: f64 = 0.7;

/// Client connections (and the blocking pool: a thread per connection).
pub const CONNECTIONS: u64 = 64;

const MIX: &str = "iamat=1,whatsat=0";

/// The latency percentiles reported, with their herd-loadgen pointers.
const PERCENTILES: [(&str, &str); 3] = [
    ("p50", "/latency_us/p50"),
    ("p99", "/latency_us/p99"),
    ("p99.9", "/latency_us/p999"),
];

impl Scenario for IamatOpen {
    fn name(&self) -> &'static str {
        NAME
    }

    /// One point per build at 64 connections (quick too). `blocking-tpc`
    /// is left out: at 64 connections the plain pool of 64 already is a
    /// thread per connection.
    fn plan(&self, builds: &[&'static str], _quick: bool) -> Vec<Point> {
        let params = json!({"connections": CONNECTIONS, "load_fraction": LOAD_FRACTION});
        one_per_build_but_tpc(builds, NAME, &params, CONNECTIONS)
    }

    fn load(&self, ctx: &mut Ctx<'_>) -> Result<Load> {
        let (capacity, source) = match run_capacity(&ctx.s.out, &ctx.point.build) {
            Some(found) => found,
            None => (probe(ctx)?, "probe".to_owned()),
        };
        if capacity <= 0.0 {
            bail!("no closed-loop capacity to take {LOAD_FRACTION} of ({source})");
        }
        let rate = (LOAD_FRACTION * capacity).round().max(1.0);
        ctx.param("capacity_rps", json!(round3(capacity)));
        ctx.param("capacity_from", json!(source));
        ctx.param("rate_rps", json!(rate));
        ctx.param("mix", json!(MIX));
        let (warmup, duration) = (ctx.s.warmup_s(), ctx.s.duration_s());
        let spec = ctx.run_spec(MIX, CONNECTIONS, warmup, duration).args([
            "--mode",
            "open",
            "--rate",
            &rate.to_string(),
        ]);
        let (v, t) = ctx.run_loadgen(spec, "open loop", ctx.long())?;
        Ok(Load {
            window: (t + warmup, t + warmup + duration),
            loadgen: v,
        })
    }

    /// Whether the node kept up: its answers per second over the rate.
    fn derive(&self, _point: &Point, _threads: u32, lg: &Value, row: &mut Row) {
        let rate = row.param("rate_rps");
        let got = lg.get("throughput_rps").and_then(Value::as_f64);
        if let (Some(rate), Some(got)) = (rate, got) {
            row.derived
                .insert("served_share_of_rate".into(), json!(round3(got / rate)));
        }
    }

    fn report(&self, dir: &Path, md: &mut String, rows: &Rows<'_>) {
        let heading = "## Headline latency: open loop at 70 % of capacity (`iamat_open`)";
        if !page::section(md, heading, !rows.of(NAME).is_empty()) {
            return;
        }
        page::para(
            md,
            "**These are the report's headline latency figures.** Each build's node gets IAMATs \
             on 64 connections in an open loop (`herd-loadgen run --mode open --rate R`): requests \
             are due at a fixed rate whatever the server does, and latency runs from each \
             request's intended send time, so a server that falls behind is charged for the queue \
             it builds. The closed-loop p99s elsewhere in this report leave that wait out (a slow \
             answer delays the next request instead: coordinated omission). R is 70 % of the \
             build's capacity: its median closed-loop throughput at 64 connections in this run's \
             `iamat_conns` rows (or a short closed-loop probe of the same node when the run had \
             none), so every build is equally loaded relative to what it can do. The blocking \
             pools run 64 workers, a thread per connection (so `blocking-tpc` would be the same \
             point and is left out); tokio runs one runtime worker per server CPU.",
        );
        chart(dir, md, rows);
        table(md, rows);
    }
}

/// The median closed-loop throughput of `build` at 64 connections in the
/// run's rows so far, and where it came from.
fn run_capacity(out: &Path, build: &str) -> Option<(f64, String)> {
    let all = rows::read(&out.join("rows.jsonl")).ok()?;
    let rows = Rows { all: &all };
    let s = rows.spread(
        build,
        iamat_conns::NAME,
        &[("connections", CONNECTIONS as f64)],
        Row::throughput,
    )?;
    (s.median > 0.0).then(|| (s.median, format!("iamat_conns (median of {})", s.n)))
}

/// A short closed loop of the same load against the started node: its
/// throughput.
fn probe(ctx: &mut Ctx<'_>) -> Result<f64> {
    let (warmup, duration) = (ctx.s.warmup_s(), ctx.s.duration_s().min(2.0));
    let spec = ctx.run_spec(MIX, CONNECTIONS, warmup, duration);
    let (v, _) = ctx.run_loadgen(spec, "closed loop", ctx.long())?;
    v.get("throughput_rps")
        .and_then(Value::as_f64)
        .ok_or_else(|| anyhow::anyhow!("the closed-loop probe reported no throughput"))
}

/// The three percentiles of a build over its repeats.
fn percentile(rows: &Rows<'_>, build: &str, pointer: &str) -> Option<Spread> {
    rows.spread(build, NAME, &[], |r| r.lg(pointer))
}

/// p50, p99 and p99.9 (medians over repeats), a line per build.
fn chart(dir: &Path, md: &mut String, rows: &Rows<'_>) {
    let mut chart = Chart {
        title: "IAMAT latency in an open loop at 70 % of capacity (one node, 64 connections)"
            .into(),
        x_label: "percentile".into(),
        y_label: "latency (ms)".into(),
        log_y: true,
        x_names: PERCENTILES.iter().map(|(n, _)| (*n).to_owned()).collect(),
        ..Chart::default()
    };
    for b in rows.builds(NAME) {
        let points = PERCENTILES
            .iter()
            .enumerate()
            .filter_map(|(i, (_, ptr))| Some((i as f64, percentile(rows, b, ptr)?.median / 1e3)))
            .collect();
        chart.series.push(series(b, points, false));
    }
    plot(dir, md, "iamat_open_latency.svg", &chart);
}

/// Per build: the rate, what it was taken from, what was served, and the
/// percentiles, each as median (min–max) over the repeats.
fn table(md: &mut String, rows: &Rows<'_>) {
    page::head(
        md,
        &[
            "build",
            "rate R (req/s)",
            "capacity (from)",
            "served req/s",
            "p50",
            "p99",
            "p99.9",
        ],
    );
    let mut lines = Vec::new();
    for b in BUILDS {
        if rows.repeats(b, NAME, &[]).is_empty() {
            continue;
        }
        let from = rows
            .find(b, NAME, &[])
            .and_then(|r| r.params.get("capacity_from").and_then(Value::as_str))
            .unwrap_or("–")
            .to_owned();
        let pct = |ptr: &str| spread(percentile(rows, b, ptr), lat);
        page::row(
            md,
            &[
                b.to_owned(),
                spread(rows.spread(b, NAME, &[], |r| r.param("rate_rps")), rps),
                format!(
                    "{} ({from})",
                    spread(rows.spread(b, NAME, &[], |r| r.param("capacity_rps")), rps)
                ),
                spread(rows.spread(b, NAME, &[], Row::throughput), rps),
                pct(PERCENTILES[0].1),
                pct(PERCENTILES[1].1),
                pct(PERCENTILES[2].1),
            ],
        );
        if let Some(p99) = percentile(rows, b, PERCENTILES[1].1) {
            lines.push(format!("{b} {}", lat(Some(p99.median))));
        }
    }
    md.push('\n');
    if !lines.is_empty() {
        let _ = writeln!(
            md,
            "Median p99 at 70 % of each build's own capacity: {}. A build whose served rate is \
             below R fell behind: its latency then grows with the queue, not with its work.\n",
            lines.join("; ")
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_open_point_per_build_but_the_thread_per_connection_pool() {
        let points = IamatOpen.plan(&BUILDS, true);
        let builds: Vec<&str> = points.iter().map(|p| p.build.as_str()).collect();
        assert_eq!(
            builds,
            ["blocking", "blocking-parked", "tokio", "asyncio", "node"]
        );
        assert!(points.iter().all(|p| p.u("connections") == CONNECTIONS));
        assert_eq!(points[0].u("threads"), CONNECTIONS);
        assert!(points[2].params.get("threads").is_none());
        assert_eq!(IamatOpen.plan(&BUILDS, false).len(), points.len());
    }

    #[test]
    fn the_capacity_is_the_median_of_the_runs_closed_loop_rows() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(run_capacity(dir.path(), "tokio").is_none(), "no rows yet");
        let text = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixture/rows.jsonl"),
        )
        .expect("fixture");
        let mut all = Vec::new();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let row: Row = serde_json::from_str(line).expect("row");
            all.push(row);
        }
        let want = Rows { all: &all }
            .find("tokio", iamat_conns::NAME, &[("connections", 64.0)])
            .and_then(Row::throughput)
            .expect("the fixture has tokio at 64 connections");
        for r in &all {
            rows::append(&dir.path().join("rows.jsonl"), r).expect("append");
        }
        let (capacity, from) = run_capacity(dir.path(), "tokio").expect("capacity");
        assert_eq!(capacity, want);
        assert!(from.starts_with("iamat_conns"), "{from}");
        assert!(run_capacity(dir.path(), "cobol").is_none());
    }
}
