//! soak.jsonl and what is made from it: one `config` line, a `sample` line
//! per server reading and a `summary` line per build are appended as the
//! soak runs (the summary carries the steady load's latency second by
//! second, herd-loadgen's `latency_series`); `write` turns the file into
//! soak.md (a table per build and the verdicts), a chart of the steady
//! load's latency percentiles per build, and per build one SVG per metric
//! over time (RSS, fds, threads, CPU, a line per server; the steady load's
//! latency where the summary has its series).

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use anyhow::{Context, Result};
use serde_json::{Value, json};

use crate::plots::{self, Chart, Marker, Series};
use crate::sample::Sample;

/// Appends one JSON line to `path`.
pub fn append(path: &Path, v: &Value) -> Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    writeln!(f, "{v}").with_context(|| format!("cannot write {}", path.display()))
}

/// The `sample` lines of one build's servers.
pub fn sample_lines(build: &str, samples: &[(String, Vec<Sample>)]) -> Vec<Value> {
    samples
        .iter()
        .flat_map(|(server, series)| {
            series.iter().map(move |x| {
                json!({"type": "sample", "build": build, "server": server,
                    "t": (x.t * 1000.0).round() / 1000.0, "rss_kb": x.rss_kb,
                    "fds": x.fds, "threads": x.threads, "cpu_s": x.cpu_s})
            })
        })
        .collect()
}

/// Palette indices of the five servers' lines (Okabe-Ito, no yellow).
const SERVER_COLORS: [usize; 5] = [6, 5, 3, 1, 7];

const METRICS: [(&str, &str, f64); 3] = [
    ("rss_kb", "RSS (MiB)", 1024.0),
    ("fds", "open fds", 1.0),
    ("threads", "threads", 1.0),
];

fn f(v: &Value, ptr: &str) -> String {
    match v.pointer(ptr) {
        Some(Value::Number(n)) => {
            let x = n.as_f64().unwrap_or(0.0);
            if x.fract() == 0.0 {
                format!("{x:.0}")
            } else {
                format!("{x:.1}")
            }
        }
        Some(Value::String(s)) => s.clone(),
        Some(Value::Bool(b)) => b.to_string(),
        _ => "-".to_owned(),
    }
}

fn ms(v: &Value, ptr: &str) -> String {
    v.pointer(ptr)
        .and_then(Value::as_f64)
        .map_or("-".to_owned(), |us| format!("{:.1}", us / 1000.0))
}

/// Writes soak.md and the SVGs of `dir` from its soak.jsonl.
pub fn write(dir: &Path) -> Result<()> {
    let path = dir.join("soak.jsonl");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let lines: Vec<Value> = text
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let config = lines.iter().find(|l| l["type"] == "config").cloned();
    let summaries: Vec<&Value> = lines.iter().filter(|l| l["type"] == "summary").collect();
    let mut md = String::from("# Soak\n\n");
    if let Some(c) = &config {
        header(&mut md, c);
    }
    md.push_str(
        "| build | verdict | steady ok | steady p99 / max ms | churned | errors | invalid | \
         hoarders (re-opened, at end) | tricklers: closes, s | crashes |\n\
         |---|---|---|---|---|---|---|---|---|---|\n",
    );
    for s in &summaries {
        summary_row(&mut md, s);
    }
    md.push('\n');
    latency_percentiles(dir, &mut md, &summaries);
    for s in &summaries {
        build_section(dir, &mut md, s, &lines);
    }
    let out = dir.join("soak.md");
    std::fs::write(&out, md).with_context(|| format!("cannot write {}", out.display()))
}

