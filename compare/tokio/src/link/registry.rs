//! The open inbound links of a tokio node, by neighbour name.
//!
//! `inbound.rs` registers each link's cancellation token here, with a
//! duplicate of its socket's descriptor to see whether it is still alive.
//! A neighbour holds one inbound link at a time (PROTOCOL §3): a new bare
//! `PEER` is let in only when the old link is dead, and a link proven by
//! the herd secret's handshake cancels the old one. Stopping the node needs
//! no list (every link's token is a child of the node's), and the tests
//! read which neighbours are connected. The lock is never held across an
//! await.

use std::collections::HashMap;
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use herd::link::socket::is_closed;
use tokio_util::sync::CancellationToken;

/// The open inbound links, by neighbour name.
#[derive(Debug, Default)]
pub struct InboundLinks {
    next_id: AtomicU64,
    open: Mutex<HashMap<String, Inbound>>,
}

/// One registered link: its id, the token that ends its task, and a
/// duplicate of its socket (closed with the entry).
#[derive(Debug)]
pub struct Inbound {
    id: u64,
    cancel: CancellationToken,
    socket: OwnedFd,
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
        self.lock()
            .get(name)
            .is_some_and(|link| !is_closed(&link.socket))
    }

    /// Registers link `id` from `name`. A live link from `name` is kept and
    /// this one refused, unless `proven` (the herd secret's handshake
    /// succeeded); a dead one is replaced. Returns the link replaced, for
    /// the caller to cancel.
    pub fn claim(
        &self,
        name: &str,
        id: u64,
        cancel: CancellationToken,
        socket: OwnedFd,
        proven: bool,
    ) -> Result<Option<Inbound>, LinkOpen> {
        let mut open = self.lock();
        if !proven && open.get(name).is_some_and(|link| !is_closed(&link.socket)) {
            return Err(LinkOpen);
        }
        let link = Inbound { id, cancel, socket };
        Ok(open.insert(name.to_owned(), link))
    }

    /// Forgets link `id` from `name` when it ends, unless a newer link from
    /// the same neighbour has replaced it already.
    pub fn forget(&self, name: &str, id: u64) {
        let mut open = self.lock();
        if open.get(name).is_some_and(|link| link.id == id) {
            open.remove(name);
        }
    }

    /// Names of neighbours with an open inbound link.
    pub fn connected(&self) -> Vec<String> {
        let mut names: Vec<String> = self.lock().keys().cloned().collect();
        names.sort();
        names
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Inbound>> {
        // Never held across an await or a panic-prone call.
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Inbound {
    /// Ends the link's task.
    pub fn cancel(self) {
        self.cancel.cancel();
    }
}
