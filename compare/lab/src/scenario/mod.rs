//! The scenarios, one module each: its points (plan), how a point's load
//! runs and what is derived from it (measure), and its section of
//! report.md. [`ALL`] lists them in run and report order; the runner
//! (`measure.rs`), the plan and the report iterate it, so nothing else
//! matches on scenario names.

pub mod cores_sweep;
pub mod cpu;
pub mod iamat_conns;
pub mod iamat_herd;
pub mod iamat_open;
pub mod idle_hoarders;
pub mod memory;
pub mod propagation;
pub mod store_cost;
pub mod threads_sweep;
pub mod tpc;
pub mod whatsat_latency;

use std::path::Path;

use anyhow::{Result, bail};
use serde_json::Value;

use crate::builds::BUILDS;
use crate::measure::{Ctx, Load};
use crate::point::{Point, Settings};
use crate::report::query::Rows;
use crate::rows::Row;

/// One scenario of the lab.
pub trait Scenario: Sync {
    /// Its name in rows, `--scenarios` and the report.
    fn name(&self) -> &'static str;

    /// Its points for the chosen builds (in [`BUILDS`] order), in run order.
    fn plan(&self, _builds: &[&'static str], _quick: bool) -> Vec<Point> {
        Vec::new()
    }

    /// Runs on the five-server herd (its servers unpinned), not one node.
    fn herd(&self) -> bool {
        false
    }

    /// Whether `point` runs on the five-server herd: [`herd`](Self::herd),
    /// unless the scenario has points of both kinds (the cores sweep).
    fn herd_at(&self, _point: &Point) -> bool {
        self.herd()
    }

    /// Node flags beyond `--max-clients`.
    fn node_args(&self) -> Vec<String> {
        Vec::new()
    }

    /// Node flags of one point, after [`node_args`](Self::node_args);
    /// `store` is a fresh directory the point may keep a durable store in
    /// (under the run's output directory; its size goes into the row's
    /// `derived.store_bytes` and it is removed after the point).
    fn point_args(&self, _point: &Point, _store: &Path) -> Vec<String> {
        Vec::new()
    }

    /// Runs the point's load against the started servers.
    fn load(&self, _ctx: &mut Ctx<'_>) -> Result<Load> {
        bail!("scenario {:?} has no points of its own", self.name())
    }

    /// Figures computed from the row (bounds, verdicts) into `derived`.
    fn derive(&self, _point: &Point, _threads: u32, _loadgen: &Value, _row: &mut Row) {}

    /// About how many seconds one of its points takes from start to stop,
    /// for the estimate `run` prints before it starts: by default a closed
    /// loop's warm-up and window, plus starting and stopping the servers.
    fn seconds(&self, point: &Point, s: &Settings) -> f64 {
        s.warmup_s() + s.duration_s() + start_stop_s(&point.build, self.herd())
    }

    /// Its section of report.md (plots written into `dir`).
    fn report(&self, dir: &Path, md: &mut String, rows: &Rows<'_>);
}

/// About how long starting and stopping a point's servers takes, seconds,
/// as the full run of 2026-12-05 on two cores took it (a point's time less
/// its load): asyncio's interpreter starts slowest, a herd starts five
/// servers and runs a warm-up round.
pub fn start_stop_s(build: &str, herd: bool) -> f64 {
    let one = match build {
        "asyncio" => 1.5,
        "node" => 0.8,
        _ => 0.4,
    };
    if herd { one * 2.5 } else { one }
}

/// About how many seconds `points` take, by their scenarios' estimates.
pub fn estimate_s<'a>(points: impl IntoIterator<Item = &'a Point>, s: &Settings) -> f64 {
    points
        .into_iter()
        .filter_map(|p| Some(find(p.scenario)?.seconds(p, s)))
        .sum()
}

/// Every scenario, in run and report order (`cpu` is derived from all
/// rows). `iamat_open` runs after `iamat_conns`, whose rows give each
/// build's capacity.
pub const ALL: [&dyn Scenario; 11] = [
    &iamat_conns::IamatConns,
    &iamat_herd::IamatHerd,
    &iamat_open::IamatOpen,
    &cores_sweep::CoresSweep,
    &whatsat_latency::WhatsatLatency,
    &idle_hoarders::IdleHoarders,
    &memory::Memory,
    &cpu::Cpu,
    &threads_sweep::ThreadsSweep,
    &propagation::Propagation,
    &store_cost::StoreCost,
];

/// Every scenario's name, in order.
pub fn names() -> Vec<&'static str> {
    ALL.iter().map(|s| s.name()).collect()
}

