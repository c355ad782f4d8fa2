//! Prometheus metrics of the blocking node: the counters and their hooks.
//!
//! One [`Metrics`] lives in the node's [`NodeState`](crate::state::NodeState);
//! the threads that do the work call its small hook methods (a relaxed
//! atomic add each, no lock), and `--metrics-addr` serves them as
//! Prometheus text. What is already counted elsewhere (the admission count,
//! queue depths, open inbound links, dropped floods) is read at scrape time
//! instead of counted twice. Modules: `places` (the Places latency
//! histogram and error statuses), `render` (the text exposition format),
//! `http` (the tiny blocking scrape server).

pub mod http;
pub mod places;
pub mod render;

use std::sync::atomic::{AtomicU64, Ordering};

use places::PlacesMetrics;

/// The kinds of line a node receives, the `command` label of
/// `herd_lines_received_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Received {
    IAmAt,
    WhatsAt,
    At,
    Peer,
    Invalid,
}

impl Received {
    pub const ALL: [Received; 5] = [
        Received::IAmAt,
        Received::WhatsAt,
        Received::At,
        Received::Peer,
        Received::Invalid,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Received::IAmAt => "IAMAT",
            Received::WhatsAt => "WHATSAT",
            Received::At => "AT",
            Received::Peer => "PEER",
            Received::Invalid => "invalid",
        }
    }
}

/// Where an invalid line came from: the `from` label of
/// `herd_invalid_lines_total`.
const FROM_CLIENT: usize = 0;
const FROM_PEER: usize = 1;

/// What a client was answered: the `kind` label of `herd_lines_sent_total`.
const SENT_AT: usize = 0;
const SENT_ANSWER: usize = 1;
const SENT_ERROR: usize = 2;
const SENT_KINDS: [&str; 3] = ["AT", "answer", "error"];

/// Counters of one neighbour's outgoing link.
#[derive(Debug)]
pub struct NeighbourMetrics {
    name: String,
    /// 1 while our outgoing link to it is connected, else 0.
    link_up: AtomicU64,
    floods_sent: AtomicU64,
    catchup_dumps: AtomicU64,
    catchup_lines: AtomicU64,
}

/// Every counter of one node. Nothing here is global: one process can run
/// a whole herd (tests do), each node with its own.
#[derive(Debug)]
pub struct Metrics {
    neighbours: Vec<NeighbourMetrics>,
    pool_threads: u64,
    received: [AtomicU64; 5],
    sent: [AtomicU64; 3],
    invalid: [AtomicU64; 2],
    /// AT lines from neighbours that changed the cache / changed nothing.
    floods_applied: AtomicU64,
    floods_stale: AtomicU64,
    refused: AtomicU64,
    waiting: AtomicU64,
    busy: AtomicU64,
    parked: AtomicU64,
    pub places: PlacesMetrics,
}

impl Metrics {
    /// Counters for a node with these neighbours and this many pool workers.
    pub fn new(neighbours: &[String], pool_threads: usize) -> Metrics {
        Metrics {
            neighbours: neighbours
                .iter()
                .map(|name| NeighbourMetrics {
                    name: name.clone(),
                    link_up: AtomicU64::new(0),
                    floods_sent: AtomicU64::new(0),
                    catchup_dumps: AtomicU64::new(0),
                    catchup_lines: AtomicU64::new(0),
                })
                .collect(),
            pool_threads: pool_threads as u64,
            received: Default::default(),
            sent: Default::default(),
            invalid: Default::default(),
            floods_applied: AtomicU64::new(0),
            floods_stale: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            waiting: AtomicU64::new(0),
            busy: AtomicU64::new(0),
            parked: AtomicU64::new(0),
            places: PlacesMetrics::default(),
        }
    }

    // --- hooks: client lines (cmd/mod.rs, connection.rs) -----------------

    /// A client's IAMAT, answered with an AT line.
    pub fn iamat(&self) {
        bump(&self.received[0]);
        bump(&self.sent[SENT_AT]);
    }

    /// A client's WHATSAT, answered with the AT line and the JSON.
    pub fn whatsat(&self) {
        bump(&self.received[1]);
        bump(&self.sent[SENT_ANSWER]);
    }

    /// A neighbour's `PEER` hello that was accepted (nothing is answered).
    pub fn peer_hello(&self) {
        bump(&self.received[3]);
    }

    /// A client's line answered `? ` (too long ones included).
    pub fn client_invalid(&self) {
        bump(&self.received[4]);
        bump(&self.invalid[FROM_CLIENT]);
        bump(&self.sent[SENT_ERROR]);
    }

