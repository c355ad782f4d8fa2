//! The open inbound links of a blocking node, by neighbour name.
//!
//! `inbound.rs` registers each link's socket and thread here; a second link
//! from the same neighbour replaces the first, and stopping the node closes
//! every link and waits for its thread. The metrics read which neighbours
//! are connected. The lock is held only to insert, remove or take entries,
//! never while a thread is joined.

use std::collections::HashMap;
use std::net::{Shutdown as Both, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;

use parking_lot::Mutex;

/// The open inbound links, by neighbour name.
#[derive(Debug, Default)]
pub struct InboundLinks {
    next_id: AtomicU64,
    open: Mutex<HashMap<String, Inbound>>,
}

/// One registered link: its socket (to shut it down) and its thread.
#[derive(Debug)]
pub struct Inbound {
    id: u64,
    stream: Option<TcpStream>,
    thread: JoinHandle<()>,
}

impl InboundLinks {
    /// A fresh id for a link about to be registered.
    pub fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Registers link `id` from `name`; returns the link it replaces, for
    /// the caller to close (outside the lock).
    pub fn insert(
        &self,
        name: &str,
        id: u64,
        stream: Option<TcpStream>,
        thread: JoinHandle<()>,
    ) -> Option<Inbound> {
        self.open
            .lock()
            .insert(name.to_owned(), Inbound { id, stream, thread })
    }

    /// Forgets link `id` from `name` when it ends, unless a newer link from
    /// the same neighbour has replaced it already.
    pub fn forget(&self, name: &str, id: u64) {
        let mut open = self.open.lock();
        if open.get(name).is_some_and(|link| link.id == id) {
            open.remove(name);
        }
    }

    /// Closes every link and waits for their threads (node stop).
    pub fn close_all(&self) {
        let open = std::mem::take(&mut *self.open.lock());
        for link in open.into_values() {
            link.close_and_join();
        }
    }

    /// Names of neighbours with an open inbound link.
    pub fn connected(&self) -> Vec<String> {
        let mut names: Vec<String> = self.open.lock().keys().cloned().collect();
        names.sort();
        names
    }
}

impl Inbound {
    /// Shuts the link's socket down and waits for its thread to end.
    pub fn close_and_join(self) {
        if let Some(stream) = &self.stream {
            let _ = stream.shutdown(Both::Both);
        }
        let _ = self.thread.join();
    }
}
