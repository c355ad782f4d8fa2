//! Page one of report.md: "when does blocking win, when does async win,
//! and why", in a few sentences whose figures come from the rows (median
//! and min–max over repeats), each backed by a figure: IAMAT throughput vs
//! connections, WHATSAT p99 vs Places latency, the active client beside
//! idle connections, memory per connection, throughput vs cores. A
//! scenario or build a run did not measure is left out of the sentences
//! (or named "not run"), never printed as a blank figure.

use std::fmt::Write as _;
use std::path::Path;

use serde_json::Value;

use crate::report::compare::{self, Lead};
use crate::report::figures::{self, Figure};
use crate::report::query::{Rows, Spread};
use crate::report::units::{lat, num, rps, spread, thousands};
use crate::rows::Row;
use crate::scenario::idle_hoarders::{self, HOARD_IDLE_MS, HOARD_POOL};
use crate::scenario::whatsat_latency::{self, WHATSAT_POOL};
use crate::scenario::{iamat_conns, memory};

/// The open-loop headline scenario (latency from the intended send time).
pub const IAMAT_OPEN: &str = "iamat_open";

/// The event-loop builds, tokio first (the like-for-like rival of the
/// blocking node: same language, same protocol code).
const ASYNC: [&str; 3] = ["tokio", "node", "asyncio"];

/// Who won one situation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Winner {
    Blocking,
    Async,
    Level,
}

/// One situation of the summary and its outcome.
struct Finding {
    situation: &'static str,
    winner: Winner,
    /// Why, in a clause, when the outcome is the one the clause explains.
    why: Option<&'static str>,
}

impl Finding {
    /// A finding whose `why` is said only when `winner` is `explained`.
    fn new(
        situation: &'static str,
        winner: Winner,
        explained: &[Winner],
        why: &'static str,
    ) -> Finding {
        Finding {
            situation,
            winner,
            why: explained.contains(&winner).then_some(why),
        }
    }
}

fn winner(lead: Lead) -> Winner {
    match lead {
        Lead::A => Winner::Blocking,
        Lead::B => Winner::Async,
        Lead::Level => Winner::Level,
    }
}

