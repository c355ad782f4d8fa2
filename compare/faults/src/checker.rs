//! The checker's verdict on one client id: given what each server that must
//! agree answered to `WHATSAT <id> 1 1` (the AT line it holds, or nothing),
//! what was sent for that id, and the newest update that must have survived
//! (the floor: the newest acked update, or a line the herd agreed on
//! before), is the id settled? Pure, so every verdict is unit-tested.

use std::collections::HashSet;

use crate::merge::Update;

/// What must hold for one id.
#[derive(Clone, Debug, Default)]
pub struct Expect {
    /// The newest update that must not be lost (merge order), if any.
    pub floor: Option<Update>,
    /// Client parts (`<id> <location> <time>`) of every IAMAT sent for it.
    pub sent: HashSet<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Every server holds the same line, one that was sent, not older than the floor.
    Good,
    /// Some server holds nothing for it while it must (or another server does).
    Missing,
    /// Servers hold different lines.
    Disagree,
    /// All agree, but on a line older than the floor: an acked update was lost.
    Stale,
    /// All agree on a line that is not an AT line this harness sent.
    Unknown,
}

/// Judges one id: `held[i]` is the first line of server i's answer, `None`
/// when the server answered `? ` (does not know the id).
pub fn judge(expect: &Expect, held: &[Option<String>]) -> Verdict {
    let Some(first) = held.first() else {
        return Verdict::Good;
    };
    if held.iter().all(Option::is_none) {
        return if expect.floor.is_none() {
            Verdict::Good
        } else {
            Verdict::Missing
        };
    }
    if held.iter().any(Option::is_none) {
        return Verdict::Missing;
    }
    if held.iter().any(|h| h != first) {
        return Verdict::Disagree;
    }
    let Some(update) = first.as_deref().and_then(Update::parse) else {
        return Verdict::Unknown;
    };
    if !expect.sent.contains(&update.client_part()) {
        return Verdict::Unknown;
    }
    match &expect.floor {
        Some(floor) if update < *floor => Verdict::Stale,
        _ => Verdict::Good,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(server: &str, loc: &str, time: &str) -> String {
        format!("AT {server} +0.000100000 id7 {loc} {time}")
    }

    fn expect(sent: &[(&str, &str)], floor: Option<String>) -> Expect {
        Expect {
            floor: floor.as_deref().and_then(Update::parse),
            sent: sent
                .iter()
                .map(|(loc, t)| format!("id7 {loc} {t}"))
                .collect(),
        }
    }

    fn all(l: &str, n: usize) -> Vec<Option<String>> {
        vec![Some(l.to_string()); n]
    }

    #[test]
    fn agreement_on_the_newest_acked_is_good() {
        let newest = line("Clark", "+1+2", "2.0");
        let e = expect(&[("+1+1", "1.0"), ("+1+2", "2.0")], Some(newest.clone()));
        assert_eq!(judge(&e, &all(&newest, 5)), Verdict::Good);
    }

    #[test]
    fn an_unacked_newer_update_may_win() {
        let acked = line("Clark", "+1+1", "1.0");
        let unacked = line("Jaquez", "+1+2", "2.0");
        let e = expect(&[("+1+1", "1.0"), ("+1+2", "2.0")], Some(acked));
        assert_eq!(judge(&e, &all(&unacked, 3)), Verdict::Good);
    }

    #[test]
    fn agreement_on_an_older_line_is_stale() {
        let old = line("Clark", "+1+1", "1.0");
        let acked = line("Juzang", "+1+2", "2.0");
        let e = expect(&[("+1+1", "1.0"), ("+1+2", "2.0")], Some(acked));
        assert_eq!(judge(&e, &all(&old, 5)), Verdict::Stale);
    }

    #[test]
    fn equal_times_compare_lines() {
        // Same time, but the floor's line is the larger: holding the smaller one is stale.
        let small = line("Bernard", "+1+1", "3.0");
        let big = line("Juzang", "+1+1", "3.0");
        let e = expect(&[("+1+1", "3.0")], Some(big.clone()));
        assert_eq!(judge(&e, &all(&small, 2)), Verdict::Stale);
        assert_eq!(judge(&e, &all(&big, 2)), Verdict::Good);
    }

    #[test]
    fn one_server_behind_is_disagreement() {
        let a = line("Clark", "+1+1", "1.0");
        let b = line("Clark", "+1+2", "2.0");
        let e = expect(&[("+1+1", "1.0"), ("+1+2", "2.0")], Some(a.clone()));
        let mut held = all(&b, 5);
        held[3] = Some(a);
        assert_eq!(judge(&e, &held), Verdict::Disagree);
    }

    #[test]
    fn a_server_without_the_id_is_missing() {
        let a = line("Clark", "+1+1", "1.0");
        let e = expect(&[("+1+1", "1.0")], None);
        let mut held = all(&a, 5);
        held[0] = None;
        assert_eq!(judge(&e, &held), Verdict::Missing);
        // Nobody knows it and nothing was acked: fine (every write failed).
        assert_eq!(judge(&e, &[None, None]), Verdict::Good);
        // Nobody knows it but a write was acked: lost.
        let e = expect(&[("+1+1", "1.0")], Some(a));
        assert_eq!(judge(&e, &[None, None]), Verdict::Missing);
    }

    #[test]
    fn a_line_never_sent_is_unknown() {
        let e = expect(&[("+1+1", "1.0")], None);
        assert_eq!(
            judge(&e, &all(&line("Clark", "+9+9", "1.0"), 2)),
            Verdict::Unknown
        );
        assert_eq!(judge(&e, &all("{\"status\": \"OK\"}", 2)), Verdict::Unknown);
    }

    #[test]
    fn no_servers_to_ask_is_trivially_good() {
        assert_eq!(judge(&Expect::default(), &[]), Verdict::Good);
    }
}
