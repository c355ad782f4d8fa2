//! Durable caches (PROTOCOL §8): a node started with a store keeps its
//! cache on disk as well, loads it before it opens its port, and then
//! catches up from its neighbours as usual.
//!
//! One module serves both Rust builds:
//!
//! - `backend.rs`: the embedded store (fjall) and its format;
//! - `changes.rs`: what the cache changed and the store has not written,
//!   recorded by the cache under its lock, and the answers that wait;
//! - `sync.rs`: the three sync modes and what each promises;
//! - `writer.rs`: the one thread per node that does the store's I/O (group
//!   commit, the sync modes, failures).
//!
//! [`open`] reads the store before the caller binds its port (a store that
//! cannot be opened or read is a start-up error, exit 2); the node then
//! loads the clients into its cache and calls [`Store::start`].

pub mod backend;
pub mod changes;
pub mod sync;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::cache::Cache;
use crate::logfile::NodeLog;
use crate::protocol::{Request, parse};
use crate::record::AtRecord;

use backend::{Backend, LastStop};
use changes::Changes;
pub use sync::SyncMode;

/// A store opened and read, before the node starts.
pub struct Opened {
    backend: Backend,
    /// Every client the store holds, parsed.
    records: Vec<AtRecord>,
    /// How long opening and reading took.
    pub took: Duration,
    /// Whether the store was stopped cleanly last time.
    pub last_stop: LastStop,
}

impl Opened {
    pub fn dir(&self) -> &Path {
        self.backend.dir()
    }

    /// Clients read from the store.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }
}

/// Opens the store in `dir` (created if missing) and reads every client.
/// An error is one line naming the directory: the store is in use, cannot
/// be read, or holds something that is not a client's AT line.
pub fn open(dir: &Path) -> Result<Opened, String> {
    let started = Instant::now();
    let (backend, pairs, last_stop) = Backend::open(dir)?;
    let mut records = Vec::with_capacity(pairs.len());
    for (client, line) in pairs {
        let record = match parse(&line) {
            Request::At(at) if at.client == client => AtRecord::new(&at),
            _ => {
                return Err(format!(
                    "store {}: the entry for {client:?} is not its AT line (damaged?)",
                    dir.display()
                ));
            }
        };
        records.push(record);
    }
    Ok(Opened {
        backend,
        records,
        took: started.elapsed(),
        last_stop,
    })
}

/// A running store: its writer thread and the changes it writes.
pub struct Store {
    changes: Arc<Changes>,
    writer: Option<JoinHandle<()>>,
    dir: PathBuf,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("dir", &self.dir).finish()
    }
}

impl Store {
    /// Loads the clients of `opened` into `cache`, from then on recorded
    /// for the store, and starts the writer thread of node `node`. The log
    /// says how many clients were read and how long it took.
    pub fn start(
        opened: Opened,
        sync: SyncMode,
        cache: &Cache,
        node: &str,
        log: NodeLog,
    ) -> std::io::Result<Store> {
        let Opened {
            backend,
            records,
            took,
            last_stop,
        } = opened;
        let dir = backend.dir().to_path_buf();
        let read = records.len();
        let changes = Arc::new(Changes::new(sync));
        let dropped = cache.load_and_attach(records, Arc::clone(&changes));
        log.notice(format_args!(
            "store {}: loaded {read} clients in {} ms (sync {}){}{}",
            dir.display(),
            took.as_millis(),
            sync.word(),
            match last_stop {
                LastStop::Clean => "",
                LastStop::New => "; a new store",
                LastStop::Unclean => "; the last stop was not clean",
            },
            if dropped > 0 {
                format!(", {dropped} past max_cached_clients dropped")
            } else {
                String::new()
            }
        ));
        let writer_changes = Arc::clone(&changes);
        let writer = std::thread::Builder::new()
            .name(format!("store-{node}"))
            .spawn(move || writer::run(backend, writer_changes, log))?;
        Ok(Store {
            changes,
            writer: Some(writer),
            dir,
        })
    }

