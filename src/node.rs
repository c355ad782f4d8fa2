//! A running node: its shared state, its threads, and the order they stop in.
//!
//! [`start`] takes an already-bound listener (so tests bind port 0 and build
//! the herd's config from the real addresses), builds the [`NodeState`]
//! handle every thread shares (cache, flooder, Places, log, limits), and
//! starts the threads: the accept loop, the fixed pool of client workers,
//! one sender per neighbour and the log writer. [`NodeHandle::stop`] runs
//! the shutdown sequence, bounded in time.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use threadpool::ThreadPool;

use crate::accept;
use crate::cache::Cache;
use crate::config::{Config, Limits};
use crate::flood::{self, Flooder};
use crate::logfile::{self, LogWriter, NodeLog};
use crate::metrics::Metrics;
use crate::peer::InboundLinks;
use crate::peer_auth::HerdSecret;
use crate::places::PlacesHandle;
use crate::protocol::Nanos;
use crate::shutdown::{Shutdown, Sockets};

/// How long stopping waits for busy threads (a worker in the middle of a
/// Places call, say) before it gives up on them; the process exits anyway.
pub const STOP_DEADLINE: Duration = Duration::from_millis(1500);

/// Everything the threads of one node share, passed as an `Arc` handle;
/// nothing here is global, so one process can run a whole herd (tests do).
pub struct NodeState {
    name: String,
    neighbours: Vec<String>,
    limits: Limits,
    pub cache: Cache,
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
            .field("name", &self.name)
            .field("neighbours", &self.neighbours)
            .field("clients", &self.clients)
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
    pub places: PlacesHandle,
    pub log_dir: &'a Path,
    /// The clock IAMAT receipt times are read from: [`system_clock`] in
    /// production, a fixed time in tests that check exact differences.
    pub clock: Clock,
    /// The herd's shared secret, read from the environment by the caller
    /// (`None` where the config names none).
    pub secret: Option<HerdSecret>,
}

/// A source of "now" as exact nanoseconds since the POSIX epoch.
pub type Clock = fn() -> Nanos;

/// The system clock as exact integer nanoseconds.
pub fn system_clock() -> Nanos {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(since) => Nanos(since.as_nanos() as i128),
        Err(before) => Nanos(-(before.duration().as_nanos() as i128)),
    }
}

/// A started node. Dropping it without [`stop`](NodeHandle::stop) leaves
/// its threads running until the process ends.
#[derive(Debug)]
pub struct NodeHandle {
    state: Arc<NodeState>,
    addr: SocketAddr,
    accept: JoinHandle<ThreadPool>,
    senders: Vec<JoinHandle<()>>,
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
        shutdown: Arc::new(Shutdown::new()),
        clock: options.clock,
        sockets: Sockets::default(),
        clients: AtomicUsize::new(0),
        inbound: InboundLinks::default(),
        secret: options.secret,
        metrics: Metrics::new(&me.peers, config.limits.threads),
    });
    state.log.notice(format_args!(
        "{} listening on {addr}, {} workers, neighbours: {}",
        me.name,
        config.limits.threads,
        me.peers.join(", ")
    ));
    let pool = threadpool::Builder::new()
        .num_threads(config.limits.threads)
        .thread_name(format!("worker-{}", me.name))
        .build();
    let senders = flood::spawn_senders(&state, plans)?;
    let accept_state = Arc::clone(&state);
    let listener = options.listener;
    let accept = std::thread::Builder::new()
        .name(format!("accept-{}", me.name))
        .spawn(move || {
            accept::run(&accept_state, &listener, &pool);
            pool
        })?;
    Ok(NodeHandle {
        state,
        addr,
        accept,
        senders,
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
        let _ = TcpStream::connect_timeout(&wake_addr(self.addr), Duration::from_millis(500));
        let mut abandoned = 0;
        let pool = join_within(self.accept, STOP_DEADLINE);
        // 2. Close client sockets, then wait for the workers.
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
        let took = started.elapsed();
        state.log.notice(format_args!(
            "{} stopped in {} ms ({panics} worker panics, {abandoned} threads abandoned)",
            state.name,
            took.as_millis()
        ));
        // 4. Flush the log last, so that it records all of the above.
        self.log_writer.stop();
        StopReport {
            panics,
            abandoned,
            took,
        }
    }
}

/// Where to connect to wake our own accept: the bound address, with an
/// unspecified IP (0.0.0.0 or ::) replaced by loopback.
pub(crate) fn wake_addr(addr: SocketAddr) -> SocketAddr {
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, addr.port())
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
