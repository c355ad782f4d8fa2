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

use backend::Backend;
use changes::Changes;
pub use sync::SyncMode;

/// A store opened and read, before the node starts.
pub struct Opened {
    backend: Backend,
    /// Every client the store holds, parsed.
    records: Vec<AtRecord>,
    /// How long opening and reading took.
    pub took: Duration,
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
    let (backend, pairs) = Backend::open(dir)?;
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
        } = opened;
        let dir = backend.dir().to_path_buf();
        let read = records.len();
        let changes = Arc::new(Changes::new(sync));
        let dropped = cache.load_and_attach(records, Arc::clone(&changes));
        log.notice(format_args!(
            "store {}: loaded {read} clients in {} ms (sync {}){}",
            dir.display(),
            took.as_millis(),
            sync.word(),
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
