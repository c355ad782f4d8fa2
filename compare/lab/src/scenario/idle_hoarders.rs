//! `idle_hoarders`: K idle connections that never write, then one active
//! client in a closed loop. A blocking worker stays with its connection
//! until it closes or idles out, so from K = pool size on the active client
//! waits for the idle timeout; an event loop or a tokio task costs a
//! hoarder only a little memory.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Result;
use serde_json::{Value, json};

use crate::builds::{self, BUILDS};
use crate::measure::{Ctx, Load};
use crate::point::{Point, Settings, pick};
use crate::report::figures;
use crate::report::page;
use crate::report::query::{Rows, spread_of};
use crate::report::units::{lat_s, num, whole_s};
use crate::rows::Row;
use crate::scenario::Scenario;

/// The blocking pool of the hoarders scenario and its idle timeout.
pub const HOARD_POOL: u32 = 16;

/// The most hoarders: what a parked pool must hold without a worker.
pub const MANY: u64 = 1000;
pub const HOARD_IDLE_MS: u64 = 3000;

pub struct IdleHoarders;

/// The scenario's name in rows, `--scenarios` and the report.
pub const NAME: &str = "idle_hoarders";

/// Long enough for 3 s idle timeouts to pass (twice, above the pool).
fn hoard_s(s: &Settings) -> f64 {
    if s.quick { 5.0 } else { 7.0 }
}

impl Scenario for IdleHoarders {
    fn name(&self) -> &'static str {
        NAME
    }

    /// K = 0-32 hoarders (quick: 0, 32), and in the full run 1,000 for every
    /// build but the plain pool (which would serve the active client only
    /// after some 60 rounds of idle timeouts). `blocking-tpc` runs a thread
    /// per connection (K hoarders + the active client), in the full run
    /// only (the quick run must fit CI).
    fn plan(&self, builds: &[&'static str], quick: bool) -> Vec<Point> {
        let mut points = Vec::new();
        for k in pick(quick, &[0, 32], &[0, 8, 16, 32, MANY]) {
            let skip = |b: &str| (k == MANY && b == "blocking") || (quick && b == builds::TPC);
            for b in builds.iter().filter(|b| !skip(b)) {
                let p = json!({"idle": k, "idle_timeout_ms": HOARD_IDLE_MS});
                let p = builds::with_pool(b, p, k + 1, u64::from(HOARD_POOL));
                points.push(Point::new(b, NAME, p));
            }
        }
        points
    }

    fn node_args(&self) -> Vec<String> {
        vec!["--idle-timeout-ms".to_owned(), HOARD_IDLE_MS.to_string()]
    }

    /// One active connection for the whole hoard time, no warm-up.
    fn load(&self, ctx: &mut Ctx<'_>) -> Result<Load> {
        let k = ctx.point.u("idle");
        let hoard = hoard_s(ctx.s);
        ctx.param("mix", json!("iamat=1,whatsat=0"));
        ctx.param("active_connections", json!(1));
        let spec = ctx.run_spec("iamat=1,whatsat=0", 1, 0.0, hoard).args([
            "--idle",
            &k.to_string(),
            "--timeout-ms",
            "20000",
        ]);
        let (v, t) = ctx.run_loadgen(spec, "closed loop", ctx.long())?;
        Ok(Load {
            window: (t, t + hoard),
            loadgen: v,
        })
    }

    fn derive(&self, point: &Point, threads: u32, lg: &Value, row: &mut Row) {
        let d = &mut row.derived;
        let ok = lg.get("requests_ok").and_then(Value::as_u64).unwrap_or(0);
        let max = lg.pointer("/latency_us/max").and_then(Value::as_f64);
        let answered = ok > 0 && max.is_some_and(|m| m < (HOARD_IDLE_MS * 1000) as f64);
        d.insert("answered_before_idle_timeout".into(), json!(answered));
        d.insert("first_wait_us_upper_bound".into(), json!(max));
        if crate::builds::is_pool(&point.build) {
            d.insert("pool_size".into(), json!(threads));
        }
    }

    /// The hoard time, whatever the run's duration.
    fn seconds(&self, point: &Point, s: &Settings) -> f64 {
        hoard_s(s) + super::start_stop_s(&point.build, false)
    }

    fn report(&self, dir: &Path, md: &mut String, rows: &Rows<'_>) {
        let list = rows.of(NAME);
        if !page::section(
            md,
            "## 3. Idle hoarders (`idle_hoarders`)",
            !list.is_empty(),
        ) {
            return;
        }
        let _ = writeln!(
            md,
            "K connections are opened and never write; then one active client sends IAMATs in a \
             closed loop. Every build runs `--idle-timeout-ms {HOARD_IDLE_MS}`; the blocking node has \
             `--threads {HOARD_POOL}`, and a blocking worker stays with its connection until it \
             closes or idles out, so from K = {HOARD_POOL} on, the active client waits in the queue \
             until hoarders are dropped. Every connection's idle clock starts when it is accepted \
             (time queued for a worker counts), so all hoarders are gone one idle timeout after they \
             arrived, however many rounds of the pool they would fill.\n"
        );
        crate::scenario::tpc::note(md, rows, NAME);
        chart(dir, md, rows);
        if let Some(k) = rows.values(NAME, "idle").last() {
            sentences(md, rows, *k);
        }
        page::head(
            md,
            &[
                "build",
                "K",
                "requests",
                "p50",
                "p99",
                "max",
                "answered before the idle timeout",
            ],
        );
        for reps in rows.points(NAME) {
            let of = |f: fn(&Row) -> Option<f64>| spread_of(reps.iter().copied(), f);
            page::row(
                md,
                &[
                    reps[0].build.clone(),
                    num(reps[0].param("idle"), 0),
                    whole_s(of(|r| r.lg("/requests_ok"))),
                    lat_s(of(|r| r.lg("/latency_us/p50"))),
                    lat_s(of(Row::p99_us)),
                    lat_s(of(|r| r.lg("/latency_us/max"))),
                    answered_text(&reps),
                ],
            );
        }
        md.push('\n');
    }
}

