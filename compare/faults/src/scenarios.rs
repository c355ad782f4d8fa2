//! The five scenarios. Each starts a fresh herd of one build, warms it up
//! (writes, then a whole-herd check), then runs its faults. Every fault
//! goes the same way: writers start; the fault is applied while they write;
//! it stays on for a while; writers stop; (the servers still up must agree
//! within each connected component); the fault heals; the whole herd must
//! agree, and the time from heal to agreement is the convergence time.
//!
//! `stores` is the exception: per sync mode a fresh herd whose every
//! server keeps a durable store (PROTOCOL §8), writes, every server killed
//! at once, all restarted on their stores, and the checker holds the herd
//! to what the sync mode promises ([`Ctx::crash_all`]).

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};

use crate::checker::SyncMode;
use crate::herd::{Build, Herd};
use crate::interrupt;
use crate::ledger::{Ledger, Rule};
use crate::netns::Net;
use crate::poll::{Outcome, converge};
use crate::report::Row;
use crate::topology::{SERVERS, components, index, pairs};
use crate::writers::{Shared, Writers};

pub const SCENARIOS: [&str; 5] = ["partition", "kill", "pause", "cs131", STORES];

/// Every server with a store, all killed at once (the Rust builds only).
pub const STORES: &str = "stores";

/// The least time the store scenario writes before its kill, so that
/// `everysec` has acks older than its one-second window to keep.
const STORE_WRITES_MIN: Duration = Duration::from_millis(1500);

/// The fault name of each scenario's first row (writes, no fault).
pub const WARM_UP: &str = "warm-up (no fault)";

/// Sizes and durations of a run.
pub struct Settings {
    pub ids: usize,
    pub writers: usize,
    /// IAMATs per second, all writers together.
    pub rate: f64,
    pub warm: Duration,
    /// How long a fault stays on.
    pub fault: Duration,
    /// How long each CS131 pair stays down.
    pub pair_down: Duration,
    /// After the writers stop, time for the survivors' check before the heal
    /// (the heal comes `fault + settle` after the fault, for every build).
    pub settle: Duration,
    /// Longest wait for agreement before the rest counts as lost.
    pub bound: Duration,
    pub quick: bool,
    pub keep_logs: bool,
    /// The store scenario's sync modes, one herd each.
    pub store_syncs: Vec<SyncMode>,
}

impl Settings {
    pub fn new(quick: bool) -> Settings {
        if quick {
            Settings {
                ids: 40,
                writers: 4,
                rate: 100.0,
                warm: Duration::from_millis(500),
                fault: Duration::from_secs(1),
                pair_down: Duration::from_secs(1),
                settle: Duration::from_millis(1500),
                bound: Duration::from_secs(20),
                quick,
                keep_logs: false,
                store_syncs: vec![SyncMode::Always, SyncMode::Everysec],
            }
        } else {
            Settings {
                ids: 100,
                writers: 4,
                rate: 200.0,
                warm: Duration::from_secs(1),
                fault: Duration::from_secs(3),
                pair_down: Duration::from_millis(1500),
                settle: Duration::from_secs(2),
                bound: Duration::from_secs(30),
                quick,
                keep_logs: false,
                store_syncs: vec![SyncMode::Always, SyncMode::Everysec],
            }
        }
    }
}

struct Ctx<'a> {
    build: Build,
    scenario: &'static str,
    net: &'a Net,
    herd: Herd,
    shared: Arc<Shared>,
    s: &'a Settings,
}

fn all() -> Vec<usize> {
    (0..SERVERS.len()).collect()
}

fn idx(name: &str) -> usize {
    index(name).unwrap_or_default()
}

/// Sleeps `d` unless interrupted (a fault's duration, not a synchronisation).
fn hold(d: Duration) -> Result<()> {
    let end = Instant::now() + d;
    while Instant::now() < end {
        interrupt::check()?;
        std::thread::sleep((end - Instant::now()).min(Duration::from_millis(50)));
    }
    Ok(())
}

fn note(o: &Outcome, what: &str) -> String {
    if o.converge_s.is_some() {
        String::new()
    } else {
        format!(
            "{what}: {} ids not settled after {} rounds: {}",
            o.lost,
            o.rounds,
            o.sample.join("; ")
        )
    }
}

