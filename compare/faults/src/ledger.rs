//! What the writers sent and what came back, per client id: every IAMAT's
//! client part, every acked AT line since the herd last agreed (with the
//! server and the moment its answer arrived), when each server was killed,
//! and the line the herd last agreed on. The checker's expectations are
//! computed from it.
//!
//! A server answers `IAMAT` before its flood has left it (README, "What it
//! does not promise"), so an update acked just before that server is killed
//! may die with it. Acks that arrive within [`AT_KILL`] of their server's
//! kill are therefore not part of the floor; they are counted, and whether
//! the herd kept them is reported, but losing one fails nothing.
//!
//! In the store scenario ([`Rule::Store`]) every server keeps a durable
//! store and all of them are killed at once: there the floor is what the
//! store's sync mode promises (`checker::store_exempt`), and the flood's
//! window does not apply (each server's own store holds what it acked).

use std::collections::HashSet;
use std::time::{Duration, Instant};

use crate::checker::{Expect, SyncMode, store_exempt};
use crate::merge::Update;

/// Which acks at a kill need not survive.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Rule {
    /// Servers without stores: an ack within [`AT_KILL`] of its server's
    /// kill (its flood may not have left).
    #[default]
    Flood,
    /// Servers with stores of this sync mode, killed all at once: what
    /// PROTOCOL §8 does not promise to keep.
    Store(SyncMode),
}

/// How close to its server's kill (either side: an answer written just
/// before the signal can arrive just after it) an ack is "at the kill".
/// The builds hand a flood to their sender within a millisecond, but on a
/// busy 2-core machine a runnable server can wait tens of milliseconds for
/// a CPU between writing the answer and writing the flood.
pub const AT_KILL: Duration = Duration::from_millis(100);

struct Ack {
    server: usize,
    at: Instant,
    update: Update,
}

#[derive(Default)]
struct IdState {
    sent: HashSet<String>,
    /// Acks since the last whole-herd agreement.
    acks: Vec<Ack>,
    /// The line every server agreed on at the last whole-herd check.
    agreed: Option<Update>,
    last_time_ns: i128,
}

pub struct Ledger {
    ids: Vec<String>,
    state: Vec<IdState>,
    /// When each server was sent SIGKILL.
    kills: Vec<Vec<Instant>>,
    pub rule: Rule,
    pub sent: u64,
    pub acked: u64,
}

impl Ledger {
    /// `count` ids named `<prefix><n>`, for a herd of `servers` servers.
    pub fn new(prefix: &str, count: usize, servers: usize) -> Ledger {
        Ledger {
            ids: (0..count).map(|n| format!("{prefix}{n}")).collect(),
            state: (0..count).map(|_| IdState::default()).collect(),
            kills: vec![Vec::new(); servers],
            rule: Rule::Flood,
            sent: 0,
            acked: 0,
        }
    }

    pub fn ids(&self) -> &[String] {
        &self.ids
    }

    /// Records an IAMAT about to be sent for id `n` and returns its client
    /// time: `now_ns`, or just after the id's previous time (strictly increasing).
    pub fn next_send(&mut self, n: usize, now_ns: i128, location: &str) -> (String, i128) {
        let st = &mut self.state[n];
        let t = now_ns.max(st.last_time_ns + 1);
        st.last_time_ns = t;
        let part = format!(
            "{} {location} {}",
            self.ids[n],
            crate::merge::format_time(t)
        );
        st.sent.insert(part.clone());
        self.sent += 1;
        (part, t)
    }

    /// Records server `server`'s AT answer to an IAMAT for id `n`, which
    /// arrived at `at`.
    pub fn ack(&mut self, n: usize, server: usize, update: Update, at: Instant) {
        self.acked += 1;
        self.state[n].acks.push(Ack { server, at, update });
    }

    /// Records that `server` was sent SIGKILL at `at`.
    pub fn killed(&mut self, server: usize, at: Instant) {
        self.kills[server].push(at);
    }

