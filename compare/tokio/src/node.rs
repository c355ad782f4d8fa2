//! A running tokio node: its shared state, its tasks, and the order they
//! stop in.
//!
//! [`start`] takes an already-bound listener (tests bind port 0), builds
//! the [`NodeState`] every task shares through an `Arc` (cache, flooder,
//! Places, log, limits) and spawns the tasks: the accept loop and one sender
//! per neighbour; the accept loop spawns a task per connection. Every task
//! watches one [`CancellationToken`] and is counted by one [`TaskTracker`],
//! so [`NodeHandle::stop`] can cancel them all and wait for them, bounded by
//! [`STOP_DEADLINE`] as the blocking node is.

use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::{Duration, Instant};

use herd::cache::Cache;
use herd::config::{Config, Limits};
use herd::logfile::{self, LogWriter, NodeLog};
use herd::node::Clock;
use herd::peer_auth::HerdSecret;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::accept;
use crate::flood::{self, Flooder};
use crate::peer::InboundLinks;
use crate::places::Provider;

/// How long stopping waits for busy tasks (a WHATSAT waiting on Places,
/// say) before it gives up on them.
pub const STOP_DEADLINE: Duration = Duration::from_millis(1500);

/// Everything the tasks of one node share; nothing is global, so one
/// process can run a whole herd (tests do).
pub struct NodeState {
    name: String,
    neighbours: Vec<String>,
    limits: Limits,
    pub cache: Cache,
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
            .field("name", &self.name)
            .field("neighbours", &self.neighbours)
            .finish_non_exhaustive()
    }
}

impl NodeState {
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    pub fn is_neighbour(&self, name: &str) -> bool {
        self.neighbours.iter().any(|n| n == name)
    }
}

/// What starting a node needs besides its config.
pub struct NodeOptions<'a> {
    pub name: &'a str,
    pub listener: TcpListener,
    pub places: Provider,
    pub log_dir: &'a Path,
    pub clock: Clock,
    /// The herd's shared secret, read from the environment by the caller.
    pub secret: Option<HerdSecret>,
}

/// A started node.
#[derive(Debug)]
pub struct NodeHandle {
    state: Arc<NodeState>,
    addr: SocketAddr,
    log_writer: LogWriter,
}

/// Starts node `options.name` of `config` on the current runtime.
pub fn start(config: &Config, options: NodeOptions<'_>) -> io::Result<NodeHandle> {
    let me = config
        .server(options.name)
        .map_err(|e| io::Error::other(e.0))?;
    let neighbours: Vec<(String, String)> = me
        .peers
        .iter()
        .filter_map(|peer| config.servers.iter().find(|s| &s.name == peer))
        .map(|s| (s.name.clone(), s.addr.clone()))
        .collect();
    let (flooder, plans) = Flooder::new(&neighbours, config.limits.peer_queue);
    let (log, log_writer) = logfile::open(options.log_dir, &me.name)?;
    let addr = options.listener.local_addr()?;
    let state = Arc::new(NodeState {
        name: me.name.clone(),
        neighbours: me.peers.clone(),
        limits: config.limits,
        cache: Cache::new(),
        flooder,
        places: options.places,
        log,
        stop: CancellationToken::new(),
        tasks: TaskTracker::new(),
        clock: options.clock,
        clients: AtomicUsize::new(0),
        inbound: InboundLinks::default(),
        secret: options.secret,
    });
    state.log.notice(format_args!(
        "{} listening on {addr}, {} runtime workers, neighbours: {}",
        me.name,
        config.limits.threads,
        me.peers.join(", ")
    ));
    for plan in plans {
        state
            .tasks
            .spawn(flood::keep_link(Arc::clone(&state), plan));
    }
    state
        .tasks
        .spawn(accept::run(Arc::clone(&state), options.listener));
    Ok(NodeHandle {
        state,
        addr,
        log_writer,
    })
}

impl NodeHandle {
    /// The address the node accepts on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn state(&self) -> &Arc<NodeState> {
        &self.state
    }

    /// Stops the node: cancels every task (the accept loop, connections,
    /// links), waits for them up to [`STOP_DEADLINE`], then flushes the log.
    /// Returns how long it took and whether every task ended in time.
    pub async fn stop(self) -> (Duration, bool) {
        let started = Instant::now();
        let state = self.state;
        state.stop.cancel();
        state.tasks.close();
        let clean = tokio::time::timeout(STOP_DEADLINE, state.tasks.wait())
            .await
            .is_ok();
        let took = started.elapsed();
        state.log.notice(format_args!(
            "{} stopped in {} ms ({} tasks abandoned)",
            state.name,
            took.as_millis(),
            if clean { 0 } else { state.tasks.len() }
        ));
        // The log writer is a thread: flushing it blocks, briefly.
        let writer = self.log_writer;
        let _ = tokio::task::spawn_blocking(move || writer.stop()).await;
        (took, clean)
    }
}
