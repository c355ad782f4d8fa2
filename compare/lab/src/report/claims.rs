//! "The claims, re-judged": the seed paper's claims (CS131: Proxy Herd
//! with Asyncio, argued without measuring) and the classic ones of the
//! threads-versus-events argument, each quoted briefly or paraphrased
//! (and marked so) with its source and year, next to what this run
//! measured and a verdict computed from the rows: a side wins only when
//! the ranges of its repeats clear the other's. A claim spans scenarios,
//! so it lives here, not in one of them.

use std::fmt::Write as _;

use serde_json::Value;

use crate::report::compare::{self, Lead};
use crate::report::figures;
use crate::report::query::{Rows, Spread};
use crate::report::summary::{machine, per_connection};
use crate::report::units::{lat, num, rps, spread, thousands};
use crate::rows::Row;
use crate::scenario::whatsat_latency::{self, WHATSAT_POOL};
use crate::scenario::{iamat_conns, idle_hoarders, memory};

/// One line of the table.
struct Claim {
    claim: String,
    source: &'static str,
    measured: String,
    verdict: String,
}

pub fn section(md: &mut String, rows: &Rows, env: &Value) {
    let _ = writeln!(md, "## The claims, re-judged\n");
    let _ = writeln!(
        md,
        "The seed paper's claims, argued without measuring, and the classic claims of the \
         threads-versus-events argument. Each is quoted briefly or, marked _(paraphrase)_, \
         said in our words; the verdict is computed from this run's rows, measured on {}. A \
         side wins only when the ranges of its repeats clear the other's.\n",
        machine(env)
    );
    let _ = writeln!(
        md,
        "| claim | source | what this run measured | verdict |\n|---|---|---|---|"
    );
    for c in [
        asyncio_beats_a_synchronous_design(rows),
        a_thread_per_connection_costs_memory(rows),
        node_beats_asyncio_on_light_work(rows),
        ousterhout(rows, env),
        von_behren(rows),
        kegel(rows),
        tyma(rows),
    ] {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} |",
            c.claim,
            c.source,
            if c.measured.is_empty() {
                "–".to_owned()
            } else {
                c.measured
            },
            c.verdict
        );
    }
    md.push('\n');
}

/// IAMAT throughput of `b` at `c` connections, over repeats.
fn iamat(rows: &Rows, b: &str, c: f64) -> Option<Spread> {
    rows.spread(b, iamat_conns::NAME, &[("connections", c)], Row::throughput)
}

/// IAMAT at the reference connection count (64, else the most).
fn iamat_ref(rows: &Rows, b: &str) -> Option<(f64, Spread)> {
    let c = figures::iamat_reference_conns(rows)?;
    Some((c, iamat(rows, b, c)?))
}

/// "+12 %" of `a` over `b`.
fn pct(a: Spread, b: Spread) -> String {
    compare::percent_above(a, b).map_or("–".into(), |p| format!("{p:+.0} %"))
}

/// One comparison of asyncio with the blocking node: its text, and who
/// led.
struct Bout {
    text: String,
    lead: Lead,
}

/// IAMAT, WHATSAT with the slowest Places, and the active client beside
/// the most hoarders: asyncio (A) against the blocking node (B).
fn asyncio_bouts(rows: &Rows) -> Vec<Bout> {
    let mut bouts = Vec::new();
    if let (Some((c, a)), Some((_, b))) = (iamat_ref(rows, "asyncio"), iamat_ref(rows, "blocking"))
    {
        bouts.push(Bout {
            text: format!(
                "IAMAT at {c:.0} connections: asyncio {} vs blocking {} req/s",
                spread(Some(a), rps),
                spread(Some(b), rps)
            ),
            lead: compare::higher(a, b),
        });
    }
    if let Some((l, c)) = whatsat_heaviest(rows) {
        let at = |b: &str| whatsat_throughput(rows, b, l, c);
        if let (Some(a), Some(b)) = (at("asyncio"), at("blocking")) {
            bouts.push(Bout {
                text: format!(
                    "WHATSAT with {l:.0} ms Places latency at {c:.0} connections: asyncio {} vs \
                     blocking ({WHATSAT_POOL} threads) {} req/s",
                    spread(Some(a), rps),
                    spread(Some(b), rps)
                ),
                lead: compare::higher(a, b),
            });
        }
    }
    if let Some(k) = rows
        .values(idle_hoarders::NAME, "idle")
        .into_iter()
        .rfind(|k| {
            rows.find("blocking", idle_hoarders::NAME, &[("idle", *k)])
                .is_some()
        })
    {
        let at = |b: &str| {
            rows.spread(b, idle_hoarders::NAME, &[("idle", k)], |r| {
                r.lg("/latency_us/max")
            })
        };
        if let (Some(a), Some(b)) = (at("asyncio"), at("blocking")) {
            bouts.push(Bout {
                text: format!(
                    "active client beside {k:.0} idle hoarders, slowest answer: asyncio {} vs \
                     blocking {}",
                    spread(Some(a), lat),
                    spread(Some(b), lat)
                ),
                lead: compare::lower(a, b),
            });
        }
    }
    bouts
}

