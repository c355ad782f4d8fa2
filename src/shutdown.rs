//! The stop signal of one node, and the sockets to close when it fires.
//!
//! `main.rs` (on SIGINT/SIGTERM) or a test calls [`Shutdown::trigger`];
//! every long-running thread of the node watches it: the accept loop is
//! woken by a connection to itself (a blocking `accept` cannot otherwise be
//! interrupted), sender threads wait on [`Shutdown::signal`], and workers
//! blocked in `read` are woken because [`Sockets::close_all`] shuts their
//! sockets down.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, Shutdown as Both, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender, bounded};
use parking_lot::Mutex;

/// A one-way latch: once triggered, it stays triggered.
#[derive(Debug)]
pub struct Shutdown {
    triggered: AtomicBool,
    /// Dropped on trigger: every receiver of `signal` then wakes at once.
    wake: Mutex<Option<Sender<()>>>,
    signal: Receiver<()>,
}

impl Default for Shutdown {
    fn default() -> Self {
        let (wake, signal) = bounded(0);
        Shutdown {
            triggered: AtomicBool::new(false),
            wake: Mutex::new(Some(wake)),
            signal,
        }
    }
}

impl Shutdown {
    pub fn new() -> Shutdown {
        Shutdown::default()
    }

    pub fn trigger(&self) {
        self.triggered.store(true, Ordering::SeqCst);
        self.wake.lock().take();
    }

    pub fn is_triggered(&self) -> bool {
        self.triggered.load(Ordering::SeqCst)
    }

    /// A channel that becomes ready (disconnected) when the node stops, for
    /// use in `crossbeam_channel::select!` beside other channels.
    pub fn signal(&self) -> &Receiver<()> {
        &self.signal
    }

    /// Sleeps for `timeout` or until the node stops; true if it stopped.
    pub fn wait(&self, timeout: Duration) -> bool {
        let _ = self.signal.recv_timeout(timeout);
        self.is_triggered()
    }
}

/// The open sockets of a node, so that stopping can wake every thread
/// blocked on one. The lock is held only to insert, remove or take the map.
#[derive(Debug, Default)]
pub struct Sockets {
    next_id: AtomicU64,
    open: Mutex<HashMap<u64, TcpStream>>,
}

impl Sockets {
    /// Remembers a handle to `stream`; returns the id to forget it with.
    /// If the handle cannot be made the socket is not tracked, which only
    /// means that stopping waits for its read timeout instead.
    pub fn register(&self, stream: &TcpStream) -> u64 {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        if let Ok(handle) = stream.try_clone() {
            self.open.lock().insert(id, handle);
        }
        id
    }

    pub fn forget(&self, id: u64) {
        self.open.lock().remove(&id);
    }

    /// Shuts down (both ways) every registered socket.
    pub fn close_all(&self) {
        let open = std::mem::take(&mut *self.open.lock());
        for stream in open.values() {
            let _ = stream.shutdown(Both::Both);
        }
    }

    pub fn len(&self) -> usize {
        self.open.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Where to connect to wake our own blocking accept (the node's, or the
/// metrics endpoint's): the bound address, with an unspecified IP (0.0.0.0
/// or ::) replaced by loopback.
pub fn wake_addr(addr: SocketAddr) -> SocketAddr {
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, addr.port())
}
