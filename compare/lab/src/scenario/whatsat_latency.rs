//! `whatsat_latency`: WHATSAT throughput against the Places stand-in's
//! latency and the number of connections. A blocking worker is held for
//! the whole Places call, so the blocking node cannot pass threads /
//! latency requests a second (the bound drawn and checked); the async
//! builds hold nothing while they wait.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Result;
use serde_json::{Value, json};

use crate::builds::{self, BUILDS};
use crate::measure::{Ctx, Load, round3};
use crate::plots::{Chart, HLine};
use crate::point::{Point, pick};
use crate::report::page::{self, lines_by_build, plot};
use crate::report::query::{Rows, errors_of, spread_of};
use crate::report::units::{lat_s, num, num_s, ratio, rps, rps_s};
use crate::rows::Row;
use crate::scenario::Scenario;

/// The blocking pool of the WHATSAT scenario.
pub const WHATSAT_POOL: u32 = 32;

pub struct WhatsatLatency;

/// The scenario's name in rows, `--scenarios` and the report.
pub const NAME: &str = "whatsat_latency";

impl Scenario for WhatsatLatency {
    fn name(&self) -> &'static str {
        NAME
    }

    /// Latency 0-200 ms x connections 16 (below the pool) and 256 (far
    /// above it) (quick: 100 ms x 64); `blocking-tpc` a thread per
    /// connection.
    fn plan(&self, builds: &[&'static str], quick: bool) -> Vec<Point> {
        let mut points = Vec::new();
        for l in pick(quick, &[100], &[0, 50, 100, 200]) {
            for c in pick(quick, &[64], &[16, 256]) {
                for b in builds {
                    let p = json!({"latency_ms": l, "connections": c});
                    let p = builds::with_pool(b, p, c, u64::from(WHATSAT_POOL));
                    points.push(Point::new(b, NAME, p));
                }
            }
        }
        points
    }

    fn load(&self, ctx: &mut Ctx<'_>) -> Result<Load> {
        ctx.closed_loop("iamat=0,whatsat=1", &["--clients", "200"])
    }

    fn derive(&self, point: &Point, threads: u32, _loadgen: &Value, row: &mut Row) {
        derive_bound(point, threads, row);
    }

    fn report(&self, dir: &Path, md: &mut String, rows: &Rows<'_>) {
        let heading = "## 2. WHATSAT vs Places latency (`whatsat_latency`)";
        if !page::section(md, heading, !rows.of(NAME).is_empty()) {
            return;
        }
        let _ = writeln!(
            md,
            "Every request is a WHATSAT for a client id herd-loadgen registered first; the nodes use \
             the Places stand-in (`herd-standin --latency-ms L`) as the Google provider. The \
             blocking node runs `--threads {WHATSAT_POOL}`: a WHATSAT holds its worker for the whole \
             Places call, so it cannot serve more than threads / latency requests per second (the \
             bound drawn in each plot, for L > 0). The async builds hold nothing while they wait. \
             A plain pool's worker stays with its connection, so the connections past the pool \
             get no worker at all: their requests end at herd-loadgen's timeout. The p99s in the \
             sentences and the p99 plot count such a request as taking the timeout; the table \
             gives both.\n"
        );
        crate::scenario::tpc::note(md, rows, NAME);
        for l in rows.values(NAME, "latency_ms") {
            chart(dir, md, rows, l);
            if let Some(c) = rows.values(NAME, "connections").last() {
                sentences(md, rows, l, *c);
            }
        }
        crate::report::figures::draw(dir, md, crate::report::figures::whatsat_p99(rows));
        table(md, rows);
    }
}

/// The blocking node's bound at a Places latency: threads / latency
/// requests a second (and the target, 0.9 of it), for WHATSAT points and
/// the pool-size sweep.
pub fn derive_bound(point: &Point, threads: u32, row: &mut Row) {
    let latency = point.u("latency_ms");
    if crate::builds::is_pool(&point.build) && latency > 0 {
        let bound = f64::from(threads) * 1000.0 / latency as f64;
        row.derived.insert(
            "bound_rps_threads_over_latency".into(),
            json!(round3(bound)),
        );
        row.derived
            .insert("target_rps_0_9_bound".into(), json!(round3(0.9 * bound)));
    }
}

