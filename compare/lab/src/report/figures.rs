//! The report's plots, built from the rows in one place: the summary shows
//! five of them on page one and the scenario sections show them again
//! beside their tables, so each is defined once here. Every point is the
//! median of its repeats with a min–max error bar; every build keeps its
//! colour and marker (`plots::style_of`).

use std::fmt::Write as _;
use std::path::Path;

use crate::builds::BUILDS;
use crate::plots::{BLACK, Chart, GREY, HLine, Series, VLine};
use crate::report::page::{self, lines_by_build, spread_series};
use crate::report::query::{Rows, Spread};
use crate::rows::Row;
use crate::scenario::idle_hoarders::{self, HOARD_IDLE_MS, HOARD_POOL};
use crate::scenario::propagation::{self, prop_log_p, prop_p};
use crate::scenario::whatsat_latency;
use crate::scenario::{iamat_conns, memory};

/// The cores sweep's scenario name (its rows: one node or the herd, at a
/// number of server CPUs).
pub const CORES_SWEEP: &str = "cores_sweep";

/// The builds in report order, with `blocking-tpc` after the parked pool
/// even where the build list does not name it yet (rows of it are then
/// still reported).
pub fn report_builds() -> Vec<&'static str> {
    let mut all: Vec<&'static str> = BUILDS.to_vec();
    if !all.contains(&"blocking-tpc") {
        let at = all
            .iter()
            .position(|b| *b == "blocking-parked")
            .map_or(0, |i| i + 1);
        all.insert(at, "blocking-tpc");
    }
    all
}

/// A chart and the file it is written to.
pub struct Figure {
    pub file: String,
    pub chart: Chart,
}

/// Writes the figure and its image line; without one, a note.
pub fn draw(dir: &Path, md: &mut String, figure: Option<Figure>) -> bool {
    match figure {
        Some(f) => page::plot(dir, md, &f.file, &f.chart),
        None => {
            let _ = writeln!(md, "_No data for this plot in this run._\n");
            false
        }
    }
}

/// Echo servers are drawn dashed (a ceiling, not a build).
fn dash_echoes(mut series: Vec<Series>) -> Vec<Series> {
    for s in &mut series {
        s.dashed = s.name.starts_with("echo");
    }
    series
}

fn some_points(chart: &Chart) -> bool {
    chart.series.iter().any(|s| !s.points.is_empty())
}

fn figure(file: &str, chart: Chart) -> Option<Figure> {
    some_points(&chart).then(|| Figure {
        file: file.to_owned(),
        chart,
    })
}

/// IAMAT throughput against connections, one node, every build and echo.
pub fn iamat_throughput(rows: &Rows<'_>) -> Option<Figure> {
    let conns = rows.values(iamat_conns::NAME, "connections");
    let chart = Chart {
        title: "IAMAT throughput vs connections (closed loop, one node)".into(),
        x_label: "connections".into(),
        y_label: "requests/s".into(),
        log_x: true,
        series: dash_echoes(lines_by_build(
            rows,
            iamat_conns::NAME,
            ("connections", &conns),
            &[],
            |r| Some((r.param("connections")?, r.throughput()?)),
        )),
        ..Chart::default()
    };
    figure("iamat_throughput.svg", chart)
}

/// IAMAT p99 against connections (closed loop).
pub fn iamat_p99(rows: &Rows<'_>) -> Option<Figure> {
    let conns = rows.values(iamat_conns::NAME, "connections");
    let chart = Chart {
        title: "IAMAT p99 latency vs connections (closed loop)".into(),
        x_label: "connections".into(),
        y_label: "p99 latency (ms)".into(),
        log_x: true,
        log_y: true,
        series: dash_echoes(lines_by_build(
            rows,
            iamat_conns::NAME,
            ("connections", &conns),
            &[],
            |r| Some((r.param("connections")?, r.p99_us()? / 1000.0)),
        )),
        ..Chart::default()
    };
    figure("iamat_p99.svg", chart)
}

/// WHATSAT p99 against the Places stand-in's latency, at the most
/// connections measured, a request that timed out counted as taking the
/// timeout (a pool's starved connections are its slowest requests).
pub fn whatsat_p99(rows: &Rows<'_>) -> Option<Figure> {
    let name = whatsat_latency::NAME;
    let c = *rows.values(name, "connections").last()?;
    let ls = rows.values(name, "latency_ms");
    let chart = Chart {
        title: format!("WHATSAT p99 latency vs Places latency ({c:.0} connections)"),
        x_label: "Places stand-in latency (ms)".into(),
        y_label: "p99 latency (ms)".into(),
        log_y: true,
        series: lines_by_build(
            rows,
            name,
            ("latency_ms", &ls),
            &[("connections", c)],
            |r| {
                Some((
                    r.param("latency_ms")?,
                    r.p99_counting_timeouts_us()? / 1000.0,
                ))
            },
        ),
        ..Chart::default()
    };
    figure("whatsat_p99.svg", chart)
}

