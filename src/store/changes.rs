//! What the cache changed and the store has not yet written, and who waits
//! for it: the meeting point of the cache and the store's writer thread.
//!
//! The cache records each change here under its own write lock (an update
//! as the record it kept, an eviction as a removal), so the order of
//! changes here is the cache's order; nothing here does I/O, so the lock is
//! held no longer for it. Repeated changes to one client collapse into the
//! newest, so what waits here is bounded by the number of clients. The
//! writer thread (`writer.rs`) takes everything at once, writes it in one
//! batch and says how far it got; with `sync = always` an IAMAT's answer
//! waits here for that ([`Changes::wait`], or [`Changes::when_durable`] for
//! the tokio build, which must not block a runtime thread).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::{Condvar, Mutex};

use crate::record::AtRecord;
use crate::store::sync::SyncMode;

/// A position in the order of changes: an answer that waits for ticket `t`
/// is written once every change up to `t` is as durable as the sync mode
/// promises.
pub type Ticket = u64;

/// A change to one client, as the writer will store it.
pub type Change = Option<Arc<AtRecord>>;

/// What the writer took in one go: the newest change per client, and the
/// ticket of the last change among them.
pub struct Taken {
    pub changes: HashMap<String, Change>,
    pub upto: Ticket,
    /// The node is stopping: write this, sync, and end.
    pub stopping: bool,
}

/// Counters the metrics endpoint reads (`herd_store_*`).
#[derive(Debug, Default)]
pub struct StoreStats {
    /// Changes written (after collapsing repeats of one client).
    pub written: AtomicU64,
    /// Batches written.
    pub batches: AtomicU64,
    /// fsyncs made.
    pub syncs: AtomicU64,
    /// Total time in fsync, in microseconds.
    pub sync_micros: AtomicU64,
    /// Writes or syncs that failed.
    pub failures: AtomicU64,
}

/// Callbacks waiting for a ticket (the tokio build's answers).
type Callback = Box<dyn FnOnce() + Send>;

struct Pending {
    changes: HashMap<String, Change>,
    stopping: bool,
}

struct Durable {
    /// Every change up to here keeps the sync mode's promise.
    upto: Ticket,
    callbacks: Vec<(Ticket, Callback)>,
}

/// Shared by the cache (which records), the writer thread (which takes and
/// reports) and the connections that wait.
pub struct Changes {
    sync: SyncMode,
    pending: Mutex<Pending>,
    /// Wakes the writer when the first change arrives or the node stops.
    work: Condvar,
    /// The ticket of the last change recorded.
    recorded: AtomicU64,
    durable: Mutex<Durable>,
    /// Wakes the connections waiting in [`Changes::wait`].
    advanced: Condvar,
    /// False while the store cannot write: waits end at once, and the node
    /// says in its log and metrics that answers are not durable.
    healthy: AtomicBool,
    pub stats: StoreStats,
}

impl std::fmt::Debug for Changes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Changes")
            .field("sync", &self.sync)
            .field("recorded", &self.ticket())
            .finish_non_exhaustive()
    }
}

impl Changes {
    pub fn new(sync: SyncMode) -> Changes {
        Changes {
            sync,
            pending: Mutex::new(Pending {
                changes: HashMap::new(),
                stopping: false,
            }),
            work: Condvar::new(),
            recorded: AtomicU64::new(0),
            durable: Mutex::new(Durable {
                upto: 0,
                callbacks: Vec::new(),
            }),
            advanced: Condvar::new(),
            healthy: AtomicBool::new(true),
            stats: StoreStats::default(),
        }
    }

    pub fn sync(&self) -> SyncMode {
        self.sync
    }

    /// Records that `record` is now the newest kept for its client.
    pub fn put(&self, record: &Arc<AtRecord>) {
        self.record(record.client(), Some(Arc::clone(record)));
    }

    /// Records that `client` is no longer kept (evicted).
    pub fn remove(&self, client: &str) {
        self.record(client, None);
    }

