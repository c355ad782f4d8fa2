//! `report.md` and its SVG plots, computed from a run directory's
//! rows.jsonl and environment.json only: one section per scenario with a
//! plot, a table and sentences whose figures come from the rows, then the
//! seed paper's claims against what was measured and the blocking node's
//! targets, each marked met or not met.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};
use serde_json::Value;

use crate::builds::{BUILDS, ECHOES};
use crate::plots::{self, Chart, HLine, Series, color_of};
use crate::rows::{self, Row};
use crate::scenarios::{HOARD_IDLE_MS, HOARD_POOL, WHATSAT_POOL};

/// Writes DIR/report.md and DIR/*.svg.
pub fn write(dir: &Path) -> Result<()> {
    let rows = rows::read(&dir.join("rows.jsonl"))?;
    let env: Value = match std::fs::read_to_string(dir.join("environment.json")) {
        Ok(text) => serde_json::from_str(&text).context("environment.json is not JSON")?,
        Err(_) => Value::Null,
    };
    let md = render(dir, &rows, &env)?;
    let path = dir.join("report.md");
    std::fs::write(&path, md).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

// ---- formatting -------------------------------------------------------

fn thousands(n: f64) -> String {
    let s = format!("{:.0}", n.round());
    let (sign, digits) = s.strip_prefix('-').map_or(("", s.as_str()), |d| ("-", d));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    format!("{sign}{out}")
}

fn rps(v: Option<f64>) -> String {
    v.map_or("–".into(), |x| {
        if x < 100.0 {
            format!("{x:.1}")
        } else {
            thousands(x)
        }
    })
}

/// A latency in µs, shown in the unit that reads best.
fn lat(us: Option<f64>) -> String {
    match us {
        None => "–".into(),
        Some(u) if u < 1000.0 => format!("{u:.0} µs"),
        Some(u) if u < 10_000.0 => format!("{:.2} ms", u / 1000.0),
        Some(u) if u < 1_000_000.0 => format!("{:.0} ms", u / 1000.0),
        Some(u) => format!("{:.2} s", u / 1e6),
    }
}

fn num(v: Option<f64>, digits: usize) -> String {
    v.map_or("–".into(), |x| format!("{x:.digits$}"))
}

fn ratio(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => Some(a / b),
        _ => None,
    }
}

fn mb(kb: Option<u64>) -> String {
    kb.map_or("–".into(), |k| format!("{:.1}", k as f64 / 1024.0))
}

fn met(ok: Option<bool>) -> &'static str {
    match ok {
        Some(true) => "**met**",
        Some(false) => "**not met**",
        None => "not measured",
    }
}

// ---- row queries ------------------------------------------------------

struct Rows<'a> {
    all: &'a [Row],
}

impl<'a> Rows<'a> {
    fn of(&self, scenario: &str) -> Vec<&'a Row> {
        self.all.iter().filter(|r| r.scenario == scenario).collect()
    }

    /// The good row of `build` in `scenario` whose params match `want`.
    fn find(&self, build: &str, scenario: &str, want: &[(&str, f64)]) -> Option<&'a Row> {
        self.all.iter().find(|r| {
            r.ok()
                && r.build == build
                && r.scenario == scenario
                && want.iter().all(|(k, v)| r.param(k) == Some(*v))
        })
    }

    /// Sorted distinct values of a parameter in a scenario.
    fn values(&self, scenario: &str, key: &str) -> Vec<f64> {
        let set: BTreeSet<u64> = self
            .of(scenario)
            .iter()
            .filter_map(|r| r.param(key))
            .map(|v| v as u64)
            .collect();
        set.into_iter().map(|v| v as f64).collect()
    }

    /// Builds (then echo servers) present in a scenario, in report order.
    fn builds(&self, scenario: &str) -> Vec<&'static str> {
        BUILDS
            .iter()
            .chain(ECHOES.iter())
            .copied()
            .filter(|b| self.of(scenario).iter().any(|r| r.build == *b))
            .collect()
    }
}

fn series(name: &str, points: Vec<(f64, f64)>, dashed: bool) -> Series {
    Series {
        name: name.to_owned(),
        points,
        dashed,
        color: color_of(name),
    }
}

/// Writes a chart, or says in the report why there is none.
fn plot(dir: &Path, md: &mut String, file: &str, chart: &Chart) {
    let nonempty = chart.series.iter().any(|s| !s.points.is_empty());
    if !nonempty {
        let _ = writeln!(md, "_No data for this plot in this run._\n");
        return;
    }
    match plots::line_chart(&dir.join(file), chart) {
        Ok(()) => {
            let _ = writeln!(md, "![{}]({file})\n", chart.title);
        }
        Err(e) => {
            let _ = writeln!(md, "_Plot {file} failed: {e:#}._\n");
        }
    }
}

fn errors_of(r: &Row) -> f64 {
    r.lg("/error_count").unwrap_or(0.0)
}

// ---- the report -------------------------------------------------------

pub fn render(dir: &Path, all: &[Row], env: &Value) -> Result<String> {
    let rows = Rows { all };
    let mut md = String::new();
    let mode = env.get("mode").and_then(Value::as_str).unwrap_or("unknown");
    let _ = writeln!(md, "# herd benchmark lab: {mode} run\n");
    let _ = writeln!(
        md,
        "Every figure below comes from `rows.jsonl` in this directory (one row per measured \
         point, with the exact commands); `herd-lab report DIR` rewrites this page from it. \
         Latencies are herd-loadgen's, of good answers only (a wrong answer is an error). \
         Read every figure against the **echo limit**: herd-loadgen's own echo servers \
         (`echo_threads`: a thread per connection; `echo_tokio`: a tokio task per connection), \
         which answer an IAMAT with an AT line and do nothing else, measured with the same \
         load on the same machine.\n"
    );
    environment(&mut md, env, all);
    if mode == "quick" {
        let _ = writeln!(
            md,
            "_A quick run: few points, 1.5 s each, on a machine whose two cores the servers, \
             the load generator and anything else running share. Repeated quick runs here have \
             differed by up to 2x on single points; quote figures from a full run._\n"
        );
    }
    iamat(dir, &mut md, &rows);
    iamat_herd(&mut md, &rows);
    whatsat(dir, &mut md, &rows);
    hoarders(dir, &mut md, &rows);
    memory(dir, &mut md, &rows);
    cpu(&mut md, &rows);
    threads_sweep(dir, &mut md, &rows);
    propagation(&mut md, &rows);
    claims(&mut md, &rows);
    targets(&mut md, &rows);
    failures(&mut md, all);
    Ok(md)
}

