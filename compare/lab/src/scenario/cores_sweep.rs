//! `cores_sweep`: how each build scales with cores, where "threads use
//! every core, one event loop uses one" shows. The servers are pinned to
//! the first k CPUs (k = 1, 2, 4, 8, ... below the machine's count, then
//! every CPU, where the load generator shares them) and the load generator
//! to the others; per k, an IAMAT closed loop on 64 connections against one
//! node and against the five-server herd. tokio runs k runtime workers; the
//! blocking pools run 64 workers, as `iamat_conns` does at 64 connections.
//! Each point pins itself (its `server_cpus` / `loadgen_cpus` parameters,
//! read by `measure.rs`), whatever the run's `--server-cpus` says.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Result;
use serde_json::json;

use crate::builds::{BUILDS, TPC};
use crate::measure::{Ctx, Load, POINT_LOADGEN_CPUS, POINT_SERVER_CPUS};
use crate::point::{Point, with_threads};
use crate::report::query::Rows;
use crate::report::units::{num, rps, spread};
use crate::report::{figures, page};
use crate::rows::Row;
use crate::scenario::Scenario;

pub struct CoresSweep;

/// The scenario's name in rows, `--scenarios` and the report.
pub const NAME: &str = "cores_sweep";

/// Client connections of every point (and the blocking pool's size).
pub const CONNECTIONS: u64 = 64;

/// Builds the quick run sweeps (one node only): the two whose scaling the
/// story turns on.
const QUICK_BUILDS: [&str; 2] = ["blocking", "tokio"];

/// The server CPU counts swept on a machine of `cpus` CPUs: 1, 2, 4, ...
/// below `cpus`, then `cpus` itself (the load generator then shares).
pub fn core_counts(cpus: usize) -> Vec<usize> {
    let cpus = cpus.max(1);
    let mut ks: Vec<usize> = std::iter::successors(Some(1usize), |k| k.checked_mul(2))
        .take_while(|k| *k < cpus)
        .collect();
    ks.push(cpus);
    ks
}

/// A taskset list of CPUs `from..to` (to exclusive).
fn cpu_list(from: usize, to: usize) -> String {
    if to - from == 1 {
        from.to_string()
    } else {
        format!("{from}-{}", to - 1)
    }
}

/// Server and load generator CPU lists at k of `cpus` CPUs: the first k,
/// and the rest (every CPU when the servers take them all).
pub fn pinning(k: usize, cpus: usize) -> (String, String) {
    let server = cpu_list(0, k);
    let loadgen = if k < cpus {
        cpu_list(k, cpus)
    } else {
        cpu_list(0, cpus)
    };
    (server, loadgen)
}