impl<'a> Ctx<'a> {
    /// A fresh herd of `build` (with stores of mode `store`), and a ledger
    /// that holds it to that mode's promise.
    fn start(
        build: Build,
        scenario: &'static str,
        root: &Path,
        net: &'a Net,
        s: &'a Settings,
        log_dir: &Path,
        store: Option<SyncMode>,
    ) -> Result<Ctx<'a>> {
        let herd = Herd::start(build, root, net, log_dir, store)?;
        let mut ledger = Ledger::new("hf.client.", s.ids, SERVERS.len());
        ledger.rule = store.map_or(Rule::Flood, Rule::Store);
        let shared = Arc::new(Shared::new(ledger, herd.addrs.clone()));
        Ok(Ctx {
            build,
            scenario,
            net,
            herd,
            shared,
            s,
        })
    }

    fn row(&self, fault: &str, sent: u64, acked: u64) -> Row {
        Row {
            build: self.build.name().into(),
            scenario: self.scenario.into(),
            fault: fault.into(),
            sent,
            acked,
            lost: 0,
            at_kill: 0,
            lost_at_kill: 0,
            diverged: 0,
            fault_on_s: 0.0,
            survivors_converge_s: None,
            converge_s: None,
            resolution_s: 0.0,
            pass: false,
            note: String::new(),
            sync: None,
            recovery_s: None,
            updates_lost: None,
            updates_lost_promised: None,
        }
    }

    fn counts(&self) -> (u64, u64) {
        let l = self.shared.ledger();
        (l.sent, l.acked)
    }

    /// One fault: `on` while writers write, `survivors` checked with writers
    /// stopped, then `heal`, then the whole herd.
    fn fault(
        &mut self,
        name: &str,
        duration: Duration,
        on: &dyn Fn(&mut Self) -> Result<()>,
        survivors: Option<Vec<Vec<usize>>>,
        heal: &dyn Fn(&mut Self) -> Result<()>,
    ) -> Result<Row> {
        let (s0, a0) = self.counts();
        let writers = Writers::start(&self.shared, self.s.writers, self.s.rate);
        hold(Duration::from_millis(300))
            .and_then(|()| on(self))
            .inspect_err(|_| writers.stop_now())?;
        let on_at = Instant::now();
        let held = hold(duration);
        writers.stop();
        held?;
        let (s1, a1) = self.counts();
        let mut row = self.row(name, s1 - s0, a1 - a0);
        let mut notes = Vec::new();
        let mut lost = 0;
        let mut ok = true;
        if let Some(groups) = survivors {
            let o = converge(&self.shared, &groups, Instant::now(), self.s.bound, false)?;
            row.survivors_converge_s = o.converge_s;
            row.diverged = o.diverged_first;
            row.resolution_s = o.resolution_s;
            ok &= o.converge_s.is_some();
            lost = o.lost;
            notes.push(note(&o, "survivors"));
            // Heal at the same time after the fault for every build, however
            // long its survivors' check took: a cut link's TCP retransmission
            // backoff makes the time to converge depend on when it heals.
            hold((on_at + duration + self.s.settle).saturating_duration_since(Instant::now()))?;
        }
        row.fault_on_s = on_at.elapsed().as_secs_f64();
        let open = self.shared.ledger().open_at_kill();
        heal(self)?;
        let o = converge(&self.shared, &[all()], Instant::now(), self.s.bound, true)?;
        row.at_kill = open.len();
        if o.converge_s.is_some() {
            row.lost_at_kill = self.shared.ledger().lost_at_kill(&open);
        }
        row.converge_s = o.converge_s;
        row.resolution_s = row.resolution_s.max(o.resolution_s);
        row.lost = lost.max(o.lost);
        row.pass = ok && o.converge_s.is_some();
        notes.push(note(&o, "whole herd"));
        row.note = notes
            .into_iter()
            .filter(|n| !n.is_empty())
            .collect::<Vec<_>>()
            .join(" / ");
        Ok(row)
    }

    fn warm_up(&mut self) -> Result<Row> {
        let nothing = |_: &mut Self| Ok(());
        self.fault(WARM_UP, self.s.warm, &nothing, None, &nothing)
    }

    fn partition(&mut self, name: &str, cuts: Vec<(usize, usize)>) -> Result<Row> {
        let groups = components(&[], &cuts);
        let c2 = cuts.clone();
        self.fault(
            name,
            self.s.fault,
            &move |c: &mut Self| cuts.iter().try_for_each(|&(a, b)| c.net.cut(a, b)),
            Some(groups),
            &move |c: &mut Self| c2.iter().try_for_each(|&(a, b)| c.net.heal(a, b)),
        )
    }

    fn kill(&mut self, name: &str, victims: Vec<usize>, duration: Duration) -> Result<Row> {
        let groups = components(&victims, &[]);
        let v2 = victims.clone();
        self.fault(
            name,
            duration,
            &move |c: &mut Self| {
                for &v in &victims {
                    let at = Instant::now();
                    c.herd.kill(v)?;
                    c.shared.ledger().killed(v, at);
                    c.shared.set_up(v, false);
                }
                Ok(())
            },
            Some(groups),
            &move |c: &mut Self| {
                for &v in &v2 {
                    c.herd.restart(v)?;
                    c.shared.set_up(v, true);
                }
                Ok(())
            },
        )
    }

    /// The store scenario's fault: writers write (the fault's length, at
    /// least [`STORE_WRITES_MIN`]); every server is killed with SIGKILL at
    /// once while they do; writers stop; every server is started again on
    /// its store. Recovery: kill -> every server answering again;
    /// convergence: restart -> the whole herd agrees on a line at least as
    /// new as every ack the sync mode promises to keep (the ledger's
    /// [`Rule::Store`]). Lost updates are counted in all and beyond the
    /// promise; only the latter fail.
    fn crash_all(&mut self, sync: SyncMode) -> Result<Row> {
        let name = format!("kill -9 all five, restart (sync {})", sync.name());
        let (s0, a0) = self.counts();
        let writers = Writers::start(&self.shared, self.s.writers, self.s.rate);
        let killed = hold(self.s.fault.max(STORE_WRITES_MIN))
            .and_then(|()| self.herd.kill_all())
            .inspect_err(|_| writers.stop_now())?;
        {
            let mut ledger = self.shared.ledger();
            for i in all() {
                ledger.killed(i, killed);
                self.shared.set_up(i, false);
            }
        }
        writers.stop();
        let (s1, a1) = self.counts();
        let mut row = self.row(&name, s1 - s0, a1 - a0);
        row.sync = Some(sync.name().into());
        let (acked, open) = {
            let ledger = self.shared.ledger();
            (ledger.acked_updates(), ledger.open_at_kill())
        };
        let restart = Instant::now();
        row.fault_on_s = (restart - killed).as_secs_f64();
        for i in all() {
            self.herd.restart(i)?;
            self.shared.set_up(i, true);
        }
        row.recovery_s = Some(killed.elapsed().as_secs_f64());
        let o = converge(&self.shared, &[all()], restart, self.s.bound, true)?;
        row.at_kill = open.len();
        if o.converge_s.is_some() {
            let ledger = self.shared.ledger();
            row.lost_at_kill = ledger.lost_at_kill(&open);
            let (total, promised) = ledger.lost_updates(&acked);
            row.updates_lost = Some(total);
            row.updates_lost_promised = Some(promised);
        }
        row.converge_s = o.converge_s;
        row.resolution_s = o.resolution_s;
        row.lost = o.lost;
        row.pass = o.converge_s.is_some() && row.updates_lost_promised == Some(0);
        row.note = note(&o, "whole herd");
        Ok(row)
    }

    fn pause(&mut self, name: &str, v: usize) -> Result<Row> {
        self.fault(
            name,
            self.s.fault,
            &|c: &mut Self| c.herd.pause(v),
            Some(components(&[v], &[])),
            &|c: &mut Self| c.herd.resume(v),
        )
    }
}