fn environment(md: &mut String, env: &Value, all: &[Row]) {
    let _ = writeln!(md, "## Environment\n\n| | |\n|---|---|");
    let s = |k: &str| match env.get(k) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => "–".into(),
        Some(v) => v.to_string(),
    };
    let mem = env
        .get("mem_total_kb")
        .and_then(Value::as_f64)
        .map_or("–".into(), |k| format!("{:.1} GiB", k / 1024.0 / 1024.0));
    let commit = format!(
        "{}{}",
        s("git_commit"),
        if env.get("git_dirty").and_then(Value::as_bool) == Some(true) {
            " (with uncommitted changes)"
        } else {
            ""
        }
    );
    let pin = env.get("pinning").map_or("–".into(), |p| {
        let sc = p.get("server_cpus").and_then(Value::as_str);
        let lc = p.get("loadgen_cpus").and_then(Value::as_str);
        if sc.is_none() && lc.is_none() {
            "none (servers and load generator share every core)".into()
        } else {
            format!(
                "servers: {} (the herd scenarios' five servers: any), load generator: {}",
                sc.unwrap_or("any"),
                lc.unwrap_or("any")
            )
        }
    });
    let failed = all.iter().filter(|r| !r.ok()).count();
    for (k, v) in [
        ("mode", s("mode")),
        ("CPU", s("cpu_model")),
        ("cores", s("cores")),
        ("memory", mem),
        ("kernel", s("kernel")),
        ("rustc", s("rustc")),
        ("Python", s("python")),
        ("Node.js", s("node")),
        ("herd-loadgen", s("loadgen")),
        ("git commit", commit),
        ("pinning (taskset)", pin),
        ("open-files limit", s("nofile_limit")),
        ("points", format!("{} ({} failed)", all.len(), failed)),
        ("measuring took", format!("{} s", s("measure_seconds"))),
        ("started", s("captured_at")),
    ] {
        let _ = writeln!(md, "| {k} | {v} |");
    }
    md.push('\n');
}

fn build_settings_note(md: &mut String) {
    let _ = writeln!(
        md,
        "Settings: blocking `--threads max(64, connections)` (at most 1024); tokio `--threads` 2 \
         runtime workers (1 when the servers are pinned to one core); asyncio and Node run their \
         one event loop (they accept `--threads` and ignore it).\n"
    );
}

