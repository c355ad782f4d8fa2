//! A running blocking node: its threads, and the order they start and stop
//! in.
//!
//! [`start`] takes an already-bound listener (so tests bind port 0 and build
//! the herd's config from the real addresses), builds the [`NodeState`]
//! handle every thread shares (`state.rs`), and starts the threads: the
//! accept loop, the fixed pool of client workers, one sender per neighbour
//! and the log writer. [`NodeHandle::stop`] runs the shutdown sequence,
//! bounded in time.

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use threadpool::ThreadPool;

use crate::accept;
use crate::cache::Cache;
use crate::clock::Clock;
use crate::config::Config;
use crate::connection::{self, ClientParker};
use crate::identity::Identity;
use crate::limits::{STOP_DEADLINE, STOP_WAKE_CONNECT, STORE_STOP_DEADLINE};
use crate::link::auth::HerdSecret;
use crate::link::outbound;
use crate::link::queues::Flooder;
use crate::link::registry::InboundLinks;
use crate::logfile;
use crate::logfile::LogWriter;
use crate::metrics::Metrics;
use crate::park::Parker;
use crate::places::PlacesHandle;
use crate::shutdown::{Shutdown, Sockets, wake_addr};
use crate::state::NodeState;
use crate::store::{self, Store};

/// What starting a node needs besides its config.
pub struct NodeOptions<'a> {
    pub name: &'a str,
    pub listener: TcpListener,
    pub places: PlacesHandle,
    pub log_dir: &'a Path,
    /// The clock IAMAT receipt times are read from: [`system_clock`] in
    /// production, a fixed time in tests that check exact differences.
    pub clock: Clock,
    /// The herd's shared secret, read from the environment by the caller
    /// (`None` where the config names none).
    pub secret: Option<HerdSecret>,
    /// The durable store, opened and read by the caller before it bound
    /// the listener (PROTOCOL §8); `None`: the cache lives in memory only.
    pub store: Option<store::Opened>,
}

/// A started node. Dropping it without [`stop`](NodeHandle::stop) leaves
/// its threads running until the process ends.
#[derive(Debug)]
pub struct NodeHandle {
    state: Arc<NodeState>,
    addr: SocketAddr,
    accept: JoinHandle<ThreadPool>,
    senders: Vec<JoinHandle<()>>,
    parker: Option<Arc<ClientParker>>,
    store: Option<Store>,
    log_writer: LogWriter,
}

/// What the stop sequence found, for logs and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StopReport {
    /// Pool jobs that panicked over the node's life (should be 0).
    pub panics: usize,
    /// Threads still busy when the deadline passed (0 on a clean stop).
    pub abandoned: usize,
    pub took: Duration,
}

/// Starts node `options.name` of `config`.
pub fn start(config: &Config, options: NodeOptions<'_>) -> io::Result<NodeHandle> {
    let (me, neighbours) =
        Identity::from_config(config, options.name).map_err(|e| io::Error::other(e.0))?;
    let (flooder, plans) = Flooder::new(&neighbours, config.limits.peer_queue);
    let (log, log_writer) = logfile::open(options.log_dir, me.name(), &config.log)?;
    let addr = options.listener.local_addr()?;
    let threads = config.limits.threads;
    let state = Arc::new(NodeState {
        metrics: Metrics::new(me.neighbours(), threads),
        me,
        cache: Cache::bounded(config.limits.max_cached_clients),
        flooder,
        places: options.places,
        log,
        shutdown: Arc::new(Shutdown::new()),
        clock: options.clock,
        sockets: Sockets::default(),
        clients: AtomicUsize::new(0),
        inbound: InboundLinks::default(),
        secret: options.secret,
    });
    let name = state.me.name();
    let store = match options.store {
        Some(opened) => Some(Store::start(
            opened,
            config.store_sync,
            &state.cache,
            name,
            state.log.clone(),
        )?),
        None => None,
    };
    state.log.notice(format_args!(
        "{name} listening on {addr}, {threads} workers, neighbours: {}",
        state.me.neighbours().join(", ")
    ));
    let pool = threadpool::Builder::new()
        .num_threads(threads)
        .thread_name(format!("worker-{name}"))
        .build();
    let senders = outbound::spawn_senders(&state, plans)?;
    let parker = start_parker(&state, &pool);
    let accept_state = Arc::clone(&state);
    let accept_parker = parker.clone();
    let listener = options.listener;
    let accept = std::thread::Builder::new()
        .name(format!("accept-{name}"))
        .spawn(move || {
            accept::run(&accept_state, &listener, &pool, accept_parker.as_ref());
            pool
        })?;
    Ok(NodeHandle {
        state,
        addr,
        accept,
        senders,
        parker,
        store,
        log_writer,
    })
}