    fn record(&self, client: &str, change: Change) {
        let mut pending = self.pending.lock();
        let first = pending.changes.is_empty();
        match pending.changes.get_mut(client) {
            Some(slot) => *slot = change,
            None => {
                pending.changes.insert(client.to_owned(), change);
            }
        }
        self.recorded.fetch_add(1, Ordering::AcqRel);
        drop(pending);
        if first {
            self.work.notify_one();
        }
    }

    /// The ticket that covers every change recorded so far. Read after the
    /// cache's `offer` returns, it covers that offer's change, and, if the
    /// offer changed nothing, the newer change that made it so.
    pub fn ticket(&self) -> Ticket {
        self.recorded.load(Ordering::Acquire)
    }

    /// Whether answers wait for the store (`sync = always`).
    pub fn answers_wait(&self) -> bool {
        self.sync == SyncMode::Always
    }

    /// Blocks until every change up to `ticket` is on stable storage, or
    /// the store cannot write (then at once). True if it is durable.
    pub fn wait(&self, ticket: Ticket) -> bool {
        let mut durable = self.durable.lock();
        loop {
            if durable.upto >= ticket {
                return true;
            }
            if !self.is_healthy() {
                return false;
            }
            // The writer reports every batch; the timeout only re-checks
            // health if the writer thread died between two reports.
            self.advanced
                .wait_for(&mut durable, Duration::from_millis(100));
        }
    }

    /// Calls `done` once every change up to `ticket` is on stable storage,
    /// or the store cannot write; on this thread if that is already so,
    /// else on the writer's.
    pub fn when_durable(&self, ticket: Ticket, done: Callback) {
        let mut durable = self.durable.lock();
        if durable.upto >= ticket || !self.is_healthy() {
            drop(durable);
            done();
            return;
        }
        durable.callbacks.push((ticket, done));
    }

    /// The store is writing, and every answer keeps its promise.
    pub fn is_healthy(&self) -> bool {
        self.healthy.load(Ordering::Acquire)
    }

    /// Changes recorded and not yet taken by the writer.
    pub fn pending(&self) -> usize {
        self.pending.lock().changes.len()
    }

    // ---- the writer's side ----

    /// Waits up to `timeout` for changes or a stop, then takes them all
    /// (perhaps none, if the time ran out).
    pub(super) fn take(&self, timeout: Option<Duration>) -> Taken {
        let mut pending = self.pending.lock();
        if pending.changes.is_empty() && !pending.stopping {
            match timeout {
                Some(timeout) => {
                    self.work.wait_for(&mut pending, timeout);
                }
                None => self.work.wait(&mut pending),
            }
        }
        Taken {
            changes: std::mem::take(&mut pending.changes),
            // Read under the lock: every change counted is in `changes`.
            upto: self.recorded.load(Ordering::Acquire),
            stopping: pending.stopping,
        }
    }

    /// Waits `timeout`, or less if the node asks the writer to stop; true
    /// if it did.
    pub(super) fn pause(&self, timeout: Duration) -> bool {
        let mut pending = self.pending.lock();
        if !pending.stopping {
            self.work.wait_for(&mut pending, timeout);
        }
        pending.stopping
    }

    /// Gives back changes that could not be written, under any newer change
    /// recorded since (which wins, being newer).
    pub(super) fn give_back(&self, changes: HashMap<String, Change>) {
        let mut pending = self.pending.lock();
        for (client, change) in changes {
            pending.changes.entry(client).or_insert(change);
        }
    }

    /// Every change up to `upto` keeps the promise: wakes its waiters.
    pub(super) fn advance(&self, upto: Ticket) {
        let mut durable = self.durable.lock();
        if upto > durable.upto {
            durable.upto = upto;
        }
        let upto = durable.upto;
        let (due, waiting) = std::mem::take(&mut durable.callbacks)
            .into_iter()
            .partition(|(ticket, _)| *ticket <= upto);
        durable.callbacks = waiting;
        drop(durable);
        self.advanced.notify_all();
        for (_, done) in due {
            done();
        }
    }

