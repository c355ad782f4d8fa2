//! Idle hoarders that come back: `hold --reopen` keeps K idle connections
//! for a whole soak, opening a fresh one each time the server closes one
//! (its idle limit), so the server carries a constant hoard. The first
//! opens are spread over a ramp, so the idle-limit closes are spread too.
//! Counts server closes, re-opens, failed connects, and the fewest and
//! most held once the ramp is over.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;

/// Connects in flight at once (keeps the listen backlog from overflowing).
const CONNECTS_AT_ONCE: usize = 256;
/// Pause after a failed connect before the slot tries again.
const RETRY_PAUSE: Duration = Duration::from_millis(100);
/// How often the held count is read for its min/max.
const WATCH_EVERY: Duration = Duration::from_millis(250);

#[derive(Default)]
struct Counts {
    alive: AtomicUsize,
    opened: AtomicU64,
    closed_by_server: AtomicU64,
    connect_errors: AtomicU64,
}

/// A running hoard; [`Hoard::finish`] stops it and reports.
pub struct Hoard {
    count: usize,
    ramp: Duration,
    counts: Arc<Counts>,
    stop: watch::Sender<bool>,
    slots: JoinSet<()>,
    watcher: tokio::task::JoinHandle<(usize, usize)>,
}

/// Starts `count` slots against `target`; slot i first connects at
/// `ramp * i / count`.
pub fn start(target: SocketAddr, count: usize, ramp: Duration, limit: Duration) -> Hoard {
    let counts = Arc::new(Counts::default());
    let (stop, stopped) = watch::channel(false);
    let gate = Arc::new(Semaphore::new(CONNECTS_AT_ONCE));
    let mut slots = JoinSet::new();
    for i in 0..count {
        let delay = ramp.mul_f64(i as f64 / count.max(1) as f64);
        slots.spawn(slot(
            target,
            delay,
            limit,
            counts.clone(),
            gate.clone(),
            stopped.clone(),
        ));
    }
    let watcher = tokio::spawn(watch_held(counts.clone(), ramp + WATCH_EVERY, stopped));
    Hoard {
        count,
        ramp,
        counts,
        stop,
        slots,
        watcher,
    }
}

/// Fewest and most held, read every [`WATCH_EVERY`] once `settle` (the
/// ramp and one period) is over.
async fn watch_held(
    counts: Arc<Counts>,
    settle: Duration,
    mut stopped: watch::Receiver<bool>,
) -> (usize, usize) {
    let from = Instant::now() + settle;
    let (mut min, mut max) = (usize::MAX, 0);
    loop {
        tokio::select! {
            _ = stopped.changed() => break,
            () = tokio::time::sleep(WATCH_EVERY) => {}
        }
        if Instant::now() >= from {
            let n = counts.alive.load(Ordering::SeqCst);
            min = min.min(n);
            max = max.max(n);
        }
    }
    (if min == usize::MAX { 0 } else { min }, max)
}

/// One hoarder: connect, read until the server closes, count, repeat.
async fn slot(
    target: SocketAddr,
    delay: Duration,
    limit: Duration,
    counts: Arc<Counts>,
    gate: Arc<Semaphore>,
    mut stopped: watch::Receiver<bool>,
) {
    tokio::select! {
        _ = stopped.changed() => return,
        () = tokio::time::sleep(delay) => {}
    }
    while !*stopped.borrow() {
        let connected = {
            let Ok(_permit) = gate.acquire().await else {
                return;
            };
            tokio::time::timeout(limit, TcpStream::connect(target)).await
        };
        let mut stream = match connected {
            Ok(Ok(s)) => s,
            _ => {
                counts.connect_errors.fetch_add(1, Ordering::SeqCst);
                tokio::select! {
                    _ = stopped.changed() => return,
                    () = tokio::time::sleep(RETRY_PAUSE) => continue,
                }
            }
        };
        counts.opened.fetch_add(1, Ordering::SeqCst);
        counts.alive.fetch_add(1, Ordering::SeqCst);
        let mut buf = [0u8; 256];
        let closed = loop {
            tokio::select! {
                _ = stopped.changed() => break false,
                read = stream.read(&mut buf) => match read {
                    // Whatever the server says is ignored; EOF or an error
                    // means it closed the connection.
                    Ok(n) if n > 0 => {}
                    _ => break true,
                },
            }
        };
        counts.alive.fetch_sub(1, Ordering::SeqCst);
        if !closed {
            return;
        }
        counts.closed_by_server.fetch_add(1, Ordering::SeqCst);
    }
}

impl Hoard {
    /// How many are open now.
    pub fn held(&self) -> usize {
        self.counts.alive.load(Ordering::SeqCst)
    }

    /// Stops every slot and returns the figures.
    pub async fn finish(mut self) -> Value {
        let held_at_end = self.held();
        let _ = self.stop.send(true);
        while self.slots.join_next().await.is_some() {}
        let (min, max) = self.watcher.await.unwrap_or((0, 0));
        let opened = self.counts.opened.load(Ordering::SeqCst);
        json!({
            "requested": self.count,
            "ramp_s": self.ramp.as_secs_f64(),
            "opened": opened,
            "reopened": opened.saturating_sub(self.count as u64),
            "closed_by_server": self.counts.closed_by_server.load(Ordering::SeqCst),
            "connect_errors": self.counts.connect_errors.load(Ordering::SeqCst),
            "still_open_at_end": held_at_end,
            "min_held_after_ramp": min,
            "max_held_after_ramp": max,
        })
    }
}