/// The active client's slowest answer against the idle connections held:
/// points only (the truth is a cliff at the pool size, not a slope), the
/// pool size and the idle timeout marked.
pub fn hoarders(rows: &Rows<'_>) -> Option<Figure> {
    let ks = rows.values(idle_hoarders::NAME, "idle");
    let chart = Chart {
        title: "Active client's slowest answer vs idle connections held".into(),
        x_label: "idle connections K (K = 0 drawn at 1)".into(),
        y_label: "slowest answer (ms)".into(),
        log_x: true,
        log_y: true,
        points_only: true,
        series: lines_by_build(rows, idle_hoarders::NAME, ("idle", &ks), &[], |r| {
            Some((r.param("idle")?.max(1.0), r.lg("/latency_us/max")? / 1000.0))
        }),
        hlines: vec![HLine {
            name: format!("idle timeout {HOARD_IDLE_MS} ms"),
            y: HOARD_IDLE_MS as f64,
            color: GREY,
        }],
        vlines: vec![VLine {
            name: format!("pool: {HOARD_POOL} threads"),
            x: f64::from(HOARD_POOL),
            color: BLACK,
        }],
        ..Chart::default()
    };
    figure("hoarders.svg", chart)
}

/// Resident memory against idle connections held.
pub fn memory(rows: &Rows<'_>) -> Option<Figure> {
    let ks = rows.values(memory::NAME, "idle");
    let chart = Chart {
        title: "Resident memory vs idle connections held (one node)".into(),
        x_label: "idle connections (K = 0 drawn at 1)".into(),
        y_label: "RSS (MiB)".into(),
        log_x: true,
        series: lines_by_build(rows, memory::NAME, ("idle", &ks), &[], |r| {
            Some((r.param("idle")?.max(1.0), r.node_rss_kb()? as f64 / 1024.0))
        }),
        ..Chart::default()
    };
    figure("memory.svg", chart)
}

/// The connection count the one-node figures quote: 64, else the most
/// measured.
pub fn iamat_reference_conns(rows: &Rows<'_>) -> Option<f64> {
    let conns = rows.values(iamat_conns::NAME, "connections");
    if conns.contains(&64.0) {
        Some(64.0)
    } else {
        conns.last().copied()
    }
}

/// CPU ms per 1,000 IAMATs of each build (one node, 64 connections),
/// a point per build on a categorical axis.
pub fn cpu_per_request(rows: &Rows<'_>) -> Option<Figure> {
    let c = iamat_reference_conns(rows)?;
    let builds = page::builds_of(rows, iamat_conns::NAME);
    let series = builds
        .iter()
        .enumerate()
        .filter_map(|(i, b)| {
            let s = rows.spread(b, iamat_conns::NAME, &[("connections", c)], |r| {
                r.cpu_ms_per_1000_requests
            })?;
            Some(spread_series(b, &[(i as f64, s)], false))
        })
        .collect();
    let chart = Chart {
        title: format!("CPU per 1,000 IAMATs (one node, {c:.0} connections)"),
        x_label: "build".into(),
        y_label: "CPU ms per 1,000 requests".into(),
        points_only: true,
        series,
        x_names: builds.iter().map(|b| (*b).to_owned()).collect(),
        ..Chart::default()
    };
    figure("cpu_per_request.svg", chart)
}

/// The all-servers propagation time of a row: the servers' logs where
/// the lab read them, else the polling clients'.
fn propagation_us(r: &Row, which: &str) -> Option<f64> {
    prop_log_p(r, which).or_else(|| prop_p(r, which))
}

/// Propagation p50 (dashed) and p99 (solid) of each build, idle herd and
/// under load.
pub fn propagation(rows: &Rows<'_>) -> Option<Figure> {
    let name = propagation::NAME;
    let loads = rows.values(name, "load_connections");
    let mut series = Vec::new();
    for b in page::builds_of(rows, name) {
        for (which, dashed) in [("p99", false), ("p50", true)] {
            let pts: Vec<(f64, Spread)> = loads
                .iter()
                .enumerate()
                .filter_map(|(i, l)| {
                    let s = rows.spread(b, name, &[("load_connections", *l)], |r| {
                        Some(propagation_us(r, which)? / 1000.0)
                    })?;
                    Some((i as f64, s))
                })
                .collect();
            let mut s = spread_series(b, &pts, dashed);
            s.name = format!("{b} {which}");
            series.push(s);
        }
    }
    let chart = Chart {
        title: "Flood propagation to every server (five-server herd)".into(),
        x_label: "herd load".into(),
        y_label: "time to reach all servers (ms, servers' logs)".into(),
        log_y: true,
        series,
        x_names: loads
            .iter()
            .map(|l| {
                if *l > 0.0 {
                    format!("{l:.0} connections of IAMAT")
                } else {
                    "idle".to_owned()
                }
            })
            .collect(),
        ..Chart::default()
    };
    figure("propagation.svg", chart)
}

/// The number of server CPUs of a cores-sweep row: its `cores` parameter,
/// else the length of its pinned server CPU list.
pub fn cores_of(r: &Row) -> Option<f64> {
    r.param("cores").or_else(|| {
        let list = r.pinning.get("server_cpus")?.as_str()?;
        Some(crate::builds::cpu_count(list) as f64)
    })
}

