//! `iamat_herd`: the five-server herd of one build under an IAMAT closed
//! loop spread round-robin over all five; every update is also flooded to
//! the four others, so it measures the cost of flooding.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Result;
use serde_json::json;

use crate::builds::{BUILDS, TPC};
use crate::measure::{Ctx, Load};
use crate::point::{Point, with_threads};
use crate::report::page;
use crate::report::query::{Rows, errors_of};
use crate::report::units::{lat, num, rps};
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
        builds
            .iter()
            .filter(|b| **b != TPC)
            .map(|b| {
                let p = with_threads(b, json!({"connections": 64, "servers": 5}), 64);
                Point::new(b, NAME, p)
            })
            .collect()
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
                "errors",
                "CPU ms / 1000 req (5 servers)",
            ],
        );
        for b in BUILDS {
            if let Some(r) = rows.find(b, NAME, &[]) {
                page::row(
                    md,
                    &[
                        b.to_owned(),
                        rps(r.throughput()),
                        lat(r.lg("/latency_us/p50")),
                        lat(r.p99_us()),
                        errors_of(r).to_string(),
                        num(r.cpu_ms_per_1000_requests, 1),
                    ],
                );
            }
        }
        if let Some((b, r)) = rows.fastest(NAME, &[]) {
            let single = rows.find(b, iamat_conns::NAME, &[("connections", 64.0)]);
            let _ = writeln!(
                md,
                "\nThe herd of {b} served the most, {} req/s{}; the five servers share the \
                 machine's cores, so a herd on one machine measures the cost of flooding, not more \
                 capacity.\n",
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
}
