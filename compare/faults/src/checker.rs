//! The checker's verdict on one client id: given what each server that must
//! agree answered to `WHATSAT <id> 1 1` (the AT line it holds, or nothing),
//! what was sent for that id, and the newest update that must have survived
//! (the floor: the newest acked update, or a line the herd agreed on
//! before), is the id settled? Pure, so every verdict is unit-tested.
//!
//! Also the store scenario's rule (PROTOCOL §8): after every server was
//! killed at once and restarted on its store, which acknowledged updates
//! the sync mode promises to keep ([`store_must_keep`], [`store_exempt`]).

use std::collections::HashSet;
use std::time::{Duration, Instant};

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

/// A store's `[store] sync` mode (PROTOCOL §8).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncMode {
    /// On stable storage before the AT answer is written.
    Always,
    /// At most the last second of acknowledged updates lost.
    Everysec,
    /// The operating system decides: nothing promised.
    Never,
}

impl SyncMode {
    pub const ALL: [SyncMode; 3] = [SyncMode::Always, SyncMode::Everysec, SyncMode::Never];

    /// Its name in `--store-sync` and in the report.
    pub fn name(self) -> &'static str {
        match self {
            SyncMode::Always => "always",
            SyncMode::Everysec => "everysec",
            SyncMode::Never => "never",
        }
    }

    pub fn parse(s: &str) -> Option<SyncMode> {
        SyncMode::ALL.into_iter().find(|m| m.name() == s)
    }

    /// What the mode promises, in the words of the report.
    pub fn promise(self) -> &'static str {
        match self {
            SyncMode::Always => "every acked update kept",
            SyncMode::Everysec => "acked > 1 s before the kill kept",
            SyncMode::Never => "nothing promised",
        }
    }
}

/// `everysec`'s window: what was acknowledged within it before a crash of
/// every server may be lost.
pub const EVERYSEC_WINDOW: Duration = Duration::from_secs(1);

/// How long after a kill an answer the killed server wrote before it died
/// may still arrive (a runnable writer thread may wait for a CPU on a busy
/// machine): such an ack belongs to that kill, not to a later restart.
pub const LATE_ANSWER: Duration = Duration::from_millis(100);

/// PROTOCOL §8's promise when every server is killed at `kill`: must an
/// update whose AT answer arrived at `acked` survive? `always`: yes, even
/// one whose answer arrived after the kill (it was on disk before the
/// answer was written); `everysec`: only one acked more than
/// [`EVERYSEC_WINDOW`] before the kill; `never`: no.
pub fn store_must_keep(sync: SyncMode, acked: Instant, kill: Instant) -> bool {
    match sync {
        SyncMode::Always => true,
        SyncMode::Everysec => kill
            .checked_duration_since(acked)
            .is_some_and(|before| before > EVERYSEC_WINDOW),
        SyncMode::Never => false,
    }
}

/// Whether an ack from a server killed at `kills` is outside what its
/// store promises: it came before (or within [`LATE_ANSWER`] after) one of
/// those kills and [`store_must_keep`] does not cover it. An ack long
/// after every kill (from the restarted server) is never exempt.
pub fn store_exempt(sync: SyncMode, acked: Instant, kills: &[Instant]) -> bool {
    kills
        .iter()
        .any(|&k| acked <= k + LATE_ANSWER && !store_must_keep(sync, acked, k))
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

    #[test]
    fn always_keeps_every_ack_even_one_that_arrived_after_the_kill() {
        let k = Instant::now() + Duration::from_secs(10);
        for acked in [
            k - Duration::from_secs(5),
            k - Duration::from_millis(1),
            k,
            k + Duration::from_millis(50),
        ] {
            assert!(store_must_keep(SyncMode::Always, acked, k));
            assert!(!store_exempt(SyncMode::Always, acked, &[k]));
        }
    }

    #[test]
    fn everysec_keeps_what_was_acked_more_than_a_second_before_the_kill() {
        let k = Instant::now() + Duration::from_secs(10);
        let ms = Duration::from_millis;
        assert!(store_must_keep(SyncMode::Everysec, k - ms(1001), k));
        assert!(store_must_keep(
            SyncMode::Everysec,
            k - Duration::from_secs(5),
            k
        ));
        // The last second (its edge included) may be lost.
        assert!(!store_must_keep(SyncMode::Everysec, k - ms(1000), k));
        assert!(!store_must_keep(SyncMode::Everysec, k - ms(300), k));
        assert!(!store_must_keep(SyncMode::Everysec, k, k));
        // An answer written before the kill that arrived just after it.
        assert!(!store_must_keep(SyncMode::Everysec, k + ms(40), k));
        assert!(store_exempt(SyncMode::Everysec, k + ms(40), &[k]));
        assert!(store_exempt(SyncMode::Everysec, k - ms(999), &[k]));
        assert!(!store_exempt(SyncMode::Everysec, k - ms(1001), &[k]));
        // An ack from the restarted server, long after the kill, must stay.
        assert!(!store_exempt(SyncMode::Everysec, k + ms(101), &[k]));
        assert!(!store_exempt(
            SyncMode::Everysec,
            k + Duration::from_secs(3),
            &[k]
        ));
        // A server never killed: nothing is exempt.
        assert!(!store_exempt(SyncMode::Everysec, k, &[]));
    }

    #[test]
    fn never_promises_nothing_before_the_kill_but_binds_the_restarted_server() {
        let k = Instant::now() + Duration::from_secs(10);
        assert!(!store_must_keep(
            SyncMode::Never,
            k - Duration::from_secs(9),
            k
        ));
        assert!(store_exempt(
            SyncMode::Never,
            k - Duration::from_secs(9),
            &[k]
        ));
        assert!(!store_exempt(
            SyncMode::Never,
            k + Duration::from_secs(1),
            &[k]
        ));
    }

    #[test]
    fn sync_modes_read_and_write_their_names() {
        for m in SyncMode::ALL {
            assert_eq!(SyncMode::parse(m.name()), Some(m));
        }
        assert_eq!(SyncMode::parse("sometimes"), None);
    }
}
