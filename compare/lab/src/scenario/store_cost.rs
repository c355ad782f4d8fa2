//! `store_cost`: what a durable store (PROTOCOL §8) costs one node's IAMAT
//! throughput and latency: the load and settings of `iamat_conns` at 64
//! connections, for the Rust builds (the others refuse a store), with no
//! store and with a store of each sync mode. Each point's store is fresh,
//! under the run's output directory (the disk the run is written to), and
//! removed after the point; its size is kept in `derived.store_bytes`.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Result;
use serde_json::{Value, json};

use crate::measure::{Ctx, Load};
use crate::plots::Chart;
use crate::point::{Point, with_threads};
use crate::report::page::{self, plot, series};
use crate::report::query::{Rows, errors_of, paired, spread_of};
use crate::report::units::{lat_s, num_s, ratio, rps_s};
use crate::rows::Row;
use crate::scenario::Scenario;

pub struct StoreCost;

/// The scenario's name in rows, `--scenarios` and the report.
pub const NAME: &str = "store_cost";

/// The builds that keep stores.
pub const STORE_BUILDS: [&str; 2] = ["blocking", "tokio"];

/// No store, then `--store-sync` from the cheapest promise to the dearest.
pub const MODES: [&str; 4] = ["none", "never", "everysec", "always"];

/// The quick run's modes: the two ends.
pub const QUICK_MODES: [&str; 2] = ["none", "always"];

/// Client connections, as `iamat_conns`'s point the report quotes.
pub const CONNECTIONS: u64 = 64;

/// The point's store mode (`none` when it has no store).
fn mode_of(params: &serde_json::Map<String, Value>) -> &str {
    params
        .get("store")
        .and_then(Value::as_str)
        .unwrap_or("none")
}

/// The good row of `build` at `mode`.
fn find<'a>(rows: &Rows<'a>, build: &str, mode: &str) -> Option<&'a Row> {
    rows.of(NAME)
        .into_iter()
        .find(|r| r.ok() && r.build == build && mode_of(&r.params) == mode)
}

/// Every good row of `build` at `mode`: the repeats of one point.
fn repeats_at<'a>(rows: &Rows<'a>, build: &str, mode: &str) -> Vec<&'a Row> {
    rows.of(NAME)
        .into_iter()
        .filter(|r| r.ok() && r.build == build && mode_of(&r.params) == mode)
        .collect()
}

impl Scenario for StoreCost {
    fn name(&self) -> &'static str {
        NAME
    }

    /// Blocking and tokio, 64 connections, each mode (quick: none, always);
    /// the blocking pool is 64 (as `iamat_conns` at 64 connections).
    fn plan(&self, builds: &[&'static str], quick: bool) -> Vec<Point> {
        let modes: &[&str] = if quick { &QUICK_MODES } else { &MODES };
        let mut points = Vec::new();
        for b in builds.iter().filter(|b| STORE_BUILDS.contains(b)) {
            for mode in modes {
                let p = json!({"connections": CONNECTIONS, "store": mode});
                points.push(Point::new(b, NAME, with_threads(b, p, CONNECTIONS)));
            }
        }
        points
    }

    fn point_args(&self, point: &Point, store: &Path) -> Vec<String> {
        match mode_of(&point.params) {
            "none" => Vec::new(),
            mode => vec![
                "--store-dir".to_owned(),
                store.display().to_string(),
                "--store-sync".to_owned(),
                mode.to_owned(),
            ],
        }
    }

    fn load(&self, ctx: &mut Ctx<'_>) -> Result<Load> {
        ctx.closed_loop("iamat=1,whatsat=0", &[])
    }

    fn report(&self, dir: &Path, md: &mut String, rows: &Rows<'_>) {
        let heading = "## 8. What a durable store costs (`store_cost`)";
        if !page::section(md, heading, !rows.of(NAME).is_empty()) {
            return;
        }
        page::para(
            md,
            "One node, IAMAT only, 64 connections in a closed loop: the load and settings of \
             `iamat_conns` at 64 connections (blocking: the plain pool, `--threads 64`; tokio: one \
             runtime worker per server CPU), with no store and with a store of each sync mode \
             (PROTOCOL §8, `--store-sync`): `never` hands each batch of changes to the OS within a few ms \
             and never fsyncs, `everysec` fsyncs within 500 ms of a write, `always` fsyncs before \
             the answer is written, one fsync for every update waiting (group commit). Each point \
             starts on a fresh, empty store in the run's output directory (`stores/pNNN`, on the \
             disk the run is written to), removed after the point; `store MiB` is the disk space it took then (allocated blocks, as `du` counts).",
        );
        chart(dir, md, rows);
        table(md, rows);
        sentences(md, rows);
    }
}