/// What every build ran under, and what "flat" means.
fn header(md: &mut String, c: &Value) {
    let _ = writeln!(
        md,
        "Started {} on `{}`; {} s per build. Each build runs the five-server herd \
         (offline Places) under all of these at once:\n",
        f(c, "/started_at"),
        f(c, "/host"),
        f(c, "/soak/seconds")
    );
    let _ = writeln!(
        md,
        "- steady open-loop load: {} req/s (IAMAT 9 : WHATSAT 1) on {} persistent \
         connections round-robin over the five servers, {} client ids;\n\
         - churn: {} IAMAT/s, each on a fresh connection closed after its answer \
         (target {} connections);\n\
         - {} idle hoarders on {} (re-opened whenever the idle limit closes one), \
         first opens spread over the ramp;\n\
         - {} tricklers on {}: one byte a second, never a newline, replaced when closed;\n\
         - idle limit {} ms; blocking build: `--threads {}` on {} (one worker per \
         connection: the hoard, the tricklers and the active clients), {} on the others.\n",
        f(c, "/soak/steady_rate"),
        f(c, "/soak/steady_connections"),
        f(c, "/soak/client_ids_per_generator"),
        f(c, "/soak/churn_rate"),
        f(c, "/soak/churn_total"),
        f(c, "/soak/hoarders"),
        f(c, "/soak/hoarded_server"),
        f(c, "/soak/tricklers"),
        f(c, "/soak/hoarded_server"),
        f(c, "/soak/idle_timeout_ms"),
        f(c, "/soak/blocking_threads_hoarded"),
        f(c, "/soak/hoarded_server"),
        f(c, "/soak/blocking_threads_others"),
    );
    let _ = writeln!(
        md,
        "Flat: from the end of the first {} % of the run (warm-up) to the end of the load, (max - min) / mean of a \
         server's series <= {} %, or max - min within an absolute floor the load \
         itself explains (fds: churn slots + tricklers + 2; threads: 2; RSS: none). \
         Drift = (median of the last quarter - median of the first quarter) / mean, \
         shown so a slow leak is visible even inside the band.\n",
        c.pointer("/soak/warmup_fraction")
            .and_then(Value::as_f64)
            .map_or(20.0, |x| x * 100.0),
        c.pointer("/soak/flat_spread")
            .and_then(Value::as_f64)
            .map_or(5.0, |x| x * 100.0),
    );
}

/// A build's line in the table of every build.
fn summary_row(md: &mut String, s: &Value) {
    let errors = s
        .pointer("/steady/error_count")
        .and_then(Value::as_u64)
        .unwrap_or(0)
        + s.pointer("/churn/error_count")
            .and_then(Value::as_u64)
            .unwrap_or(0);
    let invalid = s
        .pointer("/steady/errors/invalid_answer")
        .and_then(Value::as_u64)
        .unwrap_or(0)
        + s.pointer("/churn/errors/invalid_answer")
            .and_then(Value::as_u64)
            .unwrap_or(0);
    let crashes = s["checks"].get(0).map_or("-".to_owned(), |c| {
        if c["pass"] == true {
            "0".into()
        } else {
            c["detail"].as_str().unwrap_or("").to_owned()
        }
    });
    let _ = writeln!(
        md,
        "| {} | {} | {} | {} / {} | {} | {errors} | {invalid} | {} ({}, {}) | {}: {}-{} | {crashes} |",
        f(s, "/build"),
        if s["pass"] == true {
            "PASS"
        } else {
            "**FAIL**"
        },
        f(s, "/steady/requests_ok"),
        ms(s, "/steady/latency_us/p99"),
        ms(s, "/steady/latency_us/max"),
        f(s, "/churn/requests_ok"),
        f(s, "/hoard/requested"),
        f(s, "/hoard/reopened"),
        f(s, "/hoard/still_open_at_end"),
        f(s, "/trickle/closed_by_server"),
        s.pointer("/trickle/close_ms_min")
            .and_then(Value::as_f64)
            .map_or("-".into(), |x| format!("{:.2}", x / 1000.0)),
        s.pointer("/trickle/close_ms_max")
            .and_then(Value::as_f64)
            .map_or("-".into(), |x| format!("{:.2}", x / 1000.0)),
    );
}

/// A build's own section: its servers, its checks, the tricklers' close
/// times, the hoard, and its charts.
fn build_section(dir: &Path, md: &mut String, s: &Value, lines: &[Value]) {
    let build = f(s, "/build");
    let _ = writeln!(
        md,
        "\n## {build}: {}\n",
        if s["pass"] == true { "PASS" } else { "FAIL" }
    );
    if let Some(e) = s.get("error").and_then(Value::as_str) {
        let _ = writeln!(md, "Error: `{e}`\n");
    }
    servers_table(md, s);
    checks_table(md, s);
    let closes: Vec<String> = s
        .pointer("/trickle/close_ms")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_f64)
        .map(|x| format!("{:.2}", x / 1000.0))
        .collect();
    let _ = writeln!(
        md,
        "\nTrickler close times (s): {}\n",
        if closes.is_empty() {
            "none".to_owned()
        } else {
            closes.join(", ")
        }
    );
    let _ = writeln!(
        md,
        "Hoard: {} opened, {} closed by the server, {} failed connects, fewest / most held after the ramp {} / {}.\n",
        f(s, "/hoard/opened"),
        f(s, "/hoard/closed_by_server"),
        f(s, "/hoard/connect_errors"),
        f(s, "/hoard/min_held_after_ramp"),
        f(s, "/hoard/max_held_after_ramp")
    );
    for (key, title, _) in METRICS {
        let _ = writeln!(md, "![{build} {title}](soak-{build}-{key}.svg)");
    }
    charts(dir, md, s, lines, &build);
    cpu_over_time(dir, md, s, lines, &build);
    latency_over_time(dir, md, lines, &build);
}