/// The CPUs this machine lets the lab use.
fn machine_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// The points on a machine of `cpus` CPUs: per k, one node then (full
/// runs) the herd, every build but `blocking-tpc` (at 64 connections the
/// plain pool of 64 already is a thread per connection). Quick runs sweep
/// one node of [`QUICK_BUILDS`] only.
pub fn plan_for(builds: &[&'static str], quick: bool, cpus: usize) -> Vec<Point> {
    let servers: &[u64] = if quick { &[1] } else { &[1, 5] };
    let mut points = Vec::new();
    for k in core_counts(cpus) {
        let (server_cpus, loadgen_cpus) = pinning(k, cpus);
        for n in servers {
            for b in builds
                .iter()
                .filter(|b| **b != TPC && (!quick || QUICK_BUILDS.contains(b)))
            {
                let mut p = json!({
                    "cores": k,
                    "servers": n,
                    "connections": CONNECTIONS,
                    "shares_cpus_with_loadgen": k == cpus,
                    POINT_SERVER_CPUS: server_cpus,
                    POINT_LOADGEN_CPUS: loadgen_cpus,
                });
                if *b == "tokio" {
                    p["threads"] = json!(k);
                }
                points.push(Point::new(b, NAME, with_threads(b, p, CONNECTIONS)));
            }
        }
    }
    points
}

impl Scenario for CoresSweep {
    fn name(&self) -> &'static str {
        NAME
    }

    fn plan(&self, builds: &[&'static str], quick: bool) -> Vec<Point> {
        plan_for(builds, quick, machine_cpus())
    }

    fn herd_at(&self, point: &Point) -> bool {
        point.u("servers") == 5
    }

    fn load(&self, ctx: &mut Ctx<'_>) -> Result<Load> {
        ctx.closed_loop("iamat=1,whatsat=0", &[])
    }

    fn report(&self, dir: &Path, md: &mut String, rows: &Rows<'_>) {
        let heading = "## Throughput vs cores (`cores_sweep`)";
        if !page::section(md, heading, !rows.of(NAME).is_empty()) {
            return;
        }
        let ks = rows.values(NAME, "cores");
        let all = ks.last().copied().unwrap_or(1.0);
        let _ = writeln!(
            md,
            "The servers pinned to the first k CPUs (`taskset`), the load generator on the \
             others; at k = {all:.0}, every CPU of this machine, the load generator shares the \
             servers' CPUs, so that point understates what the servers could do alone. IAMAT \
             closed loop on 64 connections, against one node and against the five-server herd \
             (all five on the same k CPUs). tokio runs k runtime workers; the blocking pools run \
             64 workers (a thread per connection, so `blocking-tpc` is not swept apart); asyncio \
             and Node run one event loop whatever k is. A line that climbs with k is a build \
             that uses more cores; a flat one is bounded by one.\n"
        );
        // The same figures as the summary's (one version of each).
        for herd in [false, true] {
            figures::draw(dir, md, figures::cores_sweep(rows, herd));
        }
        table(md, rows, &ks);
    }
}

/// Per k and build: node and herd throughput, median (min–max) over the
/// repeats, and the node's CPU per 1,000 requests.
fn table(md: &mut String, rows: &Rows<'_>, ks: &[f64]) {
    page::head(
        md,
        &[
            "k",
            "build",
            "one node req/s",
            "herd req/s",
            "node CPU ms / 1000 req",
        ],
    );
    for k in ks {
        for b in BUILDS {
            let at = |n: f64| [("cores", *k), ("servers", n)];
            if rows.repeats(b, NAME, &[("cores", *k)]).is_empty() {
                continue;
            }
            page::row(
                md,
                &[
                    format!("{k:.0}"),
                    b.to_owned(),
                    spread(rows.spread(b, NAME, &at(1.0), Row::throughput), rps),
                    spread(rows.spread(b, NAME, &at(5.0), Row::throughput), rps),
                    spread(
                        rows.spread(b, NAME, &at(1.0), |r| r.cpu_ms_per_1000_requests),
                        |v| num(v, 1),
                    ),
                ],
            );
        }
    }
    md.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cores_double_below_the_machine_then_take_it_all() {
        assert_eq!(core_counts(1), [1]);
        assert_eq!(core_counts(2), [1, 2]);
        assert_eq!(core_counts(16), [1, 2, 4, 8, 16]);
        assert_eq!(core_counts(12), [1, 2, 4, 8, 12]);
    }

    #[test]
    fn each_k_pins_servers_to_the_first_cpus_and_the_loadgen_to_the_rest() {
        assert_eq!(pinning(1, 16), ("0".into(), "1-15".into()));
        assert_eq!(pinning(8, 16), ("0-7".into(), "8-15".into()));
        assert_eq!(pinning(15, 16), ("0-14".into(), "15".into()));
        // All of them: the load generator shares.
        assert_eq!(pinning(16, 16), ("0-15".into(), "0-15".into()));
        assert_eq!(pinning(2, 2), ("0-1".into(), "0-1".into()));
    }

    #[test]
    fn a_full_sweep_has_node_and_herd_points_pinned_per_k_with_k_tokio_workers() {
        let points = plan_for(&BUILDS, false, 16);
        // 5 k x node/herd x 5 builds (blocking-tpc left out).
        assert_eq!(points.len(), 5 * 2 * 5);
        assert!(points.iter().all(|p| p.build != TPC));
        let tokio8 = points
            .iter()
            .find(|p| p.build == "tokio" && p.u("cores") == 8 && p.u("servers") == 5)
            .expect("tokio herd at 8");
        assert_eq!(tokio8.u("threads"), 8);
        assert_eq!(tokio8.params[POINT_SERVER_CPUS], "0-7");
        assert_eq!(tokio8.params[POINT_LOADGEN_CPUS], "8-15");
        assert!(CoresSweep.herd_at(tokio8));
        let blocking1 = points
            .iter()
            .find(|p| p.build == "blocking" && p.u("cores") == 1 && p.u("servers") == 1)
            .expect("blocking node at 1");
        assert_eq!(blocking1.u("threads"), CONNECTIONS);
        assert!(!CoresSweep.herd_at(blocking1));
        let all: Vec<&Point> = points.iter().filter(|p| p.u("cores") == 16).collect();
        assert_eq!(all.len(), 2 * 5);
        assert!(
            all.iter()
                .all(|p| p.params["shares_cpus_with_loadgen"] == true)
        );
        assert!(points.iter().all(crate::measure::pins_itself));
    }

    #[test]
    fn a_quick_sweep_is_one_node_of_two_builds() {
        let points = plan_for(&BUILDS, true, 2);
        let got: Vec<(u64, &str)> = points
            .iter()
            .map(|p| (p.u("cores"), p.build.as_str()))
            .collect();
        assert_eq!(
            got,
            [(1, "blocking"), (1, "tokio"), (2, "blocking"), (2, "tokio")]
        );
        assert!(points.iter().all(|p| p.u("servers") == 1));
    }
}
