//! What the writers sent and what came back, per client id: every IAMAT's
//! client part, the newest acked AT line per server, and the line the herd
//! last agreed on. The checker's expectations are computed from it.

use std::collections::HashSet;

use crate::checker::Expect;
use crate::merge::Update;

#[derive(Default)]
struct IdState {
    sent: HashSet<String>,
    /// Newest acked update, per server index.
    acked: Vec<Option<Update>>,
    /// The line every server agreed on at the last whole-herd check.
    agreed: Option<Update>,
    last_time_ns: i128,
}

pub struct Ledger {
    ids: Vec<String>,
    state: Vec<IdState>,
    pub sent: u64,
    pub acked: u64,
}

impl Ledger {
    /// `count` ids named `<prefix><n>`, for a herd of `servers` servers.
    pub fn new(prefix: &str, count: usize, servers: usize) -> Ledger {
        Ledger {
            ids: (0..count).map(|n| format!("{prefix}{n}")).collect(),
            state: (0..count)
                .map(|_| IdState {
                    acked: vec![None; servers],
                    ..IdState::default()
                })
                .collect(),
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

    /// Records server `server`'s AT answer to an IAMAT for id `n`.
    pub fn ack(&mut self, n: usize, server: usize, update: Update) {
        self.acked += 1;
        let slot = &mut self.state[n].acked[server];
        if slot.as_ref().is_none_or(|old| update > *old) {
            *slot = Some(update);
        }
    }

    /// What must hold for id `n` on the servers in `among`: at least the
    /// newest update acked by any of them and the last agreed line.
    pub fn expect(&self, n: usize, among: &[usize]) -> Expect {
        let st = &self.state[n];
        let floor = among
            .iter()
            .filter_map(|&s| st.acked[s].as_ref())
            .chain(st.agreed.as_ref())
            .max()
            .cloned();
        Expect {
            floor,
            sent: st.sent.clone(),
        }
    }

    /// After a whole-herd check passed: the herd agrees on `line` for id `n`.
    pub fn agreed(&mut self, n: usize, line: Option<&str>) {
        if let Some(u) = line.and_then(Update::parse) {
            self.state[n].agreed = Some(u);
        }
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

    #[test]
    fn the_floor_is_the_newest_ack_among_the_asked_servers() {
        let mut l = Ledger::new("c", 1, 5);
        let (p1, _) = l.next_send(0, 1_000_000_000, "+1+1");
        let (p2, _) = l.next_send(0, 2_000_000_000, "+1+2");
        l.ack(0, 1, Update::parse(&format!("AT Clark +0.1 {p1}")).unwrap());
        l.ack(
            0,
            3,
            Update::parse(&format!("AT Johnson +0.1 {p2}")).unwrap(),
        );
        let floor = |l: &Ledger, among: &[usize]| l.expect(0, among).floor.map(|u| u.client_part());
        assert_eq!(floor(&l, &[0, 1, 2, 3, 4]), Some(p2.clone()));
        assert_eq!(floor(&l, &[1, 2]), Some(p1.clone()));
        assert_eq!(floor(&l, &[0, 2]), None);
        l.agreed(0, Some(&format!("AT Johnson +0.1 {p2}")));
        assert_eq!(floor(&l, &[0, 2]), Some(p2));
        assert_eq!(l.expect(0, &[0]).sent.len(), 2);
    }
}