fn answered(r: &Row) -> Option<bool> {
    r.derived
        .get("answered_before_idle_timeout")
        .and_then(Value::as_bool)
}

/// The active client's slowest answer against K.
fn chart(dir: &Path, md: &mut String, rows: &Rows<'_>) {
    figures::draw(dir, md, figures::hoarders(rows));
}

/// "yes", "no", "2 of 3" or "–": in how many repeats the active client
/// was answered before the idle timeout.
fn answered_text(reps: &[&Row]) -> String {
    let known: Vec<bool> = reps.iter().filter_map(|r| answered(r)).collect();
    let yes = known.iter().filter(|a| **a).count();
    match (yes, known.len()) {
        (_, 0) => "–".into(),
        (y, n) if y == n => "yes".into(),
        (0, _) => "no".into(),
        (y, n) => format!("{y} of {n}"),
    }
}

/// Every build's active client beside the most hoarders, `k` (medians over
/// the repeats, with their ranges).
fn sentences(md: &mut String, rows: &Rows<'_>, k: f64) {
    let at = [("idle", k)];
    let parts: Vec<String> = BUILDS
        .iter()
        .filter_map(|b| {
            let reps = rows.repeats(b, NAME, &at);
            let how = match answered_text(&reps).as_str() {
                "yes" => "was served at once".to_owned(),
                "no" => "waited for the hoarders to idle out".to_owned(),
                "–" => return None,
                some => format!(
                    "was served at once in {some} repeats and otherwise waited for the hoarders to idle out"
                ),
            };
            Some(format!(
                "{b}'s active client {how} (slowest answer {}, {} requests)",
                lat_s(rows.spread(b, NAME, &at, |r| r.lg("/latency_us/max"))),
                whole_s(rows.spread(b, NAME, &at, |r| r.lg("/requests_ok")))
            ))
        })
        .collect();
    let _ = writeln!(
        md,
        "With K = {k:.0} hoarders: {}{}. An event loop or a tokio task costs a hoarder only a \
         little memory; a worker thread costs it the worker.\n",
        parts.join("; "),
        rows.medians_note(NAME)
    );
}
