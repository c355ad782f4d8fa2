//! "Targets": what the blocking node (and tokio) set out to reach, each
//! against the rows that measure it and marked met, not met or not
//! measured. Targets span scenarios (IAMAT against the echo ceilings,
//! WHATSAT against threads / latency, propagation, hoarders), so they live
//! here, in one table.

use std::fmt::Write as _;

use serde_json::Value;

use crate::report::query::Rows;
use crate::report::units::{lat, met, num, ratio, rps};
use crate::rows::Row;
use crate::scenario::iamat_conns;
use crate::scenario::idle_hoarders::{self, HOARD_IDLE_MS, HOARD_POOL};
use crate::scenario::propagation::{self, prop_log_p, prop_p};
use crate::scenario::whatsat_latency::{self, WHATSAT_POOL};

pub fn section(md: &mut String, rows: &Rows) {
    let _ = writeln!(md, "## Targets\n");
    let _ = writeln!(md, "| target | measured | |\n|---|---|---|");
    echo_ratios(md, rows);
    whatsat_bounds(md, rows);
    propagation(md, rows);
    hoarders_below_the_pool(md, rows);
    hoarders_above_the_pool(md, rows);
    parked_hoarders(md, rows);
    md.push('\n');
}

fn echo_ratios(md: &mut String, rows: &Rows) {
    let at = |b: &str| rows.find(b, iamat_conns::NAME, &[("connections", 64.0)]);
    let (bl, et, tk, ek) = (
        at("blocking"),
        at("echo_threads"),
        at("tokio"),
        at("echo_tokio"),
    );
    let r1 = ratio(bl.and_then(Row::throughput), et.and_then(Row::throughput));
    let _ = writeln!(
        md,
        "| blocking IAMAT at 64 connections ≥ 0.8 × echo_threads throughput | {} vs {} req/s = {} | {} |",
        rps(bl.and_then(Row::throughput)),
        rps(et.and_then(Row::throughput)),
        num(r1, 2),
        met(r1.map(|r| r >= 0.8))
    );
    let r2 = ratio(bl.and_then(Row::p99_us), et.and_then(Row::p99_us));
    let _ = writeln!(
        md,
        "| blocking IAMAT p99 at 64 connections ≤ 2 × echo_threads p99 | {} vs {} = {} | {} |",
        lat(bl.and_then(Row::p99_us)),
        lat(et.and_then(Row::p99_us)),
        num(r2, 2),
        met(r2.map(|r| r <= 2.0))
    );
    let r3 = ratio(tk.and_then(Row::throughput), ek.and_then(Row::throughput));
    let _ = writeln!(
        md,
        "| tokio IAMAT at 64 connections ≥ 0.8 × echo_tokio throughput | {} vs {} req/s = {} | {} |",
        rps(tk.and_then(Row::throughput)),
        rps(ek.and_then(Row::throughput)),
        num(r3, 2),
        met(r3.map(|r| r >= 0.8))
    );
}

fn whatsat_bounds(md: &mut String, rows: &Rows) {
    let mut any_w = false;
    for r in rows
        .of(whatsat_latency::NAME)
        .iter()
        .filter(|r| r.ok() && r.build == "blocking")
    {
        let (Some(l), Some(c)) = (r.param("latency_ms"), r.param("connections")) else {
            continue;
        };
        if l <= 0.0 || c < f64::from(WHATSAT_POOL) {
            continue;
        }
        any_w = true;
        let bound = f64::from(WHATSAT_POOL) * 1000.0 / l;
        let got = r.throughput();
        let _ = writeln!(
            md,
            "| blocking WHATSAT, Places {l:.0} ms, {c:.0} connections ≥ 0.9 × threads / latency = 0.9 × {WHATSAT_POOL} / {l:.0} ms = {:.0} req/s | {} req/s ({} of the bound) | {} |",
            0.9 * bound,
            rps(got),
            num(ratio(got, Some(bound)), 2),
            met(got.map(|g| g >= 0.9 * bound))
        );
    }
    if !any_w {
        let _ = writeln!(
            md,
            "| blocking WHATSAT ≥ 0.9 × threads / latency (Places 100 ms) | – | not measured |"
        );
    }
}

