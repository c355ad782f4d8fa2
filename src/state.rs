//! The state every thread of a blocking node shares, as one `Arc` handle.
//!
//! Built once by `node.rs` and passed to the accept loop, the pool
//! workers, the link threads and the metrics endpoint; nothing here is
//! global, so one process can run a whole herd (tests do). A leaf: it
//! names the types it holds and nothing that uses it.

use std::sync::Arc;
use std::sync::atomic::AtomicUsize;

use crate::cache::Cache;
use crate::clock::Clock;
use crate::identity::Identity;
use crate::link::auth::HerdSecret;
use crate::link::queues::Flooder;
use crate::link::registry::InboundLinks;
use crate::logfile::NodeLog;
use crate::metrics::Metrics;
use crate::places::PlacesHandle;
use crate::shutdown::{Shutdown, Sockets};

/// Everything the threads of one node share.
pub struct NodeState {
    /// The node's name, neighbours and limits.
    pub me: Identity,
    /// The location cache: a `parking_lot::RwLock` inside.
    pub cache: Cache,
    /// The neighbours' queues, fed by the commands that changed the cache.
    pub flooder: Flooder,
    pub places: PlacesHandle,
    pub log: NodeLog,
    pub shutdown: Arc<Shutdown>,
    /// The server's clock, for IAMAT receipt times (tests pass a fixed one).
    pub clock: Clock,
    /// Client sockets, so that stopping can wake workers blocked on them.
    pub sockets: Sockets,
    /// Client connections served or waiting for a worker (admission count).
    pub clients: AtomicUsize,
    pub inbound: InboundLinks,
    /// The herd's shared secret: links authenticate (PROTOCOL §7).
    pub secret: Option<HerdSecret>,
    /// Counters for `--metrics-addr` (kept whether or not it is served).
    pub metrics: Metrics,
}

impl std::fmt::Debug for NodeState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeState")
            .field("me", &self.me)
            .field("clients", &self.clients)
            .finish_non_exhaustive()
    }
}