    /// The store cannot write (false) or writes again (true). Going
    /// unhealthy releases every waiter: answers go out, not durable, and
    /// the log and metrics say so.
    pub(super) fn set_healthy(&self, healthy: bool) {
        self.healthy.store(healthy, Ordering::Release);
        if !healthy {
            let callbacks = std::mem::take(&mut self.durable.lock().callbacks);
            self.advanced.notify_all();
            for (_, done) in callbacks {
                done();
            }
        }
    }

    /// Asks the writer to write what is left, sync, and end.
    pub(super) fn request_stop(&self) {
        self.pending.lock().stopping = true;
        self.work.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{Request, parse};

    fn record(line: &str) -> Arc<AtRecord> {
        match parse(line) {
            Request::At(at) => Arc::new(AtRecord::new(&at)),
            other => panic!("not an AT line: {line} ({other:?})"),
        }
    }

    #[test]
    fn repeated_changes_collapse_into_the_newest() {
        let changes = Changes::new(SyncMode::Always);
        changes.put(&record("AT A +0.100000000 kiwi +1+2 1"));
        changes.put(&record("AT A +0.100000000 kiwi +1+2 2"));
        changes.put(&record("AT A +0.100000000 pear +1+2 2"));
        changes.remove("pear");
        assert_eq!(changes.ticket(), 4);
        let taken = changes.take(Some(Duration::ZERO));
        assert_eq!(taken.upto, 4);
        assert_eq!(taken.changes.len(), 2);
        assert_eq!(
            taken.changes["kiwi"].as_ref().map(|r| r.line.as_str()),
            Some("AT A +0.100000000 kiwi +1+2 2")
        );
        assert!(taken.changes["pear"].is_none());
    }

    #[test]
    fn a_change_given_back_yields_to_a_newer_one() {
        let changes = Changes::new(SyncMode::Always);
        changes.put(&record("AT A +0.100000000 kiwi +1+2 1"));
        let taken = changes.take(Some(Duration::ZERO));
        changes.put(&record("AT A +0.100000000 kiwi +1+2 2"));
        changes.give_back(taken.changes);
        let again = changes.take(Some(Duration::ZERO));
        assert_eq!(
            again.changes["kiwi"].as_ref().map(|r| r.line.as_str()),
            Some("AT A +0.100000000 kiwi +1+2 2")
        );
    }

    #[test]
    fn waiters_wake_when_their_ticket_is_durable_or_the_store_fails() {
        let changes = Arc::new(Changes::new(SyncMode::Always));
        changes.put(&record("AT A +0.100000000 kiwi +1+2 1"));
        let ticket = changes.ticket();
        let (tx, rx) = crossbeam_channel::bounded(2);
        let cb_tx = tx.clone();
        changes.when_durable(
            ticket,
            Box::new(move || cb_tx.send("callback").unwrap_or(())),
        );
        let waiter = {
            let changes = Arc::clone(&changes);
            std::thread::spawn(move || {
                let durable = changes.wait(ticket);
                let _ = tx.send(if durable { "durable" } else { "failed" });
            })
        };
        assert!(rx.recv_timeout(Duration::from_millis(50)).is_err());
        changes.advance(ticket);
        let mut got = [
            rx.recv_timeout(Duration::from_secs(5)).unwrap_or("none"),
            rx.recv_timeout(Duration::from_secs(5)).unwrap_or("none"),
        ];
        got.sort_unstable();
        assert_eq!(got, ["callback", "durable"]);
        let _ = waiter.join();

        changes.put(&record("AT A +0.100000000 kiwi +1+2 2"));
        changes.set_healthy(false);
        assert!(!changes.wait(changes.ticket()));
    }
}
