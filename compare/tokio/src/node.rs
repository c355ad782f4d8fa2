//! A running tokio node: its tasks, and the order they start and stop in.
//!
//! [`start`] takes an already-bound listener (tests bind port 0), builds
//! the [`NodeState`] every task shares through an `Arc` (`state.rs`) and
//! spawns the tasks: the accept loop and one sender per neighbour; the
//! accept loop spawns a task per connection. Every task watches one
//! [`CancellationToken`] and is counted by one [`TaskTracker`], so
//! [`NodeHandle::stop`] can cancel them all and wait for them, bounded by
//! `herd::limits::STOP_DEADLINE` as the blocking node is.

use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::{Duration, Instant};

use herd::cache::Cache;
use herd::clock::Clock;
use herd::config::Config;
use herd::identity::Identity;
use herd::limits::{STOP_DEADLINE, STORE_STOP_DEADLINE};
use herd::link::auth::HerdSecret;
use herd::logfile::{self, LogWriter};
use herd::store::{self, Store};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::accept;
use crate::link::outbound;
use crate::link::queues::Flooder;
use crate::link::registry::InboundLinks;
use crate::places::Provider;
use crate::state::NodeState;

/// What starting a node needs besides its config.
pub struct NodeOptions<'a> {
    pub name: &'a str,
    pub listener: TcpListener,
    pub places: Provider,
    pub log_dir: &'a Path,
    pub clock: Clock,
    /// The herd's shared secret, read from the environment by the caller.
    pub secret: Option<HerdSecret>,
    /// The durable store, opened and read before the listener was bound
    /// (PROTOCOL §8); its writer is a thread of its own, so the runtime
    /// never waits on the disk.
    pub store: Option<store::Opened>,
}

/// A started node.
#[derive(Debug)]
pub struct NodeHandle {
    state: Arc<NodeState>,
    addr: SocketAddr,
    store: Option<Store>,
    log_writer: LogWriter,
}

/// Starts node `options.name` of `config` on the current runtime.
pub fn start(config: &Config, options: NodeOptions<'_>) -> io::Result<NodeHandle> {
    let (me, neighbours) =
        Identity::from_config(config, options.name).map_err(|e| io::Error::other(e.0))?;
    let (flooder, plans) = Flooder::new(&neighbours, config.limits.peer_queue);
    let (log, log_writer) = logfile::open(options.log_dir, me.name(), &config.log)?;
    let addr = options.listener.local_addr()?;
    let state = Arc::new(NodeState {
        me,
        cache: Cache::bounded(config.limits.max_cached_clients),
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
    let store = match options.store {
        Some(opened) => Some(Store::start(
            opened,
            config.store_sync,
            &state.cache,
            state.me.name(),
            state.log.clone(),
        )?),
        None => None,
    };
    state.log.notice(format_args!(
        "{} listening on {addr}, {} runtime workers, neighbours: {}",
        state.me.name(),
        config.limits.threads,
        state.me.neighbours().join(", ")
    ));
    for plan in plans {
        state
            .tasks
            .spawn(outbound::keep_link(Arc::clone(&state), plan));
    }
    state
        .tasks
        .spawn(accept::run(Arc::clone(&state), options.listener));
    Ok(NodeHandle {
        state,
        addr,
        store,
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
    /// links), waits for them up to `STOP_DEADLINE`, then flushes the log.
    /// Returns how long it took and whether every task ended in time.
    pub async fn stop(self) -> (Duration, bool) {
        let started = Instant::now();
        let state = self.state;
        state.stop.cancel();
        state.tasks.close();
        let clean = tokio::time::timeout(STOP_DEADLINE, state.tasks.wait())
            .await
            .is_ok();
        // The store: nothing changes the cache any more; its last changes
        // are written and fsynced (in every sync mode), off the runtime.
        let mut store_clean = true;
        if let Some(store) = self.store {
            let dir = store.dir().to_path_buf();
            store_clean = tokio::task::spawn_blocking(move || store.stop(STORE_STOP_DEADLINE))
                .await
                .unwrap_or(false);
            if !store_clean {
                state.log.notice(format_args!(
                    "store {}: its last write did not finish within {STORE_STOP_DEADLINE:?}",
                    dir.display()
                ));
            }
        }
        let clean = clean && store_clean;
        let took = started.elapsed();
        state.log.notice(format_args!(
            "{} stopped in {} ms ({} tasks abandoned)",
            state.me.name(),
            took.as_millis(),
            if clean { 0 } else { state.tasks.len() }
        ));
        // The log writer is a thread: flushing it blocks, briefly.
        let writer = self.log_writer;
        let _ = tokio::task::spawn_blocking(move || writer.stop()).await;
        (took, clean)
    }
}