fn servers_table(md: &mut String, s: &Value) {
    md.push_str("| server | role | --threads | RSS MiB first / last / min / max | RSS spread, drift | fds first / last / min / max | fds spread | threads first / last / min / max | threads spread | CPU s |\n|---|---|---|---|---|---|---|---|---|---|\n");
    for srv in s["servers"].as_array().into_iter().flatten() {
        let four = |k: &str, scale: f64| {
            let g = |x: &str| {
                srv.pointer(&format!("/{k}/{x}"))
                    .and_then(Value::as_f64)
                    .unwrap_or(0.0)
                    / scale
            };
            if scale > 1.0 {
                format!(
                    "{:.1} / {:.1} / {:.1} / {:.1}",
                    g("first"),
                    g("last"),
                    g("min"),
                    g("max")
                )
            } else {
                format!(
                    "{:.0} / {:.0} / {:.0} / {:.0}",
                    g("first"),
                    g("last"),
                    g("min"),
                    g("max")
                )
            }
        };
        let pct = |k: &str, x: &str| {
            srv.pointer(&format!("/{k}/{x}"))
                .and_then(Value::as_f64)
                .map_or("-".into(), |v| format!("{:.1} %", v * 100.0))
        };
        let mark = |k: &str| {
            if srv.pointer(&format!("/{k}/flat")) == Some(&Value::Bool(true)) {
                ""
            } else {
                " **not flat**"
            }
        };
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {}, {:}{} | {} | {}{} | {} | {}{} | {} |",
            f(srv, "/server"),
            f(srv, "/role"),
            f(srv, "/threads_flag"),
            four("rss_kb", 1024.0),
            pct("rss_kb", "spread"),
            pct("rss_kb", "drift"),
            mark("rss_kb"),
            four("fds", 1.0),
            pct("fds", "spread"),
            mark("fds"),
            four("threads", 1.0),
            pct("threads", "spread"),
            mark("threads"),
            f(srv, "/cpu_s"),
        );
    }
}

fn checks_table(md: &mut String, s: &Value) {
    md.push_str("\n| check | result | detail |\n|---|---|---|\n");
    for c in s["checks"].as_array().into_iter().flatten() {
        let _ = writeln!(
            md,
            "| {} | {} | {} |",
            f(c, "/name"),
            if c["pass"] == true {
                "pass"
            } else {
                "**FAIL**"
            },
            f(c, "/detail")
        );
    }
}

/// One chart per metric: a line per server.
fn charts(dir: &Path, md: &mut String, s: &Value, lines: &[Value], build: &str) {
    for (key, title, scale) in METRICS {
        let mut series = Vec::new();
        for (ci, srv) in s["servers"].as_array().into_iter().flatten().enumerate() {
            let name = f(srv, "/server");
            let points: Vec<(f64, f64)> = lines
                .iter()
                .filter(|l| {
                    l["type"] == "sample" && l["build"] == build && l["server"] == name.as_str()
                })
                .filter_map(|l| Some((l["t"].as_f64()?, l[key].as_f64()? / scale)))
                .collect();
            series.push(Series {
                name,
                points,
                color: SERVER_COLORS[ci % SERVER_COLORS.len()],
                marker: Marker::None,
                ..Series::default()
            });
        }
        let chart = Chart {
            title: format!("{build}: {title} per server over the soak"),
            x_label: "seconds".into(),
            y_label: title.into(),
            series,
            ..Chart::default()
        };
        let svg = dir.join(format!("soak-{build}-{key}.svg"));
        if let Err(e) = plots::line_chart(&svg, &chart) {
            let _ = writeln!(md, "\n(no {title} chart: {e})");
        }
    }
}

