//! What a run measures, one point at a time: the run-wide settings (quick
//! or full, pinning, where scratch files go), a [`Point`] (build,
//! scenario, parameters, which repeat), which each scenario's plan lists
//! and the runner (`measure.rs`) turns into one row, the order repeats run
//! in ([`interleave`]), and what each build ran with ([`build_settings`]).

use std::path::PathBuf;

use herd_launch::Paths;
use serde_json::{Map, Value, json};

use crate::builds;

/// Run-wide settings.
#[derive(Clone)]
pub struct Settings {
    pub paths: Paths,
    pub quick: bool,
    pub server_cpus: Option<String>,
    pub loadgen_cpus: Option<String>,
    /// Configs and protocol logs of the point being run (removed after).
    pub scratch: PathBuf,
    /// The run's output directory: a point's durable store goes under it
    /// (`stores/pNNN`, on the disk the run is written to, not a tmpfs
    /// `/tmp`), removed after the point.
    pub out: PathBuf,
}

impl Settings {
    /// Seconds of load before the measured window (full: 1 s, enough for
    /// the one-loop builds' JITs and caches to settle).
    pub fn warmup_s(&self) -> f64 {
        if self.quick { 0.5 } else { 1.0 }
    }

    /// Seconds of a closed loop's measured window. Full: 3 s, so that three
    /// repeats of every point fit in about an hour on two cores; the
    /// spread over repeats says more than a longer single window did.
    pub fn duration_s(&self) -> f64 {
        if self.quick { 1.5 } else { 3.0 }
    }

    pub fn loadgen_workers(&self) -> usize {
        self.loadgen_cpus
            .as_deref()
            .map_or(1, builds::cpu_count)
            .max(1)
    }

    pub fn server_cpus(&self) -> Option<&str> {
        self.server_cpus.as_deref()
    }

    /// The CPUs a herd scenario's five servers are pinned to: the server
    /// CPUs when they are at least [`HERD_PIN_MIN`]; fewer (one CPU of a
    /// two-core machine, say) would measure the scheduler rather than the
    /// herd, so the servers then run unpinned.
    pub fn herd_cpus(&self) -> Option<&str> {
        self.server_cpus()
            .filter(|list| crate::builds::cpu_count(list) >= HERD_PIN_MIN)
    }

    pub fn pinning(&self) -> Value {
        json!({"server_cpus": self.server_cpus, "loadgen_cpus": self.loadgen_cpus})
    }
}

/// Server CPUs from which a herd is pinned too (see [`Settings::herd_cpus`]).
pub const HERD_PIN_MIN: usize = 4;

/// Repeats of every point by default: a full run 3, a quick run 1.
pub fn default_repeats(quick: bool) -> u32 {
    if quick { 1 } else { 3 }
}

/// One measured point.
#[derive(Debug, Clone)]
pub struct Point {
    pub build: String,
    pub scenario: &'static str,
    pub label: String,
    pub params: Map<String, Value>,
    /// Which measurement of the point this is, from 1 (see [`interleave`]).
    pub repeat: u32,
}

impl Point {
    pub fn new(build: &str, scenario: &'static str, params: Value) -> Point {
        let params = match params {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        let label = params
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(",");
        Point {
            build: build.to_owned(),
            scenario,
            label,
            params,
            repeat: 1,
        }
    }

    /// A whole-number parameter (0 when absent).
    pub fn u(&self, key: &str) -> u64 {
        self.params.get(key).and_then(Value::as_u64).unwrap_or(0)
    }

    pub fn title(&self) -> String {
        format!(
            "{} {} {} #{}",
            self.scenario, self.build, self.label, self.repeat
        )
    }

    /// The point's group: its scenario and its parameters but the pool size
    /// (which only the blocking builds carry), so that every build at the
    /// same load falls in one group.
    fn group_key(&self) -> (&'static str, String) {
        let mut params = self.params.clone();
        params.remove("threads");
        (self.scenario, Value::Object(params).to_string())
    }
}

/// The plan's points, each `repeats` times, in the order they run: group
/// by group (a group is the points of a scenario at the same parameters but
/// the build, in the plan's order of first appearance), and inside a group
/// round-robin, every build once per repeat. A slow drift of the machine
/// (another job, a warm cache) then falls on every build of a group alike,
/// instead of on whichever build ran last.
pub fn interleave(plan: Vec<Point>, repeats: u32) -> Vec<Point> {
    let mut groups: Vec<((&'static str, String), Vec<Point>)> = Vec::new();
    for p in plan {
        let key = p.group_key();
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, members)) => members.push(p),
            None => groups.push((key, vec![p])),
        }
    }
    let mut out = Vec::new();
    for (_, members) in groups {
        for repeat in 1..=repeats.max(1) {
            out.extend(members.iter().map(|p| Point {
                repeat,
                ..p.clone()
            }));
        }
    }
    out
}