pub fn find(name: &str) -> Option<&'static dyn Scenario> {
    ALL.iter().copied().find(|s| s.name() == name)
}

/// Every point of the chosen builds and scenarios, in run order.
pub fn plan(builds: &[String], scenarios: &[String], quick: bool) -> Vec<Point> {
    let chosen: Vec<&'static str> = BUILDS
        .iter()
        .copied()
        .filter(|b| builds.iter().any(|x| x == b))
        .collect();
    ALL.iter()
        .filter(|s| scenarios.iter().any(|x| x == s.name()))
        .flat_map(|s| s.plan(&chosen, quick))
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn quick_plans_are_small_and_full_plans_cover_every_point() {
        let builds: Vec<String> = BUILDS.iter().map(|s| (*s).to_owned()).collect();
        let scen: Vec<String> = names().iter().map(|s| (*s).to_owned()).collect();
        let quick = plan(&builds, &scen, true);
        let full = plan(&builds, &scen, false);
        // CI's quick run must stay under 5 minutes (some 3.5 s a point).
        assert!(quick.len() < 76, "{} quick points", quick.len());
        // A thread per connection where the papers' argument is: memory,
        // WHATSAT and hoarders (the last in the full run only).
        let tpc = |points: &[Point]| -> BTreeSet<&'static str> {
            points
                .iter()
                .filter(|p| p.build == crate::builds::TPC)
                .map(|p| p.scenario)
                .collect()
        };
        assert_eq!(
            tpc(&quick),
            BTreeSet::from(["memory", "whatsat_latency"]),
            "{quick:?}"
        );
        assert_eq!(
            tpc(&full),
            BTreeSet::from(["idle_hoarders", "memory", "whatsat_latency"])
        );
        assert_eq!(
            quick
                .iter()
                .filter(|p| p.build == crate::builds::TPC)
                .count(),
            3
        );
        assert!(full.len() > quick.len());
        // Echo ceilings at every connection count of iamat_conns.
        assert_eq!(full.iter().filter(|p| p.build == "echo_threads").count(), 5);
        // threads_sweep is the blocking node's alone.
        assert!(
            full.iter()
                .filter(|p| p.scenario == "threads_sweep")
                .all(|p| p.build == "blocking")
        );
        let p = full
            .iter()
            .find(|p| {
                p.scenario == "iamat_conns" && p.build == "blocking" && p.u("connections") == 1024
            })
            .expect("1024 point");
        assert_eq!(p.u("threads"), 1024);
    }

    #[test]
    fn every_point_names_a_scenario_of_the_table_in_table_order() {
        let builds: Vec<String> = BUILDS.iter().map(|s| (*s).to_owned()).collect();
        // Asked in another order, the plan still runs in table order.
        let scen = vec!["propagation".to_owned(), "iamat_herd".to_owned()];
        let points = plan(&builds, &scen, true);
        let order: Vec<&str> = points.iter().map(|p| p.scenario).collect();
        assert_eq!(order.first(), Some(&"iamat_herd"), "{order:?}");
        assert_eq!(order.last(), Some(&"propagation"), "{order:?}");
        assert!(points.iter().all(|p| find(p.scenario).is_some()));
        assert_eq!(names().len(), 11);
        assert!(find("cpu").is_some_and(|c| c.plan(&BUILDS, false).is_empty()));
    }
}