fn iamat(dir: &Path, md: &mut String, rows: &Rows) {
    let _ = writeln!(
        md,
        "## 1. IAMAT throughput and latency vs connections (`iamat_conns`)\n"
    );
    if rows.of("iamat_conns").is_empty() {
        let _ = writeln!(md, "_Not run._\n");
        return;
    }
    build_settings_note(md);
    let conns = rows.values("iamat_conns", "connections");
    let builds = rows.builds("iamat_conns");
    let mut tp = Chart {
        title: "IAMAT throughput vs connections (closed loop, one node)".into(),
        x_label: "connections".into(),
        y_label: "requests/s".into(),
        log_x: true,
        ..Chart::default()
    };
    let mut p99 = Chart {
        title: "IAMAT p99 latency vs connections".into(),
        x_label: "connections".into(),
        y_label: "p99 latency (ms)".into(),
        log_x: true,
        log_y: true,
        ..Chart::default()
    };
    for b in &builds {
        let pts: Vec<&Row> = conns
            .iter()
            .filter_map(|c| rows.find(b, "iamat_conns", &[("connections", *c)]))
            .collect();
        let dashed = b.starts_with("echo");
        tp.series.push(series(
            b,
            pts.iter()
                .filter_map(|r| Some((r.param("connections")?, r.throughput()?)))
                .collect(),
            dashed,
        ));
        p99.series.push(series(
            b,
            pts.iter()
                .filter_map(|r| Some((r.param("connections")?, r.p99_us()? / 1000.0)))
                .collect(),
            dashed,
        ));
    }
    plot(dir, md, "iamat_throughput.svg", &tp);
    plot(dir, md, "iamat_p99.svg", &p99);
    // Sentences at 64 connections (or the largest measured).
    let at = if conns.contains(&64.0) {
        Some(64.0)
    } else {
        conns.last().copied()
    };
    if let Some(c) = at {
        let echo = |e: &str| rows.find(e, "iamat_conns", &[("connections", c)]);
        let et = echo("echo_threads");
        let ek = echo("echo_tokio");
        let mut parts = Vec::new();
        for b in BUILDS {
            if let Some(r) = rows.find(b, "iamat_conns", &[("connections", c)]) {
                let reference = if b == "tokio" { ek.or(et) } else { et };
                let ref_name = if b == "tokio" && ek.is_some() {
                    "tokio echo"
                } else {
                    "thread echo"
                };
                parts.push(format!(
                    "{b} {} req/s ({} of the {ref_name}, p99 {})",
                    rps(r.throughput()),
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
        if let Some(top) = conns.last().filter(|t| **t != c) {
            let best = BUILDS
                .iter()
                .filter_map(|b| {
                    rows.find(b, "iamat_conns", &[("connections", *top)])
                        .map(|r| (b, r))
                })
                .max_by(|a, b| {
                    a.1.throughput()
                        .unwrap_or(0.0)
                        .total_cmp(&b.1.throughput().unwrap_or(0.0))
                });
            if let Some((b, r)) = best {
                let _ = write!(
                    md,
                    " At {top:.0} connections the fastest build was {b} with {} req/s.",
                    rps(r.throughput())
                );
            }
        }
        md.push_str("\n\n");
    }
    let _ = write!(md, "| connections |");
    for b in &builds {
        let _ = write!(md, " {b} req/s (p99) |");
    }
    let _ = write!(md, "\n|---|");
    for _ in &builds {
        md.push_str("---|");
    }
    md.push('\n');
    for c in &conns {
        let _ = write!(md, "| {c:.0} |");
        for b in &builds {
            match rows.find(b, "iamat_conns", &[("connections", *c)]) {
                Some(r) => {
                    let errs = errors_of(r);
                    let e = if errs > 0.0 {
                        format!(", {errs:.0} errors")
                    } else {
                        String::new()
                    };
                    let _ = write!(md, " {} ({}{e}) |", rps(r.throughput()), lat(r.p99_us()));
                }
                None => md.push_str(" – |"),
            }
        }
        md.push('\n');
    }
    md.push('\n');
}

fn iamat_herd(md: &mut String, rows: &Rows) {
    let _ = writeln!(md, "### The whole herd (`iamat_herd`)\n");
    let list = rows.of("iamat_herd");
    if list.is_empty() {
        let _ = writeln!(md, "_Not run._\n");
        return;
    }
    let _ = writeln!(
        md,
        "Five servers of one build in the default topology, IAMAT load spread round-robin over \
         all five, 64 connections. Every IAMAT is also flooded to the four other servers, so \
         the herd does about five times the cache work of one node per answered request.\n"
    );
    let _ = writeln!(
        md,
        "| build | req/s | p50 | p99 | errors | CPU ms / 1000 req (5 servers) |\n|---|---|---|---|---|---|"
    );
    for b in BUILDS {
        if let Some(r) = rows.find(b, "iamat_herd", &[]) {
            let _ = writeln!(
                md,
                "| {b} | {} | {} | {} | {} | {} |",
                rps(r.throughput()),
                lat(r.lg("/latency_us/p50")),
                lat(r.p99_us()),
                errors_of(r),
                num(r.cpu_ms_per_1000_requests, 1)
            );
        }
    }
    let best = BUILDS
        .iter()
        .filter_map(|b| rows.find(b, "iamat_herd", &[]).map(|r| (b, r)))
        .max_by(|a, b| {
            a.1.throughput()
                .unwrap_or(0.0)
                .total_cmp(&b.1.throughput().unwrap_or(0.0))
        });
    if let Some((b, r)) = best {
        let single = rows.find(b, "iamat_conns", &[("connections", 64.0)]);
        let _ = writeln!(
            md,
            "\nThe herd of {b} served the most, {} req/s{}; the five servers share the same two \
             cores, so a herd on one machine measures the cost of flooding, not more capacity.\n",
            rps(r.throughput()),
            single
                .and_then(Row::throughput)
                .map_or(String::new(), |s| format!(
                    " against {} req/s for one {b} node",
                    rps(Some(s))
                ))
        );
    }
}

fn whatsat(dir: &Path, md: &mut String, rows: &Rows) {
    let _ = writeln!(md, "## 2. WHATSAT vs Places latency (`whatsat_latency`)\n");
    if rows.of("whatsat_latency").is_empty() {
        let _ = writeln!(md, "_Not run._\n");
        return;
    }
    let _ = writeln!(
        md,
        "Every request is a WHATSAT for a client id herd-loadgen registered first; the nodes use \
         the Places stand-in (`herd-standin --latency-ms L`) as the Google provider. The \
         blocking node runs `--threads {WHATSAT_POOL}`: a WHATSAT holds its worker for the whole \
         Places call, so it cannot serve more than threads / latency requests per second (the \
         bound drawn in each plot, for L > 0). The async builds hold nothing while they wait.\n"
    );
    let conns = rows.values("whatsat_latency", "connections");
    for l in rows.values("whatsat_latency", "latency_ms") {
        let mut chart = Chart {
            title: format!("WHATSAT throughput vs connections, Places latency {l:.0} ms"),
            x_label: "connections".into(),
            y_label: "requests/s".into(),
            log_x: true,
            ..Chart::default()
        };
        for b in rows.builds("whatsat_latency") {
            chart.series.push(series(
                b,
                conns
                    .iter()
                    .filter_map(|c| {
                        rows.find(
                            b,
                            "whatsat_latency",
                            &[("connections", *c), ("latency_ms", l)],
                        )
                    })
                    .filter_map(|r| Some((r.param("connections")?, r.throughput()?)))
                    .collect(),
                false,
            ));
        }
        if l > 0.0 {
            let bound = f64::from(WHATSAT_POOL) * 1000.0 / l;
            chart.hlines.push(HLine {
                name: format!("blocking bound {WHATSAT_POOL} threads / {l:.0} ms = {bound:.0}/s"),
                y: bound,
                color: 0,
            });
            chart.hlines.push(HLine {
                name: format!("0.9 x bound = {:.0}/s", 0.9 * bound),
                y: 0.9 * bound,
                color: 6,
            });
        }
        plot(dir, md, &format!("whatsat_{l:.0}ms.svg"), &chart);
        // Sentences at the largest connection count.
        if let Some(c) = conns.last() {
            let mut parts = Vec::new();
            for b in BUILDS {
                if let Some(r) = rows.find(
                    b,
                    "whatsat_latency",
                    &[("connections", *c), ("latency_ms", l)],
                ) {
                    parts.push(format!(
                        "{b} {} req/s (p99 {})",
                        rps(r.throughput()),
                        lat(r.p99_us())
                    ));
                }
            }
            let bound_text = if l > 0.0 {
                let bound = f64::from(WHATSAT_POOL) * 1000.0 / l;
                let b = rows.find(
                    "blocking",
                    "whatsat_latency",
                    &[("connections", *c), ("latency_ms", l)],
                );
                format!(
                    " The blocking node reached {} of its bound of {bound:.0} req/s: past {WHATSAT_POOL} \
                     connections, the others queue for a worker. An async build's ceiling here is \
                     connections / latency = {:.0} req/s, or its CPU, whichever is lower.",
                    num(ratio(b.and_then(Row::throughput), Some(bound)), 2),
                    c * 1000.0 / l
                )
            } else {
                " With no Places latency the WHATSAT cost is CPU: the offline search in the \
                 stand-in, the HTTP round trip and the JSON shaping."
                    .to_owned()
            };
            let _ = writeln!(
                md,
                "With {l:.0} ms of Places latency and {c:.0} connections: {}.{bound_text}\n",
                parts.join("; ")
            );
        }
    }
    let _ = writeln!(
        md,
        "| latency | connections | build | req/s | p50 | p99 | errors | bound (blocking) |\n|---|---|---|---|---|---|---|---|"
    );
    for r in rows.of("whatsat_latency").iter().filter(|r| r.ok()) {
        let _ = writeln!(
            md,
            "| {} ms | {} | {} | {} | {} | {} | {} | {} |",
            num(r.param("latency_ms"), 0),
            num(r.param("connections"), 0),
            r.build,
            rps(r.throughput()),
            lat(r.lg("/latency_us/p50")),
            lat(r.p99_us()),
            errors_of(r),
            rps(r.derived_f("bound_rps_threads_over_latency"))
        );
    }
    md.push('\n');
}

fn hoarders(dir: &Path, md: &mut String, rows: &Rows) {
    let _ = writeln!(md, "## 3. Idle hoarders (`idle_hoarders`)\n");
    let list = rows.of("idle_hoarders");
    if list.is_empty() {
        let _ = writeln!(md, "_Not run._\n");
        return;
    }
    let _ = writeln!(
        md,
        "K connections are opened and never write; then one active client sends IAMATs in a \
         closed loop. Every build runs `--idle-timeout-ms {HOARD_IDLE_MS}`; the blocking node has \
         `--threads {HOARD_POOL}`, and a blocking worker stays with its connection until it \
         closes or idles out, so from K = {HOARD_POOL} on, the active client waits in the queue \
         until hoarders are dropped. Every connection's idle clock starts when it is accepted \
         (time queued for a worker counts), so all hoarders are gone one idle timeout after they \
         arrived, however many rounds of the pool they would fill.\n"
    );
    let ks = rows.values("idle_hoarders", "idle");
    let mut chart = Chart {
        title: "Active client's slowest answer vs idle hoarders".into(),
        x_label: "idle connections K".into(),
        y_label: "max latency (ms)".into(),
        log_y: true,
        ..Chart::default()
    };
    for b in rows.builds("idle_hoarders") {
        chart.series.push(series(
            b,
            ks.iter()
                .filter_map(|k| rows.find(b, "idle_hoarders", &[("idle", *k)]))
                .filter_map(|r| Some((r.param("idle")?, r.lg("/latency_us/max")? / 1000.0)))
                .collect(),
            false,
        ));
    }
    chart.hlines.push(HLine {
        name: format!("idle timeout {HOARD_IDLE_MS} ms"),
        y: HOARD_IDLE_MS as f64,
        color: 4,
    });
    plot(dir, md, "hoarders.svg", &chart);
    if let Some(k) = ks.last() {
        let mut parts = Vec::new();
        for b in BUILDS {
            if let Some(r) = rows.find(b, "idle_hoarders", &[("idle", *k)]) {
                let answered = r
                    .derived
                    .get("answered_before_idle_timeout")
                    .and_then(Value::as_bool);
                parts.push(format!(
                    "{b}'s active client {} (slowest answer {}, {} requests)",
                    if answered == Some(true) {
                        "was served at once"
                    } else {
                        "waited for the hoarders to idle out"
                    },
                    lat(r.lg("/latency_us/max")),
                    num(r.lg("/requests_ok"), 0)
                ));
            }
        }
        let _ = writeln!(
            md,
            "With K = {k:.0} hoarders: {}. An event loop or a tokio task costs a hoarder only a \
             little memory; a worker thread costs it the worker.\n",
            parts.join("; ")
        );
    }
    let _ = writeln!(
        md,
        "| build | K | requests | p50 | p99 | max | answered before the idle timeout |\n|---|---|---|---|---|---|---|"
    );
    for r in list.iter().filter(|r| r.ok()) {
        let answered = r
            .derived
            .get("answered_before_idle_timeout")
            .and_then(Value::as_bool);
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} |",
            r.build,
            num(r.param("idle"), 0),
            num(r.lg("/requests_ok"), 0),
            lat(r.lg("/latency_us/p50")),
            lat(r.p99_us()),
            lat(r.lg("/latency_us/max")),
            match answered {
                Some(true) => "yes",
                Some(false) => "no",
                None => "–",
            }
        );
    }
    md.push('\n');
}

fn memory(dir: &Path, md: &mut String, rows: &Rows) {
    let _ = writeln!(md, "## 4. Memory per idle connection (`memory`)\n");
    let list = rows.of("memory");
    if list.is_empty() {
        let _ = writeln!(md, "_Not run._\n");
        return;
    }
    let _ = writeln!(
        md,
        "`herd-loadgen hold` keeps K idle connections open to one node (`--max-clients 12000`, \
         idle timeout one hour); RSS, threads and open descriptors are read from /proc once \
         they are all open. The blocking node runs its default pool of 128 workers: connections \
         beyond it wait in the accept queue (open sockets, no thread). K = 0 is drawn at x = 1.\n"
    );
    let ks = rows.values("memory", "idle");
    let mut chart = Chart {
        title: "Resident memory vs idle connections".into(),
        x_label: "idle connections".into(),
        y_label: "RSS (MB)".into(),
        log_x: true,
        ..Chart::default()
    };
    for b in rows.builds("memory") {
        chart.series.push(series(
            b,
            ks.iter()
                .filter_map(|k| rows.find(b, "memory", &[("idle", *k)]))
                .filter_map(|r| Some((r.param("idle")?.max(1.0), r.node_rss_kb()? as f64 / 1024.0)))
                .collect(),
            false,
        ));
    }
    plot(dir, md, "memory.svg", &chart);
    let per_conn = |b: &str, k: f64| -> Option<f64> {
        let base = rows.find(b, "memory", &[("idle", 0.0)])?.node_rss_kb()? as f64;
        let at = rows.find(b, "memory", &[("idle", k)])?.node_rss_kb()? as f64;
        (k > 0.0).then(|| (at - base) / k)
    };
    if let Some(k) = ks.last().filter(|k| **k > 0.0) {
        let parts: Vec<String> = BUILDS
            .iter()
            .filter_map(|b| {
                let r = rows.find(b, "memory", &[("idle", *k)])?;
                Some(format!(
                    "{b} {} MB ({} kB per connection over its empty RSS, {} threads)",
                    mb(r.node_rss_kb()),
                    num(per_conn(b, *k), 1),
                    r.servers
                        .first()
                        .and_then(|s| s.window.threads_max)
                        .map_or("–".into(), |t| t.to_string())
                ))
            })
            .collect();
        // A server that had not accepted them all shows fewer descriptors.
        let short: Vec<String> = BUILDS
            .iter()
            .filter_map(|b| {
                let base = rows
                    .find(b, "memory", &[("idle", 0.0)])?
                    .servers
                    .first()?
                    .window
                    .fds_max?;
                let at = rows
                    .find(b, "memory", &[("idle", *k)])?
                    .servers
                    .first()?
                    .window
                    .fds_max?;
                let held = at.saturating_sub(base) as f64;
                (held < 0.95 * k).then(|| {
                    format!("{b} had accepted only about {held:.0} of them (open descriptors)")
                })
            })
            .collect();
        if !short.is_empty() {
            let _ = writeln!(
                md,
                "Note: {}; the rest waited in the kernel's listen queue.\n",
                short.join("; ")
            );
        }
        let _ = writeln!(
            md,
            "With {k:.0} idle connections: {}. The blocking node's threads stay at its pool size: \
             an idle connection past the pool is a queued socket, not a thread, and a worker's \
             stack is mostly untouched virtual memory.\n",
            parts.join("; ")
        );
    }
    let _ = writeln!(
        md,
        "| build | K | RSS MB | kB / connection | threads | open fds | held by loadgen |\n|---|---|---|---|---|---|---|"
    );
    for r in list.iter().filter(|r| r.ok()) {
        let k = r.param("idle").unwrap_or(0.0);
        let w = r
            .servers
            .first()
            .map(|s| s.window.clone())
            .unwrap_or_default();
        let _ = writeln!(
            md,
            "| {} | {k:.0} | {} | {} | {} | {} | {} |",
            r.build,
            mb(w.rss_kb_max),
            num(per_conn(&r.build, k), 1),
            w.threads_max.map_or("–".into(), |t| t.to_string()),
            w.fds_max.map_or("–".into(), |t| t.to_string()),
            num(r.lg("/opened"), 0)
        );
    }
    md.push('\n');
}

fn cpu(md: &mut String, rows: &Rows) {
    let _ = writeln!(md, "## 5. CPU per 1,000 requests (`cpu`)\n");
    let _ = writeln!(
        md,
        "Derived in every row: the servers' utime + stime (from /proc/PID/stat, sampled every \
         100 ms and interpolated at the edges of the measured window) divided by the good \
         answers in that window. It counts the server processes only (for a herd, all five), \
         not the load generator or the Places stand-in.\n"
    );
    let mut any = false;
    for b in BUILDS.iter().chain(ECHOES.iter()) {
        let list: Vec<&Row> = rows
            .all
            .iter()
            .filter(|r| r.ok() && r.build == *b && r.cpu_ms_per_1000_requests.is_some())
            .collect();
        if list.is_empty() {
            continue;
        }
        any = true;
        let _ = writeln!(
            md,
            "**{b}**\n\n| scenario | point | CPU s | good answers | CPU ms / 1000 req |\n|---|---|---|---|---|"
        );
        for r in list {
            let ok = r.lg("/requests_ok").or_else(|| r.lg("/load/requests_ok"));
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} |",
                r.scenario,
                r.point,
                num(r.cpu_seconds, 3),
                num(ok, 0),
                num(r.cpu_ms_per_1000_requests, 1)
            );
        }
        md.push('\n');
    }
    if !any {
        let _ = writeln!(md, "_No row with requests in this run._\n");
        return;
    }
    let at64: Vec<(&str, f64)> = BUILDS
        .iter()
        .chain(ECHOES.iter())
        .filter_map(|b| {
            Some((
                *b,
                rows.find(b, "iamat_conns", &[("connections", 64.0)])?
                    .cpu_ms_per_1000_requests?,
            ))
        })
        .collect();
    if !at64.is_empty() {
        let text: Vec<String> = at64.iter().map(|(b, v)| format!("{b} {v:.1} ms")).collect();
        let _ = writeln!(
            md,
            "IAMAT at 64 connections cost, per 1,000 requests: {}. That is CPU time per unit of \
             work, so it compares builds even where their throughput was capped by the load \
             generator sharing the cores.\n",
            text.join(", ")
        );
    }
}

