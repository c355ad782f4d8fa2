//! "The paper's claims against what we measured": each claim of the seed
//! paper (CS131: Proxy Herd with Asyncio), which argued them without
//! measuring, next to the figures of the scenarios that test it, and a
//! verdict. A claim spans scenarios, so it lives here, not in one of them.

use std::fmt::Write as _;

use crate::builds::BUILDS;
use crate::report::query::Rows;
use crate::report::units::{lat, mb, num, rps};
use crate::rows::Row;
use crate::scenario::whatsat_latency::{self, WHATSAT_POOL};
use crate::scenario::{iamat_conns, idle_hoarders, memory};

pub fn section(md: &mut String, rows: &Rows) {
    let _ = writeln!(md, "## The paper's claims against what we measured\n");
    let _ = writeln!(
        md,
        "Claims quoted from the seed paper (\"CS131: Proxy Herd with Asyncio\"), \
         which argued them without measuring.\n"
    );
    let _ = writeln!(
        md,
        "| the paper's claim | what we measured | verdict |\n|---|---|---|"
    );
    asyncio_beats_a_synchronous_design(md, rows);
    a_thread_per_connection_costs_memory(md, rows);
    node_beats_asyncio_on_light_work(md, rows);
}

/// IAMAT throughput of `b` at 64 connections.
fn iamat64(rows: &Rows, b: &str) -> Option<f64> {
    rows.find(b, iamat_conns::NAME, &[("connections", 64.0)])
        .and_then(Row::throughput)
}

/// One comparison of asyncio with the blocking node: its text, and
/// whether asyncio won.
struct Bout {
    text: String,
    asyncio_won: bool,
}

/// IAMAT, WHATSAT with the slowest Places, and the active client beside
/// the most hoarders: asyncio against the blocking node.
fn asyncio_bouts(rows: &Rows) -> Vec<Bout> {
    let wl = rows.values(whatsat_latency::NAME, "latency_ms");
    let wc = rows.values(whatsat_latency::NAME, "connections");
    let (wl_top, wc_top) = (wl.last().copied(), wc.last().copied());
    let wt = |b: &str| -> Option<f64> {
        rows.find(
            b,
            whatsat_latency::NAME,
            &[("latency_ms", wl_top?), ("connections", wc_top?)],
        )?
        .throughput()
    };
    let hk = rows.values(idle_hoarders::NAME, "idle").last().copied();
    let hmax = |b: &str| -> Option<f64> {
        rows.find(b, idle_hoarders::NAME, &[("idle", hk?)])?
            .lg("/latency_us/max")
    };
    let mut bouts = Vec::new();
    if let (Some(a), Some(b)) = (iamat64(rows, "asyncio"), iamat64(rows, "blocking")) {
        bouts.push(Bout {
            text: format!(
                "IAMAT at 64 connections: asyncio {} vs blocking {} req/s",
                rps(Some(a)),
                rps(Some(b))
            ),
            asyncio_won: a > b,
        });
    }
    if let (Some(a), Some(b)) = (wt("asyncio"), wt("blocking")) {
        bouts.push(Bout {
            text: format!(
                "WHATSAT with {:.0} ms Places latency at {:.0} connections: asyncio {} vs blocking ({WHATSAT_POOL} threads) {} req/s",
                wl_top.unwrap_or(0.0),
                wc_top.unwrap_or(0.0),
                rps(Some(a)),
                rps(Some(b))
            ),
            asyncio_won: a > b,
        });
    }
    if let (Some(a), Some(b)) = (hmax("asyncio"), hmax("blocking")) {
        bouts.push(Bout {
            text: format!(
                "active client beside {:.0} idle hoarders, slowest answer: asyncio {} vs blocking {}",
                hk.unwrap_or(0.0),
                lat(Some(a)),
                lat(Some(b))
            ),
            asyncio_won: a < b,
        });
    }
    bouts
}

