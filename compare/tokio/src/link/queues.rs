//! The per-neighbour queues of a tokio node: where floods wait for their
//! sender task.
//!
//! The tokio twin of the blocking `link/queues.rs`, with the same rules:
//! IAMAT and AT call [`Flooder::flood`] with each record that changed the
//! cache; it is put on every other neighbour's bounded `tokio::sync::mpsc`
//! queue with `try_send`, so a connection never waits on a slow or dead
//! neighbour. A full queue drops the update and marks the link for a new
//! catch-up dump. The receiving halves ([`LinkPlan`]) go to the sender
//! tasks of `outbound.rs`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use herd::identity::Neighbour;
use herd::record::AtRecord;
use tokio::sync::{Notify, mpsc};

/// The sending side of every neighbour's queue; lives in the node's state.
#[derive(Debug)]
pub struct Flooder {
    links: Vec<LinkQueue>,
}

#[derive(Debug)]
struct LinkQueue {
    name: String,
    updates: mpsc::Sender<Arc<AtRecord>>,
    /// Set when an update was dropped; the sender re-sends the whole cache.
    resync: Arc<AtomicBool>,
    /// Wakes the sender out of its backoff (the neighbour just connected to
    /// us, so it is back up).
    wake: Arc<Notify>,
}

/// The receiving side of one neighbour's queue, for its sender task.
#[derive(Debug)]
pub struct LinkPlan {
    pub name: String,
    pub addr: String,
    /// Updates to send, in the order they changed the cache.
    pub updates: mpsc::Receiver<Arc<AtRecord>>,
    /// Set when an update was dropped: the sender re-sends the whole cache.
    pub resync: Arc<AtomicBool>,
    /// Notified when the sender should retry at once.
    pub wake: Arc<Notify>,
}

impl Flooder {
    /// Queues for `neighbours`, each holding `capacity`.
    pub fn new(neighbours: &[Neighbour], capacity: usize) -> (Flooder, Vec<LinkPlan>) {
        let mut links = Vec::new();
        let mut plans = Vec::new();
        for Neighbour { name, addr } in neighbours {
            let (updates_tx, updates_rx) = mpsc::channel(capacity.max(1));
            let resync = Arc::new(AtomicBool::new(false));
            let wake = Arc::new(Notify::new());
            links.push(LinkQueue {
                name: name.clone(),
                updates: updates_tx,
                resync: Arc::clone(&resync),
                wake: Arc::clone(&wake),
            });
            plans.push(LinkPlan {
                name: name.clone(),
                addr: addr.clone(),
                updates: updates_rx,
                resync,
                wake,
            });
        }
        (Flooder { links }, plans)
    }

    /// Queues `record` for every neighbour except `except` (where it came
    /// from). Never waits.
    pub fn flood(&self, record: &Arc<AtRecord>, except: Option<&str>) {
        for link in self
            .links
            .iter()
            .filter(|link| Some(link.name.as_str()) != except)
        {
            match link.updates.try_send(Arc::clone(record)) {
                Ok(()) | Err(mpsc::error::TrySendError::Closed(_)) => {}
                Err(mpsc::error::TrySendError::Full(_)) => {
                    link.resync.store(true, Ordering::Release);
                }
            }
        }
    }

    /// Tells the sender to `neighbour` to retry now instead of after its
    /// backoff.
    pub fn wake(&self, neighbour: &str) {
        if let Some(link) = self.links.iter().find(|link| link.name == neighbour) {
            link.wake.notify_one();
        }
    }
}
