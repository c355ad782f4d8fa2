//! `memory`: resident memory, threads and open descriptors of one node
//! holding K idle connections (`herd-loadgen hold`), read from /proc once
//! the node has accepted them all.

use std::fmt::Write as _;
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::Result;
use herd_launch::Proc;
use serde_json::{Value, json};

use crate::builds::{self, BUILDS};
use crate::measure::{Ctx, Load, parse_json};
use crate::point::{Point, Settings, pick};
use crate::procs;
use crate::report::figures;
use crate::report::page;
use crate::report::query::{Rows, Spread, paired, spread_of};
use crate::report::units::{count_s, mib_s, num_s};
use crate::rows::Row;
use crate::sample;
use crate::scenario::Scenario;

pub struct Memory;

/// The scenario's name in rows, `--scenarios` and the report.
pub const NAME: &str = "memory";

/// Seconds the held connections settle before and during the reading.
const SETTLE_S: f64 = 1.0;

impl Scenario for Memory {
    fn name(&self) -> &'static str {
        NAME
    }

    /// K = 0-10,000 (quick: 0, 1000); the blocking node's default pool of
    /// 128, and `blocking-tpc` a thread per held connection (at most 4,096:
    /// at K = 10,000 the rest wait unserved, as its row's `tpc_unserved`
    /// says).
    fn plan(&self, builds: &[&'static str], quick: bool) -> Vec<Point> {
        let mut points = Vec::new();
        for k in pick(quick, &[0, 1000], &[0, 100, 1000, 10_000]) {
            for b in builds {
                let p = builds::with_pool(b, json!({"idle": k}), k, 128);
                points.push(Point::new(b, NAME, p));
            }
        }
        points
    }

    fn node_args(&self) -> Vec<String> {
        vec!["--idle-timeout-ms".to_owned(), "3600000".to_owned()]
    }

    fn load(&self, ctx: &mut Ctx<'_>) -> Result<Load> {
        let k = ctx.point.u("idle");
        if k == 0 {
            thread::sleep(Duration::from_secs_f64(SETTLE_S * 2.0));
            let t = ctx.sampler.now();
            return Ok(Load {
                window: (t - SETTLE_S, t),
                loadgen: json!({"requested": 0, "opened": 0, "still_open_at_end": 0}),
            });
        }
        let spec = ctx
            .loadgen("hold")
            .args([
                "hold",
                "--target",
                &ctx.addrs[0],
                "--connections",
                &k.to_string(),
            ])
            .stdin_piped();
        ctx.commands.push(spec.line());
        let mut hold = Proc::spawn(&spec, &ctx.s.paths.root)?;
        hold.wait_line(true, Duration::from_secs(120), &|l| {
            l.starts_with("holding")
        })?;
        wait_accepted(ctx.pids[0], k)?;
        let t0 = ctx.sampler.now() + SETTLE_S;
        thread::sleep(Duration::from_secs_f64(SETTLE_S * 2.0));
        let t1 = ctx.sampler.now();
        hold.close_stdin();
        let (_, out) = hold.wait_output(Duration::from_secs(30))?;
        Ok(Load {
            window: (t0, t1),
            loadgen: parse_json(&out)?,
        })
    }

    fn derive(&self, _point: &Point, _threads: u32, _lg: &Value, row: &mut Row) {
        if let Some(rss) = row.servers.first().and_then(|s| s.window.rss_kb_max) {
            row.derived.insert("rss_kb".into(), json!(rss));
        }
    }

    /// Settling and reading, plus opening the connections (about 2,000 a
    /// second with the one-loop builds on two cores).
    fn seconds(&self, point: &Point, _s: &Settings) -> f64 {
        SETTLE_S * 2.0 + point.u("idle") as f64 / 2000.0 + super::start_stop_s(&point.build, false)
    }

    fn report(&self, dir: &Path, md: &mut String, rows: &Rows<'_>) {
        let list = rows.of(NAME);
        let heading = "## 4. Memory per idle connection (`memory`)";
        if !page::section(md, heading, !list.is_empty()) {
            return;
        }
        page::para(
            md,
            "`herd-loadgen hold` keeps K idle connections open to one node (`--max-clients 12000`, \
             idle timeout one hour); RSS, threads and open descriptors are read from /proc once \
             they are all open. The blocking node runs its default pool of 128 workers: connections \
             beyond it wait in the accept queue (open sockets, no thread). K = 0 is drawn at x = 1.",
        );
        crate::scenario::tpc::note(md, rows, NAME);
        chart(dir, md, rows);
        if let Some(k) = rows.values(NAME, "idle").last().filter(|k| **k > 0.0) {
            short_of_k(md, rows, *k);
            sentences(md, rows, *k);
        }
        table(md, rows);
    }
}