    fn at_kill(&self, ack: &Ack) -> bool {
        let kills = &self.kills[ack.server];
        match self.rule {
            Rule::Flood => kills
                .iter()
                .any(|&k| ack.at + AT_KILL >= k && ack.at <= k + AT_KILL),
            Rule::Store(sync) => store_exempt(sync, ack.at, kills),
        }
    }

    /// The newest update acked by one of `among` outside its kill window.
    fn floor(&self, n: usize, among: &[usize]) -> Option<&Update> {
        let st = &self.state[n];
        st.acks
            .iter()
            .filter(|a| among.contains(&a.server) && !self.at_kill(a))
            .map(|a| &a.update)
            .chain(st.agreed.as_ref())
            .max()
    }

    /// What must hold for id `n` on the servers in `among`: at least the
    /// newest update acked by any of them (outside a kill window) and the
    /// last agreed line.
    pub fn expect(&self, n: usize, among: &[usize]) -> Expect {
        Expect {
            floor: self.floor(n, among).cloned(),
            sent: self.state[n].sent.clone(),
        }
    }

    /// The ids whose newest ack came at a kill and is newer than what must
    /// hold, with that update: the ones a kill may have taken.
    pub fn open_at_kill(&self) -> Vec<(usize, Update)> {
        let everyone: Vec<usize> = (0..self.kills.len()).collect();
        (0..self.ids.len())
            .filter_map(|n| {
                let floor = self.floor(n, &everyone);
                self.state[n]
                    .acks
                    .iter()
                    .filter(|a| self.at_kill(a))
                    .map(|a| &a.update)
                    .max()
                    .filter(|u| floor.is_none_or(|f| *u > f))
                    .map(|u| (n, u.clone()))
            })
            .collect()
    }

    /// Of `open` (from [`Ledger::open_at_kill`]), how many the herd did not
    /// keep: its agreed line is older, or it holds nothing.
    pub fn lost_at_kill(&self, open: &[(usize, Update)]) -> usize {
        open.iter()
            .filter(|(n, u)| self.state[*n].agreed.as_ref().is_none_or(|a| a < u))
            .count()
    }

    /// Every update acked since the last agreement: its id, the update,
    /// and whether it must survive (it is outside the kill's window).
    pub fn acked_updates(&self) -> Vec<(usize, Update, bool)> {
        self.state
            .iter()
            .enumerate()
            .flat_map(|(n, st)| {
                st.acks
                    .iter()
                    .map(move |a| (n, a.update.clone(), !self.at_kill(a)))
            })
            .collect()
    }

    /// Of `acked` (from [`Ledger::acked_updates`], taken before the
    /// agreement), the acked updates the herd did not keep (its agreed line
    /// is older, or it holds nothing), in all and of those that had to
    /// survive.
    pub fn lost_updates(&self, acked: &[(usize, Update, bool)]) -> (usize, usize) {
        let lost: Vec<bool> = acked
            .iter()
            .filter(|(n, u, _)| self.state[*n].agreed.as_ref().is_none_or(|a| a < u))
            .map(|(_, _, must)| *must)
            .collect();
        (lost.len(), lost.iter().filter(|m| **m).count())
    }

