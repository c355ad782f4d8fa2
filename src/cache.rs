//! The location cache: for each client id, the AT line with the newest time.
//!
//! Written by `cmd/iamat.rs` (a client's own update) and `cmd/at.rs` (an
//! update flooded by a neighbour); read by `cmd/whatsat.rs` and by
//! `link/outbound.rs` for the catch-up dump. [`newer`] is the merge rule, pure and
//! unit-tested; [`Cache::offer`] applies it under one write lock, and with
//! it the bound of PROTOCOL §5 (`max_cached_clients`): a full cache evicts
//! its oldest client for a new one, or drops a new one older than all.
//! With a durable store (PROTOCOL §8) each change is recorded for it
//! (`store/changes.rs`) in the same lock scope.

use std::cmp::Ordering as Order;
use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use parking_lot::{Mutex, RwLock};

use crate::limits::{EVICTION_NOTICE_INTERVAL, Limits};
use crate::protocol::Nanos;
use crate::record::{AtRecord, newer};
use crate::store::changes::{Changes, Ticket};

/// Client id -> newest record, shared by every thread of a node, holding
/// at most `max_cached_clients` clients.
///
/// Why an `RwLock`: WHATSAT and the catch-up dump only read, IAMAT and AT
/// write, and readers must not wait for each other. Lock rule (the only
/// lock on the request path): it is held just long enough to look up or
/// swap an `Arc`, never across socket I/O, a channel send, a Places call or
/// a log write, and never taken twice by one thread (parking_lot's lock is
/// fair, so a recursive read can deadlock behind a waiting writer). With a
/// durable store, a write also records the change in the store's
/// `changes` (its own mutex, a map insert, no I/O), inside this lock, so
/// the store sees changes in the cache's order.
///
/// Keys use std's SipHash: ids are chosen by clients, and a keyed hash keeps
/// a client from forcing collisions.
#[derive(Debug)]
pub struct Cache {
    kept: RwLock<Kept>,
    /// The most clients kept (PROTOCOL §5).
    max: usize,
    /// Clients evicted since the node started (a metric).
    evictions: AtomicU64,
    /// Of those, how many a notice has reported.
    noticed: AtomicU64,
    /// When the last eviction notice was made.
    last_notice: Mutex<Option<Instant>>,
    /// Where changes are recorded for the durable store, if the node has
    /// one (PROTOCOL §8): under the write lock, so in the cache's order.
    store: OnceLock<Arc<Changes>>,
}

#[derive(Debug, Default)]
struct Kept {
    records: HashMap<String, Arc<AtRecord>>,
    /// The same records, oldest first: what a full cache evicts. Built the
    /// first time a new client finds the cache full (one sort, under the
    /// write lock: 0.2 to 0.25 s at a million clients), then
    /// kept in step with `records`. Until then it is `None`, so that a
    /// cache below its bound, the usual case, pays nothing for it on an
    /// IAMAT. The client time is copied in, so that walking the tree
    /// touches no record but on a tie.
    by_age: Option<BTreeSet<Age>>,
}

/// A record in age order: client time, then the line byte by byte (the
/// merge rule's order, so the oldest is the one [`newer`] ranks lowest).
#[derive(Debug, Clone)]
struct Age {
    time: Nanos,
    record: Arc<AtRecord>,
}

impl Age {
    fn of(record: &Arc<AtRecord>) -> Age {
        Age {
            time: record.client_time,
            record: Arc::clone(record),
        }
    }
}

impl Ord for Age {
    fn cmp(&self, other: &Age) -> Order {
        self.time.cmp(&other.time).then_with(|| {
            self.record
                .line
                .as_bytes()
                .cmp(other.record.line.as_bytes())
        })
    }
}

impl PartialOrd for Age {
    fn partial_cmp(&self, other: &Age) -> Option<Order> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Age {
    fn eq(&self, other: &Age) -> bool {
        self.cmp(other) == Order::Equal
    }
}

impl Eq for Age {}

impl Default for Cache {
    fn default() -> Cache {
        Cache::bounded(Limits::default().max_cached_clients)
    }
}

impl Cache {
    /// A cache with the default bound.
    pub fn new() -> Cache {
        Cache::default()
    }

    /// A cache that keeps at most `max` clients (at least one).
    pub fn bounded(max: usize) -> Cache {
        Cache {
            kept: RwLock::new(Kept::default()),
            max: max.max(1),
            evictions: AtomicU64::new(0),
            noticed: AtomicU64::new(0),
            last_notice: Mutex::new(None),
            store: OnceLock::new(),
        }
    }