fn threads_sweep(dir: &Path, md: &mut String, rows: &Rows) {
    let _ = writeln!(md, "## 6. Blocking pool size (`threads_sweep`)\n");
    let list = rows.of("threads_sweep");
    if list.is_empty() {
        let _ = writeln!(md, "_Not run._\n");
        return;
    }
    let _ = writeln!(
        md,
        "The blocking node only, `--threads T`, 64 connections in a closed loop, half IAMAT and \
         half WHATSAT, Places stand-in latency 50 ms. With T below 64 the connections queue for \
         workers; each WHATSAT holds its worker for 50 ms, so WHATSATs are bounded by T / 50 ms.\n"
    );
    let ts = rows.values("threads_sweep", "threads");
    let pts: Vec<&Row> = ts
        .iter()
        .filter_map(|t| rows.find("blocking", "threads_sweep", &[("threads", *t)]))
        .collect();
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
                color: 4,
            },
        ],
        hlines: Vec::new(),
    };
    plot(dir, md, "threads_sweep.svg", &chart);
    let _ = writeln!(
        md,
        "| threads | req/s | IAMAT ok | WHATSAT ok | p50 | p99 | threads seen | RSS MB |\n|---|---|---|---|---|---|---|---|"
    );
    for r in &pts {
        let w = r
            .servers
            .iter()
            .find(|s| s.role == "node")
            .map(|s| s.window.clone())
            .unwrap_or_default();
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            num(r.param("threads"), 0),
            rps(r.throughput()),
            num(r.lg("/requests_ok_by_command/iamat"), 0),
            num(r.lg("/requests_ok_by_command/whatsat"), 0),
            lat(r.lg("/latency_us/p50")),
            lat(r.p99_us()),
            w.threads_max.map_or("–".into(), |t| t.to_string()),
            mb(w.rss_kb_max)
        );
    }
    if let (Some(a), Some(b)) = (pts.first(), pts.last()) {
        let _ = writeln!(
            md,
            "\nFrom {} to {} threads the node went from {} to {} req/s; a closed-loop client \
             mixes both commands, so a slow WHATSAT also delays the IAMATs queued behind it.\n",
            num(a.param("threads"), 0),
            num(b.param("threads"), 0),
            rps(a.throughput()),
            rps(b.throughput())
        );
    }
}