/// True for a cores-sweep row measured on the five-server herd (not one
/// node).
pub fn on_herd(r: &Row) -> bool {
    r.param("servers").is_some_and(|s| s > 1.0)
        || ["target", "on"]
            .iter()
            .any(|k| r.params.get(*k).and_then(|v| v.as_str()) == Some("herd"))
}

/// Throughput spread of `build` at `cores` server CPUs, on the herd or
/// one node.
pub fn cores_spread(rows: &Rows<'_>, build: &str, cores: f64, herd: bool) -> Option<Spread> {
    Spread::of(
        rows.of(CORES_SWEEP)
            .into_iter()
            .filter(|r| r.ok() && r.build == build && on_herd(r) == herd)
            .filter(|r| cores_of(r) == Some(cores))
            .filter_map(Row::throughput),
    )
}

/// The core counts measured on the herd or one node.
pub fn cores_measured(rows: &Rows<'_>, herd: bool) -> Vec<f64> {
    let mut ks: Vec<f64> = rows
        .of(CORES_SWEEP)
        .into_iter()
        .filter(|r| r.ok() && on_herd(r) == herd)
        .filter_map(cores_of)
        .collect();
    ks.sort_by(f64::total_cmp);
    ks.dedup();
    ks
}

/// IAMAT throughput against server cores (`cores_sweep`), one node or
/// the herd.
pub fn cores_sweep(rows: &Rows<'_>, herd: bool) -> Option<Figure> {
    let ks = cores_measured(rows, herd);
    let series = report_builds()
        .into_iter()
        .map(|b| {
            // Evenly spaced core counts (1, 2, 4, 8 ...), named on the axis.
            let pts: Vec<(f64, Spread)> = ks
                .iter()
                .enumerate()
                .filter_map(|(i, k)| Some((i as f64, cores_spread(rows, b, *k, herd)?)))
                .collect();
            spread_series(b, &pts, false)
        })
        .filter(|s| !s.points.is_empty())
        .collect();
    let (what, file) = if herd {
        ("the five-server herd", "cores_sweep_herd.svg")
    } else {
        ("one node", "cores_sweep_node.svg")
    };
    let chart = Chart {
        title: format!("IAMAT throughput vs server cores ({what}, 64 connections)"),
        x_label: "server CPUs".into(),
        y_label: "requests/s".into(),
        series,
        x_names: ks.iter().map(|k| format!("{k:.0}")).collect(),
        ..Chart::default()
    };
    figure(file, chart)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn row(build: &str, scenario: &str, params: serde_json::Value, rps: f64) -> Row {
        let text = json!({
            "schema": 1, "build": build, "scenario": scenario, "point": "p",
            "params": params, "loadgen": {"throughput_rps": rps, "latency_us": {"p99": 900, "max": 4000}},
            "servers": [], "cpu_seconds": 1.0, "cpu_ms_per_1000_requests": 20.0,
            "derived": {}, "commands": [], "pinning": {"server_cpus": "0-1"},
            "started_at": "", "finished_at": "", "window_s": null, "error": null
        });
        serde_json::from_value(text).expect("row")
    }

    #[test]
    fn cores_sweep_rows_split_into_node_and_herd_by_their_parameters() {
        let all = vec![
            row(
                "tokio",
                CORES_SWEEP,
                json!({"cores": 1, "servers": 1}),
                10.0,
            ),
            row(
                "tokio",
                CORES_SWEEP,
                json!({"cores": 1, "servers": 1}),
                14.0,
            ),
            row("tokio", CORES_SWEEP, json!({"servers": 5}), 30.0),
        ];
        let rows = Rows { all: &all };
        assert_eq!(cores_measured(&rows, false), vec![1.0]);
        // No `cores` parameter: the pinned list says 2.
        assert_eq!(cores_measured(&rows, true), vec![2.0]);
        let s = cores_spread(&rows, "tokio", 1.0, false).expect("spread");
        assert_eq!((s.median, s.min, s.max, s.n), (12.0, 10.0, 14.0, 2));
        let f = cores_sweep(&rows, false).expect("figure");
        assert_eq!(f.file, "cores_sweep_node.svg");
        assert_eq!(f.chart.series[0].ranges, vec![(0.0, 10.0, 14.0)]);
        assert_eq!(f.chart.x_names, vec!["1"]);
        assert!(cores_sweep(&Rows { all: &[] }, true).is_none());
    }

    #[test]
    fn the_hoarders_plot_is_points_with_the_pool_marked() {
        let all = vec![
            row("blocking", idle_hoarders::NAME, json!({"idle": 0}), 1.0),
            row("blocking", idle_hoarders::NAME, json!({"idle": 32}), 1.0),
        ];
        let f = hoarders(&Rows { all: &all }).expect("figure");
        assert!(f.chart.points_only);
        assert_eq!(f.chart.vlines[0].x, f64::from(HOARD_POOL));
        assert_eq!(f.chart.series[0].points, vec![(1.0, 4.0), (32.0, 4.0)]);
    }
}
