//! The state every task of a tokio node shares, as one `Arc` handle.
//!
//! The tokio twin of the blocking `state.rs`: built once by `node.rs` and
//! passed to the accept loop, the connection tasks and the link tasks;
//! nothing here is global, so one process can run a whole herd (tests do).
//! A leaf: it names the types it holds and nothing that uses it.

use std::sync::atomic::AtomicUsize;

use herd::cache::Cache;
use herd::clock::Clock;
use herd::identity::Identity;
use herd::link::auth::HerdSecret;
use herd::logfile::NodeLog;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::link::queues::Flooder;
use crate::link::registry::InboundLinks;
use crate::places::Provider;

/// Everything the tasks of one node share.
pub struct NodeState {
    /// The node's name, neighbours and limits.
    pub me: Identity,
    /// The location cache (the same `herd::cache` as the blocking build).
    pub cache: Cache,
    /// The neighbours' queues, fed by the commands that changed the cache.
    pub flooder: Flooder,
    pub places: Provider,
    pub log: NodeLog,
    /// Cancelled when the node stops; every task watches it.
    pub stop: CancellationToken,
    /// Every task of the node, so that stopping can wait for them.
    pub tasks: TaskTracker,
    /// The server's clock, for IAMAT receipt times.
    pub clock: Clock,
    /// Client connections open (the admission count).
    pub clients: AtomicUsize,
    pub inbound: InboundLinks,
    /// The herd's shared secret: links authenticate (PROTOCOL §7).
    pub secret: Option<HerdSecret>,
}

impl std::fmt::Debug for NodeState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeState")
            .field("me", &self.me)
            .finish_non_exhaustive()
    }
}