fn prop_p(r: &Row, which: &str) -> Option<f64> {
    r.lg(&format!("/all_servers_latency_us/{which}"))
}

/// The same from the servers' logs (see `log_propagation.rs`).
fn prop_log_p(r: &Row, which: &str) -> Option<f64> {
    r.derived
        .get("server_log_propagation")
        .and_then(|v| v.pointer(&format!("/all_servers_us/{which}")))
        .and_then(Value::as_f64)
}

fn propagation(md: &mut String, rows: &Rows) {
    let _ = writeln!(md, "## 7. Flood propagation (`propagation`)\n");
    let list = rows.of("propagation");
    if list.is_empty() {
        let _ = writeln!(md, "_Not run._\n");
        return;
    }
    let _ = writeln!(
        md,
        "Five servers of one build in the default topology. `herd-loadgen propagate` sends each \
         probe's IAMAT to Bernard and polls the four others with WHATSAT until each shows it; \
         \"all servers\" is the time until the slowest of the four had it (resolution: one \
         WHATSAT round trip). Loaded: a closed-loop IAMAT load on all five at the same time. \
         On two cores those polls compete with the flood for the CPUs, so the lab also reads \
         each server's log: the time from the probe's IAMAT arriving at Bernard to its AT line \
         arriving at each other server, stamped by the servers on the same clock (\"server \
         logs\" columns) — the propagation itself, without the measurement's load.\n"
    );
    let _ = writeln!(
        md,
        "| build | load connections | probes complete | all servers p50 (polls) | p99 (polls) | max (polls) | p50 (server logs) | p99 (server logs) | max (server logs) | load req/s |\n|---|---|---|---|---|---|---|---|---|---|"
    );
    for r in list.iter().filter(|r| r.ok()) {
        let _ = writeln!(
            md,
            "| {} | {} | {}/{} | {} | {} | {} | {} | {} | {} | {} |",
            r.build,
            num(r.param("load_connections"), 0),
            num(r.lg("/probes_complete"), 0),
            num(r.lg("/probes"), 0),
            lat(prop_p(r, "p50")),
            lat(prop_p(r, "p99")),
            lat(prop_p(r, "max")),
            lat(prop_log_p(r, "p50")),
            lat(prop_log_p(r, "p99")),
            lat(prop_log_p(r, "max")),
            rps(r.lg("/load/throughput_rps"))
        );
    }
    let idle: Vec<String> = BUILDS
        .iter()
        .filter_map(|b| {
            let r = rows.find(b, "propagation", &[("load_connections", 0.0)])?;
            Some(format!("{b} {}", lat(prop_p(r, "p99"))))
        })
        .collect();
    let loaded: Vec<String> = BUILDS
        .iter()
        .filter_map(|b| {
            let r = rows.find(b, "propagation", &[("load_connections", 32.0)])?;
            Some(format!("{b} {}", lat(prop_p(r, "p99"))))
        })
        .collect();
    let _ = writeln!(
        md,
        "\nOn an idle herd an update reached every server within (p99): {}. Under load: {}. An \
         update crosses at most two links (Bernard to Clark goes through Jaquez or Juzang), each a \
         write to a persistent connection and a parse and cache merge at the other end; under \
         load it queues behind the clients' requests on the same cores.\n",
        if idle.is_empty() {
            "–".into()
        } else {
            idle.join(", ")
        },
        if loaded.is_empty() {
            "–".into()
        } else {
            loaded.join(", ")
        }
    );
}

