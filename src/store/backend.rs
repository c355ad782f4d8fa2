//! The embedded store itself: fjall, a log-structured key-value store, and
//! the four things the herd asks of it (open and read everything, write a
//! batch, fsync, open again after a failure).
//!
//! Why fjall (docs/operations.md, "Durable caches", has the measurements):
//! a committed batch is appended to its journal and handed to the
//! operating system at once, so a crash of the process alone (SIGKILL, a
//! panic, the OOM killer) loses nothing committed, without an fsync; an
//! fsync is a separate call (`persist`), which is exactly the split the
//! three sync modes need. Its tables carry checksums, and damage to them is
//! an error at open or while reading.
//!
//! Its journal is read as RocksDB's "tolerate a corrupted tail" mode reads
//! a write-ahead log: from the first batch that does not check out, the rest
//! is taken for a write torn by a power cut and dropped without an error
//! (measured in compare/store-choice: 4 KiB of noise in a journal lost one
//! batch, silently). After a crash that is the right reading. After a
//! clean stop nothing can be torn, so a clean stop leaves a marker with the
//! number of clients stored ([`CLEAN_STOP`]), and an open that finds fewer
//! (or more) is a start-up error: damage is never a silently shorter cache.
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

/// Written at a clean stop, after the last fsync: `clients N`. Read and
/// removed at the next open.
pub const CLEAN_STOP: &str = "herd-clean-stop";

/// How the store was left: what an open found about the last stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LastStop {
    /// A clean stop, and every client it counted is there.
    Clean,
    /// No marker: a crash (a torn last batch would have been dropped).
    Unclean,
    /// A store created by this open.
    New,
}

/// Every client a store holds, as `(client id, AT line)`.
pub type Clients = Vec<(String, String)>;

/// An open store: the database and its one keyspace.
pub struct Backend {
    dir: PathBuf,
    /// `None` only between a failed reopen and the next good one.
    open: Option<(Database, Keyspace)>,
}

impl Backend {
    /// Opens (or creates) the store in `dir` and reads every client in it
    /// as `(client id, AT line)`. Any error is one line naming `dir`.
    pub fn open(dir: &Path) -> Result<(Backend, Clients, LastStop), String> {
        let named = |e: &dyn std::fmt::Display| format!("store {}: {e}", dir.display());
        if dir.exists() && !dir.is_dir() {
            return Err(named(&"not a directory"));
        }
        // fjall writes `version` when it creates a store.
        let existed = dir.join("version").exists();
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
        let last_stop = match check_clean_stop(dir, all.len()).map_err(|e| named(&e))? {
            LastStop::Unclean if !existed => LastStop::New,
            other => other,
        };
        let backend = Backend {
            dir: dir.to_path_buf(),
            open: Some((db, clients)),
        };
        Ok((backend, all, last_stop))
    }

    /// After the last write and fsync of a clean stop: counts the clients
    /// stored and leaves the marker the next open checks them against.
    pub fn mark_clean_stop(&mut self) -> Result<(), String> {
        let (_, clients) = self.open.as_ref().ok_or("the store is not open")?;
        let count = clients.len().map_err(|e| describe(&e))?;
        let marker = self.dir.join(CLEAN_STOP);
        let fresh = self.dir.join(format!("{CLEAN_STOP}.new"));
        let write = || -> std::io::Result<()> {
            let mut file = std::fs::File::create(&fresh)?;
            std::io::Write::write_all(&mut file, format!("clients {count}\n").as_bytes())?;
            file.sync_all()?;
            std::fs::rename(&fresh, &marker)?;
            std::fs::File::open(&self.dir)?.sync_all()
        };
        write().map_err(|e| e.to_string())
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

/// Checks the marker of a clean stop, if there is one, against the clients
/// read, and removes it: from now on the store is being written to, and a
/// crash must not be judged against an old count.
fn check_clean_stop(dir: &Path, read: usize) -> Result<LastStop, String> {
    let marker = dir.join(CLEAN_STOP);
    let text = match std::fs::read_to_string(&marker) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(LastStop::Unclean),
        Err(e) => return Err(format!("cannot read {CLEAN_STOP}: {e}")),
    };
    let stored: usize = text
        .strip_prefix("clients ")
        .and_then(|n| n.trim_end().parse().ok())
        .ok_or_else(|| format!("damaged: {CLEAN_STOP} is not `clients N`"))?;
    if stored != read {
        return Err(format!(
            "damaged: {stored} clients were stored at the last clean stop, {read} are readable"
        ));
    }
    std::fs::remove_file(&marker)
        .and_then(|()| std::fs::File::open(dir)?.sync_all())
        .map_err(|e| format!("cannot remove {CLEAN_STOP}: {e}"))?;
    Ok(LastStop::Clean)
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
