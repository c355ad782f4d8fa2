//! The store's writer thread: group commit, the three sync modes, and what
//! happens when the disk says no.
//!
//! One thread per node does all of the store's I/O, so that no client
//! worker (and no tokio runtime thread) ever waits on a disk, and no disk
//! write happens under the cache lock. It takes every change the cache
//! recorded since its last batch (`changes.rs`), writes them as one batch
//! handed to the operating system (so a crash of the process alone loses
//! nothing written), then, by the sync mode:
//!
//! - `always`: fsyncs and only then releases the answers waiting for it.
//!   Changes that arrive during one fsync form the next batch: one fsync
//!   serves every client that came in meanwhile (group commit).
//! - `everysec`: fsyncs at most [`STORE_EVERYSEC_SYNC`] after the oldest
//!   change written since the last fsync.
//! - `never`: never fsyncs while running; the operating system decides.
//!
//! In `everysec` and `never` the writer sleeps [`STORE_GATHER`] after each
//! batch, so that under load one batch and one wake-up serve many requests.
//!
//! A clean stop writes what is left and fsyncs in every mode. A failed
//! write or fsync keeps the changes in memory, says so once in the log,
//! marks the store unhealthy (answers stop waiting, the metrics say 0),
//! and retries every [`STORE_RETRY`] with the store opened afresh, until it
//! writes again, which it also logs.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use crate::limits::{STORE_EVERYSEC_SYNC, STORE_GATHER, STORE_RETRY};
use crate::logfile::NodeLog;
use crate::store::backend::Backend;
use crate::store::changes::{Change, Changes};
use crate::store::sync::SyncMode;

/// Runs until the node asks it to stop (`Changes::request_stop`).
pub(super) fn run(mut backend: Backend, changes: Arc<Changes>, log: NodeLog) {
    let _guard = FailOnExit(Arc::clone(&changes));
    let sync = changes.sync();
    let mut writer = Writer {
        backend: &mut backend,
        changes: &changes,
        log: &log,
        failing_since: None,
        unsynced: HashMap::new(),
        unsynced_since: None,
    };
    loop {
        let timeout = if writer.failing_since.is_some() {
            // While failing, wake to retry even if nothing new arrives.
            Some(STORE_RETRY)
        } else {
            match (sync, writer.unsynced_since) {
                (SyncMode::EverySec, Some(since)) => {
                    Some((since + STORE_EVERYSEC_SYNC).saturating_duration_since(Instant::now()))
                }
                _ => None,
            }
        };
        if writer.failing_since.is_some() {
            // A pause between tries, cut short only by a stop; then the
            // store is opened afresh (one whose write or fsync failed is
            // not trusted again) and everything waiting is written.
            let stopping = changes.pause(STORE_RETRY);
            if !writer.reopen() {
                if stopping {
                    writer.stopped_unwritten();
                    return;
                }
                continue;
            }
        }
        let taken = changes.take(timeout);
        let (stopping, upto, batch) = (taken.stopping, taken.upto, taken.changes);
        if !batch.is_empty() && !writer.write(batch) {
            if stopping {
                writer.stopped_unwritten();
                return;
            }
            continue;
        }
        let due = match sync {
            SyncMode::Always => true,
            SyncMode::EverySec => writer
                .unsynced_since
                .is_some_and(|since| since.elapsed() >= STORE_EVERYSEC_SYNC),
            SyncMode::Never => false,
        };
        if (due || stopping) && writer.unsynced_since.is_some() && !writer.sync() {
            if stopping {
                writer.stopped_unwritten();
                return;
            }
            continue;
        }
        writer.recovered();
        // `always` promised stable storage, and has it; the other modes
        // promised no more than what they just did.
        changes.advance(upto);
        if stopping {
            writer.mark_clean_stop();
            return;
        }
        if sync != SyncMode::Always {
            // Let the next batch gather (no answer waits for it).
            std::thread::sleep(STORE_GATHER);
        }
    }
}

struct Writer<'a> {
    backend: &'a mut Backend,
    changes: &'a Changes,
    log: &'a NodeLog,
    failing_since: Option<Instant>,
    /// What was written since the last good fsync (`always` and
    /// `everysec`): if that fsync fails, the pages may be gone from the
    /// operating system's cache too, so these are written again.
    unsynced: HashMap<String, Change>,
    /// When the oldest write not yet fsynced was made.
    unsynced_since: Option<Instant>,
}