fn claims(md: &mut String, rows: &Rows) {
    let _ = writeln!(md, "## The paper's claims against what we measured\n");
    let _ = writeln!(
        md,
        "Claims quoted from the seed paper (`shared/seeds/`, \"CS131: Proxy Herd with Asyncio\"), \
         which argued them without measuring.\n"
    );
    let _ = writeln!(
        md,
        "| the paper's claim | what we measured | verdict |\n|---|---|---|"
    );
    // 1. asyncio vs a synchronous design.
    let tp = |b: &str| {
        rows.find(b, "iamat_conns", &[("connections", 64.0)])
            .and_then(Row::throughput)
    };
    let wl = rows.values("whatsat_latency", "latency_ms");
    let wc = rows.values("whatsat_latency", "connections");
    let (wl_top, wc_top) = (wl.last().copied(), wc.last().copied());
    let wt = |b: &str| -> Option<f64> {
        rows.find(
            b,
            "whatsat_latency",
            &[("latency_ms", wl_top?), ("connections", wc_top?)],
        )?
        .throughput()
    };
    let hk = rows.values("idle_hoarders", "idle").last().copied();
    let hmax = |b: &str| -> Option<f64> {
        rows.find(b, "idle_hoarders", &[("idle", hk?)])?
            .lg("/latency_us/max")
    };
    let mut wins = 0;
    let mut losses = 0;
    let mut text = Vec::new();
    if let (Some(a), Some(b)) = (tp("asyncio"), tp("blocking")) {
        text.push(format!(
            "IAMAT at 64 connections: asyncio {} vs blocking {} req/s",
            rps(Some(a)),
            rps(Some(b))
        ));
        if a > b { wins += 1 } else { losses += 1 }
    }
    if let (Some(a), Some(b)) = (wt("asyncio"), wt("blocking")) {
        text.push(format!(
            "WHATSAT with {:.0} ms Places latency at {:.0} connections: asyncio {} vs blocking ({WHATSAT_POOL} threads) {} req/s",
            wl_top.unwrap_or(0.0),
            wc_top.unwrap_or(0.0),
            rps(Some(a)),
            rps(Some(b))
        ));
        if a > b { wins += 1 } else { losses += 1 }
    }
    if let (Some(a), Some(b)) = (hmax("asyncio"), hmax("blocking")) {
        text.push(format!(
            "active client beside {:.0} idle hoarders, slowest answer: asyncio {} vs blocking {}",
            hk.unwrap_or(0.0),
            lat(Some(a)),
            lat(Some(b))
        ));
        if a < b { wins += 1 } else { losses += 1 }
    }
    let verdict = match (wins, losses) {
        (0, 0) => "not measured",
        (_, 0) => "supported",
        (0, _) => "not supported",
        _ => {
            "partly: asyncio wins where a thread would wait (slow Places, idle clients) and loses on CPU-bound work"
        }
    };
    let _ = writeln!(
        md,
        "| \"the performance of asyncio is much better than a synchronous counterpart\" (§3.2) | {} | {verdict} |",
        if text.is_empty() {
            "–".into()
        } else {
            text.join("; ")
        }
    );
    // 2. Threads and memory.
    let mk = rows
        .values("memory", "idle")
        .last()
        .copied()
        .filter(|k| *k > 0.0);
    let per_conn = |b: &str| -> Option<f64> {
        let k = mk?;
        let base = rows.find(b, "memory", &[("idle", 0.0)])?.node_rss_kb()? as f64;
        let at = rows.find(b, "memory", &[("idle", k)])?.node_rss_kb()? as f64;
        Some((at - base) / k)
    };
    let rss = |b: &str| -> Option<u64> { rows.find(b, "memory", &[("idle", mk?)])?.node_rss_kb() };
    let mem_text: Vec<String> = BUILDS
        .iter()
        .filter_map(|b| {
            Some(format!(
                "{b} {} MB ({:.1} kB/conn)",
                mb(rss(b)),
                per_conn(b)?
            ))
        })
        .collect();
    let mem_verdict = match (per_conn("blocking"), per_conn("asyncio"), per_conn("node")) {
        (Some(b), Some(a), n) => {
            let lo = n.map_or(a, |n| a.min(n));
            if b > 2.0 * lo.max(1.0) {
                format!(
                    "supported: an idle connection costs the blocking node {b:.1} kB, more than twice the cheapest event loop's {lo:.1} kB"
                )
            } else {
                format!(
                    "not supported at this scale: an idle connection costs the blocking node {b:.1} kB against {lo:.1} kB for the cheapest event loop; past its fixed pool a connection is a queued socket, not a thread"
                )
            }
        }
        _ => "not measured".to_owned(),
    };
    let _ = writeln!(
        md,
        "| \"Java would implement the server herd using multithreading\" (§4), read as: a thread per connection costs memory per connection | {} | {mem_verdict} |",
        if mem_text.is_empty() {
            "–".into()
        } else {
            format!(
                "RSS with {:.0} idle connections: {}",
                mk.unwrap_or(0.0),
                mem_text.join(", ")
            )
        }
    );
    // 3. Node vs asyncio for light work.
    let cpu64 = |b: &str| {
        rows.find(b, "iamat_conns", &[("connections", 64.0)])
            .and_then(|r| r.cpu_ms_per_1000_requests)
    };
    let node_text = match (tp("node"), tp("asyncio")) {
        (Some(n), Some(a)) => format!(
            "IAMAT (light work) at 64 connections: node {} vs asyncio {} req/s; CPU per 1000 requests node {} ms vs asyncio {} ms",
            rps(Some(n)),
            rps(Some(a)),
            num(cpu64("node"), 1),
            num(cpu64("asyncio"), 1)
        ),
        _ => "–".into(),
    };
    let node_verdict = match (tp("node"), tp("asyncio")) {
        (Some(n), Some(a)) if n > a => "supported",
        (Some(_), Some(_)) => "not supported",
        _ => "not measured",
    };
    let _ = writeln!(
        md,
        "| \"When the functionalities of a web server are not intensive, node.js is a better choice then Python with asyncio\" (§5) | {node_text} | {node_verdict} |\n"
    );
}

