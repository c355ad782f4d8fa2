//! `iamat_herd`: the five-server herd of one build under an IAMAT closed
//! loop spread round-robin over all five; every update is also flooded to
//! the four others, so it measures the cost of flooding.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Result;
use serde_json::json;

use crate::builds::BUILDS;
use crate::measure::{Ctx, Load};
use crate::point::{Point, one_per_build_but_tpc};
use crate::report::page;
use crate::report::query::{Rows, errors_of};
use crate::report::units::{lat_s, num_s, rps_s};
use crate::rows::Row;
use crate::scenario::{Scenario, iamat_conns};

pub struct IamatHerd;

/// The scenario's name in rows, `--scenarios` and the report.
pub const NAME: &str = "iamat_herd";

impl Scenario for IamatHerd {
    fn name(&self) -> &'static str {
        NAME
    }

    /// Every build but `blocking-tpc` (its pool of 64 already is a
    /// thread per connection).
    fn plan(&self, builds: &[&'static str], _quick: bool) -> Vec<Point> {
        one_per_build_but_tpc(builds, NAME, &json!({"connections": 64, "servers": 5}), 64)
    }

    fn herd(&self) -> bool {
        true
    }

    fn load(&self, ctx: &mut Ctx<'_>) -> Result<Load> {
        ctx.closed_loop("iamat=1,whatsat=0", &[])
    }

    fn report(&self, _dir: &Path, md: &mut String, rows: &Rows<'_>) {
        if !page::section(
            md,
            "### The whole herd (`iamat_herd`)",
            !rows.of(NAME).is_empty(),
        ) {
            return;
        }
        page::para(
            md,
            "Five servers of one build in the default topology, IAMAT load spread round-robin over \
             all five, 64 connections. Every IAMAT is also flooded to the four other servers, so \
             the herd does about five times the cache work of one node per answered request.",
        );
        page::head(
            md,
            &[
                "build",
                "req/s",
                "p50",
                "p99",
                "errors (all repeats)",
                "CPU ms / 1000 req (5 servers)",
            ],
        );
        for b in BUILDS {
            let reps = rows.repeats(b, NAME, &[]);
            if reps.is_empty() {
                continue;
            }
            let of = |f: fn(&Row) -> Option<f64>| rows.spread(b, NAME, &[], f);
            page::row(
                md,
                &[
                    b.to_owned(),
                    rps_s(of(Row::throughput)),
                    lat_s(of(|r| r.lg("/latency_us/p50"))),
                    lat_s(of(Row::p99_us)),
                    reps.iter().map(|r| errors_of(r)).sum::<f64>().to_string(),
                    num_s(of(|r| r.cpu_ms_per_1000_requests)),
                ],
            );
        }
        if let Some((b, s)) = rows.fastest(NAME, &[]) {
            let single = rows.spread(
                b,
                iamat_conns::NAME,
                &[("connections", 64.0)],
                Row::throughput,
            );
            let _ = writeln!(
                md,
                "\nThe herd of {b} served the most, {} req/s{}{}; the five servers share \
                 the machine's cores, so a herd on one machine measures the cost of flooding, not \
                 more capacity.\n",
                rps_s(Some(s)),
                single.map_or(String::new(), |one| format!(
                    " against {} req/s for one {b} node",
                    rps_s(Some(one))
                )),
                rows.medians_note(NAME)
            );
        }
    }
}