/// The steady load's latency percentiles over the whole soak, a line per
/// build: where a build's tail (p99.9, max) parts from its median.
fn latency_percentiles(dir: &Path, md: &mut String, summaries: &[&Value]) {
    let marks = [
        ("p50", "p50"),
        ("p90", "p90"),
        ("p99", "p99"),
        ("p999", "p99.9"),
        ("max", "max"),
    ];
    let series: Vec<Series> = summaries
        .iter()
        .map(|s| {
            let build = f(s, "/build");
            let (color, marker) = plots::style_of(&build);
            let points = marks
                .iter()
                .enumerate()
                .filter_map(|(i, (key, _))| {
                    let us = s.pointer(&format!("/steady/latency_us/{key}"))?.as_f64()?;
                    Some((i as f64, us / 1000.0))
                })
                .collect();
            Series {
                name: build,
                points,
                color,
                marker,
                ..Series::default()
            }
        })
        .filter(|s| !s.points.is_empty())
        .collect();
    if series.is_empty() {
        return;
    }
    let chart = Chart {
        title: "Steady open-loop load: latency over the whole soak".into(),
        x_label: "percentile".into(),
        y_label: "latency (ms)".into(),
        log_y: true,
        series,
        x_names: marks.iter().map(|(_, n)| (*n).to_owned()).collect(),
        ..Chart::default()
    };
    match plots::line_chart(&dir.join("soak-latency.svg"), &chart) {
        Ok(()) => {
            let _ = writeln!(md, "![steady latency percentiles](soak-latency.svg)\n");
        }
        Err(e) => {
            let _ = writeln!(md, "(no latency chart: {e})\n");
        }
    }
}

/// CPU use of each server over the soak, in % of one core per sampling
/// interval (from the cumulative CPU seconds of consecutive samples).
fn cpu_over_time(dir: &Path, md: &mut String, s: &Value, lines: &[Value], build: &str) {
    let mut series = Vec::new();
    for (ci, srv) in s["servers"].as_array().into_iter().flatten().enumerate() {
        let name = f(srv, "/server");
        let samples: Vec<(f64, f64)> = lines
            .iter()
            .filter(|l| {
                l["type"] == "sample" && l["build"] == build && l["server"] == name.as_str()
            })
            .filter_map(|l| Some((l["t"].as_f64()?, l["cpu_s"].as_f64()?)))
            .collect();
        series.push(Series {
            name,
            points: cpu_percent(&samples),
            color: SERVER_COLORS[ci % SERVER_COLORS.len()],
            marker: Marker::None,
            ..Series::default()
        });
    }
    let chart = Chart {
        title: format!("{build}: CPU per server over the soak"),
        x_label: "seconds".into(),
        y_label: "CPU (% of one core)".into(),
        series,
        ..Chart::default()
    };
    let file = format!("soak-{build}-cpu.svg");
    if plots::line_chart(&dir.join(&file), &chart).is_ok() {
        let _ = writeln!(md, "![{build} CPU](soak-{build}-cpu.svg)");
    }
}

/// % of one core between consecutive (t, cumulative CPU s) samples, at
/// the later one's time.
fn cpu_percent(samples: &[(f64, f64)]) -> Vec<(f64, f64)> {
    samples
        .windows(2)
        .filter(|w| w[1].0 > w[0].0)
        .map(|w| (w[1].0, (w[1].1 - w[0].1) / (w[1].0 - w[0].0) * 100.0))
        .collect()
}