fn targets(md: &mut String, rows: &Rows) {
    let _ = writeln!(md, "## Targets\n");
    let _ = writeln!(md, "| target | measured | |\n|---|---|---|");
    let at = |b: &str| rows.find(b, "iamat_conns", &[("connections", 64.0)]);
    let (bl, et, tk, ek) = (
        at("blocking"),
        at("echo_threads"),
        at("tokio"),
        at("echo_tokio"),
    );
    let r1 = ratio(bl.and_then(Row::throughput), et.and_then(Row::throughput));
    let _ = writeln!(
        md,
        "| blocking IAMAT at 64 connections ≥ 0.8 × echo_threads throughput | {} vs {} req/s = {} | {} |",
        rps(bl.and_then(Row::throughput)),
        rps(et.and_then(Row::throughput)),
        num(r1, 2),
        met(r1.map(|r| r >= 0.8))
    );
    let r2 = ratio(bl.and_then(Row::p99_us), et.and_then(Row::p99_us));
    let _ = writeln!(
        md,
        "| blocking IAMAT p99 at 64 connections ≤ 2 × echo_threads p99 | {} vs {} = {} | {} |",
        lat(bl.and_then(Row::p99_us)),
        lat(et.and_then(Row::p99_us)),
        num(r2, 2),
        met(r2.map(|r| r <= 2.0))
    );
    let r3 = ratio(tk.and_then(Row::throughput), ek.and_then(Row::throughput));
    let _ = writeln!(
        md,
        "| tokio IAMAT at 64 connections ≥ 0.8 × echo_tokio throughput | {} vs {} req/s = {} | {} |",
        rps(tk.and_then(Row::throughput)),
        rps(ek.and_then(Row::throughput)),
        num(r3, 2),
        met(r3.map(|r| r >= 0.8))
    );
    let mut any_w = false;
    for r in rows
        .of("whatsat_latency")
        .iter()
        .filter(|r| r.ok() && r.build == "blocking")
    {
        let (Some(l), Some(c)) = (r.param("latency_ms"), r.param("connections")) else {
            continue;
        };
        if l <= 0.0 || c < f64::from(WHATSAT_POOL) {
            continue;
        }
        any_w = true;
        let bound = f64::from(WHATSAT_POOL) * 1000.0 / l;
        let got = r.throughput();
        let _ = writeln!(
            md,
            "| blocking WHATSAT, Places {l:.0} ms, {c:.0} connections ≥ 0.9 × threads / latency = 0.9 × {WHATSAT_POOL} / {l:.0} ms = {:.0} req/s | {} req/s ({} of the bound) | {} |",
            0.9 * bound,
            rps(got),
            num(ratio(got, Some(bound)), 2),
            met(got.map(|g| g >= 0.9 * bound))
        );
    }
    if !any_w {
        let _ = writeln!(
            md,
            "| blocking WHATSAT ≥ 0.9 × threads / latency (Places 100 ms) | – | not measured |"
        );
    }
    for load in [0.0, 32.0] {
        let r = rows.find("blocking", "propagation", &[("load_connections", load)]);
        let polled = r.and_then(|r| prop_p(r, "p99"));
        let logged = r.and_then(|r| prop_log_p(r, "p99"));
        let _ = writeln!(
            md,
            "| blocking herd propagation p99 (all servers) ≤ 1 ms, {} | {} by the servers' logs; {} as polling clients saw it | {} |",
            if load > 0.0 {
                "under a 32-connection IAMAT load"
            } else {
                "idle herd"
            },
            lat(logged),
            lat(polled),
            met(logged.map(|p| p <= 1000.0))
        );
    }
    let base = rows.find("blocking", "idle_hoarders", &[("idle", 0.0)]);
    let below: Vec<&Row> = rows
        .of("idle_hoarders")
        .into_iter()
        .filter(|r| r.ok() && r.build == "blocking")
        .filter(|r| {
            r.param("idle")
                .is_some_and(|k| k > 0.0 && k < f64::from(HOARD_POOL))
        })
        .collect();
    if below.is_empty() {
        let _ = writeln!(
            md,
            "| hoarders below the pool size ({HOARD_POOL}) do not delay the blocking node's active client | no point with 0 < K < {HOARD_POOL} in this run{} | not measured |",
            base.map_or(String::new(), |b| format!(
                " (K = 0: slowest answer {})",
                lat(b.lg("/latency_us/max"))
            ))
        );
    }
    for r in below {
        let answered = r
            .derived
            .get("answered_before_idle_timeout")
            .and_then(Value::as_bool)
            == Some(true);
        let limit = base
            .and_then(Row::p99_us)
            .map_or(1000.0, |p| (2.0 * p).max(1000.0));
        let ok = answered && r.p99_us().is_some_and(|p| p <= limit);
        let _ = writeln!(
            md,
            "| {:.0} hoarders (< pool {HOARD_POOL}) do not delay the blocking node's active client (answered before the idle timeout, p99 ≤ max(2 × the K = 0 p99, 1 ms) = {}) | p99 {}, slowest {} | {} |",
            r.param("idle").unwrap_or(0.0),
            lat(Some(limit)),
            lat(r.p99_us()),
            lat(r.lg("/latency_us/max")),
            met(Some(ok))
        );
    }
    // Above the pool size, the idle timeout bounds the wait (documented in
    // README's limits table): the slowest answer within it plus 0.5 s.
    for r in rows.of("idle_hoarders").iter().filter(|r| {
        r.ok()
            && r.build == "blocking"
            && r.param("idle").is_some_and(|k| k >= f64::from(HOARD_POOL))
    }) {
        let bound = HOARD_IDLE_MS as f64 * 1000.0 + 500_000.0;
        let slowest = r.lg("/latency_us/max");
        let _ = writeln!(
            md,
            "| {:.0} hoarders (≥ pool {HOARD_POOL}): the idle timeout bounds the blocking node's active client's wait (slowest answer ≤ {} + 0.5 s) | slowest {} | {} |",
            r.param("idle").unwrap_or(0.0),
            lat(Some(HOARD_IDLE_MS as f64 * 1000.0)),
            lat(slowest),
            met(slowest.map(|m| m <= bound))
        );
    }
    md.push('\n');
}