    /// Loads the clients read from a durable store (before the node takes
    /// any client) and from then on records every change for it. Returns
    /// the clients loaded but not kept (a bound lowered since the store was
    /// written), which the store is told to drop.
    pub fn load_and_attach(&self, records: Vec<AtRecord>, changes: Arc<Changes>) -> usize {
        let mut ids: Vec<String> = Vec::with_capacity(records.len());
        for record in records {
            ids.push(record.client().to_owned());
            self.offer(record);
        }
        let _ = self.store.set(changes);
        let mut dropped = 0;
        if let Some(changes) = self.store.get() {
            let kept = self.kept.read();
            for id in ids
                .iter()
                .filter(|id| !kept.records.contains_key(id.as_str()))
            {
                changes.remove(id);
                dropped += 1;
            }
        }
        dropped
    }

    /// The ticket an answer waits for when the store promises `always`
    /// (`None`: no store, or one whose answers do not wait).
    pub fn durable_ticket(&self) -> Option<Ticket> {
        let changes = self.store.get()?;
        changes.answers_wait().then(|| changes.ticket())
    }

    /// The durable store's changes, if the node has a store.
    pub fn store(&self) -> Option<&Arc<Changes>> {
        self.store.get()
    }

    /// Stores `record` if it is newer than the one kept for its client (the
    /// check and the write happen in one lock scope). Returns the stored
    /// record, to be flooded, or `None` if nothing changed. A new client at
    /// a full cache evicts the oldest client, or, if its own record is
    /// older still, is dropped (`None`); an update of a kept client never
    /// evicts.
    pub fn offer(&self, record: AtRecord) -> Option<Arc<AtRecord>> {
        let record = Arc::new(record);
        let mut kept = self.kept.write();
        let Kept { records, by_age } = &mut *kept;
        match records.get_mut(record.client()) {
            Some(old) if !newer(&record, old) => None,
            Some(old) => {
                let old = std::mem::replace(old, Arc::clone(&record));
                if let Some(by_age) = by_age {
                    by_age.remove(&Age {
                        time: old.client_time,
                        record: old,
                    });
                    by_age.insert(Age::of(&record));
                }
                if let Some(store) = self.store.get() {
                    store.put(&record);
                }
                Some(record)
            }
            None => {
                if records.len() >= self.max {
                    let by_age =
                        by_age.get_or_insert_with(|| records.values().map(Age::of).collect());
                    let oldest = by_age.first()?;
                    if !newer(&record, &oldest.record) {
                        return None;
                    }
                    if let Some(evicted) = by_age.pop_first() {
                        records.remove(evicted.record.client());
                        if let Some(store) = self.store.get() {
                            store.remove(evicted.record.client());
                        }
                    }
                    self.evictions.fetch_add(1, Ordering::Relaxed);
                }
                if let Some(by_age) = by_age {
                    by_age.insert(Age::of(&record));
                }
                records.insert(record.client().to_owned(), Arc::clone(&record));
                if let Some(store) = self.store.get() {
                    store.put(&record);
                }
                Some(record)
            }
        }
    }

    /// The notice `cache full at N clients: evicted K since the last
    /// notice`, if clients were evicted since the last one and that was at
    /// least [`EVICTION_NOTICE_INTERVAL`] ago. Callers log it after an
    /// [`offer`](Self::offer); without evictions it costs two atomic loads.
    pub fn eviction_notice(&self) -> Option<String> {
        if self.evictions.load(Ordering::Relaxed) == self.noticed.load(Ordering::Relaxed) {
            return None;
        }
        let mut last = self.last_notice.lock();
        if last.is_some_and(|at| at.elapsed() < EVICTION_NOTICE_INTERVAL) {
            return None;
        }
        let total = self.evictions.load(Ordering::Relaxed);
        let since = total - self.noticed.swap(total, Ordering::Relaxed);
        *last = Some(Instant::now());
        Some(format!(
            "cache full at {} clients: evicted {since} since the last notice",
            self.max
        ))
    }

    /// Clients evicted since the node started.
    pub fn evictions(&self) -> u64 {
        self.evictions.load(Ordering::Relaxed)
    }

    /// The most clients kept.
    pub fn max(&self) -> usize {
        self.max
    }

    /// The record kept for `client`, if any.
    pub fn get(&self, client: &str) -> Option<Arc<AtRecord>> {
        self.kept.read().records.get(client).cloned()
    }

    /// Every record, for a catch-up dump (copied out; the lock is released
    /// before any of it is written to a socket).
    pub fn snapshot(&self) -> Vec<Arc<AtRecord>> {
        self.kept.read().records.values().cloned().collect()
    }