/// The kernel completes connections before the server accepts them: waits
/// until the node holds them all (its open descriptors), at most 15 s. A
/// build that stops accepting short of K (its count stays put for 1.5 s) is
/// measured as it is.
fn wait_accepted(pid: u32, k: u64) -> Result<()> {
    let tck = sample::clk_tck();
    let deadline = Instant::now() + Duration::from_secs(15);
    let (mut last, mut same) = (0, 0);
    while Instant::now() < deadline {
        let fds = sample::sample(pid, 0.0, tck).map_or(0, |x| x.fds);
        if fds >= k {
            break;
        }
        same = if fds == last { same + 1 } else { 0 };
        last = fds;
        if same >= 15 {
            break;
        }
        procs::check_interrupted()?;
        thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}

/// KiB per idle connection of `b` at `k` over its RSS at K = 0, repeat by
/// repeat (each against the K = 0 of its own round).
fn per_conn(rows: &Rows<'_>, b: &str, k: f64) -> Option<Spread> {
    if k <= 0.0 {
        return None;
    }
    paired(
        &rows.repeats(b, NAME, &[("idle", k)]),
        &rows.repeats(b, NAME, &[("idle", 0.0)]),
        |at, base| Some((at.node_rss_kb()? as f64 - base.node_rss_kb()? as f64) / k),
    )
}

/// The node's peak RSS (KiB) of `b` at `k` over the repeats.
fn rss(rows: &Rows<'_>, b: &str, k: f64) -> Option<Spread> {
    rows.spread(b, NAME, &[("idle", k)], |r| {
        r.node_rss_kb().map(|v| v as f64)
    })
}

/// A window figure of the node's (threads, fds) over the repeats.
fn node_window(reps: &[&Row], f: fn(&crate::sample::Window) -> Option<u64>) -> Option<Spread> {
    spread_of(reps.iter().copied(), |r| {
        f(&r.servers.first()?.window).map(|v| v as f64)
    })
}

/// RSS against K, a line per build.
fn chart(dir: &Path, md: &mut String, rows: &Rows<'_>) {
    figures::draw(dir, md, figures::memory(rows));
}

/// A server that had not accepted all `k` shows fewer descriptors (median
/// over the repeats).
fn short_of_k(md: &mut String, rows: &Rows<'_>, k: f64) {
    let fds = |b: &str, k: f64| {
        node_window(&rows.repeats(b, NAME, &[("idle", k)]), |w| w.fds_max).map(|s| s.median)
    };
    let short: Vec<String> = BUILDS
        .iter()
        .filter_map(|b| {
            let held = (fds(b, k)? - fds(b, 0.0)?).max(0.0);
            (held < 0.95 * k).then(|| {
                format!("{b} had accepted only about {held:.0} of them (open descriptors)")
            })
        })
        .collect();
    if !short.is_empty() {
        let _ = writeln!(
            md,
            "Note: {}; the rest waited in the kernel's listen queue.\n",
            short.join("; ")
        );
    }
}

/// Every build's RSS, cost per connection and threads at `k` (medians over
/// the repeats, with their ranges).
fn sentences(md: &mut String, rows: &Rows<'_>, k: f64) {
    let parts: Vec<String> = BUILDS
        .iter()
        .filter_map(|b| {
            let at = rss(rows, b, k)?;
            let reps = rows.repeats(b, NAME, &[("idle", k)]);
            Some(format!(
                "{b} {} MiB ({} KiB per connection over its empty RSS, {} threads)",
                mib_s(Some(at)),
                num_s(per_conn(rows, b, k)),
                count_s(node_window(&reps, |w| w.threads_max))
            ))
        })
        .collect();
    let _ = writeln!(
        md,
        "With {k:.0} idle connections: {}{}. The blocking node's threads stay at its pool size: \
         an idle connection past the pool is a queued socket, not a thread, and a worker's \
         stack is mostly untouched virtual memory.\n",
        parts.join("; "),
        rows.medians_note(NAME)
    );
}

/// Every point: medians over its repeats with their ranges.
fn table(md: &mut String, rows: &Rows<'_>) {
    page::head(
        md,
        &[
            "build",
            "K",
            "RSS MiB",
            "KiB / connection",
            "threads",
            "open fds",
            "held by loadgen",
        ],
    );
    for reps in rows.points(NAME) {
        let b = reps[0].build.as_str();
        let k = reps[0].param("idle").unwrap_or(0.0);
        page::row(
            md,
            &[
                b.to_owned(),
                format!("{k:.0}"),
                mib_s(rss(rows, b, k)),
                num_s(per_conn(rows, b, k)),
                count_s(node_window(&reps, |w| w.threads_max)),
                count_s(node_window(&reps, |w| w.fds_max)),
                count_s(spread_of(reps.iter().copied(), |r| r.lg("/opened"))),
            ],
        );
    }
    md.push('\n');
}
