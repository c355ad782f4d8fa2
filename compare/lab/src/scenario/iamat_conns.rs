//! `iamat_conns`: IAMAT throughput and latency on one node against the
//! number of client connections (closed loop), every build beside the
//! loadgen echo servers (`echo_threads`, `echo_tokio`), the loopback
//! ceiling of each I/O model.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Result;

use crate::builds::{BUILDS, ECHOES, TPC};
use crate::measure::{Ctx, Load};
use crate::point::{Point, pick, with_threads};
use crate::report::figures;
use crate::report::page;
use crate::report::query::{Rows, Spread, errors_of};
use crate::report::units::{lat_s, num_s, rps_s};
use crate::rows::Row;
use crate::scenario::Scenario;

pub struct IamatConns;

/// The scenario's name in rows, `--scenarios` and the report.
pub const NAME: &str = "iamat_conns";

impl Scenario for IamatConns {
    fn name(&self) -> &'static str {
        NAME
    }

    /// Connections 1-1024, a factor of 4 apart from 16 on (quick: 1, 64);
    /// the blocking pool is max(64, connections), at most 1024 (from 64
    /// connections on, a thread per connection: `blocking-tpc` would repeat
    /// it and is left out).
    fn plan(&self, builds: &[&'static str], quick: bool) -> Vec<Point> {
        let mut points = Vec::new();
        for c in pick(quick, &[1, 64], &[1, 16, 64, 256, 1024]) {
            let builds = builds.iter().filter(|b| **b != TPC);
            for b in builds.chain(ECHOES.iter()) {
                let p = with_threads(b, serde_json::json!({"connections": c}), c.clamp(64, 1024));
                points.push(Point::new(b, NAME, p));
            }
        }
        points
    }

    fn load(&self, ctx: &mut Ctx<'_>) -> Result<Load> {
        ctx.closed_loop("iamat=1,whatsat=0", &[])
    }

    fn report(&self, dir: &Path, md: &mut String, rows: &Rows<'_>) {
        let heading = "## 1. IAMAT throughput and latency vs connections (`iamat_conns`)";
        if !page::section(md, heading, !rows.of(NAME).is_empty()) {
            return;
        }
        page::para(
            md,
            "Settings: blocking `--threads max(64, connections)` (at most 1024), as the plain pool \
             (`blocking`) and the parked pool (`blocking-parked`); tokio `--threads`: its rows' \
             `server_threads_flag` runtime workers (one per server CPU since 2026-12-04; 2 before); \
             asyncio and Node run their one event loop (they accept `--threads` and ignore it).",
        );
        charts(dir, md, rows);
        let conns = rows.values(NAME, "connections");
        // Sentences at 64 connections (or the largest measured).
        let at = if conns.contains(&64.0) {
            Some(64.0)
        } else {
            conns.last().copied()
        };
        if let Some(c) = at {
            sentences(md, rows, c, conns.last().copied());
        }
        table(md, rows);
    }
}

/// Throughput and p99 against connections, a line per build.
fn charts(dir: &Path, md: &mut String, rows: &Rows<'_>) {
    figures::draw(dir, md, figures::iamat_throughput(rows));
    figures::draw(dir, md, figures::iamat_p99(rows));
}

/// Every build at `c` connections against its echo ceiling, then the
/// fastest build at the most connections (`top`); every figure a median
/// over the repeats with its range.
fn sentences(md: &mut String, rows: &Rows<'_>, c: f64, top: Option<f64>) {
    let at = [("connections", c)];
    let has = |e: &str| !rows.repeats(e, NAME, &at).is_empty();
    let mut parts = Vec::new();
    for b in BUILDS {
        let Some(throughput) = rows.spread(b, NAME, &at, Row::throughput) else {
            continue;
        };
        let (reference, ref_name) = if b == "tokio" && has("echo_tokio") {
            ("echo_tokio", "tokio echo")
        } else {
            ("echo_threads", "thread echo")
        };
        parts.push(format!(
            "{b} {} req/s ({} of the {ref_name}, p99 {})",
            rps_s(Some(throughput)),
            num_s(rows.ratio((b, reference), NAME, &at, Row::throughput)),
            lat_s(rows.spread(b, NAME, &at, Row::p99_us))
        ));
    }
    let _ = write!(
        md,
        "At {c:.0} connections: {}{}. The echo \
         limits were {} req/s (threads) and {} req/s (tokio). One IAMAT costs a parse, a \
         cache write under a lock, a log line and an answer, so a build near its echo line is \
         limited by the loopback round trip and the load generator, not by its own work; a \
         build far below it is limited by its own CPU (asyncio and Node run everything on one \
         thread).",
        parts.join("; "),
        rows.medians_note(NAME),
        rps_s(rows.spread("echo_threads", NAME, &at, Row::throughput)),
        rps_s(rows.spread("echo_tokio", NAME, &at, Row::throughput)),
    );
    // Who leads at the most connections.
    if let Some(top) = top.filter(|t| *t != c)
        && let Some((b, s)) = rows.fastest(NAME, &[("connections", top)])
    {
        let _ = write!(
            md,
            " At {top:.0} connections the fastest build (by median) was {b} with {} req/s.",
            rps_s(Some(s))
        );
    }
    md.push_str("\n\n");
}

/// Throughput, then p99, of every build and echo at every count (medians
/// with their ranges), and any errors.
fn table(md: &mut String, rows: &Rows<'_>) {
    let builds = rows.builds(NAME);
    for (what, figure, fmt) in [
        (
            "req/s",
            Row::throughput as fn(&Row) -> Option<f64>,
            rps_s as fn(Option<Spread>) -> String,
        ),
        ("p99", Row::p99_us, lat_s),
    ] {
        let mut columns = vec!["connections".to_owned()];
        columns.extend(builds.iter().map(|b| format!("{b} {what}")));
        page::head(md, &columns.iter().map(String::as_str).collect::<Vec<_>>());
        for c in rows.values(NAME, "connections") {
            let mut cells = vec![format!("{c:.0}")];
            for b in &builds {
                let at = [("connections", c)];
                let errs: f64 = rows
                    .repeats(b, NAME, &at)
                    .iter()
                    .map(|r| errors_of(r))
                    .sum();
                let e = if errs > 0.0 {
                    format!(", {errs:.0} errors")
                } else {
                    String::new()
                };
                cells.push(format!("{}{e}", fmt(rows.spread(b, NAME, &at, figure))));
            }
            page::row(md, &cells);
        }
        md.push('\n');
    }
}
