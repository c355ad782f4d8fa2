//! `iamat_conns`: IAMAT throughput and latency on one node against the
//! number of client connections (closed loop), every build beside the
//! loadgen echo servers (`echo_threads`, `echo_tokio`), the loopback
//! ceiling of each I/O model.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Result;

use crate::builds::{BUILDS, ECHOES};
use crate::measure::{Ctx, Load};
use crate::point::{Point, pick, with_threads};
use crate::report::figures;
use crate::report::page;
use crate::report::query::{Rows, errors_of};
use crate::report::units::{lat, num, ratio, rps, spread};
use crate::rows::Row;
use crate::scenario::Scenario;

pub struct IamatConns;

/// The scenario's name in rows, `--scenarios` and the report.
pub const NAME: &str = "iamat_conns";

impl Scenario for IamatConns {
    fn name(&self) -> &'static str {
        NAME
    }

    /// Connections 1-1024 (quick: 1, 64); the blocking pool is
    /// max(64, connections), at most 1024.
    fn plan(&self, builds: &[&'static str], quick: bool) -> Vec<Point> {
        let mut points = Vec::new();
        for c in pick(quick, &[1, 64], &[1, 4, 16, 64, 256, 1024]) {
            for b in builds.iter().chain(ECHOES.iter()) {
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
/// fastest build at the most connections (`top`).
fn sentences(md: &mut String, rows: &Rows<'_>, c: f64, top: Option<f64>) {
    let echo = |e: &str| rows.find(e, NAME, &[("connections", c)]);
    let et = echo("echo_threads");
    let ek = echo("echo_tokio");
    let mut parts = Vec::new();
    for b in BUILDS {
        if let Some(r) = rows.find(b, NAME, &[("connections", c)]) {
            let reference = if b == "tokio" { ek.or(et) } else { et };
            let ref_name = if b == "tokio" && ek.is_some() {
                "tokio echo"
            } else {
                "thread echo"
            };
            let throughput = rows.spread(b, NAME, &[("connections", c)], Row::throughput);
            parts.push(format!(
                "{b} {} req/s ({} of the {ref_name}, p99 {})",
                spread(throughput, rps),
                num(
                    ratio(r.throughput(), reference.and_then(Row::throughput)),
                    2
                ),
                lat(r.p99_us())
            ));
        }
    }
    let _ = write!(
        md,
        "At {c:.0} connections: {}. The echo limits were {} req/s (threads) and {} req/s \
         (tokio). One IAMAT costs a parse, a cache write under a lock, a log line and an \
         answer, so a build near its echo line is limited by the loopback round trip and the \
         load generator, not by its own work; a build far below it is limited by its own CPU \
         (asyncio and Node run everything on one thread).",
        parts.join("; "),
        rps(et.and_then(Row::throughput)),
        rps(ek.and_then(Row::throughput)),
    );
    // Who leads at the most connections.
    if let Some(top) = top.filter(|t| *t != c)
        && let Some((b, r)) = rows.fastest(NAME, &[("connections", top)])
    {
        let _ = write!(
            md,
            " At {top:.0} connections the fastest build was {b} with {} req/s.",
            rps(r.throughput())
        );
    }
    md.push_str("\n\n");
}

/// Throughput (p99, errors) of every build and echo at every count.
fn table(md: &mut String, rows: &Rows<'_>) {
    let builds = rows.builds(NAME);
    let mut columns = vec!["connections".to_owned()];
    columns.extend(builds.iter().map(|b| format!("{b} req/s (p99)")));
    page::head(md, &columns.iter().map(String::as_str).collect::<Vec<_>>());
    for c in rows.values(NAME, "connections") {
        let mut cells = vec![format!("{c:.0}")];
        for b in &builds {
            cells.push(match rows.find(b, NAME, &[("connections", c)]) {
                Some(r) => {
                    let errs = errors_of(r);
                    let e = if errs > 0.0 {
                        format!(", {errs:.0} errors")
                    } else {
                        String::new()
                    };
                    format!("{} ({}{e})", rps(r.throughput()), lat(r.p99_us()))
                }
                None => "–".to_owned(),
            });
        }
        page::row(md, &cells);
    }
    md.push('\n');
}
