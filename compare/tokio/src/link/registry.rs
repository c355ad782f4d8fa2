//! The open inbound links of a tokio node, by neighbour name.
//!
//! `inbound.rs` registers each link's cancellation token here; a second
//! link from the same neighbour cancels the first. Stopping the node needs
//! no list (every link's token is a child of the node's), and the tests
//! read which neighbours are connected. The lock is never held across an
//! await.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use tokio_util::sync::CancellationToken;

/// The open inbound links, by neighbour name.
#[derive(Debug, Default)]
pub struct InboundLinks {
    next_id: AtomicU64,
    open: Mutex<HashMap<String, Inbound>>,
}

/// One registered link: its id and the token that ends its task.
#[derive(Debug)]
pub struct Inbound {
    id: u64,
    cancel: CancellationToken,
}

impl InboundLinks {
    /// A fresh id for a link about to be registered.
    pub fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Registers link `id` from `name`; returns the link it replaces, for
    /// the caller to cancel.
    pub fn insert(&self, name: &str, id: u64, cancel: CancellationToken) -> Option<Inbound> {
        self.lock().insert(name.to_owned(), Inbound { id, cancel })
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
