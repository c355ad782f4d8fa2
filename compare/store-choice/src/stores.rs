//! The three candidate stores behind one small trait: a batch of upserts
//! from one writer, a full scan, a close. Each store keeps its data in files
//! under the directory it is given.

use std::path::Path;

pub type Res<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// What a committed batch is guaranteed to survive.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Mode {
    /// Handed to the OS (a write(2) per batch, no fsync): survives SIGKILL.
    /// fjall: PersistMode::Buffer; SQLite: synchronous=OFF; redb: none exists.
    Os,
    /// SQLite only: synchronous=NORMAL (in WAL mode: no fsync per commit,
    /// fsyncs at checkpoints).
    Normal,
    /// fsync every batch. fjall: PersistMode::SyncAll; SQLite:
    /// synchronous=FULL; redb: Durability::Immediate.
    Fsync,
    /// redb only: Durability::None (kept in the process until a later
    /// Immediate commit; lost on a process crash).
    RedbNone,
}

impl Mode {
    pub fn parse(s: &str) -> Mode {
        match s {
            "os" => Mode::Os,
            "normal" => Mode::Normal,
            "fsync" => Mode::Fsync,
            "none" => Mode::RedbNone,
            _ => panic!("unknown mode {s} (os|normal|fsync|none)"),
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Mode::Os => "os",
            Mode::Normal => "normal",
            Mode::Fsync => "fsync",
            Mode::RedbNone => "none",
        }
    }
}

pub trait Store {
    fn set_mode(&mut self, mode: Mode) -> Res<()>;
    /// One atomic batch of upserts, committed in the current mode.
    fn put_batch(&mut self, batch: &[(&str, &str)]) -> Res<()>;
    /// Every (key, value) pair.
    fn scan(&mut self, f: &mut dyn FnMut(&[u8], &[u8])) -> Res<()>;
    fn close(self: Box<Self>) -> Res<()>;
}

/// `checked`: the store's own full verification at open, where it has one
/// (redb: set_check_integrity_on_open; SQLite: PRAGMA integrity_check;
/// fjall: none, the same as a plain open).
pub fn open(store: &str, dir: &Path, mode: Mode, checked: bool) -> Res<Box<dyn Store>> {
    std::fs::create_dir_all(dir)?;
    let mut s: Box<dyn Store> = match store {
        "fjall" => Box::new(Fjall::open(dir)?),
        "sqlite" => Box::new(Sqlite::open(dir, checked)?),
        "redb" => Box::new(Redb::open(dir, checked)?),
        _ => return Err(format!("unknown store {store} (fjall|sqlite|redb)").into()),
    };
    s.set_mode(mode)?;
    Ok(s)
}

// ---------------------------------------------------------------- fjall

pub struct Fjall {
    db: fjall::Database,
    ks: fjall::Keyspace,
    persist: fjall::PersistMode,
}

impl Fjall {
    fn open(dir: &Path) -> Res<Self> {
        let db = fjall::Database::builder(dir).open()?;
        let ks = db.keyspace("ids", fjall::KeyspaceCreateOptions::default)?;
        Ok(Fjall {
            db,
            ks,
            persist: fjall::PersistMode::Buffer,
        })
    }
}

impl Store for Fjall {
    fn set_mode(&mut self, mode: Mode) -> Res<()> {
        self.persist = match mode {
            Mode::Os => fjall::PersistMode::Buffer,
            Mode::Fsync => fjall::PersistMode::SyncAll,
            m => return Err(format!("fjall has no mode {m:?}").into()),
        };
        Ok(())
    }
    fn put_batch(&mut self, batch: &[(&str, &str)]) -> Res<()> {
        let mut b = self.db.batch().durability(Some(self.persist));
        for (k, v) in batch {
            b.insert(&self.ks, *k, *v);
        }
        b.commit()?;
        Ok(())
    }
    fn scan(&mut self, f: &mut dyn FnMut(&[u8], &[u8])) -> Res<()> {
        for g in self.ks.iter() {
            let (k, v) = g.into_inner()?;
            f(&k, &v);
        }
        Ok(())
    }
    fn close(self: Box<Self>) -> Res<()> {
        // Dropping the database persists the journal (SyncAll) and stops its
        // background threads.
        let Fjall { db, ks, .. } = *self;
        drop(ks);
        drop(db);
        Ok(())
    }
}

// ---------------------------------------------------------------- SQLite

pub struct Sqlite {
    conn: rusqlite::Connection,
}

const UPSERT: &str =
    "INSERT INTO kv(k, v) VALUES (?1, ?2) ON CONFLICT(k) DO UPDATE SET v = excluded.v";