    pub fn len(&self) -> usize {
        self.kept.read().records.len()
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

    fn at(client: &str, time: u32) -> AtRecord {
        record(&format!("AT A +0.000000000 {client} +1+2 {time}"))
    }

    fn kept(cache: &Cache, client: &str) -> bool {
        cache.get(client).is_some()
    }

    #[test]
    fn a_full_cache_evicts_the_oldest_for_a_new_client() {
        let cache = Cache::bounded(3);
        for (client, time) in [("b", 20), ("a", 10), ("c", 30)] {
            assert!(cache.offer(at(client, time)).is_some());
        }
        assert!(cache.offer(at("d", 15)).is_some());
        assert!(!kept(&cache, "a"), "the oldest stays");
        assert!(kept(&cache, "b") && kept(&cache, "c") && kept(&cache, "d"));
        assert_eq!(cache.len(), 3);
        assert_eq!(cache.evictions(), 1);
    }

    #[test]
    fn a_new_client_older_than_every_kept_one_is_dropped() {
        let cache = Cache::bounded(2);
        cache.offer(at("a", 10));
        cache.offer(at("b", 20));
        assert!(cache.offer(at("old", 5)).is_none());
        assert!(!kept(&cache, "old"));
        assert!(kept(&cache, "a") && kept(&cache, "b"));
        assert_eq!(cache.evictions(), 0);
    }

    #[test]
    fn equal_times_evict_the_byte_wise_smaller_line() {
        let cache = Cache::bounded(2);
        cache.offer(at("m", 10));
        cache.offer(at("y", 10));
        // Same time: "x" > "m", so m's line is the oldest and goes.
        assert!(cache.offer(at("x", 10)).is_some());
        assert!(!kept(&cache, "m"));
        // "b" < "x" at the same time: older than every kept one, dropped.
        assert!(cache.offer(at("b", 10)).is_none());
        assert!(kept(&cache, "x") && kept(&cache, "y"));
    }

    #[test]
    fn updating_a_kept_client_never_evicts_and_moves_it_to_the_newest() {
        let cache = Cache::bounded(2);
        cache.offer(at("a", 10));
        cache.offer(at("b", 20));
        assert!(cache.offer(at("a", 30)).is_some());
        assert_eq!(cache.len(), 2);
        assert_eq!(cache.evictions(), 0);
        // Now b is the oldest.
        assert!(cache.offer(at("c", 25)).is_some());
        assert!(!kept(&cache, "b"));
        assert_eq!(
            cache.get("a").map(|r| r.client_time),
            Some(Nanos(30_000_000_000))
        );
        // Once full, the age order follows updates too: c is made the
        // newest, so a is the oldest now.
        assert!(cache.offer(at("c", 40)).is_some());
        assert!(cache.offer(at("d", 35)).is_some());
        assert!(!kept(&cache, "a") && kept(&cache, "c") && kept(&cache, "d"));
        assert_eq!(cache.evictions(), 2);
    }

    #[test]
    fn a_bounded_cache_keeps_what_a_naive_model_keeps() {
        // Random offers (new clients, updates, stale lines) against a
        // model that sorts everything: the same clients, the same lines.
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        for max in [1, 2, 5, 17] {
            let cache = Cache::bounded(max);
            let mut model: Vec<AtRecord> = Vec::new();
            for _ in 0..2000 {
                let offered = at(&format!("c{}", next(40)), next(60) as u32);
                let stored = cache.offer(offered.clone()).is_some();
                let expect = match model.iter().position(|r| r.client() == offered.client()) {
                    Some(i) if newer(&offered, &model[i]) => {
                        model[i] = offered;
                        true
                    }
                    Some(_) => false,
                    None if model.len() < max => {
                        model.push(offered);
                        true
                    }
                    None => {
                        let oldest = (0..model.len())
                            .min_by(|&i, &j| {
                                (model[i].client_time, model[i].line.as_bytes())
                                    .cmp(&(model[j].client_time, model[j].line.as_bytes()))
                            })
                            .unwrap_or(0);
                        if newer(&offered, &model[oldest]) {
                            model[oldest] = offered;
                            true
                        } else {
                            false
                        }
                    }
                };
                assert_eq!(stored, expect, "max {max}");
            }
            let mut got: Vec<String> = cache.snapshot().iter().map(|r| r.line.clone()).collect();
            let mut want: Vec<String> = model.iter().map(|r| r.line.clone()).collect();
            got.sort();
            want.sort();
            assert_eq!(got, want, "max {max}");
        }
    }

    #[test]
    fn evictions_are_noticed_at_most_once_an_interval() {
        let cache = Cache::bounded(1);
        assert_eq!(cache.eviction_notice(), None);
        cache.offer(at("a", 1));
        cache.offer(at("b", 2));
        assert_eq!(
            cache.eviction_notice().as_deref(),
            Some("cache full at 1 clients: evicted 1 since the last notice")
        );
        cache.offer(at("c", 3));
        cache.offer(at("d", 4));
        assert_eq!(cache.eviction_notice(), None, "within the interval");
        assert_eq!(cache.evictions(), 3);
    }
}
