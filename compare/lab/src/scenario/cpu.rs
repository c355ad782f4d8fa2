//! `cpu`: CPU milliseconds per 1,000 requests. It has no points of its
//! own: every row carries the figure (the servers' utime + stime over the
//! measured window, divided by the good answers), and this section lists
//! them per build.

use std::fmt::Write as _;
use std::path::Path;

use crate::builds::{BUILDS, ECHOES};
use crate::report::page;
use crate::report::query::{Rows, spread_of};
use crate::report::units::{num_s, whole_s};
use crate::rows::Row;
use crate::scenario::{self, Scenario, iamat_conns};

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
            let points: Vec<Vec<&Row>> = scenario::ALL
                .iter()
                .flat_map(|sc| rows.points(sc.name()))
                .filter(|reps| reps[0].build == *b)
                .map(|reps| {
                    reps.into_iter()
                        .filter(|r| r.cpu_ms_per_1000_requests.is_some())
                        .collect::<Vec<_>>()
                })
                .filter(|reps| !reps.is_empty())
                .collect();
            if !points.is_empty() {
                any = true;
                build_table(md, b, &points);
            }
        }
        if !any {
            let _ = writeln!(md, "_No row with requests in this run._\n");
            return;
        }
        at_64_connections(md, rows);
    }
}

/// A build's points (each with its repeats): medians over the repeats,
/// with their ranges.
fn build_table(md: &mut String, build: &str, points: &[Vec<&Row>]) {
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
    for reps in points {
        let of = |f: fn(&Row) -> Option<f64>| spread_of(reps.iter().copied(), f);
        page::row(
            md,
            &[
                reps[0].scenario.clone(),
                reps[0].point.clone(),
                num_s(of(|r| r.cpu_seconds)),
                whole_s(of(|r| {
                    r.lg("/requests_ok").or_else(|| r.lg("/load/requests_ok"))
                })),
                num_s(of(|r| r.cpu_ms_per_1000_requests)),
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
            let v = rows.spread(b, iamat_conns::NAME, &[("connections", 64.0)], |r| {
                r.cpu_ms_per_1000_requests
            })?;
            Some(format!("{b} {} ms", num_s(Some(v))))
        })
        .collect();
    if !at64.is_empty() {
        let _ = writeln!(
            md,
            "IAMAT at 64 connections cost, per 1,000 requests: {}{}. That is CPU time per unit of work, so it compares builds even where \
             their throughput was capped by the load generator sharing the cores.\n",
            at64.join(", "),
            rows.medians_note(iamat_conns::NAME)
        );
    }
}