impl Sqlite {
    fn open(dir: &Path, checked: bool) -> Res<Self> {
        let conn = rusqlite::Connection::open(dir.join("store.sqlite"))?;
        let jm: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
        if jm != "wal" {
            return Err(format!("journal_mode is {jm}, not wal").into());
        }
        if checked {
            let res: String = conn.query_row("PRAGMA integrity_check(1)", [], |r| r.get(0))?;
            if res != "ok" {
                return Err(format!("integrity_check: {res}").into());
            }
        }
        // SQLite's default page cache is 2 MiB (cache_size=-2000), which a
        // batch of random ids overflows; $STORE_CHOICE_SQLITE_CACHE_MIB
        // (default 64) sets it, as the node would.
        let cache_mib: i64 = std::env::var("STORE_CHOICE_SQLITE_CACHE_MIB")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(64);
        conn.execute_batch(&format!("PRAGMA cache_size=-{}", cache_mib * 1024))?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS kv (k TEXT PRIMARY KEY, v TEXT NOT NULL) WITHOUT ROWID",
        )?;
        Ok(Sqlite { conn })
    }
}

impl Store for Sqlite {
    fn set_mode(&mut self, mode: Mode) -> Res<()> {
        let sync = match mode {
            Mode::Os => "OFF",
            Mode::Normal => "NORMAL",
            Mode::Fsync => "FULL",
            m => return Err(format!("sqlite has no mode {m:?}").into()),
        };
        self.conn
            .execute_batch(&format!("PRAGMA synchronous={sync}"))?;
        Ok(())
    }
    fn put_batch(&mut self, batch: &[(&str, &str)]) -> Res<()> {
        let tx = self.conn.transaction()?;
        {
            let mut st = tx.prepare_cached(UPSERT)?;
            for (k, v) in batch {
                st.execute((k, v))?;
            }
        }
        tx.commit()?;
        Ok(())
    }
    fn scan(&mut self, f: &mut dyn FnMut(&[u8], &[u8])) -> Res<()> {
        let mut st = self.conn.prepare("SELECT k, v FROM kv")?;
        let mut rows = st.query([])?;
        while let Some(r) = rows.next()? {
            f(r.get_ref(0)?.as_bytes()?, r.get_ref(1)?.as_bytes()?);
        }
        Ok(())
    }
    fn close(self: Box<Self>) -> Res<()> {
        self.conn.close().map_err(|(_, e)| e)?;
        Ok(())
    }
}

// ---------------------------------------------------------------- redb

const TABLE: redb::TableDefinition<&str, &str> = redb::TableDefinition::new("ids");

pub struct Redb {
    db: redb::Database,
    durability: redb::Durability,
}

impl Redb {
    fn open(dir: &Path, checked: bool) -> Res<Self> {
        let mut b = redb::Builder::new();
        b.set_check_integrity_on_open(checked);
        // Says when an open has to repair the file (after an unclean stop).
        b.set_repair_callback(|_: &mut redb::RepairSession| {
            static SAID: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
            if !SAID.swap(true, std::sync::atomic::Ordering::Relaxed) {
                eprintln!("redb: repairing the file");
            }
        });
        let db = b.create(dir.join("store.redb"))?;
        Ok(Redb {
            db,
            durability: redb::Durability::Immediate,
        })
    }
}

impl Store for Redb {
    fn set_mode(&mut self, mode: Mode) -> Res<()> {
        self.durability = match mode {
            Mode::Fsync => redb::Durability::Immediate,
            Mode::RedbNone => redb::Durability::None,
            m => return Err(format!("redb has no mode {m:?}").into()),
        };
        Ok(())
    }
    fn put_batch(&mut self, batch: &[(&str, &str)]) -> Res<()> {
        let mut tx = self.db.begin_write()?;
        tx.set_durability(self.durability)?;
        {
            let mut t = tx.open_table(TABLE)?;
            for (k, v) in batch {
                t.insert(*k, *v)?;
            }
        }
        tx.commit()?;
        Ok(())
    }
    fn scan(&mut self, f: &mut dyn FnMut(&[u8], &[u8])) -> Res<()> {
        use redb::{ReadableDatabase, ReadableTable};
        let rt = self.db.begin_read()?;
        let t = match rt.open_table(TABLE) {
            Ok(t) => t,
            // Nothing was ever committed durably: the table does not exist.
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        for r in t.iter()? {
            let (k, v) = r?;
            f(k.value().as_bytes(), v.value().as_bytes());
        }
        Ok(())
    }
    fn close(self: Box<Self>) -> Res<()> {
        self.db.close()?;
        Ok(())
    }
}