    // --- hooks: neighbours (cmd/mod.rs, cmd/at.rs, link/outbound.rs) ------

    /// An AT line on an inbound link; `applied` if it changed the cache.
    pub fn flood_received(&self, applied: bool) {
        bump(&self.received[2]);
        bump(if applied {
            &self.floods_applied
        } else {
            &self.floods_stale
        });
    }

    /// A line on an inbound link that is not an AT line (garbage).
    pub fn peer_invalid(&self) {
        bump(&self.received[4]);
        bump(&self.invalid[FROM_PEER]);
    }

    /// Marks the outgoing link to `neighbour` up until the guard is dropped.
    pub fn link_up(&self, neighbour: &str) -> LinkUp<'_> {
        let counter = self.neighbour(neighbour).map(|n| &n.link_up);
        if let Some(up) = counter {
            up.store(1, Ordering::Relaxed);
        }
        LinkUp(counter)
    }

    /// `lines` queued updates written to `neighbour`'s link.
    pub fn floods_sent(&self, neighbour: &str, lines: u64) {
        if let Some(n) = self.neighbour(neighbour) {
            n.floods_sent.fetch_add(lines, Ordering::Relaxed);
        }
    }

    /// A catch-up dump of `clients` AT lines sent to `neighbour`.
    pub fn catch_up(&self, neighbour: &str, clients: usize) {
        if let Some(n) = self.neighbour(neighbour) {
            bump(&n.catchup_dumps);
            n.catchup_lines.fetch_add(clients as u64, Ordering::Relaxed);
        }
    }

    // --- hooks: admission and the pool (accept.rs) -------------------------

    /// A connection closed at once because the client cap was reached.
    pub fn refused(&self) {
        bump(&self.refused);
    }

    /// A connection queued for a pool worker.
    pub fn waiting_add(&self) {
        bump(&self.waiting);
    }

    /// A pool worker took a queued connection: it no longer waits, and the
    /// worker counts as busy until the guard is dropped.
    pub fn taken_by_worker(&self) -> Gauge<'_> {
        self.waiting.fetch_sub(1, Ordering::Relaxed);
        Gauge::up(&self.busy)
    }

    /// A quiet client was parked off the pool (`park.rs`).
    pub fn parked(&self) {
        bump(&self.parked);
    }

    /// A parked client came back to the pool's queue, or was closed there.
    pub fn unparked(&self) {
        self.parked.fetch_sub(1, Ordering::Relaxed);
    }

    /// Clients parked off the pool now.
    pub fn parked_now(&self) -> u64 {
        read(&self.parked)
    }

    /// Pool workers serving a client now.
    pub fn busy_now(&self) -> u64 {
        read(&self.busy)
    }

    fn neighbour(&self, name: &str) -> Option<&NeighbourMetrics> {
        // A handful of neighbours: a scan beats a map.
        self.neighbours.iter().find(|n| n.name == name)
    }
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

fn read(counter: &AtomicU64) -> u64 {
    counter.load(Ordering::Relaxed)
}

/// Holds a gauge one higher while it lives.
#[derive(Debug)]
pub struct Gauge<'a>(&'a AtomicU64);

impl<'a> Gauge<'a> {
    fn up(gauge: &'a AtomicU64) -> Gauge<'a> {
        gauge.fetch_add(1, Ordering::Relaxed);
        Gauge(gauge)
    }
}

impl Drop for Gauge<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Holds a link's `herd_link_up` at 1 while it lives.
#[derive(Debug)]
pub struct LinkUp<'a>(Option<&'a AtomicU64>);

impl Drop for LinkUp<'_> {
    fn drop(&mut self) {
        if let Some(up) = self.0 {
            up.store(0, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guards_put_gauges_back() {
        let metrics = Metrics::new(&["Jaquez".to_owned()], 4);
        {
            metrics.waiting_add();
            metrics.waiting_add();
            let _busy = metrics.taken_by_worker();
            let _also = metrics.taken_by_worker();
            assert_eq!(read(&metrics.waiting), 0);
            let _up = metrics.link_up("Jaquez");
            assert_eq!(read(&metrics.busy), 2);
            assert_eq!(read(&metrics.neighbours[0].link_up), 1);
        }
        assert_eq!(read(&metrics.busy), 0);
        assert_eq!(read(&metrics.neighbours[0].link_up), 0);
        // A name that is not a neighbour is ignored, not a panic.
        drop(metrics.link_up("Nobody"));
        metrics.floods_sent("Nobody", 3);
    }
}