/// Runs one scenario against one build; `emit` gets each row as it is made.
pub fn run(
    build: Build,
    scenario: &'static str,
    root: &Path,
    net: &Net,
    s: &Settings,
    log_dir: &Path,
    emit: &mut dyn FnMut(Row) -> Result<()>,
) -> Result<()> {
    if !SCENARIOS.contains(&scenario) {
        bail!("unknown scenario {scenario}");
    }
    if scenario == STORES {
        if !crate::herd::keeps_stores(build) {
            bail!("the {} build refuses a store", build.name());
        }
        // A fresh herd and fresh stores per mode, the previous one stopped.
        for &sync in &s.store_syncs {
            let dir = log_dir.join(sync.name());
            let mut c = Ctx::start(build, scenario, root, net, s, &dir, Some(sync))?;
            let mut warm = c.warm_up()?;
            warm.sync = Some(sync.name().into());
            emit(warm)?;
            emit(c.crash_all(sync)?)?;
        }
        return Ok(());
    }
    let mut c = Ctx::start(build, scenario, root, net, s, log_dir, None)?;
    emit(c.warm_up()?)?;
    let (bernard, clark, jaquez, juzang) =
        (idx("Bernard"), idx("Clark"), idx("Jaquez"), idx("Juzang"));
    match scenario {
        "partition" => {
            if !s.quick {
                let cuts = vec![
                    (bernard, jaquez),
                    (bernard, idx("Johnson")),
                    (bernard, juzang),
                ];
                emit(c.partition("isolate Bernard", cuts)?)?;
            }
            let cuts = vec![(jaquez, bernard), (clark, juzang)];
            emit(c.partition("split Clark+Jaquez from the rest", cuts)?)?;
        }
        "kill" => {
            emit(c.kill("kill -9 Bernard, restart", vec![bernard], s.fault)?)?;
            if !s.quick {
                emit(c.kill("kill -9 Clark, restart", vec![clark], s.fault)?)?;
            }
        }
        "pause" => {
            emit(c.pause("SIGSTOP Juzang, SIGCONT", juzang)?)?;
            if !s.quick {
                emit(c.pause("SIGSTOP Bernard, SIGCONT", bernard)?)?;
            }
        }
        _ => {
            let chosen: Vec<(usize, usize)> = if s.quick {
                vec![(bernard, juzang), (clark, idx("Johnson")), (jaquez, juzang)]
            } else {
                pairs()
            };
            for (a, b) in chosen {
                let name = format!("kill -9 {}+{}, restart", SERVERS[a], SERVERS[b]);
                emit(c.kill(&name, vec![a, b], s.pair_down)?)?;
            }
        }
    }
    Ok(())
}
