//! The raw result of one measured point, one JSON object per line of
//! `rows.jsonl`: what was run (build, scenario, parameters, the exact
//! commands, timestamps), everything herd-loadgen printed, and what /proc
//! said about each server. The report is computed from these rows only,
//! so a run can be re-reported (or compared) later. Rows of the same
//! build, scenario and parameters are the repeats of one point.

use std::io::{BufRead, Write};
use std::path::Path;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::sample::Window;

/// Version of the row layout below. 2 added `repeat` and `settings`;
/// rows of schema 1 still read (as repeat 1, settings empty).
pub const SCHEMA: u32 = 2;

fn first_repeat() -> u32 {
    1
}

/// One server process of a point (a node, an echo server, the stand-in).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ServerSample {
    pub name: String,
    /// "node", "echo" or "standin".
    pub role: String,
    pub pid: u32,
    /// Over the measured window (memory: the settled holding period).
    pub window: Window,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Row {
    pub schema: u32,
    /// blocking, tokio, asyncio, node, echo_threads, echo_tokio.
    pub build: String,
    pub scenario: String,
    /// A short label of the point, e.g. "connections=64".
    pub point: String,
    /// The point's parameters (connections, threads, latency_ms, ...).
    pub params: Map<String, Value>,
    /// Which measurement of the point this row is, from 1 (schema 1 rows:
    /// 1, each point was measured once).
    #[serde(default = "first_repeat")]
    pub repeat: u32,
    /// What the build ran with (`point::build_settings`): a pool's
    /// `blocking_threads` and `park_idle_ms`, tokio's `runtime_workers`, or
    /// `event_loops`: 1; `model` and a `summary` sentence.
    #[serde(default)]
    pub settings: Map<String, Value>,
    /// The load generator's JSON object, as printed (run, hold or
    /// propagate); null when the point failed before it.
    pub loadgen: Value,
    /// The servers' samples (nodes, echo server; the stand-in apart).
    pub servers: Vec<ServerSample>,
    /// CPU seconds of the measured servers (role node/echo) in the window.
    pub cpu_seconds: Option<f64>,
    /// cpu_seconds per 1,000 good answers, in milliseconds.
    pub cpu_ms_per_1000_requests: Option<f64>,
    /// Scenario figures computed by the lab (bounds, verdicts, ...).
    pub derived: Map<String, Value>,
    /// Every command started for the point, in order.
    pub commands: Vec<String>,
    /// `taskset` CPU lists used, if any.
    pub pinning: Value,
    pub started_at: String,
    pub finished_at: String,
    /// Seconds, on the sampler's clock, of the measured window.
    pub window_s: Option<[f64; 2]>,
    /// Why the point failed (then the figures may be missing).
    pub error: Option<String>,
}

impl Row {
    /// A number from the loadgen object by JSON pointer, e.g.
    /// "/latency_us/p99".
    pub fn lg(&self, pointer: &str) -> Option<f64> {
        self.loadgen.pointer(pointer).and_then(Value::as_f64)
    }

    pub fn param(&self, key: &str) -> Option<f64> {
        self.params.get(key).and_then(Value::as_f64)
    }

    pub fn derived_f(&self, key: &str) -> Option<f64> {
        self.derived.get(key).and_then(Value::as_f64)
    }

    pub fn throughput(&self) -> Option<f64> {
        self.lg("/throughput_rps")
    }

    pub fn p99_us(&self) -> Option<f64> {
        self.lg("/latency_us/p99")
    }

    /// The p99 over every request that ended, a timed-out one counted as
    /// taking the load generator's timeout (at least). Where more than 1 in
    /// 100 timed out, that is the timeout; otherwise the answers' p99 (a
    /// slight underestimate when a few timed out). Rows from before
    /// herd-loadgen printed `timeout_ms` give the answers' p99.
    pub fn p99_counting_timeouts_us(&self) -> Option<f64> {
        let answered = self.p99_us();
        let (Some(timeout_ms), Some(ok)) = (self.lg("/timeout_ms"), self.lg("/requests_ok")) else {
            return answered;
        };
        let timeouts = self.lg("/errors/timeout").unwrap_or(0.0);
        if timeouts * 100.0 > ok + timeouts {
            Some(timeout_ms * 1000.0)
        } else {
            answered
        }
    }

    /// Requests that timed out (herd-loadgen's `timeout` errors).
    pub fn timeouts(&self) -> f64 {
        self.lg("/errors/timeout").unwrap_or(0.0)
    }

    /// Peak RSS of the first node-role server, kB.
    pub fn node_rss_kb(&self) -> Option<u64> {
        self.servers
            .iter()
            .find(|s| s.role == "node" || s.role == "echo")
            .and_then(|s| s.window.rss_kb_max)
    }

    pub fn ok(&self) -> bool {
        self.error.is_none()
    }
}

pub fn append(path: &Path, row: &Row) -> Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    let line = serde_json::to_string(row)?;
    writeln!(f, "{line}").with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

pub fn read(path: &Path) -> Result<Vec<Row>> {
    let f = std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut rows = Vec::new();
    for (i, line) in std::io::BufReader::new(f).lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let row: Row = serde_json::from_str(&line)
            .with_context(|| format!("{} line {}: not a row", path.display(), i + 1))?;
        rows.push(row);
    }
    Ok(rows)
}

/// UTC now as RFC 3339 with milliseconds.
pub fn now_utc() -> String {
    humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()
}

