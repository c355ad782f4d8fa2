//! What a run measures, one point at a time: the run-wide settings (quick
//! or full, pinning, where scratch files go) and a [`Point`] (build,
//! scenario, parameters), which each scenario's plan lists and the runner
//! (`measure.rs`) turns into one row.

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
    pub fn warmup_s(&self) -> f64 {
        if self.quick { 0.5 } else { 1.0 }
    }

    pub fn duration_s(&self) -> f64 {
        if self.quick { 1.5 } else { 5.0 }
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

/// One measured point.
/// Server CPUs from which a herd is pinned too (see [`Settings::herd_cpus`]).
pub const HERD_PIN_MIN: usize = 4;

#[derive(Debug, Clone)]
pub struct Point {
    pub build: String,
    pub scenario: &'static str,
    pub label: String,
    pub params: Map<String, Value>,
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
        }
    }

    /// A whole-number parameter (0 when absent).
    pub fn u(&self, key: &str) -> u64 {
        self.params.get(key).and_then(Value::as_u64).unwrap_or(0)
    }

    pub fn title(&self) -> String {
        format!("{} {} {}", self.scenario, self.build, self.label)
    }
}

/// The quick or the full list of a parameter's values.
pub fn pick(quick: bool, q: &[u64], full: &[u64]) -> Vec<u64> {
    if quick { q.to_vec() } else { full.to_vec() }
}

/// `params` with `"threads": threads` added for the blocking build (the
/// only one whose pool size a point sets).
pub fn with_threads(build: &str, mut params: Value, threads: u64) -> Value {
    if crate::builds::is_pool(build) {
        params["threads"] = json!(threads);
    }
    params
}
