//! Convergence: after a fault heals, poll the servers that must agree with
//! `WHATSAT <id> 1 1` for every id, one connection per server in parallel,
//! round after round, until every id is judged good in two consecutive
//! rounds that saw the same lines (so an update still in flight cannot make
//! an early round look settled), or the bound passes. Servers are grouped:
//! each group (a connected component) must agree within itself.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::Result;

use crate::checker::{Verdict, judge};
use crate::client::Conn;
use crate::interrupt;
use crate::topology::SERVERS;
use crate::writers::Shared;

/// Pause between rounds, so polling does not swamp a single-threaded build.
const GAP: Duration = Duration::from_millis(25);
const POLL_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone)]
pub struct Outcome {
    /// Seconds from `t0` to the end of the first all-good round (confirmed).
    pub converge_s: Option<f64>,
    /// Longest poll round (plus the gap): the resolution of `converge_s`.
    pub resolution_s: f64,
    /// Ids still not good when the bound passed.
    pub lost: usize,
    pub rounds: usize,
    /// A few not-good ids with their verdict, for the report.
    pub sample: Vec<String>,
    /// In the first round: ids whose lines differ between any two polled
    /// servers. After a cut this shows the cut was real.
    pub diverged_first: usize,
}

/// Ids whose lines differ between any two servers in `held`.
fn diverged(held: &Held, ids: usize) -> usize {
    (0..ids)
        .filter(|&n| {
            let mut lines = held.values().map(|v| v.get(n));
            lines.next().is_some_and(|first| lines.any(|l| l != first))
        })
        .count()
}

type Held = BTreeMap<usize, Vec<Option<String>>>;

/// One round: what every server in `servers` holds for every id (`None`
/// for a whole server that failed to answer).
fn round(
    shared: &Shared,
    servers: &[usize],
    ids: &Arc<Vec<String>>,
) -> BTreeMap<usize, Option<Vec<Option<String>>>> {
    thread::scope(|scope| {
        let handles: Vec<_> = servers
            .iter()
            .map(|&s| {
                let addr = shared.addrs[s];
                let ids = ids.clone();
                (
                    s,
                    scope.spawn(move || {
                        let mut c = Conn::connect(addr, POLL_TIMEOUT).ok()?;
                        c.set_timeout(POLL_TIMEOUT).ok()?;
                        c.held_lines(&ids).ok()
                    }),
                )
            })
            .collect();
        handles
            .into_iter()
            .map(|(s, h)| (s, h.join().ok().flatten()))
            .collect()
    })
}

/// Judges a round: the not-good ids with their verdicts.
fn judge_round(shared: &Shared, groups: &[Vec<usize>], held: &Held) -> Vec<(usize, String)> {
    let ledger = shared.ledger();
    let mut bad = Vec::new();
    for (n, id) in ledger.ids().iter().enumerate() {
        for g in groups {
            let lines: Vec<Option<String>> = g
                .iter()
                .map(|s| held.get(s).and_then(|v| v.get(n)).cloned().flatten())
                .collect();
            let v = judge(&ledger.expect(n, g), &lines);
            if v != Verdict::Good {
                let names: Vec<&str> = g.iter().map(|&s| SERVERS[s]).collect();
                bad.push((n, format!("{id} {v:?} among {}", names.join("+"))));
                break;
            }
        }
    }
    bad
}

/// Polls until every group agrees on every id (see the module doc), at most
/// `bound` after `t0`. With `record`, the agreed lines become the ledger's
/// new floor (use it for whole-herd checks only).
pub fn converge(
    shared: &Shared,
    groups: &[Vec<usize>],
    t0: Instant,
    bound: Duration,
    record: bool,
) -> Result<Outcome> {
    let servers: Vec<usize> = groups.iter().flatten().copied().collect();
    let ids = Arc::new(shared.ledger().ids().to_vec());
    let mut out = Outcome {
        converge_s: None,
        resolution_s: 0.0,
        lost: ids.len(),
        rounds: 0,
        sample: Vec::new(),
        diverged_first: 0,
    };
    let mut candidate: Option<(f64, Held)> = None;
    loop {
        interrupt::check()?;
        let start = Instant::now();
        let answers = round(shared, &servers, &ids);
        let end = Instant::now();
        out.rounds += 1;
        out.resolution_s = out.resolution_s.max((end - start + GAP).as_secs_f64());
        let failed: Vec<&str> = answers
            .iter()
            .filter(|(_, a)| a.is_none())
            .map(|(&s, _)| SERVERS[s])
            .collect();
        let bad = if failed.is_empty() {
            let held: Held = answers
                .into_iter()
                .map(|(s, a)| (s, a.unwrap_or_default()))
                .collect();
            if out.rounds == 1 {
                out.diverged_first = diverged(&held, ids.len());
            }
            let bad = judge_round(shared, groups, &held);
            if bad.is_empty() {
                match &candidate {
                    Some((t, first)) if *first == held => {
                        out.converge_s = Some(*t);
                        out.lost = 0;
                        out.sample.clear();
                        if record {
                            let mut ledger = shared.ledger();
                            let any = held.values().next().cloned().unwrap_or_default();
                            for (n, line) in any.iter().enumerate() {
                                ledger.agreed(n, line.as_deref());
                            }
                        }
                        return Ok(out);
                    }
                    _ => candidate = Some(((end - t0).as_secs_f64(), held)),
                }
            } else {
                candidate = None;
            }
            bad
        } else {
            candidate = None;
            vec![(0, format!("no answer from {}", failed.join(", ")))]
        };
        // A good round waiting for its confirmation gets a little longer.
        let late = end - t0 > bound;
        if late && (candidate.is_none() || end - t0 > bound + Duration::from_secs(10)) {
            out.lost = if failed.is_empty() {
                bad.len()
            } else {
                ids.len()
            };
            out.sample = bad.into_iter().take(5).map(|(_, s)| s).collect();
            return Ok(out);
        }
        thread::sleep(GAP); // pacing between rounds
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diverged_counts_ids_on_which_any_two_servers_differ() {
        let a = Some("AT Clark +0.1 x +1+1 1.0".to_string());
        let b = Some("AT Clark +0.1 x +1+1 2.0".to_string());
        let held: Held = [
            (0, vec![a.clone(), a.clone(), None]),
            (1, vec![a.clone(), b.clone(), None]),
            (3, vec![a.clone(), a.clone(), a.clone()]),
        ]
        .into_iter()
        .collect();
        // id 0: all agree; id 1: one differs; id 2: one server holds it.
        assert_eq!(diverged(&held, 3), 2);
        assert_eq!(diverged(&Held::new(), 3), 0);
    }
}
