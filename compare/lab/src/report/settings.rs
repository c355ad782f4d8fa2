//! The report's "Build settings" table: what each build ran with in each
//! scenario (a pool's worker threads and `park_idle_ms`, tokio's runtime
//! workers, one event loop), read from the rows, so that no comparison
//! hides an unequal setting.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use serde_json::{Map, Value};

use crate::builds::{BUILDS, ECHOES};
use crate::point::build_settings;
use crate::report::page;
use crate::rows::Row;

/// A row's settings; rows of schema 1 (which lack them) from the
/// `--threads` the lab gave the server.
fn settings_of(r: &Row) -> Map<String, Value> {
    if r.settings.is_empty() {
        let threads = r.params.get("server_threads_flag").and_then(Value::as_u64);
        build_settings(&r.build, threads)
    } else {
        r.settings.clone()
    }
}

/// The setting that varies with the point: a pool's threads, tokio's
/// workers; None for a build with nothing to set.
fn knob(s: &Map<String, Value>) -> Option<(u64, &'static str)> {
    if let Some(t) = s.get("blocking_threads").and_then(Value::as_u64) {
        Some((t, "threads"))
    } else {
        s.get("runtime_workers")
            .and_then(Value::as_u64)
            .map(|w| (w, "workers"))
    }
}

/// How the build runs, with what holds for every point ("thread pool,
/// park_idle_ms 100").
fn model(s: &Map<String, Value>) -> String {
    let m = s.get("model").and_then(Value::as_str).unwrap_or("–");
    match s.get("park_idle_ms").and_then(Value::as_u64) {
        Some(0) => format!("{m}, `park_idle_ms` 0 (a worker keeps its connection)"),
        Some(ms) => format!("{m}, `park_idle_ms` {ms} (quiet connections parked)"),
        None => m.to_owned(),
    }
}

/// One cell: the distinct values of the knob in a build's rows of a
/// scenario ("64, 256, 1024 threads"), or the model's fixed text.
fn cell(rows: &[&Row]) -> String {
    let settings: Vec<Map<String, Value>> = rows.iter().map(|r| settings_of(r)).collect();
    let mut values = BTreeSet::new();
    let mut unit = "";
    for s in &settings {
        if let Some((v, u)) = knob(s) {
            values.insert(v);
            unit = u;
        }
    }
    if values.is_empty() {
        return settings
            .first()
            .and_then(|s| s.get("summary"))
            .and_then(Value::as_str)
            .unwrap_or("–")
            .to_owned();
    }
    let list: Vec<String> = values.iter().map(u64::to_string).collect();
    format!("{} {unit}", list.join(", "))
}

pub fn section(md: &mut String, all: &[Row]) {
    let mut scenarios: Vec<&str> = Vec::new();
    for r in all {
        if !scenarios.contains(&r.scenario.as_str()) {
            scenarios.push(&r.scenario);
        }
    }
    let builds: Vec<&str> = BUILDS
        .iter()
        .chain(ECHOES.iter())
        .copied()
        .filter(|b| all.iter().any(|r| r.build == *b))
        .collect();
    if builds.is_empty() {
        return;
    }
    let _ = writeln!(md, "## Build settings\n");
    page::para(
        md,
        "What each build ran with, per scenario (from the rows): the blocking pool's worker \
         threads (`--threads`), tokio's runtime workers (one per CPU its servers may use, or the \
         `--threads` asked), and the one-loop builds' single event loop.",
    );
    let mut columns = vec!["build", "runs as"];
    columns.extend(scenarios.iter().copied());
    page::head(md, &columns);
    for b in builds {
        let of_build: Vec<&Row> = all.iter().filter(|r| r.build == b).collect();
        let mut cells = vec![b.to_owned(), model(&settings_of(of_build[0]))];
        for sc in &scenarios {
            let list: Vec<&Row> = of_build
                .iter()
                .copied()
                .filter(|r| r.scenario == *sc)
                .collect();
            cells.push(if list.is_empty() {
                "–".to_owned()
            } else {
                cell(&list)
            });
        }
        page::row(md, &cells);
    }
    md.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(build: &str, scenario: &str, threads: u64, schema: u32) -> Row {
        let settings = if schema >= 2 {
            build_settings(build, Some(threads))
        } else {
            Map::new()
        };
        let line = serde_json::json!({
            "schema": schema, "build": build, "scenario": scenario,
            "point": format!("t={threads}"),
            "params": {"server_threads_flag": threads},
            "settings": settings,
            "loadgen": null, "servers": [], "cpu_seconds": null,
            "cpu_ms_per_1000_requests": null, "derived": {}, "commands": [],
            "pinning": null, "started_at": "", "finished_at": "", "window_s": null,
            "error": null,
        });
        serde_json::from_value(line).expect("row")
    }

    #[test]
    fn the_table_lists_each_builds_settings_per_scenario() {
        let all = vec![
            row("blocking", "iamat_conns", 64, 2),
            row("blocking", "iamat_conns", 1024, 2),
            row("blocking", "memory", 128, 2),
            row("blocking-parked", "memory", 128, 2),
            row("tokio", "iamat_conns", 2, 2),
            // Schema 1: settings from server_threads_flag.
            row("tokio", "memory", 2, 1),
            row("node", "iamat_conns", 1, 2),
        ];
        let mut md = String::new();
        section(&mut md, &all);
        assert!(md.contains("## Build settings"), "{md}");
        assert!(
            md.contains("| build | runs as | iamat_conns | memory |"),
            "{md}"
        );
        assert!(
            md.contains("| blocking | thread pool, `park_idle_ms` 0 (a worker keeps its connection) | 64, 1024 threads | 128 threads |"),
            "{md}"
        );
        assert!(md.contains("`park_idle_ms` 100"), "{md}");
        assert!(
            md.contains("| tokio | tokio runtime | 2 workers | 2 workers |"),
            "{md}"
        );
        assert!(
            md.contains("| node | event loop | 1 event loop | – |"),
            "{md}"
        );
    }
}
