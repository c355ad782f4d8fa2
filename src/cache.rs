//! The location cache: for each client id, the AT line with the newest time.
//!
//! Written by `cmd/iamat.rs` (a client's own update) and `cmd/at.rs` (an
//! update flooded by a neighbour); read by `cmd/whatsat.rs` and by
//! `link/outbound.rs` for the catch-up dump. [`newer`] is the merge rule, pure and
//! unit-tested; [`Cache::offer`] applies it under one write lock.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::RwLock;

use crate::protocol::{AtLine, Location, Nanos};

/// One client's newest known location, as an AT line and its parsed parts.
#[derive(Debug, Clone, PartialEq)]
pub struct AtRecord {
    /// The client's own time from the IAMAT: what "newest" compares.
    pub client_time: Nanos,
    pub location: Location,
    /// Canonical AT line (one space between fields), no line ending.
    pub line: String,
    /// Where the client id sits in `line`.
    client: std::ops::Range<usize>,
}

impl AtRecord {
    /// Builds a record from a parsed AT line (ours or a neighbour's).
    pub fn new(at: &AtLine<'_>) -> AtRecord {
        let line = at.canonical();
        let start = "AT ".len() + at.server.len() + 1 + at.diff.len() + 1;
        AtRecord {
            client_time: at.time,
            location: at.location,
            line,
            client: start..start + at.client.len(),
        }
    }

    /// The client id this record is about.
    pub fn client(&self) -> &str {
        &self.line[self.client.clone()]
    }
}

/// The merge rule of PROTOCOL §3: `candidate` replaces `kept` when its
/// client time is later, or the times are equal and its line is larger
/// byte-wise. Equal lines change nothing, so a flood always ends, and every
/// server settles on the same line whatever order the updates arrive in.
pub fn newer(candidate: &AtRecord, kept: &AtRecord) -> bool {
    (candidate.client_time, candidate.line.as_bytes()) > (kept.client_time, kept.line.as_bytes())
}

/// Client id -> newest record, shared by every thread of a node.
///
/// Why an `RwLock`: WHATSAT and the catch-up dump only read, IAMAT and AT
/// write, and readers must not wait for each other. Lock rule (the only
/// lock on the request path): it is held just long enough to look up or
/// swap an `Arc`, never across socket I/O, a channel send, a Places call or
/// a log write, and never taken twice by one thread (parking_lot's lock is
/// fair, so a recursive read can deadlock behind a waiting writer).
///
/// Keys use std's SipHash: ids are chosen by clients, and a keyed hash keeps
/// a client from forcing collisions.
#[derive(Debug, Default)]
pub struct Cache {
    records: RwLock<HashMap<String, Arc<AtRecord>>>,
}

impl Cache {
    pub fn new() -> Cache {
        Cache::default()
    }

    /// Stores `record` if it is newer than the one kept for its client (the
    /// check and the write happen in one lock scope). Returns the stored
    /// record, to be flooded, or `None` if nothing changed.
    pub fn offer(&self, record: AtRecord) -> Option<Arc<AtRecord>> {
        let record = Arc::new(record);
        let mut records = self.records.write();
        match records.get_mut(record.client()) {
            Some(kept) if !newer(&record, kept) => None,
            Some(kept) => {
                *kept = Arc::clone(&record);
                Some(record)
            }
            None => {
                records.insert(record.client().to_owned(), Arc::clone(&record));
                Some(record)
            }
        }
    }

    /// The record kept for `client`, if any.
    pub fn get(&self, client: &str) -> Option<Arc<AtRecord>> {
        self.records.read().get(client).cloned()
    }

    /// Every record, for a catch-up dump (copied out; the lock is released
    /// before any of it is written to a socket).
    pub fn snapshot(&self) -> Vec<Arc<AtRecord>> {
        self.records.read().values().cloned().collect()
    }

    pub fn len(&self) -> usize {
        self.records.read().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{Request, parse};

    fn record(line: &str) -> AtRecord {
        match parse(line) {
            Request::At(at) => AtRecord::new(&at),
            other => panic!("not an AT line: {line} ({other:?})"),
        }
    }

    #[test]
    fn record_knows_its_client() {
        let r = record("AT Clark +0.500000000 kiwi\u{a0}x +1+2 3");
        assert_eq!(r.client(), "kiwi\u{a0}x");
        assert_eq!(r.client_time, Nanos(3_000_000_000));
    }

    #[test]
    fn newest_time_wins_and_ties_go_to_the_larger_line() {
        let old = record("AT Clark +0.000000000 kiwi +1+2 10");
        let new = record("AT Bernard +0.000000000 kiwi +1+2 10.5");
        let tie_small = record("AT Bernard +0.000000000 kiwi +1+2 10.5");
        let tie_large = record("AT Clark +0.000000000 kiwi +1+2 10.5");
        assert!(newer(&new, &old));
        assert!(!newer(&old, &new));
        assert!(newer(&tie_large, &tie_small));
        assert!(!newer(&tie_small, &tie_large));
        assert!(
            !newer(&tie_small, &tie_small.clone()),
            "an equal line changes nothing"
        );
    }

    #[test]
    fn offer_keeps_the_newest_whatever_the_order() {
        let lines = [
            "AT A +0.000000000 kiwi +1+2 10",
            "AT B +0.000000000 kiwi +1+2 12",
            "AT C +0.000000000 kiwi +1+2 12",
            "AT D +0.000000000 kiwi +1+2 11",
        ];
        // Every order of delivery ends in the same cache.
        let orders = [[0, 1, 2, 3], [3, 2, 1, 0], [2, 0, 3, 1], [1, 3, 0, 2]];
        for order in orders {
            let cache = Cache::new();
            for i in order {
                cache.offer(record(lines[i]));
            }
            let kept = cache.get("kiwi").map(|r| r.line.clone());
            assert_eq!(kept.as_deref(), Some(lines[2]), "order {order:?}");
        }
    }

    #[test]
    fn offer_reports_changes_only() {
        let cache = Cache::new();
        assert!(
            cache
                .offer(record("AT A +0.000000000 kiwi +1+2 10"))
                .is_some()
        );
        assert!(
            cache
                .offer(record("AT A +0.000000000 kiwi +1+2 10"))
                .is_none()
        );
        assert!(
            cache
                .offer(record("AT A +0.000000000 kiwi +1+2 9"))
                .is_none()
        );
        assert!(
            cache
                .offer(record("AT A +0.000000000 other +1+2 9"))
                .is_some()
        );
        assert_eq!(cache.len(), 2);
        assert_eq!(cache.snapshot().len(), 2);
    }
}