/// The modes measured in this run, in [`MODES`] order.
fn modes(rows: &Rows<'_>) -> Vec<&'static str> {
    MODES
        .into_iter()
        .filter(|m| rows.of(NAME).iter().any(|r| mode_of(&r.params) == *m))
        .collect()
}

/// Throughput per mode, a line per build.
fn chart(dir: &Path, md: &mut String, rows: &Rows<'_>) {
    let modes = modes(rows);
    let chart = Chart {
        title: "IAMAT throughput by store mode (one node, 64 connections)".into(),
        x_label: "store (--store-sync)".into(),
        y_label: "requests/s".into(),
        series: rows
            .builds(NAME)
            .into_iter()
            .map(|b| {
                let pts = modes
                    .iter()
                    .enumerate()
                    .filter_map(|(i, m)| Some((i as f64, find(rows, b, m)?.throughput()?)))
                    .collect();
                series(b, pts, false)
            })
            .collect(),
        x_names: modes.iter().map(|m| (*m).to_owned()).collect(),
        ..Chart::default()
    };
    plot(dir, md, "store_cost.svg", &chart);
}

/// Every build and mode: medians over the repeats with their ranges; the
/// share of no store taken repeat by repeat.
fn table(md: &mut String, rows: &Rows<'_>) {
    page::head(
        md,
        &[
            "build",
            "store",
            "req/s",
            "of no store",
            "p50",
            "p99",
            "CPU ms / 1000 req",
            "store MiB",
            "errors",
        ],
    );
    for b in rows.builds(NAME) {
        let base = repeats_at(rows, b, "none");
        for m in modes(rows) {
            let reps = repeats_at(rows, b, m);
            if reps.is_empty() {
                continue;
            }
            let of = |f: &dyn Fn(&Row) -> Option<f64>| spread_of(reps.iter().copied(), f);
            page::row(
                md,
                &[
                    b.to_owned(),
                    m.to_owned(),
                    rps_s(of(&Row::throughput)),
                    num_s(paired(&reps, &base, |r, n| {
                        ratio(r.throughput(), n.throughput())
                    })),
                    lat_s(of(&|r| r.lg("/latency_us/p50"))),
                    lat_s(of(&Row::p99_us)),
                    num_s(of(&|r| r.cpu_ms_per_1000_requests)),
                    num_s(of(&|r| {
                        r.derived_f("store_bytes")
                            .map(|bytes| bytes / (1024.0 * 1024.0))
                    })),
                    reps.iter().map(|r| errors_of(r)).sum::<f64>().to_string(),
                ],
            );
        }
    }
    md.push('\n');
}

/// Per build, each mode's throughput as a share of no store (medians of
/// the repeats, ranges in brackets).
fn sentences(md: &mut String, rows: &Rows<'_>) {
    let mut parts = Vec::new();
    for b in rows.builds(NAME) {
        let base = repeats_at(rows, b, "none");
        let Some(base_rps) = spread_of(base.iter().copied(), Row::throughput) else {
            continue;
        };
        let each: Vec<String> = modes(rows)
            .into_iter()
            .filter(|m| *m != "none")
            .filter_map(|m| {
                let reps = repeats_at(rows, b, m);
                let throughput = spread_of(reps.iter().copied(), Row::throughput)?;
                Some(format!(
                    "`{m}` {} req/s ({} of it, p99 {})",
                    rps_s(Some(throughput)),
                    num_s(paired(&reps, &base, |r, n| ratio(
                        r.throughput(),
                        n.throughput()
                    ))),
                    lat_s(spread_of(reps.iter().copied(), Row::p99_us))
                ))
            })
            .collect();
        parts.push(format!(
            "{b} served {} req/s without a store; {}",
            rps_s(Some(base_rps)),
            page::list_or_dash(&each)
        ));
    }
    if parts.is_empty() {
        return;
    }
    let _ = writeln!(
        md,
        "{}{}. Without fsync (`never`, `everysec`) a store adds a write to the OS per batch of \
         changes; `always` makes every answer wait for the disk, so its figures depend on the \
         disk's fsync latency more than on the build.\n",
        parts.join(". "),
        rows.medians_note(NAME)
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rust_builds_get_every_mode_and_a_store_of_their_own() {
        let builds = crate::builds::BUILDS;
        let full = StoreCost.plan(&builds, false);
        assert_eq!(full.len(), 8, "2 builds x 4 modes");
        assert!(
            full.iter()
                .all(|p| STORE_BUILDS.contains(&p.build.as_str()))
        );
        assert!(full.iter().all(|p| p.u("connections") == 64));
        let blocking = full
            .iter()
            .find(|p| p.build == "blocking")
            .expect("blocking");
        assert_eq!(blocking.u("threads"), 64);
        assert_eq!(StoreCost.plan(&builds, true).len(), 4);
        assert!(StoreCost.plan(&["asyncio", "node"], false).is_empty());
        let store = Path::new("/out/stores/p007");
        let none = &full[0];
        assert_eq!(mode_of(&none.params), "none");
        assert!(StoreCost.point_args(none, store).is_empty());
        let always = full
            .iter()
            .find(|p| p.build == "tokio" && mode_of(&p.params) == "always")
            .expect("tokio always");
        assert_eq!(
            StoreCost.point_args(always, store),
            ["--store-dir", "/out/stores/p007", "--store-sync", "always"]
        );
    }
}