fn asyncio_beats_a_synchronous_design(rows: &Rows) -> Claim {
    let bouts = asyncio_bouts(rows);
    let count = |l: Lead| bouts.iter().filter(|b| b.lead == l).count();
    let (wins, losses) = (count(Lead::A), count(Lead::B));
    let verdict = match (bouts.len(), wins, losses) {
        (0, _, _) => "not measured".to_owned(),
        (n, w, 0) if w == n => "supported".to_owned(),
        (n, 0, l) if l == n => "not supported".to_owned(),
        (_, w, l) => format!(
            "partly: asyncio won {w} of {} comparisons and lost {l}; it wins where a thread \
             would wait (slow Places, idle clients) and loses on CPU-bound work",
            bouts.len()
        ),
    };
    Claim {
        claim: "\"the performance of asyncio is much better than a synchronous counterpart\""
            .into(),
        source: "Seed paper, \"CS131: Proxy Herd with Asyncio\", §3.2",
        measured: bouts
            .into_iter()
            .map(|b| b.text)
            .collect::<Vec<_>>()
            .join("; "),
        verdict,
    }
}

/// KiB per idle connection of the builds at the most idle connections.
fn memory_costs(rows: &Rows) -> Option<(f64, Vec<(&'static str, Spread)>)> {
    let k = *rows
        .values(memory::NAME, "idle")
        .last()
        .filter(|k| **k > 0.0)?;
    let costs: Vec<(&'static str, Spread)> = figures::report_builds()
        .into_iter()
        .filter_map(|b| Some((b, per_connection(rows, b, k)?)))
        .collect();
    (!costs.is_empty()).then_some((k, costs))
}

fn kib(s: Spread) -> String {
    spread(Some(s), |v| v.map_or("–".into(), |k| format!("{k:.1}")))
}

fn a_thread_per_connection_costs_memory(rows: &Rows) -> Claim {
    let claim = "\"Java would implement the server herd using multithreading\", read as: a thread \
                 per connection costs memory per connection"
        .to_owned();
    let source = "Seed paper, \"CS131: Proxy Herd with Asyncio\", §4";
    let Some((k, costs)) = memory_costs(rows) else {
        return Claim {
            claim,
            source,
            measured: String::new(),
            verdict: "not measured".into(),
        };
    };
    let measured = format!(
        "KiB per idle connection with {} held: {}",
        thousands(k),
        costs
            .iter()
            .map(|(b, s)| format!("{b} {}", kib(*s)))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let get = |b: &str| costs.iter().find(|(x, _)| *x == b).map(|(_, s)| *s);
    let cheapest = compare::best(
        costs
            .iter()
            .filter(|(b, _)| matches!(*b, "tokio" | "node" | "asyncio"))
            .copied(),
        false,
    );
    let verdict = match (get("blocking-tpc"), cheapest) {
        (Some(t), Some((e, es))) => match compare::lower(es, t) {
            Lead::A if t.min > 2.0 * es.max.max(0.1) => format!(
                "supported: a thread per connection cost {} KiB against {} KiB for {e}",
                kib(t),
                kib(es)
            ),
            Lead::A => format!(
                "partly: a thread per connection cost more ({} KiB against {} KiB for {e}), \
                 but not twice as much",
                kib(t),
                kib(es)
            ),
            _ => format!(
                "not supported: a thread per connection cost {} KiB against {} KiB for {e}",
                kib(t),
                kib(es)
            ),
        },
        (None, Some(_)) => "not measured: this run has no thread-per-connection row \
                            (`blocking-tpc`); the plain pool holds connections past its pool \
                            as sockets, not threads"
            .to_owned(),
        _ => "not measured".to_owned(),
    };
    Claim {
        claim,
        source,
        measured,
        verdict,
    }
}

fn node_beats_asyncio_on_light_work(rows: &Rows) -> Claim {
    let cpu = |b: &str, c: f64| {
        rows.spread(b, iamat_conns::NAME, &[("connections", c)], |r| {
            r.cpu_ms_per_1000_requests
        })
    };
    let (measured, verdict) = match (iamat_ref(rows, "node"), iamat_ref(rows, "asyncio")) {
        (Some((c, n)), Some((_, a))) => (
            format!(
                "IAMAT (light work) at {c:.0} connections: node {} vs asyncio {} req/s; CPU per \
                 1,000 requests node {} ms vs asyncio {} ms",
                spread(Some(n), rps),
                spread(Some(a), rps),
                spread(cpu("node", c), |v| num(v, 1)),
                spread(cpu("asyncio", c), |v| num(v, 1))
            ),
            match compare::higher(n, a) {
                Lead::A => format!("supported (node {})", pct(n, a)),
                Lead::B => format!("not supported (asyncio {})", pct(a, n)),
                Lead::Level => "level: the ranges overlap".to_owned(),
            },
        ),
        _ => (String::new(), "not measured".to_owned()),
    };
    Claim {
        claim: "\"When the functionalities of a web server are not intensive, node.js is a better \
                choice then Python with asyncio\""
            .into(),
        source: "Seed paper, \"CS131: Proxy Herd with Asyncio\", §5",
        measured,
        verdict,
    }
}

/// Throughput of `b` on one node at `k` server CPUs: the cores sweep,
/// else (for the CPUs the whole run was pinned to) `iamat_conns`.
fn on_cpus(rows: &Rows, env: &Value, b: &str, k: f64) -> Option<Spread> {
    if let Some(s) = figures::cores_spread(rows, b, k, false) {
        return Some(s);
    }
    let pinned = env.pointer("/pinning/server_cpus")?.as_str()?;
    if crate::builds::cpu_count(pinned) as f64 == k {
        iamat_ref(rows, b).map(|(_, s)| s)
    } else {
        None
    }
}

fn ousterhout(rows: &Rows, env: &Value) -> Claim {
    let mut measured = Vec::new();
    let mut verdict = Vec::new();
    // Events against threads on one CPU: tokio runs one event loop there.
    if let (Some(t), Some(b)) = (
        on_cpus(rows, env, "tokio", 1.0),
        on_cpus(rows, env, "blocking", 1.0),
    ) {
        measured.push(format!(
            "IAMAT on one server CPU: tokio (one event loop) {} vs blocking (a thread pool) {} \
             req/s",
            spread(Some(t), rps),
            spread(Some(b), rps)
        ));
        verdict.push(match compare::higher(t, b) {
            Lead::A => format!("on one CPU the event loop was faster ({})", pct(t, b)),
            Lead::B => format!("on one CPU the threads were faster ({})", pct(b, t)),
            Lead::Level => "on one CPU events and threads were level".to_owned(),
        });
    }
    // CPU concurrency: threads use added cores, one event loop cannot.
    let ks = figures::cores_measured(rows, false);
    if let (Some(k0), Some(k1)) = (ks.first().copied(), ks.last().copied())
        && k1 > k0
    {
        let g = |b: &str| {
            compare::times(
                figures::cores_spread(rows, b, k1, false)?,
                figures::cores_spread(rows, b, k0, false)?,
            )
        };
        if let (Some(gb), Some(gn)) = (g("blocking"), g("node")) {
            measured.push(format!(
                "from {k0:.0} to {k1:.0} CPUs blocking grew × {gb:.1}, node (one event loop) \
                 × {gn:.1}"
            ));
            verdict.push(if gb > gn {
                "threads used the added CPUs, one event loop did not: true CPU concurrency \
                 needs threads (or an event loop per CPU)"
                    .to_owned()
            } else {
                "one event loop kept up with the threads as CPUs were added".to_owned()
            });
        }
    }
    Claim {
        claim: "_(paraphrase)_ threads are hard to program correctly; for most purposes use \
                events, and threads only where true CPU concurrency is needed"
            .into(),
        source: "John Ousterhout, \"Why threads are a bad idea (for most purposes)\", invited \
                 talk, USENIX Annual Technical Conference, 1996",
        measured: measured.join("; "),
        verdict: if verdict.is_empty() {
            "not measured (and ease of programming is not something the lab measures)".into()
        } else {
            format!(
                "{}; ease of programming is not measured here",
                verdict.join("; ")
            )
        },
    }
}

fn von_behren(rows: &Rows) -> Claim {
    let name = iamat_conns::NAME;
    // The most connections at which the blocking node ran a thread per
    // connection (threads >= connections).
    let tpc_conns = rows
        .values(name, "connections")
        .into_iter()
        .rev()
        .find(|c| {
            rows.find("blocking", name, &[("connections", *c)])
                .and_then(|r| r.param("threads"))
                .is_some_and(|t| t >= *c)
        });
    let mut measured = Vec::new();
    let mut verdict = String::from("not measured");
    if let Some(c) = tpc_conns
        && let (Some(b), Some(t)) = (iamat(rows, "blocking", c), iamat(rows, "tokio", c))
    {
        measured.push(format!(
            "IAMAT at {} connections, one thread per connection: blocking {} vs tokio {} req/s",
            thousands(c),
            spread(Some(b), rps),
            spread(Some(t), rps)
        ));
        let at = thousands(c);
        verdict = match compare::higher(b, t) {
            Lead::A => format!("supported at {at} connections: threads led ({})", pct(b, t)),
            Lead::Level => format!("supported at {at} connections: threads matched events"),
            Lead::B => format!(
                "not supported at {at} connections: events led ({}), with the kernel's own \
                 threads rather than a thread package built for it",
                pct(t, b)
            ),
        };
    }
    if let Some((l, c)) = whatsat_heaviest(rows) {
        let at = |b: &str| whatsat_throughput(rows, b, l, c);
        if let (Some(tpc), Some(t)) = (at("blocking-tpc"), at("tokio")) {
            measured.push(format!(
                "WHATSAT ({l:.0} ms Places, {c:.0} connections): thread per connection {} vs \
                 tokio {} req/s",
                spread(Some(tpc), rps),
                spread(Some(t), rps)
            ));
        }
    }
    Claim {
        claim: "_(paraphrase)_ threads can match events at high concurrency; the trouble was \
                thread implementations, not the thread model"
            .into(),
        source: "Rob von Behren, Jeremy Condit, Eric Brewer, \"Why events are a bad idea (for \
                 high-concurrency servers)\", HotOS IX, 2003",
        measured: measured.join("; "),
        verdict,
    }
}

fn kegel(rows: &Rows) -> Claim {
    let k = rows
        .values(memory::NAME, "idle")
        .last()
        .copied()
        .filter(|k| *k > 0.0);
    let claim = "_(paraphrase)_ a server should be able to handle ten thousand clients at once; \
                 a thread per client is one way, weighed against its memory and scheduling cost"
        .to_owned();
    let source = "Dan Kegel, \"The C10K problem\", 1999";
    let Some(k) = k else {
        return Claim {
            claim,
            source,
            measured: String::new(),
            verdict: "not measured".into(),
        };
    };
    let fds = |b: &str, k: f64| {
        rows.find(b, memory::NAME, &[("idle", k)])?
            .servers
            .first()?
            .window
            .fds_max
    };
    let mut held = Vec::new();
    let mut short = Vec::new();
    let mut parts = Vec::new();
    for b in figures::report_builds() {
        let Some(r) = rows.find(b, memory::NAME, &[("idle", k)]) else {
            continue;
        };
        let rss = rows.spread(b, memory::NAME, &[("idle", k)], |r| {
            Some(r.node_rss_kb()? as f64 / 1024.0)
        });
        let accepted = fds(b, k)
            .zip(fds(b, 0.0))
            .map(|(a, z)| a.saturating_sub(z) as f64);
        let threads = r.servers.first().and_then(|s| s.window.threads_max);
        parts.push(format!(
            "{b} {} MiB, {} thread(s){}",
            spread(rss, |v| num(v, 1)),
            threads.map_or("–".into(), |t| t.to_string()),
            accepted.map_or(String::new(), |a| format!(", +{} fds", thousands(a)))
        ));
        match accepted {
            Some(a) if a >= 0.95 * k => held.push(b),
            Some(_) => short.push(b),
            None => {}
        }
    }
    let pool_note = if held
        .iter()
        .any(|b| matches!(*b, "blocking" | "blocking-parked"))
    {
        "; a fixed pool accepts them all but serves only as many at once as it has workers \
         (the parked pool: every quiet one waits off the workers)"
    } else {
        ""
    };
    let verdict = if k < 10_000.0 {
        format!(
            "not measured at ten thousand (the most held here: {})",
            thousands(k)
        )
    } else if held.is_empty() {
        "not supported here: no build held them all".to_owned()
    } else {
        format!(
            "supported: {} held all {} on one server{}{pool_note}",
            held.join(", "),
            thousands(k),
            if short.is_empty() {
                String::new()
            } else {
                format!("; {} did not", short.join(", "))
            }
        )
    };
    Claim {
        claim,
        source,
        measured: format!(
            "{} idle connections held: {}",
            thousands(k),
            parts.join("; ")
        ),
        verdict,
    }
}

fn tyma(rows: &Rows) -> Claim {
    let mut measured = Vec::new();
    let mut verdicts = Vec::new();
    let mut judge = |what: String, b: Spread, t: Spread| {
        measured.push(format!(
            "{what}: blocking {} vs tokio {} req/s",
            spread(Some(b), rps),
            spread(Some(t), rps)
        ));
        verdicts.push(match compare::higher(b, t) {
            Lead::A => format!(
                "{what}: supported, tokio {} below blocking",
                compare::percent_above(t, b).map_or("–".into(), |p| format!("{:.0} %", -p))
            ),
            Lead::B => format!("{what}: not supported, tokio {} above", pct(t, b)),
            Lead::Level => format!("{what}: level (ranges overlap)"),
        });
    };
    if let (Some((c, b)), Some((_, t))) = (iamat_ref(rows, "blocking"), iamat_ref(rows, "tokio")) {
        judge(format!("IAMAT, one node, {c:.0} connections"), b, t);
    }
    let ks = figures::cores_measured(rows, false);
    if let Some(k) = ks.last().copied()
        && let (Some(b), Some(t)) = (
            figures::cores_spread(rows, "blocking", k, false),
            figures::cores_spread(rows, "tokio", k, false),
        )
    {
        judge(format!("IAMAT, one node on {k:.0} CPUs"), b, t);
    }
    Claim {
        claim: "_(paraphrase)_ the old way is the better one: a server with a thread per \
                connection and blocking I/O outran one built on non-blocking I/O (Java NIO), \
                which was about 25 % slower"
            .into(),
        source: "Paul Tyma, \"Thousands of threads and blocking I/O\", 2008",
        measured: measured.join("; "),
        verdict: if verdicts.is_empty() {
            "not measured".into()
        } else {
            verdicts.join("; ")
        },
    }
}

/// The WHATSAT point with the most Places latency and the most
/// connections measured: `(latency_ms, connections)`.
fn whatsat_heaviest(rows: &Rows<'_>) -> Option<(f64, f64)> {
    let last = |param: &str| rows.values(whatsat_latency::NAME, param).last().copied();
    Some((last("latency_ms")?, last("connections")?))
}

/// A build's WHATSAT throughput at `latency_ms` and `connections`.
fn whatsat_throughput(
    rows: &Rows<'_>,
    build: &str,
    latency_ms: f64,
    connections: f64,
) -> Option<Spread> {
    rows.spread(
        build,
        whatsat_latency::NAME,
        &[("latency_ms", latency_ms), ("connections", connections)],
        Row::throughput,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rows::test_row as row;
    use serde_json::json;

    #[test]
    fn every_claim_has_a_source_and_a_computed_verdict() {
        let c = json!({"connections": 64, "threads": 64});
        let all = vec![
            row("blocking", iamat_conns::NAME, c.clone(), 1250.0),
            row("blocking", iamat_conns::NAME, c.clone(), 1300.0),
            row("tokio", iamat_conns::NAME, c.clone(), 1000.0),
            row("tokio", iamat_conns::NAME, c, 950.0),
        ];
        let env = json!({"cores": 2, "cpu_model": "AMD EPYC", "pinning": {"server_cpus": "1"}});
        let mut md = String::new();
        section(&mut md, &Rows { all: &all }, &env);
        for source in [
            "§3.2",
            "§4",
            "§5",
            "Ousterhout",
            "HotOS IX, 2003",
            "C10K",
            "Tyma",
        ] {
            assert!(md.contains(source), "no {source}: {md}");
        }
        assert!(md.contains("2-core AMD EPYC"), "{md}");
        // Tyma: blocking's whole range is above tokio's.
        assert!(md.contains("supported, tokio 24 % below blocking"), "{md}");
        // Von Behren: at 64 connections the pool was a thread per connection.
        assert!(
            md.contains("supported at 64 connections: threads led"),
            "{md}"
        );
        // Ousterhout on one CPU: the run was pinned to one.
        assert!(md.contains("on one CPU the threads were faster"), "{md}");
        assert!(!md.contains("NaN"));
        let mut empty = String::new();
        section(&mut empty, &Rows { all: &[] }, &Value::Null);
        assert_eq!(empty.matches("| not measured").count(), 7, "{empty}");
    }
}