    /// After a whole-herd check passed: the herd agrees on `line` for id
    /// `n`. Every ack so far is settled by it (kept, or counted as taken by
    /// a kill), so they are dropped.
    pub fn agreed(&mut self, n: usize, line: Option<&str>) {
        let st = &mut self.state[n];
        if let Some(u) = line.and_then(Update::parse) {
            st.agreed = Some(u);
        }
        st.acks.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_strictly_increase_even_when_the_clock_does_not() {
        let mut l = Ledger::new("c", 2, 5);
        let (_, a) = l.next_send(0, 1000, "+1+1");
        let (_, b) = l.next_send(0, 1000, "+1+1");
        let (_, c) = l.next_send(0, 900, "+1+1");
        assert!(a < b && b < c);
        let (p, _) = l.next_send(1, 5_000_000_000, "+1+2");
        assert_eq!(p, "c1 +1+2 5.000000000");
        assert_eq!(l.sent, 4);
    }

    fn at(server: &str, part: &str) -> Update {
        Update::parse(&format!("AT {server} +0.1 {part}")).unwrap()
    }

    #[test]
    fn the_floor_is_the_newest_ack_among_the_asked_servers() {
        let t = Instant::now();
        let mut l = Ledger::new("c", 1, 5);
        let (p1, _) = l.next_send(0, 1_000_000_000, "+1+1");
        let (p2, _) = l.next_send(0, 2_000_000_000, "+1+2");
        l.ack(0, 1, at("Clark", &p1), t);
        l.ack(0, 3, at("Johnson", &p2), t);
        let floor = |l: &Ledger, among: &[usize]| l.expect(0, among).floor.map(|u| u.client_part());
        assert_eq!(floor(&l, &[0, 1, 2, 3, 4]), Some(p2.clone()));
        assert_eq!(floor(&l, &[1, 2]), Some(p1.clone()));
        assert_eq!(floor(&l, &[0, 2]), None);
        l.agreed(0, Some(&format!("AT Johnson +0.1 {p2}")));
        assert_eq!(floor(&l, &[0, 2]), Some(p2));
        assert_eq!(l.expect(0, &[0]).sent.len(), 2);
        assert_eq!(l.acked, 2);
    }

    #[test]
    fn an_ack_at_its_servers_kill_is_not_in_the_floor_but_is_reported() {
        let t0 = Instant::now();
        let mut l = Ledger::new("c", 2, 5);
        let (p1, _) = l.next_send(0, 1_000_000_000, "+1+1");
        let (p2, _) = l.next_send(0, 2_000_000_000, "+1+2");
        let (q1, _) = l.next_send(1, 3_000_000_000, "+1+3");
        // Clark acks p1 long before its kill, p2 10 ms before it; Jaquez
        // acks q1 10 ms before Clark's kill and is never killed.
        let kill = t0 + Duration::from_secs(1);
        l.ack(0, 1, at("Clark", &p1), t0);
        l.ack(0, 1, at("Clark", &p2), kill - Duration::from_millis(10));
        l.ack(1, 2, at("Jaquez", &q1), kill - Duration::from_millis(10));
        let all = [0, 1, 2, 3, 4];
        assert_eq!(l.expect(0, &all).floor.unwrap().client_part(), p2);
        l.killed(1, kill);
        assert_eq!(l.expect(0, &all).floor.unwrap().client_part(), p1);
        assert_eq!(l.expect(1, &all).floor.unwrap().client_part(), q1);
        let open = l.open_at_kill();
        assert_eq!(open.len(), 1);
        assert_eq!((open[0].0, open[0].1.client_part()), (0, p2.clone()));
        // The herd agreed on p1: the kill took p2.
        l.agreed(0, Some(&format!("AT Clark +0.1 {p1}")));
        assert_eq!(l.lost_at_kill(&open), 1);
        // Had it agreed on p2, nothing was taken.
        l.agreed(0, Some(&format!("AT Clark +0.1 {p2}")));
        assert_eq!(l.lost_at_kill(&open), 0);
        assert!(l.open_at_kill().is_empty(), "agreement settles every ack");
    }

    #[test]
    fn the_kill_window_has_both_edges() {
        let k = Instant::now() + Duration::from_secs(1);
        let mut l = Ledger::new("c", 1, 2);
        l.killed(0, k);
        let a = |at| Ack {
            server: 0,
            at,
            update: Update::parse("AT Bernard +0.1 c0 +1+1 1.0").unwrap(),
        };
        assert!(l.at_kill(&a(k - AT_KILL)));
        assert!(l.at_kill(&a(k + AT_KILL)));
        assert!(!l.at_kill(&a(k - AT_KILL - Duration::from_millis(1))));
        assert!(!l.at_kill(&a(k + AT_KILL + Duration::from_millis(1))));
        let other = Ack { server: 1, ..a(k) };
        assert!(!l.at_kill(&other), "only the killed server's acks");
    }

    #[test]
    fn with_stores_the_floor_is_the_sync_modes_promise() {
        let kill = Instant::now() + Duration::from_secs(10);
        let ms = Duration::from_millis;
        let setup = |rule| {
            let mut l = Ledger::new("c", 2, 5);
            l.rule = rule;
            let (p1, _) = l.next_send(0, 1_000_000_000, "+1+1");
            let (p2, _) = l.next_send(0, 2_000_000_000, "+1+2");
            let (q1, _) = l.next_send(1, 3_000_000_000, "+1+3");
            // p1 acked 2 s before the kill, p2 300 ms before, q1 by another
            // server 10 ms before it; then every server is killed.
            l.ack(0, 1, at("Clark", &p1), kill - ms(2000));
            l.ack(0, 1, at("Clark", &p2), kill - ms(300));
            l.ack(1, 2, at("Jaquez", &q1), kill - ms(10));
            for s in 0..5 {
                l.killed(s, kill);
            }
            (l, p1, p2, q1)
        };
        let all = [0, 1, 2, 3, 4];
        let floor = |l: &Ledger, n| l.expect(n, &all).floor.map(|u| u.client_part());
        // always: every ack, even 10 ms before the kill (the flood's window
        // does not apply).
        let (l, _, p2, q1) = setup(Rule::Store(SyncMode::Always));
        assert_eq!(floor(&l, 0), Some(p2.clone()));
        assert_eq!(floor(&l, 1), Some(q1.clone()));
        assert!(l.open_at_kill().is_empty());
        // everysec: only what was acked more than 1 s before.
        let (mut l, p1, _, q1) = setup(Rule::Store(SyncMode::Everysec));
        assert_eq!(floor(&l, 0), Some(p1.clone()));
        assert_eq!(floor(&l, 1), None);
        assert_eq!(l.open_at_kill().len(), 2);
        let acked = l.acked_updates();
        assert_eq!(
            acked.iter().map(|(_, _, must)| *must).collect::<Vec<_>>(),
            [true, false, false]
        );
        // The herd came back with p1 and q1: p2 was lost, within the promise.
        l.agreed(0, Some(&format!("AT Clark +0.1 {p1}")));
        l.agreed(1, Some(&format!("AT Jaquez +0.1 {q1}")));
        assert_eq!(l.lost_updates(&acked), (1, 0));
        // never: nothing is owed.
        let (l, ..) = setup(Rule::Store(SyncMode::Never));
        assert_eq!(floor(&l, 0), None);
        assert_eq!(floor(&l, 1), None);
    }

    #[test]
    fn lost_updates_count_acks_newer_than_what_the_herd_kept() {
        let t = Instant::now();
        let mut l = Ledger::new("c", 2, 5);
        l.rule = Rule::Store(SyncMode::Always);
        let (p1, _) = l.next_send(0, 1_000_000_000, "+1+1");
        let (p2, _) = l.next_send(0, 2_000_000_000, "+1+2");
        let (q1, _) = l.next_send(1, 3_000_000_000, "+1+3");
        l.ack(0, 0, at("Bernard", &p1), t);
        l.ack(0, 0, at("Bernard", &p2), t);
        l.ack(1, 0, at("Bernard", &q1), t);
        let acked = l.acked_updates();
        assert_eq!(acked.len(), 3);
        // Kept p2 (p1 is older: superseded, not lost); id 1 is held nowhere.
        l.agreed(0, Some(&format!("AT Bernard +0.1 {p2}")));
        l.agreed(1, None);
        assert_eq!(l.lost_updates(&acked), (1, 1));
    }
}
