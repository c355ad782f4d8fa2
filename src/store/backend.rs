//! The embedded store itself: fjall, a log-structured key-value store, and
//! the four things the herd asks of it (open and read everything, write a
//! batch, fsync, open again after a failure).
//!
//! Why fjall (docs/operations.md, "Durable caches", has the measurements):
//! a committed batch is appended to its journal and handed to the
//! operating system at once, so a crash of the process alone (SIGKILL, a
//! panic, the OOM killer) loses nothing committed, without an fsync; an
//! fsync is a separate call (`persist`), which is exactly the split the
//! three sync modes need. Its journal and tables carry checksums: a torn
//! last batch (a power cut mid-write) is dropped, any other damage is an
//! error at open or while reading, never a silently shorter cache.
//!
//! The format: one keyspace, `clients`; key = the client id, value = the
//! canonical AT line (PROTOCOL §3) of the newest update kept for it, the
//! same bytes either Rust build floods. Both Rust builds read and write it.

use std::path::{Path, PathBuf};

use fjall::{Database, Keyspace, KeyspaceCreateOptions, PersistMode};

/// The keyspace the herd keeps its clients in.
const KEYSPACE: &str = "clients";

/// fjall's background threads (memtable flushes and compactions) per
/// node: one is plenty for a cache of a million short lines, and leaves
/// the cores to the node.
const WORKER_THREADS: usize = 1;

/// An open store: the database and its one keyspace.
pub struct Backend {
    dir: PathBuf,
    /// `None` only between a failed reopen and the next good one.
    open: Option<(Database, Keyspace)>,
}

impl Backend {
    /// Opens (or creates) the store in `dir` and reads every client in it
    /// as `(client id, AT line)`. Any error is one line naming `dir`.
    pub fn open(dir: &Path) -> Result<(Backend, Vec<(String, String)>), String> {
        let named = |e: &dyn std::fmt::Display| format!("store {}: {e}", dir.display());
        if dir.exists() && !dir.is_dir() {
            return Err(named(&"not a directory"));
        }
        std::fs::create_dir_all(dir).map_err(|e| named(&e))?;
        let (db, clients) = open_db(dir).map_err(|e| named(&describe(&e)))?;
        let mut all = Vec::new();
        for item in clients.iter() {
            let (key, value) = item.into_inner().map_err(|e| named(&describe(&e)))?;
            let client = String::from_utf8(key.to_vec())
                .map_err(|_| named(&"a client id is not UTF-8 (damaged?)"))?;
            let line = String::from_utf8(value.to_vec())
                .map_err(|_| named(&format_args!("the line for {client:?} is not UTF-8")))?;
            all.push((client, line));
        }
        let backend = Backend {
            dir: dir.to_path_buf(),
            open: Some((db, clients)),
        };
        Ok((backend, all))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes one batch atomically and hands it to the operating system:
    /// `Some(line)` stores a client's line, `None` removes the client.
    pub fn write(&mut self, entries: &[(&str, Option<&str>)]) -> Result<(), String> {
        let (db, clients) = self.open.as_ref().ok_or("the store is not open")?;
        let mut batch = db.batch();
        for (client, line) in entries {
            match line {
                Some(line) => batch.insert(clients, client.as_bytes(), line.as_bytes()),
                None => batch.remove(clients, client.as_bytes()),
            }
        }
        batch.commit().map_err(|e| describe(&e))
    }

    /// fsyncs everything written so far.
    pub fn sync(&mut self) -> Result<(), String> {
        let (db, _) = self.open.as_ref().ok_or("the store is not open")?;
        db.persist(PersistMode::SyncAll).map_err(|e| describe(&e))
    }

    /// Closes the store and opens it again (after a failed write or
    /// fsync, which leaves fjall refusing every later write).
    pub fn reopen(&mut self) -> Result<(), String> {
        // The old handle first: it holds the directory's lock.
        self.open = None;
        let opened = open_db(&self.dir).map_err(|e| describe(&e))?;
        self.open = Some(opened);
        Ok(())
    }
}

fn open_db(dir: &Path) -> fjall::Result<(Database, Keyspace)> {
    let db = Database::builder(dir)
        .worker_threads(WORKER_THREADS)
        .open()?;
    let clients = db.keyspace(KEYSPACE, KeyspaceCreateOptions::default)?;
    Ok((db, clients))
}

/// fjall's errors in words an operator can act on.
fn describe(error: &fjall::Error) -> String {
    match error {
        fjall::Error::Locked => "in use by another process".to_owned(),
        fjall::Error::Io(e) => e.to_string(),
        fjall::Error::Poisoned => "an earlier write or fsync failed".to_owned(),
        other => format!("damaged or not a herd store ({other:?})"),
    }
}