/// Throughput against connections at latency `l`, with the blocking bound.
fn chart(dir: &Path, md: &mut String, rows: &Rows<'_>, l: f64) {
    let conns = rows.values(NAME, "connections");
    let mut chart = Chart {
        title: format!("WHATSAT throughput vs connections, Places latency {l:.0} ms"),
        x_label: "connections".into(),
        y_label: "requests/s".into(),
        log_x: true,
        ..Chart::default()
    };
    chart.series.extend(lines_by_build(
        rows,
        NAME,
        ("connections", &conns),
        &[("latency_ms", l)],
        |r| Some((r.param("connections")?, r.throughput()?)),
    ));
    if l > 0.0 {
        let bound = f64::from(WHATSAT_POOL) * 1000.0 / l;
        chart.hlines.push(HLine {
            name: format!("blocking bound {WHATSAT_POOL} threads / {l:.0} ms = {bound:.0}/s"),
            y: bound,
            color: crate::plots::color_of("blocking"),
        });
        chart.hlines.push(HLine {
            name: format!("0.9 x bound = {:.0}/s", 0.9 * bound),
            y: 0.9 * bound,
            color: crate::plots::GREY,
        });
    }
    plot(dir, md, &format!("whatsat_{l:.0}ms.svg"), &chart);
}

/// Every build at latency `l` and the most connections `c` (medians over
/// the repeats, with their ranges).
fn sentences(md: &mut String, rows: &Rows<'_>, l: f64, c: f64) {
    let at = [("connections", c), ("latency_ms", l)];
    let parts: Vec<String> = BUILDS
        .iter()
        .filter_map(|b| {
            let throughput = rows.spread(b, NAME, &at, Row::throughput)?;
            Some(format!(
                "{b} {} req/s (p99 {})",
                rps_s(Some(throughput)),
                lat_s(rows.spread(b, NAME, &at, Row::p99_counting_timeouts_us))
            ))
        })
        .collect();
    let bound_text = if l > 0.0 {
        let bound = f64::from(WHATSAT_POOL) * 1000.0 / l;
        let share = spread_of(rows.repeats("blocking", NAME, &at), |r| {
            ratio(r.throughput(), Some(bound))
        });
        format!(
            " The blocking node reached {} of its bound of {bound:.0} req/s: past {WHATSAT_POOL} \
             connections, the others queue for a worker. An async build's ceiling here is \
             connections / latency = {:.0} req/s, or its CPU, whichever is lower.",
            num_s(share),
            c * 1000.0 / l
        )
    } else {
        " With no Places latency the WHATSAT cost is CPU: the offline search in the \
         stand-in, the HTTP round trip and the JSON shaping."
            .to_owned()
    };
    let _ = writeln!(
        md,
        "With {l:.0} ms of Places latency and {c:.0} connections: {}{}.{bound_text}\n",
        parts.join("; "),
        rows.medians_note(NAME)
    );
}

/// Every point: medians over its repeats with their ranges, errors summed.
fn table(md: &mut String, rows: &Rows<'_>) {
    page::head(
        md,
        &[
            "latency",
            "connections",
            "build",
            "req/s",
            "p50",
            "p99",
            "p99 (timeouts counted)",
            "errors",
            "bound (blocking)",
        ],
    );
    for reps in rows.points(NAME) {
        let r = reps[0];
        let of = |f: fn(&Row) -> Option<f64>| spread_of(reps.iter().copied(), f);
        page::row(
            md,
            &[
                format!("{} ms", num(r.param("latency_ms"), 0)),
                num(r.param("connections"), 0),
                r.build.clone(),
                rps_s(of(Row::throughput)),
                lat_s(of(|r| r.lg("/latency_us/p50"))),
                lat_s(of(Row::p99_us)),
                lat_s(of(Row::p99_counting_timeouts_us)),
                reps.iter().map(|r| errors_of(r)).sum::<f64>().to_string(),
                rps(r.derived_f("bound_rps_threads_over_latency")),
            ],
        );
    }
    md.push('\n');
}