/// The steady load's latency second by second: herd-loadgen's
/// `latency_series` (count, p50, p99, max per second of the run, by when
/// each answer came) in the build's summary line; soaks made before the
/// load generator wrote it get a note instead.
fn latency_over_time(dir: &Path, md: &mut String, lines: &[Value], build: &str) {
    let series = lines
        .iter()
        .rev()
        .find(|l| l["type"] == "summary" && l["build"] == build)
        .map(|l| &l["steady"]["latency_series"])
        .filter(|s| s["t_s"].is_array());
    let Some(series) = series else {
        let _ = writeln!(
            md,
            "\nLatency over time: not recorded by this soak (its load generator reported the \
             whole run's percentiles only; see the percentile chart above).\n"
        );
        return;
    };
    let empty = Vec::new();
    let times = series["t_s"].as_array().unwrap_or(&empty);
    let line = |key: &str, name: &str, color: usize, dashed: bool| Series {
        name: name.to_owned(),
        points: times
            .iter()
            .zip(series[key].as_array().unwrap_or(&empty))
            .filter_map(|(t, v)| Some((t.as_f64()?, v.as_f64()? / 1000.0)))
            .collect(),
        color,
        dashed,
        marker: Marker::None,
        ..Series::default()
    };
    let chart = Chart {
        title: format!("{build}: steady load latency, second by second"),
        x_label: "seconds".into(),
        y_label: "latency (ms)".into(),
        log_y: true,
        series: vec![
            line("p50", "p50", 5, false),
            line("p99", "p99", 6, false),
            line("max", "max", plots::GREY, true),
        ],
        ..Chart::default()
    };
    let file = format!("soak-{build}-latency.svg");
    match plots::line_chart(&dir.join(&file), &chart) {
        Ok(()) => {
            let _ = writeln!(md, "\n![{build} latency over time]({file})\n");
        }
        Err(e) => {
            let _ = writeln!(md, "\n(no latency-over-time chart: {e})\n");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_jsonl_becomes_a_report_and_charts() {
        let dir = tempfile::tempdir().expect("tempdir");
        let jsonl = dir.path().join("soak.jsonl");
        append(
            &jsonl,
            &json!({"type": "config", "soak": {"seconds": 30, "hoarders": 1000}}),
        )
        .expect("config");
        let samples = vec![(
            "Clark".to_owned(),
            (0..10)
                .map(|i| Sample {
                    t: f64::from(i),
                    cpu_s: 0.1,
                    rss_kb: 1000 + i as u64,
                    threads: 3,
                    fds: 20,
                })
                .collect::<Vec<_>>(),
        )];
        for l in sample_lines("tokio", &samples) {
            append(&jsonl, &l).expect("sample");
        }
        let summary = json!({"type": "summary", "build": "tokio", "pass": false,
            "checks": [{"name": "0 crashes", "pass": true, "detail": "5 of 5"},
                       {"name": "Clark fds flat", "pass": false, "detail": "x"}],
            "servers": [{"server": "Clark", "role": "hoarded", "threads_flag": 2,
                "rss_kb": {"first": 1000.0, "last": 1009.0, "min": 1000.0, "max": 1009.0,
                    "spread": 0.009, "drift": 0.005, "flat": true},
                "fds": {"first": 20.0, "flat": false}, "threads": {"flat": true}}],
            "steady": {"requests_ok": 900, "error_count": 0, "latency_us": {"p99": 1500, "max": 9000}},
            "trickle": {"closed_by_server": 2, "close_ms": [60010.0, 60500.0],
                "close_ms_min": 60010.0, "close_ms_max": 60500.0}});
        append(&jsonl, &summary).expect("summary");
        write(dir.path()).expect("report");
        let md = std::fs::read_to_string(dir.path().join("soak.md")).expect("md");
        assert!(
            md.contains("| tokio | **FAIL** | 900 | 1.5 / 9.0 |"),
            "{md}"
        );
        assert!(md.contains("**not flat**"), "{md}");
        assert!(md.contains("60.01, 60.50"), "{md}");
        let svg = std::fs::read_to_string(dir.path().join("soak-tokio-rss_kb.svg")).expect("svg");
        assert!(svg.starts_with("<svg") && svg.contains("Clark"));
        // The percentiles of every build, CPU over time; no intervals.
        let svg = std::fs::read_to_string(dir.path().join("soak-latency.svg")).expect("latency");
        assert!(svg.contains("p99.9") && svg.contains("tokio"));
        assert!(dir.path().join("soak-tokio-cpu.svg").exists());
        assert!(md.contains("Latency over time: not recorded"), "{md}");
        // With the load generator's series, a latency-over-time chart.
        let mut with_series = summary.clone();
        with_series["steady"]["latency_series"] = json!({"bucket_s": 1.0,
            "t_s": [0.0, 1.0, 2.0], "count": [100, 100, 0],
            "p50": [400, 420, null], "p99": [1500, 90000, null], "max": [9000, 120000, null]});
        append(&jsonl, &with_series).expect("summary with a series");
        write(dir.path()).expect("report");
        let md = std::fs::read_to_string(dir.path().join("soak.md")).expect("md");
        assert!(md.contains("](soak-tokio-latency.svg)"), "{md}");
    }

    #[test]
    fn cpu_per_interval_is_the_slope_of_cumulative_cpu() {
        let pts = cpu_percent(&[(0.0, 1.0), (3.0, 2.5), (3.0, 2.5), (6.0, 2.5)]);
        assert_eq!(pts, vec![(3.0, 50.0), (6.0, 0.0)]);
    }
}