impl Writer<'_> {
    /// Writes one batch, handed to the operating system; on failure gives
    /// it back to be retried and goes unhealthy.
    fn write(&mut self, batch: HashMap<String, Change>) -> bool {
        let entries: Vec<(&str, Option<&str>)> = batch
            .iter()
            .map(|(client, change)| (client.as_str(), change.as_ref().map(|r| r.line.as_str())))
            .collect();
        let written = self.backend.write(&entries);
        let count = entries.len() as u64;
        drop(entries);
        if let Err(e) = written {
            // This batch, then what was written before it and not yet
            // fsynced (older, so it yields to the batch for one client).
            self.changes.give_back(batch);
            self.changes.give_back(std::mem::take(&mut self.unsynced));
            self.unsynced_since = None;
            self.fail("write", &e);
            return false;
        }
        let stats = &self.changes.stats;
        stats.batches.fetch_add(1, Ordering::Relaxed);
        stats.written.fetch_add(count, Ordering::Relaxed);
        self.unsynced_since.get_or_insert_with(Instant::now);
        if self.changes.sync() != SyncMode::Never {
            // Newer than anything kept for the same client.
            self.unsynced.extend(batch);
        }
        true
    }

    /// fsyncs what was written; on failure gives back everything written
    /// since the last good fsync and goes unhealthy.
    fn sync(&mut self) -> bool {
        let started = Instant::now();
        if let Err(e) = self.backend.sync() {
            self.changes.give_back(std::mem::take(&mut self.unsynced));
            self.unsynced_since = None;
            self.fail("sync", &e);
            return false;
        }
        let stats = &self.changes.stats;
        stats.syncs.fetch_add(1, Ordering::Relaxed);
        stats
            .sync_micros
            .fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
        self.unsynced.clear();
        self.unsynced_since = None;
        true
    }

    fn fail(&mut self, what: &str, error: &str) {
        self.changes.stats.failures.fetch_add(1, Ordering::Relaxed);
        if self.failing_since.is_none() {
            self.failing_since = Some(Instant::now());
            self.changes.set_healthy(false);
            self.log.notice(format_args!(
                "store {}: cannot {what}: {error}; updates are kept in memory and are NOT \
                 durable; retrying every {} ms",
                self.backend.dir().display(),
                STORE_RETRY.as_millis()
            ));
        }
    }

    /// Everything is written and fsynced: leaves the clean-stop marker
    /// the next open checks the store against (`backend.rs`). Without it
    /// the next open only says the last stop was not clean.
    fn mark_clean_stop(&mut self) {
        if let Err(e) = self.backend.mark_clean_stop() {
            self.log.notice(format_args!(
                "store {}: stopped, but cannot mark the stop clean: {e}",
                self.backend.dir().display()
            ));
        }
    }

    /// A stop while the store cannot write: what is lost is said.
    fn stopped_unwritten(&self) {
        self.log.notice(format_args!(
            "store {}: stopped with {} changes not written",
            self.backend.dir().display(),
            self.changes.pending()
        ));
    }

    /// Opens the store afresh after a failure; true if it opened.
    fn reopen(&mut self) -> bool {
        match self.backend.reopen() {
            Ok(()) => true,
            Err(e) => {
                self.changes.stats.failures.fetch_add(1, Ordering::Relaxed);
                log::debug!(
                    "store {}: still cannot open: {e}",
                    self.backend.dir().display()
                );
                false
            }
        }
    }

    /// After a batch written (and synced where due): if the store was
    /// failing, it is healthy again, and the log says so.
    fn recovered(&mut self) {
        if let Some(since) = self.failing_since.take() {
            self.changes.set_healthy(true);
            self.log.notice(format_args!(
                "store {}: writing again after {} ms",
                self.backend.dir().display(),
                since.elapsed().as_millis(),
            ));
        }
    }
}

/// If the writer thread ends for any reason (a panic included), nobody
/// waits for it any more.
struct FailOnExit(Arc<Changes>);

impl Drop for FailOnExit {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.set_healthy(false);
        }
    }
}
