//! `cpu`: CPU milliseconds per 1,000 requests. It has no points of its
//! own: every row carries the figure (the servers' utime + stime over the
//! measured window, divided by the good answers), and this section lists
//! them per build.

use std::fmt::Write as _;
use std::path::Path;

use crate::builds::{BUILDS, ECHOES};
use crate::report::page;
use crate::report::query::Rows;
use crate::report::units::num;
use crate::rows::Row;
use crate::scenario::{Scenario, iamat_conns};

pub struct Cpu;

/// The scenario's name in rows, `--scenarios` and the report.
pub const NAME: &str = "cpu";

impl Scenario for Cpu {
    fn name(&self) -> &'static str {
        NAME
    }

    fn report(&self, dir: &Path, md: &mut String, rows: &Rows<'_>) {
        let _ = writeln!(md, "## 5. CPU per 1,000 requests (`cpu`)\n");
        page::para(
            md,
            "Derived in every row: the servers' utime + stime (from /proc/PID/stat, sampled every \
             100 ms and interpolated at the edges of the measured window) divided by the good \
             answers in that window. It counts the server processes only (for a herd, all five), \
             not the load generator or the Places stand-in.",
        );
        crate::report::figures::draw(dir, md, crate::report::figures::cpu_per_request(rows));
        let mut any = false;
        for b in BUILDS.iter().chain(ECHOES.iter()) {
            let list: Vec<&Row> = rows
                .all
                .iter()
                .filter(|r| r.ok() && r.build == *b && r.cpu_ms_per_1000_requests.is_some())
                .collect();
            if !list.is_empty() {
                any = true;
                build_table(md, b, &list);
            }
        }
        if !any {
            let _ = writeln!(md, "_No row with requests in this run._\n");
            return;
        }
        at_64_connections(md, rows);
    }
}

fn build_table(md: &mut String, build: &str, list: &[&Row]) {
    let _ = writeln!(md, "**{build}**\n");
    page::head(
        md,
        &[
            "scenario",
            "point",
            "CPU s",
            "good answers",
            "CPU ms / 1000 req",
        ],
    );
    for r in list {
        let ok = r.lg("/requests_ok").or_else(|| r.lg("/load/requests_ok"));
        page::row(
            md,
            &[
                r.scenario.clone(),
                r.point.clone(),
                num(r.cpu_seconds, 3),
                num(ok, 0),
                num(r.cpu_ms_per_1000_requests, 1),
            ],
        );
    }
    md.push('\n');
}

fn at_64_connections(md: &mut String, rows: &Rows<'_>) {
    let at64: Vec<String> = BUILDS
        .iter()
        .chain(ECHOES.iter())
        .filter_map(|b| {
            let v = rows
                .find(b, iamat_conns::NAME, &[("connections", 64.0)])?
                .cpu_ms_per_1000_requests?;
            Some(format!("{b} {v:.1} ms"))
        })
        .collect();
    if !at64.is_empty() {
        let _ = writeln!(
            md,
            "IAMAT at 64 connections cost, per 1,000 requests: {}. That is CPU time per unit of \
             work, so it compares builds even where their throughput was capped by the load \
             generator sharing the cores.\n",
            at64.join(", ")
        );
    }
}