fn failures(md: &mut String, all: &[Row]) {
    let failed: Vec<&Row> = all.iter().filter(|r| !r.ok()).collect();
    let with_errors: Vec<&Row> = all
        .iter()
        .filter(|r| r.ok() && errors_of(r) > 0.0)
        .collect();
    if failed.is_empty() && with_errors.is_empty() {
        let _ = writeln!(
            md,
            "## Failures\n\nNone: every point ran, and herd-loadgen counted no error.\n"
        );
        return;
    }
    let _ = writeln!(md, "## Failures\n");
    for r in failed {
        let first = r
            .error
            .as_deref()
            .unwrap_or("")
            .lines()
            .next()
            .unwrap_or("");
        let _ = writeln!(
            md,
            "- {} {} {}: failed: `{first}`",
            r.scenario, r.build, r.point
        );
    }
    for r in with_errors {
        let _ = writeln!(
            md,
            "- {} {} {}: {} errors {}",
            r.scenario,
            r.build,
            r.point,
            errors_of(r),
            r.loadgen
                .get("errors")
                .map_or(String::new(), Value::to_string)
        );
    }
    md.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixture")
    }

    #[test]
    fn the_report_of_a_fixture_run_has_every_section_and_its_plots() {
        let dir = tempfile::tempdir().expect("tempdir");
        for f in ["rows.jsonl", "environment.json"] {
            std::fs::copy(fixture().join(f), dir.path().join(f)).expect("copy fixture");
        }
        write(dir.path()).expect("report");
        let md = std::fs::read_to_string(dir.path().join("report.md")).expect("report.md");
        for heading in [
            "# herd benchmark lab",
            "## Environment",
            "## 1. IAMAT throughput",
            "### The whole herd",
            "## 2. WHATSAT",
            "## 3. Idle hoarders",
            "## 4. Memory",
            "## 5. CPU per 1,000 requests",
            "## 6. Blocking pool size",
            "## 7. Flood propagation",
            "## The paper's claims",
            "## Targets",
        ] {
            assert!(md.contains(heading), "report lacks {heading:?}");
        }
        for svg in [
            "iamat_throughput.svg",
            "iamat_p99.svg",
            "whatsat_50ms.svg",
            "hoarders.svg",
            "memory.svg",
            "threads_sweep.svg",
        ] {
            assert!(
                md.contains(&format!("]({svg})")),
                "report does not show {svg}"
            );
            let text = std::fs::read_to_string(dir.path().join(svg)).expect(svg);
            assert!(text.starts_with("<svg"), "{svg} is not SVG");
        }
        // Sentences carry measured figures.
        assert!(md.contains("At 64 connections: blocking"), "{md}");
        assert!(md.contains("of the thread echo"));
        assert!(md.contains("**met**") || md.contains("**not met**"));
        assert!(!md.contains("NaN"));
    }

    #[test]
    fn numbers_read_well() {
        assert_eq!(thousands(1234567.4), "1,234,567");
        assert_eq!(lat(Some(850.0)), "850 µs");
        assert_eq!(lat(Some(2500.0)), "2.50 ms");
        assert_eq!(lat(Some(3_200_000.0)), "3.20 s");
        assert_eq!(rps(Some(12.34)), "12.3");
    }
}