fn propagation(md: &mut String, rows: &Rows) {
    for load in [0.0, 32.0] {
        let r = rows.find("blocking", propagation::NAME, &[("load_connections", load)]);
        let polled = r.and_then(|r| prop_p(r, "p99"));
        let logged = r.and_then(|r| prop_log_p(r, "p99"));
        let _ = writeln!(
            md,
            "| blocking herd propagation p99 (all servers) ≤ 1 ms, {} | {} by the servers' logs; {} as polling clients saw it | {} |",
            if load > 0.0 {
                "under a 32-connection IAMAT load"
            } else {
                "idle herd"
            },
            lat(logged),
            lat(polled),
            met(logged.map(|p| p <= 1000.0))
        );
    }
}

/// Below the pool size a hoarder takes a worker, but one is left for the
/// active client.
fn hoarders_below_the_pool(md: &mut String, rows: &Rows) {
    let base = rows.find("blocking", idle_hoarders::NAME, &[("idle", 0.0)]);
    let below: Vec<&Row> = rows
        .of(idle_hoarders::NAME)
        .into_iter()
        .filter(|r| r.ok() && r.build == "blocking")
        .filter(|r| {
            r.param("idle")
                .is_some_and(|k| k > 0.0 && k < f64::from(HOARD_POOL))
        })
        .collect();
    if below.is_empty() {
        let _ = writeln!(
            md,
            "| hoarders below the pool size ({HOARD_POOL}) do not delay the blocking node's active client | no point with 0 < K < {HOARD_POOL} in this run{} | not measured |",
            base.map_or(String::new(), |b| format!(
                " (K = 0: slowest answer {})",
                lat(b.lg("/latency_us/max"))
            ))
        );
    }
    for r in below {
        let answered = r
            .derived
            .get("answered_before_idle_timeout")
            .and_then(Value::as_bool)
            == Some(true);
        let limit = base
            .and_then(Row::p99_us)
            .map_or(1000.0, |p| (2.0 * p).max(1000.0));
        let ok = answered && r.p99_us().is_some_and(|p| p <= limit);
        let _ = writeln!(
            md,
            "| {:.0} hoarders (< pool {HOARD_POOL}) do not delay the blocking node's active client (answered before the idle timeout, p99 ≤ max(2 × the K = 0 p99, 1 ms) = {}) | p99 {}, slowest {} | {} |",
            r.param("idle").unwrap_or(0.0),
            lat(Some(limit)),
            lat(r.p99_us()),
            lat(r.lg("/latency_us/max")),
            met(Some(ok))
        );
    }
}

/// The parked pool (`blocking-parked`, `--threads 16`): however many quiet
/// connections are held, the active client is answered at once: p99 ≤ 10
/// ms and no answer as slow as an idle timeout.
fn parked_hoarders(md: &mut String, rows: &Rows) {
    for r in rows.of(idle_hoarders::NAME).iter().filter(|r| {
        r.ok()
            && r.build == "blocking-parked"
            && r.param("idle").is_some_and(|k| k >= f64::from(HOARD_POOL))
    }) {
        let answered = r
            .derived
            .get("answered_before_idle_timeout")
            .and_then(Value::as_bool)
            == Some(true);
        let ok = answered && r.p99_us().is_some_and(|p| p <= 10_000.0);
        let _ = writeln!(
            md,
            "| {:.0} quiet connections held, parked pool of {HOARD_POOL}: the active client's p99 ≤ 10 ms, no answer waits for an idle timeout | p99 {}, slowest {} | {} |",
            r.param("idle").unwrap_or(0.0),
            lat(r.p99_us()),
            lat(r.lg("/latency_us/max")),
            met(Some(ok))
        );
    }
}

/// Above the pool size, the idle timeout bounds the wait (documented in
/// README's limits table): the slowest answer within it plus 0.5 s.
fn hoarders_above_the_pool(md: &mut String, rows: &Rows) {
    for r in rows.of(idle_hoarders::NAME).iter().filter(|r| {
        r.ok()
            && r.build == "blocking"
            && r.param("idle").is_some_and(|k| k >= f64::from(HOARD_POOL))
    }) {
        let bound = HOARD_IDLE_MS as f64 * 1000.0 + 500_000.0;
        let slowest = r.lg("/latency_us/max");
        let _ = writeln!(
            md,
            "| {:.0} hoarders (≥ pool {HOARD_POOL}): the idle timeout bounds the blocking node's active client's wait (slowest answer ≤ {} + 0.5 s) | slowest {} | {} |",
            r.param("idle").unwrap_or(0.0),
            lat(Some(HOARD_IDLE_MS as f64 * 1000.0)),
            lat(slowest),
            met(slowest.map(|m| m <= bound))
        );
    }
}