/// The machine the run measured, in words.
pub fn machine(env: &Value) -> String {
    let cores = env.get("cores").and_then(Value::as_u64);
    let cpu = env.get("cpu_model").and_then(Value::as_str);
    let mut s = match (cores, cpu) {
        (Some(c), Some(m)) => format!("a {c}-core {m}"),
        (Some(c), None) => format!("a {c}-core machine"),
        (None, Some(m)) => format!("a {m}"),
        (None, None) => "the machine of this run".to_owned(),
    };
    let pin = |k: &str| {
        env.pointer(&format!("/pinning/{k}"))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    if let Some(sc) = pin("server_cpus") {
        let _ = write!(s, " (one-node servers on CPU {sc}");
        if let Some(lc) = pin("loadgen_cpus") {
            let _ = write!(s, ", the load generator on CPU {lc}");
        }
        s.push(')');
    }
    s
}

/// "a, b and c".
fn and_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// "+12 %" / "-8 %", or "" when the ratio is not defined.
fn pct(a: Spread, b: Spread) -> String {
    compare::percent_above(a, b).map_or(String::new(), |p| format!("{p:+.0} %"))
}

/// A memory figure over repeats, KiB with one decimal.
fn kib(s: Option<Spread>) -> String {
    spread(s, |v| v.map_or("–".into(), |k| format!("{k:.1} KiB")))
}

/// Who won `found`, blocking against the async build `rival`, in words.
fn verdict_against_async(found: Option<&Finding>, rival: Option<&str>) -> String {
    match (found, rival) {
        (Some(f), Some(a)) => match f.winner {
            Winner::Async => format!("{a} and the event loops won"),
            Winner::Blocking => "blocking won".to_owned(),
            Winner::Level => format!("blocking and {a} were level"),
        },
        _ => "no comparison in this run".to_owned(),
    }
}

/// The first of `builds` that has a figure, with it.
fn first_of<'a>(
    builds: &[&'a str],
    figure: impl Fn(&str) -> Option<Spread>,
) -> Option<(&'a str, Spread)> {
    builds.iter().find_map(|b| Some((*b, figure(b)?)))
}

/// Writes the summary section.
pub fn section(dir: &Path, md: &mut String, rows: &Rows<'_>, env: &Value) {
    let _ = writeln!(
        md,
        "## Summary: when does blocking win, when does async win, and why\n"
    );
    let _ = writeln!(
        md,
        "Measured on {}. Every figure is the median of a point's repeats with their range \
         (min–max) in brackets when there was more than one; a build leads only when the ranges \
         do not overlap. The builds: `blocking` is the herd's node with a fixed pool of worker \
         threads, each serving one connection at a time; `blocking-parked` the same pool with \
         quiet connections parked off the workers; `blocking-tpc` a thread per connection; \
         `tokio`, `node` and `asyncio` serve every connection from event loops (tokio: one per \
         server CPU; Node and asyncio: one).\n",
        machine(env)
    );
    if env.get("mode").and_then(Value::as_str) == Some("quick") {
        let _ = writeln!(
            md,
            "_A quick run: one short repeat per point, a check that everything runs, not a \
             measurement to quote._\n"
        );
    }
    let mut found = Vec::new();
    found.extend(light_work(md, rows));
    figure(
        dir,
        md,
        "1",
        figures::iamat_throughput(rows),
        iamat_conns::NAME,
        "IAMAT throughput against connections on one node. Dashed: the load generator's own \
         echo servers, the loopback limit. Points are medians, bars the range over repeats.",
    );
    found.extend(waiting(md, rows));
    figure(
        dir,
        md,
        "2",
        figures::whatsat_p99(rows),
        whatsat_latency::NAME,
        "WHATSAT p99 latency against the Places stand-in's latency, a request that timed out \
         counted as the load generator's timeout: a blocking worker waits out every Places call, \
         and the connections without a worker wait until they give up.",
    );
    found.extend(idle(md, rows));
    figure(
        dir,
        md,
        "3",
        figures::hoarders(rows),
        idle_hoarders::NAME,
        "The active client's slowest answer against the idle connections held. The vertical line \
         is the blocking pool's size: the cliff is there (points, not a slope).",
    );
    found.extend(memory_per_connection(md, rows));
    figure(
        dir,
        md,
        "4",
        figures::memory(rows),
        memory::NAME,
        "Resident memory against idle connections held; the slope is the cost of a connection.",
    );
    found.extend(cores(md, rows));
    figure(
        dir,
        md,
        "5",
        figures::cores_sweep(rows, false),
        figures::CORES_SWEEP,
        "IAMAT throughput against the number of server CPUs, one node.",
    );
    if let Some(herd) = figures::cores_sweep(rows, true) {
        figure(
            dir,
            md,
            "5b",
            Some(herd),
            figures::CORES_SWEEP,
            "The same on the five-server herd.",
        );
    }
    in_short(md, &found, env);
}

/// Writes figure `n` with its caption, or says its scenario was not run.
fn figure(dir: &Path, md: &mut String, n: &str, f: Option<Figure>, scenario: &str, caption: &str) {
    match f {
        Some(f) => {
            if figures::draw(dir, md, Some(f)) {
                let _ = writeln!(md, "_Figure {n}. {caption}_\n");
            }
        }
        None => {
            let _ = writeln!(md, "_Figure {n} (`{scenario}`): not run in this run._\n");
        }
    }
}

/// IAMAT: short CPU work on busy connections.
fn light_work(md: &mut String, rows: &Rows<'_>) -> Vec<Finding> {
    let name = iamat_conns::NAME;
    let Some(c) = figures::iamat_reference_conns(rows) else {
        return Vec::new();
    };
    let at = |b: &str, c: f64| rows.spread(b, name, &[("connections", c)], Row::throughput);
    let parts: Vec<String> = figures::report_builds()
        .into_iter()
        .filter_map(|b| Some(format!("{b} {} req/s", spread(Some(at(b, c)?), rps))))
        .collect();
    if parts.is_empty() {
        return Vec::new();
    }
    let duel = first_of(&["blocking", "blocking-parked"], |b| at(b, c))
        .zip(first_of(&ASYNC, |b| at(b, c)));
    let (verdict, found) = match duel {
        Some(((b, bs), (a, as_))) => {
            let w = winner(compare::higher(bs, as_));
            let v = match w {
                Winner::Blocking => format!("{b} won ({} against {a})", pct(bs, as_)),
                Winner::Async => format!("{a} won ({} against {b})", pct(as_, bs)),
                Winner::Level => format!("{b} and {a} were level (their ranges overlap)"),
            };
            (
                v,
                Some(Finding::new(
                    "short requests on busy connections (IAMAT)",
                    w,
                    &[Winner::Blocking, Winner::Level],
                    "where each request is a little CPU work on a busy connection, no thread \
                     is left waiting, so a pool keeps up",
                )),
            )
        }
        None => (
            "no blocking build and event loop to compare".to_owned(),
            None,
        ),
    };
    let cpu: Vec<String> = figures::report_builds()
        .into_iter()
        .filter_map(|b| {
            let s = rows.spread(b, name, &[("connections", c)], |r| {
                r.cpu_ms_per_1000_requests
            })?;
            // ms per 1,000 requests is µs per request.
            Some(format!("{b} {} µs", spread(Some(s), |v| num(v, 0))))
        })
        .collect();
    let _ = write!(
        md,
        "- **Short requests on busy connections (IAMAT, one node, {c:.0} connections): {verdict}.** \
         {}. ",
        and_list(&parts)
    );
    if !cpu.is_empty() {
        let pool_kept_up = found
            .as_ref()
            .is_some_and(|f| matches!(f.winner, Winner::Blocking | Winner::Level));
        let _ = write!(
            md,
            "An IAMAT costs little CPU (per request: {}){}; Node and asyncio do all of it on one \
             thread of a slower runtime. ",
            and_list(&cpu),
            if pool_kept_up {
                ", so a thread that holds a busy connection is seldom left waiting, and the pool \
                 keeps up with tokio's event loops"
            } else {
                ""
            }
        );
    }
    let many = most_connections(md, rows, c);
    open_loop(md, rows);
    md.push_str("\n\n");
    found.into_iter().chain(many).collect()
}

/// The same comparison at the most connections, where the blocking pool
/// runs as many threads as its plan gives it there (a thread per
/// connection, up to its cap).
fn most_connections(md: &mut String, rows: &Rows<'_>, c: f64) -> Option<Finding> {
    let name = iamat_conns::NAME;
    let top = rows.values(name, "connections").last().copied()?;
    if top == c {
        return None;
    }
    let at = |b: &str| rows.spread(b, name, &[("connections", top)], Row::throughput);
    let (b, t) = (at("blocking")?, at("tokio")?);
    let threads = rows
        .find("blocking", name, &[("connections", top)])
        .and_then(|r| r.param("threads"));
    let pool = match threads {
        Some(n) if n >= top => format!(
            " (the blocking node then ran a thread per connection, {} threads sharing the \
             server's CPUs, against tokio's one worker per CPU)",
            thousands(n)
        ),
        Some(n) => format!(" (the blocking pool then had {} threads)", thousands(n)),
        None => String::new(),
    };
    let w = winner(compare::higher(b, t));
    let lead = match w {
        Winner::Blocking => format!("blocking led by {}", pct_abs(b, t)),
        Winner::Async => format!("tokio led by {}", pct_abs(t, b)),
        Winner::Level => "level".to_owned(),
    };
    let _ = write!(
        md,
        "At {} connections{pool}: blocking {}, tokio {} req/s ({lead}). ",
        thousands(top),
        spread(Some(b), rps),
        spread(Some(t), rps)
    );
    Some(Finding::new(
        "short requests on the most connections",
        w,
        &[Winner::Async],
        "with a thread for each of that many connections the threads outnumber the cores many \
         times over, and the event loops pull ahead",
    ))
}

/// "204 %": how much larger `a`'s median is than `b`'s.
fn pct_abs(a: Spread, b: Spread) -> String {
    compare::percent_above(a, b).map_or(String::new(), |p| format!("{:.0} %", p.abs()))
}

/// The open-loop headline latency, where the run measured it.
fn open_loop(md: &mut String, rows: &Rows<'_>) {
    let parts: Vec<String> = figures::report_builds()
        .into_iter()
        .filter_map(|b| {
            let s = Spread::of(
                rows.of(IAMAT_OPEN)
                    .into_iter()
                    .filter(|r| r.ok() && r.build == *b)
                    .filter_map(Row::p99_us),
            )?;
            Some(format!("{b} {}", spread(Some(s), lat)))
        })
        .collect();
    if !parts.is_empty() {
        let _ = write!(
            md,
            "In the open loop, at a fixed fraction of each build's own capacity and timed from \
             each request's intended send time (the headline latency: no coordinated omission), \
             p99 was {}. ",
            and_list(&parts)
        );
    }
}

/// WHATSAT with the slowest Places: requests that wait.
fn waiting(md: &mut String, rows: &Rows<'_>) -> Option<Finding> {
    let name = whatsat_latency::NAME;
    let l = *rows
        .values(name, "latency_ms")
        .iter()
        .rfind(|l| **l > 0.0)?;
    let c = *rows.values(name, "connections").last()?;
    let want = [("latency_ms", l), ("connections", c)];
    let tp = |b: &str| rows.spread(b, name, &want, Row::throughput);
    // Timed-out requests count (as the timeout): a fixed pool's starved
    // connections are its slowest requests, not missing ones.
    let p99 = |b: &str| rows.spread(b, name, &want, Row::p99_counting_timeouts_us);
    let timeouts = |b: &str| rows.spread(b, name, &want, |r| Some(r.timeouts()));
    let figures_of = |b: &str| -> Option<String> {
        let starved = timeouts(b)
            .filter(|t| t.median > 0.0)
            .map_or(String::new(), |t| {
                format!(
                    " ({} requests a run timed out: connections that never got a worker)",
                    spread(Some(t), |v| num(v, 0))
                )
            });
        Some(format!(
            "{} req/s with p99 {}{starved}",
            spread(Some(tp(b)?), rps),
            spread(Some(p99(b)?), lat)
        ))
    };
    let say = |b: &str| Some(format!("{b} {}", figures_of(b)?));
    let bound = f64::from(WHATSAT_POOL) * 1000.0 / l;
    // Judged on throughput: in a closed loop, a request that queues for a
    // worker is also one the client did not send yet (the p99 hides it).
    let duel = tp("blocking").zip(first_of(&ASYNC, tp));
    let found = duel.map(|(b, (_, a))| {
        Finding::new(
            "requests that wait on another service (WHATSAT)",
            winner(compare::higher(b, a)),
            &[Winner::Async],
            "where a request waits for another service its thread waits with it, and a fixed \
             pool runs out of threads while an event loop does not",
        )
    });
    let verdict = verdict_against_async(found.as_ref(), duel.map(|(_, (a, _))| a));
    let others: Vec<String> = ASYNC.iter().filter_map(|b| say(b)).collect();
    let _ = write!(
        md,
        "- **Requests that wait on another service (WHATSAT, {l:.0} ms of Places latency, \
         {c:.0} connections): {verdict}.** "
    );
    if let Some(b) = figures_of("blocking") {
        let _ = write!(
            md,
            "The blocking pool of {WHATSAT_POOL} threads answered {b}: a WHATSAT holds its \
             worker for the whole Places call, so the pool cannot pass threads / latency = \
             {bound:.0} req/s and the other connections queue behind it. "
        );
    }
    if !others.is_empty() {
        let _ = write!(
            md,
            "An event loop holds nothing while it waits: {}. ",
            and_list(&others)
        );
    }
    if let Some(t) = figures_of("blocking-tpc") {
        let _ = write!(
            md,
            "With a thread per connection (`blocking-tpc`) the pool limit goes: {t}. "
        );
    }
    md.push_str("\n\n");
    found
}

/// The active client beside idle connections (hoarders).
fn idle(md: &mut String, rows: &Rows<'_>) -> Option<Finding> {
    let name = idle_hoarders::NAME;
    let ks = rows.values(name, "idle");
    // The most hoarders the plain pool was measured with, else the most.
    let k = ks
        .iter()
        .rev()
        .find(|k| rows.find("blocking", name, &[("idle", **k)]).is_some())
        .or(ks.last())
        .copied()?;
    let slowest = |b: &str| rows.spread(b, name, &[("idle", k)], |r| r.lg("/latency_us/max"));
    let say = |b: &str| Some(format!("{b} {}", spread(Some(slowest(b)?), lat)));
    let others: Vec<String> = [
        "tokio",
        "node",
        "asyncio",
        "blocking-parked",
        "blocking-tpc",
    ]
    .iter()
    .filter_map(|b| say(b))
    .collect();
    let duel = slowest("blocking").zip(first_of(&ASYNC, slowest));
    let found = duel.map(|(b, (_, a))| {
        Finding::new(
            "an active client beside idle connections",
            winner(compare::lower(b, a)),
            &[Winner::Async],
            "where connections sit idle, a plain pool's workers sit with them",
        )
    });
    let verdict = verdict_against_async(found.as_ref(), duel.map(|(_, (a, _))| a));
    let _ = write!(
        md,
        "- **An active client beside {} idle connections: {verdict}.** ",
        thousands(k)
    );
    if let Some(b) = slowest("blocking") {
        if k >= f64::from(HOARD_POOL) {
            let _ = write!(
                md,
                "The plain pool of {HOARD_POOL} threads made its active client wait up to {}: \
                 every worker sat with an idle connection until the {:.0} s idle timeout closed \
                 it. ",
                spread(Some(b), lat),
                HOARD_IDLE_MS as f64 / 1000.0
            );
        } else {
            let _ = write!(
                md,
                "Below its pool size of {HOARD_POOL} the plain pool kept a worker free: its \
                 active client's slowest answer was {}. ",
                spread(Some(b), lat)
            );
        }
    }
    if !others.is_empty() {
        let _ = write!(
            md,
            "Slowest answers elsewhere: {}. An event loop, or a pool that parks quiet \
             connections on one poller thread (`blocking-parked`), keeps every worker for the \
             connections that talk. ",
            and_list(&others)
        );
    }
    md.push_str("\n\n");
    found
}

/// KiB per idle connection of `b` at `k` over its empty RSS: from the
/// medians, with the widest range the repeats allow.
pub fn per_connection(rows: &Rows<'_>, b: &str, k: f64) -> Option<Spread> {
    if k <= 0.0 {
        return None;
    }
    let rss = |k: f64| {
        rows.spread(b, memory::NAME, &[("idle", k)], |r| {
            Some(r.node_rss_kb()? as f64)
        })
    };
    let (at, base) = (rss(k)?, rss(0.0)?);
    Some(Spread {
        median: (at.median - base.median) / k,
        min: (at.min - base.max) / k,
        max: (at.max - base.min) / k,
        n: at.n.min(base.n),
    })
}

/// Memory per idle connection.
fn memory_per_connection(md: &mut String, rows: &Rows<'_>) -> Option<Finding> {
    let k = *rows
        .values(memory::NAME, "idle")
        .last()
        .filter(|k| **k > 0.0)?;
    let parts: Vec<String> = figures::report_builds()
        .into_iter()
        .filter_map(|b| {
            let s = per_connection(rows, b, k)?;
            let threads = rows
                .find(b, memory::NAME, &[("idle", k)])
                .and_then(|r| r.servers.first()?.window.threads_max)
                .map_or(String::new(), |t| {
                    format!(", {t} thread{}", if t == 1 { "" } else { "s" })
                });
            Some(format!("{b} {}{threads}", kib(Some(s))))
        })
        .collect();
    if parts.is_empty() {
        return None;
    }
    // Only a thread per connection says what a thread costs: the plain
    // pool holds the connections past its pool as sockets.
    let tpc = per_connection(rows, "blocking-tpc", k);
    let duel = tpc.zip(first_of(&ASYNC, |b| per_connection(rows, b, k)));
    let found = duel.map(|(b, (_, a))| {
        Finding::new(
            "memory per idle connection",
            winner(compare::lower(b, a)),
            &[Winner::Async],
            "every thread costs memory an event loop does not spend",
        )
    });
    let verdict = match (&found, duel) {
        (Some(f), Some((b, (a, aspread)))) => match f.winner {
            Winner::Async => format!(
                "{a} was cheaper{}",
                compare::times(b, aspread).map_or(String::new(), |x| format!(
                    ": a thread per connection cost {x:.1} times as much"
                ))
            ),
            Winner::Blocking => "a thread per connection was cheaper".to_owned(),
            Winner::Level => "level".to_owned(),
        },
        _ => "not judged in this run (no thread-per-connection row)".to_owned(),
    };
    let _ = write!(
        md,
        "- **Memory per connection ({} idle connections held): {verdict}.** Each connection \
         cost, over the empty server's resident memory: {}. ",
        thousands(k),
        and_list(&parts)
    );
    if tpc.is_some() {
        md.push_str(
            "A thread per connection pays for a thread (the stack pages it touched and the \
             kernel's task) on top of the socket; an event loop pays for the socket and a few \
             buffers. ",
        );
    } else {
        md.push_str(
            "Thread per connection (`blocking-tpc`) was not measured in this run; the plain \
             pool's figure is not a thread's cost, since connections past its pool wait as \
             sockets, without a thread. ",
        );
    }
    md.push_str("\n\n");
    found
}

/// Throughput against server cores.
fn cores(md: &mut String, rows: &Rows<'_>) -> Option<Finding> {
    let ks = figures::cores_measured(rows, false);
    let (Some(k0), Some(k1)) = (ks.first().copied(), ks.last().copied()) else {
        let _ = writeln!(
            md,
            "- **More cores:** the cores sweep (`{}`) was not run in this run.\n",
            figures::CORES_SWEEP
        );
        return None;
    };
    let at = |b: &str, k: f64| figures::cores_spread(rows, b, k, false);
    let growth: Vec<String> = figures::report_builds()
        .into_iter()
        .filter_map(|b| {
            let (a, z) = (at(b, k0)?, at(b, k1)?);
            Some(format!(
                "{b} {} → {} req/s (× {})",
                spread(Some(a), rps),
                spread(Some(z), rps),
                num(compare::times(z, a), 1)
            ))
        })
        .collect();
    let duel = at("blocking", k1).zip(at("tokio", k1));
    let found = duel.map(|(b, t)| {
        Finding::new(
            "using more cores",
            winner(compare::higher(b, t)),
            &[Winner::Blocking, Winner::Level],
            "threads use every core they are given",
        )
    });
    let verdict = match (&found, duel) {
        (Some(f), Some((b, t))) => match f.winner {
            Winner::Blocking => format!("blocking led at {k1:.0} CPUs ({})", pct(b, t)),
            Winner::Async => format!("tokio led at {k1:.0} CPUs ({})", pct(t, b)),
            Winner::Level => format!("blocking and tokio were level at {k1:.0} CPUs"),
        },
        _ => "no comparison in this run".to_owned(),
    };
    let _ = write!(
        md,
        "- **More cores (IAMAT, one node, {k0:.0} to {k1:.0} server CPUs): {verdict}.** {}. \
         A pool's threads and tokio's workers (one per CPU) can use every core they are given; \
         Node's and asyncio's single event loop uses one. ",
        and_list(&growth)
    );
    let herd_ks = figures::cores_measured(rows, true);
    if let Some(h) = herd_ks.last().copied() {
        let parts: Vec<String> = figures::report_builds()
            .into_iter()
            .filter_map(|b| {
                Some(format!(
                    "{b} {}",
                    spread(Some(figures::cores_spread(rows, b, h, true)?), rps)
                ))
            })
            .collect();
        if !parts.is_empty() {
            let _ = write!(
                md,
                "On the five-server herd at {h:.0} CPUs: {} req/s. ",
                and_list(&parts)
            );
        }
    }
    md.push_str("\n\n");
    found
}

/// The closing sentence: which situations each side won.
fn in_short(md: &mut String, found: &[Finding], env: &Value) {
    if found.is_empty() {
        let _ = writeln!(
            md,
            "_No situation of the summary was measured by both a blocking build and an event \
             loop in this run._\n"
        );
        return;
    }
    let of = |w: Winner| -> Vec<String> {
        found
            .iter()
            .filter(|f| f.winner == w)
            .map(|f| f.situation.to_owned())
            .collect()
    };
    let mut parts = Vec::new();
    for (w, text) in [
        (Winner::Blocking, "blocking won on"),
        (Winner::Level, "the two were level on"),
        (Winner::Async, "the event loops won on"),
    ] {
        let list = of(w);
        if !list.is_empty() {
            parts.push(format!("{text} {}", and_list(&list)));
        }
    }
    let whys: Vec<&str> = found.iter().filter_map(|f| f.why).collect();
    let _ = write!(
        md,
        "**In short**, on {}: {}.",
        machine(env),
        parts.join("; ")
    );
    if !whys.is_empty() {
        let _ = write!(
            md,
            " Why: a thread is cheap to run but expensive to leave waiting; {}.",
            whys.join("; ")
        );
    }
    md.push_str("\n\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rows::test_row as row;
    use serde_json::json;

    fn render(all: &[Row], env: &Value) -> String {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut md = String::new();
        section(dir.path(), &mut md, &Rows { all }, env);
        md
    }

    #[test]
    fn a_run_without_most_scenarios_still_reads_and_has_no_nan() {
        let env = json!({"cores": 2, "cpu_model": "AMD EPYC", "mode": "quick"});
        // Nothing at all.
        let md = render(&[], &env);
        assert!(md.contains("not run in this run"), "{md}");
        assert!(md.contains("Figure 5 (`cores_sweep`): not run"), "{md}");
        assert!(md.contains("_No situation of the summary"), "{md}");
        // One scenario and one build: no comparison, no verdict invented.
        let one = vec![row(
            "tokio",
            iamat_conns::NAME,
            json!({"connections": 64}),
            900.0,
        )];
        let md = render(&one, &env);
        assert!(md.contains("tokio 900 req/s"), "{md}");
        assert!(
            md.contains("no blocking build and event loop to compare"),
            "{md}"
        );
        // Memory with only K = 0 (no per-connection figure), a failed row.
        let mut failed = row("blocking", memory::NAME, json!({"idle": 1000}), 0.0);
        failed.error = Some("boom".into());
        let partial = vec![
            row("blocking", memory::NAME, json!({"idle": 0}), 0.0),
            failed,
            row(
                "blocking",
                whatsat_latency::NAME,
                json!({"latency_ms": 0, "connections": 16}),
                5.0,
            ),
        ];
        for md in [render(&one, &env), render(&partial, &env)] {
            assert!(!md.contains("NaN") && !md.contains("inf"), "{md}");
        }
    }

    #[test]
    fn verdicts_come_from_the_ranges_of_the_repeats() {
        let env = json!({"cores": 2});
        let c = json!({"connections": 64});
        // Apart: blocking leads.
        let apart = vec![
            row("blocking", iamat_conns::NAME, c.clone(), 1000.0),
            row("blocking", iamat_conns::NAME, c.clone(), 1100.0),
            row("tokio", iamat_conns::NAME, c.clone(), 700.0),
            row("tokio", iamat_conns::NAME, c.clone(), 800.0),
        ];
        let md = render(&apart, &env);
        assert!(md.contains("blocking won (+40 % against tokio)"), "{md}");
        assert!(md.contains("1,050 (1,000–1,100)"), "{md}");
        assert!(md.contains("blocking won on short requests"), "{md}");
        // Overlapping: level, whatever the medians say.
        let overlap = vec![
            row("blocking", iamat_conns::NAME, c.clone(), 1000.0),
            row("blocking", iamat_conns::NAME, c.clone(), 700.0),
            row("tokio", iamat_conns::NAME, c.clone(), 800.0),
            row("tokio", iamat_conns::NAME, c, 900.0),
        ];
        let md = render(&overlap, &env);
        assert!(md.contains("were level"), "{md}");
    }

    #[test]
    fn memory_per_connection_takes_the_widest_range() {
        let all = vec![
            row("tokio", memory::NAME, json!({"idle": 0}), 0.0),
            row("tokio", memory::NAME, json!({"idle": 0}), 100.0),
            row("tokio", memory::NAME, json!({"idle": 100}), 1000.0),
            row("tokio", memory::NAME, json!({"idle": 100}), 1200.0),
        ];
        let s = per_connection(&Rows { all: &all }, "tokio", 100.0).expect("spread");
        assert_eq!((s.median, s.min, s.max), (10.5, 9.0, 12.0));
        assert!(per_connection(&Rows { all: &all }, "tokio", 0.0).is_none());
    }
}