/// What a build ran with at a point, for its row and the report's "Build
/// settings" table: a pool's worker threads and `park_idle_ms`, tokio's
/// runtime workers, or one event loop. `threads` is the `--threads` the
/// lab gave the server (the row's `server_threads_flag`).
pub fn build_settings(build: &str, threads: Option<u64>) -> Map<String, Value> {
    let mut m = Map::new();
    let park = builds::build_args(build)
        .windows(2)
        .find(|w| w[0] == "--park-idle-ms")
        .and_then(|w| w[1].parse::<u64>().ok());
    let (model, text) = if builds::is_pool(build) {
        m.insert("blocking_threads".into(), json!(threads));
        m.insert("park_idle_ms".into(), json!(park));
        let t = threads.map_or("?".into(), |t| t.to_string());
        let parked = match park {
            Some(0) | None => "never parked".to_owned(),
            Some(ms) => format!("parked after {ms} ms quiet"),
        };
        ("thread pool", format!("{t} worker threads, {parked}"))
    } else {
        match build {
            "tokio" | "echo_tokio" => {
                m.insert("runtime_workers".into(), json!(threads));
                let w = threads.map_or("?".into(), |t| t.to_string());
                ("tokio runtime", format!("{w} runtime workers"))
            }
            "echo_threads" => (
                "thread per connection",
                "a thread per connection".to_owned(),
            ),
            _ => {
                m.insert("event_loops".into(), json!(1));
                ("event loop", "1 event loop".to_owned())
            }
        }
    };
    m.insert("model".into(), json!(model));
    m.insert("summary".into(), json!(text));
    m
}

/// The quick or the full list of a parameter's values.
pub fn pick(quick: bool, q: &[u64], full: &[u64]) -> Vec<u64> {
    if quick { q.to_vec() } else { full.to_vec() }
}

/// One point of `scenario` per build at `params`, with a pool of
/// `threads` where the build has one. `blocking-tpc` is left out: at the
/// connection counts these points use, a pool of `threads` already is a
/// thread per connection.
pub fn one_per_build_but_tpc(
    builds: &[&'static str],
    scenario: &'static str,
    params: &Value,
    threads: u64,
) -> Vec<Point> {
    builds
        .iter()
        .filter(|b| **b != crate::builds::TPC)
        .map(|b| Point::new(b, scenario, with_threads(b, params.clone(), threads)))
        .collect()
}

/// `params` with `"threads": threads` added for the blocking build (the
/// only one whose pool size a point sets).
pub fn with_threads(build: &str, mut params: Value, threads: u64) -> Value {
    if crate::builds::is_pool(build) {
        params["threads"] = json!(threads);
    }
    params
}

#[cfg(test)]
mod tests {
    use super::*;

    fn titles(points: &[Point]) -> Vec<String> {
        points
            .iter()
            .map(|p| format!("{} {} {}", p.build, p.label, p.repeat))
            .collect()
    }

    #[test]
    fn repeats_go_round_robin_over_the_builds_of_a_group() {
        let mut plan = Vec::new();
        for c in [1u64, 64] {
            for b in ["blocking", "tokio"] {
                plan.push(Point::new(
                    b,
                    "iamat_conns",
                    with_threads(b, json!({"connections": c}), 64),
                ));
            }
        }
        plan.push(Point::new("tokio", "memory", json!({"idle": 0})));
        let order = interleave(plan, 2);
        assert_eq!(
            titles(&order),
            [
                "blocking connections=1,threads=64 1",
                "tokio connections=1 1",
                "blocking connections=1,threads=64 2",
                "tokio connections=1 2",
                "blocking connections=64,threads=64 1",
                "tokio connections=64 1",
                "blocking connections=64,threads=64 2",
                "tokio connections=64 2",
                "tokio idle=0 1",
                "tokio idle=0 2",
            ]
        );
    }

    #[test]
    fn one_repeat_keeps_the_plan_as_it_was() {
        let plan: Vec<Point> = ["blocking", "tokio", "node"]
            .iter()
            .map(|b| Point::new(b, "memory", json!({"idle": 100})))
            .collect();
        let before = titles(&plan);
        let order = interleave(plan, 1);
        assert_eq!(titles(&order), before);
        assert!(order.iter().all(|p| p.repeat == 1));
        assert_eq!(default_repeats(true), 1);
        assert_eq!(default_repeats(false), 3);
    }

    #[test]
    fn a_pool_size_sweep_of_one_build_interleaves_its_sizes() {
        let plan: Vec<Point> = [1u64, 4]
            .iter()
            .map(|t| Point::new("blocking", "threads_sweep", json!({"threads": t})))
            .collect();
        let order = interleave(plan, 2);
        assert_eq!(
            titles(&order),
            [
                "blocking threads=1 1",
                "blocking threads=4 1",
                "blocking threads=1 2",
                "blocking threads=4 2",
            ]
        );
    }

    #[test]
    fn every_build_says_what_it_ran_with() {
        let plain = build_settings("blocking", Some(64));
        assert_eq!(plain["blocking_threads"], json!(64));
        assert_eq!(plain["park_idle_ms"], json!(0));
        assert_eq!(plain["summary"], "64 worker threads, never parked");
        let parked = build_settings("blocking-parked", Some(16));
        assert_eq!(parked["park_idle_ms"], json!(builds::PARK_IDLE_MS));
        assert_eq!(
            parked["summary"],
            "16 worker threads, parked after 100 ms quiet"
        );
        let tokio = build_settings("tokio", Some(2));
        assert_eq!(tokio["runtime_workers"], json!(2));
        assert_eq!(tokio["summary"], "2 runtime workers");
        for b in ["asyncio", "node"] {
            let s = build_settings(b, Some(1));
            assert_eq!(s["event_loops"], json!(1));
            assert_eq!(s["summary"], "1 event loop");
        }
        assert_eq!(
            build_settings("echo_threads", Some(2))["model"],
            "thread per connection"
        );
    }
}
