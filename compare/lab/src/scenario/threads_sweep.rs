//! `threads_sweep`: the blocking node alone, its pool size `--threads T`
//! swept under 64 connections of half IAMAT, half WHATSAT with a 50 ms
//! Places stand-in: below 64 the connections queue for workers, and each
//! WHATSAT holds its worker for 50 ms.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Result;
use serde_json::{Value, json};

use crate::measure::{Ctx, Load};
use crate::plots::{Chart, Series};
use crate::point::{Point, pick};
use crate::report::page::{self, plot, series};
use crate::report::query::Rows;
use crate::report::units::{count_s, lat_s, mb, rps_s, spread, whole_s};
use crate::rows::Row;
use crate::scenario::Scenario;
use crate::scenario::whatsat_latency::derive_bound;

pub struct ThreadsSweep;

/// The scenario's name in rows, `--scenarios` and the report.
pub const NAME: &str = "threads_sweep";

impl Scenario for ThreadsSweep {
    fn name(&self) -> &'static str {
        NAME
    }

    /// T = 1-256 (quick: 4, 64), blocking only.
    fn plan(&self, builds: &[&'static str], quick: bool) -> Vec<Point> {
        if !builds.contains(&"blocking") {
            return Vec::new();
        }
        pick(quick, &[4, 64], &[1, 4, 16, 64, 256])
            .into_iter()
            .map(|t| {
                let p = json!({"threads": t, "connections": 64, "latency_ms": 50});
                Point::new("blocking", NAME, p)
            })
            .collect()
    }

    fn load(&self, ctx: &mut Ctx<'_>) -> Result<Load> {
        ctx.closed_loop("iamat=1,whatsat=1", &["--clients", "200"])
    }

    fn derive(&self, point: &Point, threads: u32, _loadgen: &Value, row: &mut Row) {
        derive_bound(point, threads, row);
    }

    fn report(&self, dir: &Path, md: &mut String, rows: &Rows<'_>) {
        let heading = "## 6. Blocking pool size (`threads_sweep`)";
        if !page::section(md, heading, !rows.of(NAME).is_empty()) {
            return;
        }
        page::para(
            md,
            "The blocking node only, `--threads T`, 64 connections in a closed loop, half IAMAT and \
             half WHATSAT, Places stand-in latency 50 ms. With T below 64 the connections queue for \
             workers; each WHATSAT holds its worker for 50 ms, so WHATSATs are bounded by T / 50 ms.",
        );
        let ts = rows.values(NAME, "threads");
        let pts: Vec<&Row> = ts
            .iter()
            .filter_map(|t| rows.find("blocking", NAME, &[("threads", *t)]))
            .collect();
        chart(dir, md, &ts, &pts);
        table(md, rows, &ts);
        if let (Some(a), Some(b)) = (ts.first(), ts.last()) {
            let at = |t: f64| rows.spread("blocking", NAME, &[("threads", t)], Row::throughput);
            let _ = writeln!(
                md,
                "\nFrom {a:.0} to {b:.0} threads the node went from {} to {} req/s{}; a closed-loop client mixes both commands, so a slow \
                 WHATSAT also delays the IAMATs queued behind it.\n",
                rps_s(at(*a)),
                rps_s(at(*b)),
                rows.medians_note(NAME)
            );
        }
    }
}

/// Throughput against T, with the bound 2 x T / 50 ms.
fn chart(dir: &Path, md: &mut String, ts: &[f64], pts: &[&Row]) {
    let chart = Chart {
        title: "Blocking node: throughput vs pool size (IAMAT + WHATSAT, Places 50 ms)".into(),
        x_label: "--threads".into(),
        y_label: "requests/s".into(),
        log_x: true,
        log_y: true,
        series: vec![
            series(
                "blocking",
                pts.iter()
                    .filter_map(|r| Some((r.param("threads")?, r.throughput()?)))
                    .collect(),
                false,
            ),
            Series {
                name: "bound 2 x T / 50 ms (half the requests wait 50 ms)".into(),
                points: ts.iter().map(|t| (*t, 2.0 * t * 1000.0 / 50.0)).collect(),
                dashed: true,
                color: crate::plots::GREY,
                marker: crate::plots::Marker::None,
                ranges: Vec::new(),
            },
        ],
        ..Chart::default()
    };
    plot(dir, md, "threads_sweep.svg", &chart);
}

/// Every pool size: medians over its repeats with their ranges.
fn table(md: &mut String, rows: &Rows<'_>, ts: &[f64]) {
    page::head(
        md,
        &[
            "threads",
            "req/s",
            "IAMAT ok",
            "WHATSAT ok",
            "p50",
            "p99",
            "threads seen",
            "RSS MiB",
        ],
    );
    for t in ts {
        let of =
            |f: &dyn Fn(&Row) -> Option<f64>| rows.spread("blocking", NAME, &[("threads", *t)], f);
        let node = |r: &Row| {
            r.servers
                .iter()
                .find(|s| s.role == "node")
                .map(|s| s.window.clone())
        };
        page::row(
            md,
            &[
                format!("{t:.0}"),
                rps_s(of(&Row::throughput)),
                whole_s(of(&|r| r.lg("/requests_ok_by_command/iamat"))),
                whole_s(of(&|r| r.lg("/requests_ok_by_command/whatsat"))),
                lat_s(of(&|r| r.lg("/latency_us/p50"))),
                lat_s(of(&Row::p99_us)),
                count_s(of(&|r| node(r)?.threads_max.map(|v| v as f64))),
                spread(of(&|r| node(r)?.rss_kb_max.map(|v| v as f64)), |kib| {
                    mb(kib.map(|k| k as u64))
                }),
            ],
        );
    }
}
