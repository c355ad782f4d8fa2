//! The per-neighbour queues of a blocking node: where floods wait for
//! their sender thread.
//!
//! Commands (`cmd/iamat.rs`, `cmd/at.rs`) call [`Flooder::flood`] with each
//! record that changed the cache; it is put on every other neighbour's
//! bounded `crossbeam-channel` queue with `try_send`, so a worker never
//! waits on a slow or dead neighbour. A full queue drops the update and
//! marks the link for a new catch-up dump, which carries everything the
//! dropped updates did. The receiving halves ([`LinkPlan`]) go to the
//! sender threads of `outbound.rs`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crossbeam_channel::{Receiver, Sender, TrySendError, bounded};

use crate::identity::Neighbour;
use crate::record::AtRecord;

/// The sending side of every neighbour's queue; lives in the node's state.
#[derive(Debug)]
pub struct Flooder {
    links: Vec<LinkQueue>,
}

#[derive(Debug)]
struct LinkQueue {
    name: String,
    updates: Sender<Arc<AtRecord>>,
    /// Set when an update was dropped; the sender re-sends the whole cache.
    resync: Arc<AtomicBool>,
    /// Wakes the sender out of its backoff (the neighbour just connected to
    /// us, so it is back up).
    wake: Sender<()>,
    /// Updates dropped on a full queue (read by the metrics).
    dropped: AtomicU64,
}

/// The receiving side of one neighbour's queue, for its sender thread.
#[derive(Debug)]
pub struct LinkPlan {
    pub name: String,
    pub addr: String,
    /// Updates to send, in the order they changed the cache.
    pub updates: Receiver<Arc<AtRecord>>,
    /// Set when an update was dropped: the sender re-sends the whole cache.
    pub resync: Arc<AtomicBool>,
    /// Ready when the sender should retry at once.
    pub wake: Receiver<()>,
}

impl Flooder {
    /// Queues for `neighbours`, each holding `capacity`.
    pub fn new(neighbours: &[Neighbour], capacity: usize) -> (Flooder, Vec<LinkPlan>) {
        let mut links = Vec::new();
        let mut plans = Vec::new();
        for Neighbour { name, addr } in neighbours {
            let (updates_tx, updates_rx) = bounded(capacity);
            let (wake_tx, wake_rx) = bounded(1);
            let resync = Arc::new(AtomicBool::new(false));
            links.push(LinkQueue {
                name: name.clone(),
                updates: updates_tx,
                resync: Arc::clone(&resync),
                wake: wake_tx,
                dropped: AtomicU64::new(0),
            });
            plans.push(LinkPlan {
                name: name.clone(),
                addr: addr.clone(),
                updates: updates_rx,
                resync,
                wake: wake_rx,
            });
        }
        (Flooder { links }, plans)
    }

    /// Queues `record` for every neighbour except `except` (where it came
    /// from). Never blocks.
    pub fn flood(&self, record: &Arc<AtRecord>, except: Option<&str>) {
        for link in self
            .links
            .iter()
            .filter(|link| Some(link.name.as_str()) != except)
        {
            match link.updates.try_send(Arc::clone(record)) {
                Ok(()) | Err(TrySendError::Disconnected(_)) => {}
                Err(TrySendError::Full(_)) => {
                    link.resync.store(true, Ordering::Release);
                    link.dropped.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }

    /// Tells the sender to `neighbour` to retry now instead of after its
    /// backoff.
    pub fn wake(&self, neighbour: &str) {
        if let Some(link) = self.links.iter().find(|link| link.name == neighbour) {
            let _ = link.wake.try_send(());
        }
    }

    /// Updates dropped so far because `neighbour`'s queue was full.
    pub fn dropped(&self, neighbour: &str) -> Option<u64> {
        self.links
            .iter()
            .find(|link| link.name == neighbour)
            .map(|link| link.dropped.load(Ordering::Relaxed))
    }

    /// Updates waiting in `neighbour`'s queue.
    pub fn queued(&self, neighbour: &str) -> Option<usize> {
        self.links
            .iter()
            .find(|link| link.name == neighbour)
            .map(|link| link.updates.len())
    }
}
