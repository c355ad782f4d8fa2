//! The open inbound links of a blocking node, by neighbour name.
//!
//! `inbound.rs` registers each link's socket and thread here. A neighbour
//! holds one inbound link at a time (PROTOCOL §3): a new bare `PEER` is let
//! in only when the old link is dead, and a link proven by the herd
//! secret's handshake replaces the old one. Stopping the node closes every
//! link and waits for its thread. The metrics read which neighbours are
//! connected. The lock is held only to look at, insert, remove or take
//! entries, never while a thread is joined.

use std::collections::HashMap;
use std::net::{Shutdown as Both, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;

use parking_lot::Mutex;

use super::socket::is_closed;

/// The open inbound links, by neighbour name.
#[derive(Debug, Default)]
pub struct InboundLinks {
    next_id: AtomicU64,
    open: Mutex<HashMap<String, Inbound>>,
}

/// One registered link: its socket (to shut it down and to see whether it
/// is alive) and, once started, its thread.
#[derive(Debug)]
pub struct Inbound {
    id: u64,
    stream: TcpStream,
    thread: Option<JoinHandle<()>>,
}

/// A link that may not be registered: the neighbour's current one is alive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkOpen;

impl InboundLinks {
    /// A fresh id for a link about to be registered.
    pub fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Whether neighbour `name` has an inbound link that is open and alive.
    pub fn is_live(&self, name: &str) -> bool {
        self.open
            .lock()
            .get(name)
            .is_some_and(|link| !is_closed(&link.stream))
    }

    /// Registers link `id` from `name` before its thread starts. A live
    /// link from `name` is kept and this one refused, unless `proven` (the
    /// herd secret's handshake succeeded); a dead one is replaced. Returns
    /// the link replaced, for the caller to close outside the lock.
    pub fn claim(
        &self,
        name: &str,
        id: u64,
        stream: TcpStream,
        proven: bool,
    ) -> Result<Option<Inbound>, LinkOpen> {
        let mut open = self.open.lock();
        if !proven && open.get(name).is_some_and(|link| !is_closed(&link.stream)) {
            return Err(LinkOpen);
        }
        let link = Inbound {
            id,
            stream,
            thread: None,
        };
        Ok(open.insert(name.to_owned(), link))
    }

    /// Records the thread serving link `id` from `name`. If the link ended
    /// (or was replaced) already, the thread is left to finish on its own.
    pub fn started(&self, name: &str, id: u64, thread: JoinHandle<()>) {
        if let Some(link) = self.open.lock().get_mut(name).filter(|link| link.id == id) {
            link.thread = Some(thread);
        }
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
        let _ = self.stream.shutdown(Both::Both);
        if let Some(thread) = self.thread {
            let _ = thread.join();
        }
    }
}