    pub fn changes(&self) -> &Arc<Changes> {
        &self.changes
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes what is left, fsyncs (in every mode) and closes the store,
    /// waiting at most `deadline`; false if the writer was still busy.
    pub fn stop(mut self, deadline: Duration) -> bool {
        self.changes.request_stop();
        let Some(writer) = self.writer.take() else {
            return true;
        };
        let until = Instant::now() + deadline;
        while !writer.is_finished() {
            if Instant::now() >= until {
                return false;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        writer.join().is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::STORE_EVERYSEC_SYNC;
    use crate::logfile::{self, LogOptions};
    use crate::protocol::Request;
    use std::sync::atomic::Ordering;

    fn record(client: &str, time: u64) -> AtRecord {
        let line = format!("AT Clark +0.000000001 {client} +34.068930-118.445127 {time}.5");
        match parse(&line) {
            Request::At(at) => AtRecord::new(&at),
            other => panic!("not an AT line: {line} ({other:?})"),
        }
    }

    /// A node's worth of store on `dir`: its cache, its store, its log.
    fn started(dir: &Path, sync: SyncMode) -> (Cache, Store, logfile::LogWriter) {
        let (log, writer) =
            logfile::open(&dir.join("logs"), "Clark", &LogOptions::default()).expect("log");
        let opened = open(&dir.join("store")).expect("store opens");
        let cache = Cache::new();
        let store = Store::start(opened, sync, &cache, "Clark", log).expect("store starts");
        (cache, store, writer)
    }

    fn reopened(dir: &Path) -> Vec<String> {
        let opened = open(&dir.join("store")).expect("store opens again");
        let mut lines: Vec<String> = opened.records.iter().map(|r| r.line.clone()).collect();
        lines.sort();
        lines
    }

    #[test]
    fn always_groups_the_commits_of_many_waiting_clients() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (cache, store, log) = started(dir.path(), SyncMode::Always);
        let cache = Arc::new(cache);
        let threads: Vec<_> = (0..16)
            .map(|t| {
                let cache = Arc::clone(&cache);
                std::thread::spawn(move || {
                    (0..25).all(|i| {
                        cache.offer(record(&format!("c{t}-{i}"), 1_700_000_000 + i));
                        let ticket = cache.durable_ticket().expect("always: a ticket");
                        cache.store().expect("a store").wait(ticket)
                    })
                })
            })
            .collect();
        for thread in threads {
            assert!(thread.join().expect("no panic"), "every wait ended durable");
        }
        let stats = &store.changes().stats;
        let syncs = stats.syncs.load(Ordering::Relaxed);
        assert_eq!(stats.written.load(Ordering::Relaxed), 400);
        // Sixteen clients waiting at once share fsyncs.
        assert!((1..400).contains(&syncs), "{syncs} fsyncs for 400 updates");
        assert!(store.stop(Duration::from_secs(10)));
        log.stop();
        assert_eq!(reopened(dir.path()).len(), 400);
    }

    #[test]
    fn everysec_fsyncs_by_itself_and_never_only_when_stopping() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (cache, store, log) = started(dir.path(), SyncMode::EverySec);
        cache.offer(record("kiwi", 1_700_000_000));
        assert_eq!(cache.durable_ticket(), None, "everysec answers do not wait");
        let syncs = || store.changes().stats.syncs.load(Ordering::Relaxed);
        let deadline = Instant::now() + Duration::from_secs(10);
        while syncs() == 0 {
            assert!(Instant::now() < deadline, "everysec never fsynced");
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(store.stop(Duration::from_secs(10)));
        log.stop();

        let dir = tempfile::tempdir().expect("temp dir");
        let (cache, store, log) = started(dir.path(), SyncMode::Never);
        cache.offer(record("kiwi", 1_700_000_000));
        let written = || store.changes().stats.written.load(Ordering::Relaxed);
        let deadline = Instant::now() + Duration::from_secs(10);
        while written() == 0 {
            assert!(Instant::now() < deadline, "never did not write");
            std::thread::sleep(Duration::from_millis(10));
        }
        // Written to the OS, and (a second later) still not fsynced.
        std::thread::sleep(STORE_EVERYSEC_SYNC * 2);
        assert_eq!(store.changes().stats.syncs.load(Ordering::Relaxed), 0);
        let changes = Arc::clone(store.changes());
        assert!(store.stop(Duration::from_secs(10)));
        assert_eq!(
            changes.stats.syncs.load(Ordering::Relaxed),
            1,
            "a stop fsyncs"
        );
        log.stop();
        assert_eq!(reopened(dir.path()).len(), 1);
    }

    #[test]
    fn evictions_and_a_lowered_bound_remove_clients_from_the_store() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (cache, store, log) = started(dir.path(), SyncMode::Always);
        for i in 0..10 {
            cache.offer(record(&format!("c{i}"), 1_700_000_000 + i));
        }
        assert!(store.stop(Duration::from_secs(10)));
        log.stop();
        assert_eq!(reopened(dir.path()).len(), 10);

        // Started again with room for 4: the 6 oldest are dropped from the
        // store too; one more client evicts one more.
        let (log_handle, writer) =
            logfile::open(&dir.path().join("logs"), "Clark", &LogOptions::default()).expect("log");
        let cache = Cache::bounded(4);
        let opened = open(&dir.path().join("store")).expect("store opens");
        let store = Store::start(opened, SyncMode::Always, &cache, "Clark", log_handle)
            .expect("store starts");
        cache.offer(record("newest", 1_800_000_000));
        assert!(store.stop(Duration::from_secs(10)));
        writer.stop();
        let left = reopened(dir.path());
        assert_eq!(left.len(), 4, "{left:?}");
        assert!(left.iter().any(|l| l.contains(" newest ")));
        assert!(left.iter().any(|l| l.contains(" c9 ")));
        assert!(!left.iter().any(|l| l.contains(" c6 ")));
    }
}