/// Rows for the report's unit tests: one node named Clark, 1 s of CPU,
/// and a peak RSS of 10,000 KiB plus the throughput (so that builds
/// differ).
#[cfg(test)]
pub fn test_row(build: &str, scenario: &str, params: Value, rps: f64) -> Row {
    serde_json::from_value(serde_json::json!({
        "schema": 1, "build": build, "scenario": scenario, "point": "p",
        "params": params,
        "loadgen": {"throughput_rps": rps, "latency_us": {"p99": 900, "max": 4000}},
        "servers": [{"name": "Clark", "role": "node", "pid": 1,
            "window": {"rss_kb_max": 10_000 + (rps as u64), "threads_max": 3, "samples": 1}}],
        "cpu_seconds": 1.0, "cpu_ms_per_1000_requests": 20.0,
        "derived": {}, "commands": [], "pinning": null,
        "started_at": "", "finished_at": "", "window_s": null, "error": null
    }))
    .expect("row")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_p99_counting_timeouts_is_the_timeout_past_one_in_a_hundred() {
        let mut r = test_row("blocking", "whatsat_latency", json!({}), 160.0);
        r.loadgen = json!({"requests_ok": 480, "timeout_ms": 5000,
            "errors": {"timeout": 224}, "latency_us": {"p99": 206_000}});
        assert_eq!(r.p99_counting_timeouts_us(), Some(5_000_000.0));
        assert_eq!(r.timeouts(), 224.0);
        r.loadgen["errors"]["timeout"] = json!(4);
        assert_eq!(r.p99_counting_timeouts_us(), Some(206_000.0));
        r.loadgen["errors"] = json!({});
        assert_eq!(r.p99_counting_timeouts_us(), Some(206_000.0));
        // A row from before `timeout_ms`: the answers' p99.
        r.loadgen = json!({"requests_ok": 480, "errors": {"timeout": 224},
            "latency_us": {"p99": 206_000}});
        assert_eq!(r.p99_counting_timeouts_us(), Some(206_000.0));
    }

    fn row() -> Row {
        let mut params = Map::new();
        params.insert("connections".into(), json!(64));
        Row {
            schema: SCHEMA,
            build: "blocking".into(),
            scenario: "iamat_conns".into(),
            point: "connections=64".into(),
            params,
            repeat: 2,
            settings: crate::point::build_settings("blocking", Some(64)),
            loadgen: json!({"throughput_rps": 1234.5, "latency_us": {"p99": 800}, "requests_ok": 2469}),
            servers: vec![ServerSample {
                name: "Clark".into(),
                role: "node".into(),
                pid: 42,
                window: Window {
                    cpu_seconds: Some(0.5),
                    rss_kb_max: Some(30_000),
                    ..Window::default()
                },
            }],
            cpu_seconds: Some(0.5),
            cpu_ms_per_1000_requests: Some(202.5),
            derived: Map::new(),
            commands: vec!["target/release/herd node Clark".into()],
            pinning: Value::Null,
            started_at: now_utc(),
            finished_at: now_utc(),
            window_s: Some([1.0, 3.0]),
            error: None,
        }
    }

    #[test]
    fn rows_round_trip_through_jsonl_with_every_field() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("rows.jsonl");
        let r = row();
        append(&path, &r).expect("append");
        append(&path, &r).expect("append");
        let text = std::fs::read_to_string(&path).expect("read");
        assert_eq!(text.lines().count(), 2);
        let v: Value = serde_json::from_str(text.lines().next().expect("line")).expect("json");
        for key in [
            "schema",
            "build",
            "scenario",
            "point",
            "params",
            "repeat",
            "settings",
            "loadgen",
            "servers",
            "cpu_seconds",
            "cpu_ms_per_1000_requests",
            "derived",
            "commands",
            "pinning",
            "started_at",
            "finished_at",
            "window_s",
            "error",
        ] {
            assert!(v.get(key).is_some(), "row lacks {key}");
        }
        assert!(v["started_at"].as_str().is_some_and(|s| s.ends_with('Z')));
        let back = read(&path).expect("read rows");
        assert_eq!(back, vec![r.clone(), r]);
        assert_eq!(back[0].throughput(), Some(1234.5));
        assert_eq!(back[0].p99_us(), Some(800.0));
        assert_eq!(back[0].node_rss_kb(), Some(30_000));
        assert_eq!(back[0].repeat, 2);
        assert_eq!(back[0].settings["blocking_threads"], json!(64));
    }

    #[test]
    fn schema_1_rows_still_read_as_the_first_repeat() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("rows.jsonl");
        let mut v = serde_json::to_value(row()).expect("json");
        let obj = v.as_object_mut().expect("object");
        obj.remove("repeat");
        obj.remove("settings");
        obj.insert("schema".into(), json!(1));
        std::fs::write(&path, format!("{v}\n")).expect("write");
        let back = read(&path).expect("read schema 1");
        assert_eq!(back.len(), 1);
        assert_eq!(back[0].schema, 1);
        assert_eq!(back[0].repeat, 1);
        assert!(back[0].settings.is_empty());
        assert_eq!(back[0].throughput(), Some(1234.5));
        // The committed fixture run is schema 1 too.
        let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixture/rows.jsonl");
        let rows = read(&fixture).expect("fixture");
        assert!(rows.iter().all(|r| r.schema == 1 && r.repeat == 1));
    }
}