fn asyncio_beats_a_synchronous_design(md: &mut String, rows: &Rows) {
    let bouts = asyncio_bouts(rows);
    let wins = bouts.iter().filter(|b| b.asyncio_won).count();
    let losses = bouts.len() - wins;
    let verdict = match (wins, losses) {
        (0, 0) => "not measured",
        (_, 0) => "supported",
        (0, _) => "not supported",
        _ => {
            "partly: asyncio wins where a thread would wait (slow Places, idle clients) and loses on CPU-bound work"
        }
    };
    let text: Vec<String> = bouts.into_iter().map(|b| b.text).collect();
    let _ = writeln!(
        md,
        "| \"the performance of asyncio is much better than a synchronous counterpart\" (§3.2) | {} | {verdict} |",
        if text.is_empty() {
            "–".into()
        } else {
            text.join("; ")
        }
    );
}

fn a_thread_per_connection_costs_memory(md: &mut String, rows: &Rows) {
    let mk = rows
        .values(memory::NAME, "idle")
        .last()
        .copied()
        .filter(|k| *k > 0.0);
    let per_conn = |b: &str| -> Option<f64> {
        let k = mk?;
        let base = rows
            .find(b, memory::NAME, &[("idle", 0.0)])?
            .node_rss_kb()? as f64;
        let at = rows.find(b, memory::NAME, &[("idle", k)])?.node_rss_kb()? as f64;
        Some((at - base) / k)
    };
    let rss =
        |b: &str| -> Option<u64> { rows.find(b, memory::NAME, &[("idle", mk?)])?.node_rss_kb() };
    let mem_text: Vec<String> = BUILDS
        .iter()
        .filter_map(|b| {
            Some(format!(
                "{b} {} MB ({:.1} kB/conn)",
                mb(rss(b)),
                per_conn(b)?
            ))
        })
        .collect();
    let mem_verdict = match (per_conn("blocking"), per_conn("asyncio"), per_conn("node")) {
        (Some(b), Some(a), n) => {
            let lo = n.map_or(a, |n| a.min(n));
            if b > 2.0 * lo.max(1.0) {
                format!(
                    "supported: an idle connection costs the blocking node {b:.1} kB, more than twice the cheapest event loop's {lo:.1} kB"
                )
            } else {
                format!(
                    "not supported at this scale: an idle connection costs the blocking node {b:.1} kB against {lo:.1} kB for the cheapest event loop; past its fixed pool a connection is a queued socket, not a thread"
                )
            }
        }
        _ => "not measured".to_owned(),
    };
    let _ = writeln!(
        md,
        "| \"Java would implement the server herd using multithreading\" (§4), read as: a thread per connection costs memory per connection | {} | {mem_verdict} |",
        if mem_text.is_empty() {
            "–".into()
        } else {
            format!(
                "RSS with {:.0} idle connections: {}",
                mk.unwrap_or(0.0),
                mem_text.join(", ")
            )
        }
    );
}

fn node_beats_asyncio_on_light_work(md: &mut String, rows: &Rows) {
    let cpu64 = |b: &str| {
        rows.find(b, iamat_conns::NAME, &[("connections", 64.0)])
            .and_then(|r| r.cpu_ms_per_1000_requests)
    };
    let (node, asyncio) = (iamat64(rows, "node"), iamat64(rows, "asyncio"));
    let node_text = match (node, asyncio) {
        (Some(n), Some(a)) => format!(
            "IAMAT (light work) at 64 connections: node {} vs asyncio {} req/s; CPU per 1000 requests node {} ms vs asyncio {} ms",
            rps(Some(n)),
            rps(Some(a)),
            num(cpu64("node"), 1),
            num(cpu64("asyncio"), 1)
        ),
        _ => "–".into(),
    };
    let node_verdict = match (node, asyncio) {
        (Some(n), Some(a)) if n > a => "supported",
        (Some(_), Some(_)) => "not supported",
        _ => "not measured",
    };
    let _ = writeln!(
        md,
        "| \"When the functionalities of a web server are not intensive, node.js is a better choice then Python with asyncio\" (§5) | {node_text} | {node_verdict} |\n"
    );
}