/// The poller that parks quiet clients off the pool, if `park_idle_ms` is
/// set (and the system has `epoll`; else the node runs without parking and
/// says so in its log).
fn start_parker(state: &Arc<NodeState>, pool: &ThreadPool) -> Option<Arc<ClientParker>> {
    if state.me.limits().park_idle.is_zero() {
        return None;
    }
    let pool = pool.clone();
    let resume = Box::new(move |client| connection::requeue(&pool, client));
    match Parker::start(state.me.name(), resume) {
        Ok(parker) => Some(Arc::new(parker)),
        Err(e) => {
            state.log.notice(format_args!(
                "quiet clients are not parked off the pool: {e}"
            ));
            None
        }
    }
}

impl NodeHandle {
    /// The address the node accepts on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn state(&self) -> &Arc<NodeState> {
        &self.state
    }

    /// The node's stop latch: trigger it from a signal handler, then call
    /// [`stop`](Self::stop).
    pub fn shutdown(&self) -> Arc<Shutdown> {
        Arc::clone(&self.state.shutdown)
    }

    /// Blocks until the stop latch is triggered (by a signal, say).
    pub fn wait_for_stop_signal(&self) {
        let _ = self.state.shutdown.signal().recv();
    }

    /// Stops the node: no new connections; client sockets closed so blocked
    /// workers wake; workers, neighbour links and senders joined; the log
    /// flushed. Bounded by [`STOP_DEADLINE`] per stage that can block.
    pub fn stop(self) -> StopReport {
        let started = Instant::now();
        let state = self.state;
        state.shutdown.trigger();
        // 1. Wake the blocking accept with a connection to ourselves.
        let _ = TcpStream::connect_timeout(&wake_addr(self.addr), STOP_WAKE_CONNECT);
        let mut abandoned = 0;
        let pool = join_within(self.accept, STOP_DEADLINE);
        // 2. Close parked clients (none is handed back to the pool after
        // this), then every other client socket, then wait for the workers.
        if let Some(parker) = &self.parker {
            parker.stop();
        }
        state.sockets.close_all();
        let panics = match pool {
            Some(pool) => {
                let panics = pool.panic_count();
                let (done_tx, done_rx) = crossbeam_channel::bounded(1);
                let waiter = std::thread::spawn(move || {
                    pool.join();
                    let _ = done_tx.send(());
                });
                if done_rx.recv_timeout(STOP_DEADLINE).is_ok() {
                    let _ = waiter.join();
                } else {
                    abandoned += 1;
                }
                panics
            }
            None => {
                abandoned += 1;
                0
            }
        };
        // 3. Neighbour links: inbound readers, then our senders.
        state.inbound.close_all();
        for sender in self.senders {
            if join_within(sender, STOP_DEADLINE).is_none() {
                abandoned += 1;
            }
        }
        // 4. The store: nothing changes the cache any more; its last
        // changes are written and fsynced (in every sync mode).
        if let Some(store) = self.store {
            let dir = store.dir().to_path_buf();
            if !store.stop(STORE_STOP_DEADLINE) {
                abandoned += 1;
                state.log.notice(format_args!(
                    "store {}: its last write did not finish within {STORE_STOP_DEADLINE:?}",
                    dir.display()
                ));
            }
        }
        let took = started.elapsed();
        state.log.notice(format_args!(
            "{} stopped in {} ms ({panics} worker panics, {abandoned} threads abandoned)",
            state.me.name(),
            took.as_millis()
        ));
        // 5. Flush the log last, so that it records all of the above.
        self.log_writer.stop();
        StopReport {
            panics,
            abandoned,
            took,
        }
    }
}

/// Joins `thread` if it ends within `deadline`; `None` if it did not.
fn join_within<T>(thread: JoinHandle<T>, deadline: Duration) -> Option<T> {
    let until = Instant::now() + deadline;
    while !thread.is_finished() {
        if Instant::now() >= until {
            return None;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    thread.join().ok()
}
