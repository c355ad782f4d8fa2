//! The clients that keep writing while a fault is on: a few threads, each
//! owning a share of the client ids, send IAMATs at a steady rate to random
//! servers that are up, with strictly increasing client times per id. Every
//! send and every AT answer (the ack) goes into the ledger. A server that
//! fails or times out is skipped by that writer for a moment.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::client::Conn;
use crate::ledger::Ledger;
use crate::merge::Update;

/// Per-request timeout: a paused server costs a writer at most this.
const TIMEOUT: Duration = Duration::from_millis(500);
/// How long a writer leaves a server alone after a failure.
const AVOID: Duration = Duration::from_millis(500);

/// What writers and checker share.
pub struct Shared {
    pub ledger: Mutex<Ledger>,
    /// Servers writers may pick (killed ones are not).
    pub up: Vec<AtomicBool>,
    pub addrs: Vec<SocketAddr>,
}

impl Shared {
    pub fn new(ledger: Ledger, addrs: Vec<SocketAddr>) -> Shared {
        Shared {
            up: addrs.iter().map(|_| AtomicBool::new(true)).collect(),
            ledger: Mutex::new(ledger),
            addrs,
        }
    }

    pub fn ledger(&self) -> MutexGuard<'_, Ledger> {
        self.ledger.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn set_up(&self, i: usize, up: bool) {
        self.up[i].store(up, Ordering::SeqCst);
    }
}

pub struct Writers {
    stop: Arc<AtomicBool>,
    handles: Vec<JoinHandle<()>>,
}

impl Writers {
    /// `threads` writers sending `rate` IAMATs per second in all.
    pub fn start(shared: &Arc<Shared>, threads: usize, rate: f64) -> Writers {
        let stop = Arc::new(AtomicBool::new(false));
        let interval = Duration::from_secs_f64(threads as f64 / rate);
        let handles = (0..threads)
            .map(|w| {
                let (shared, stop) = (shared.clone(), stop.clone());
                thread::spawn(move || write_loop(&shared, &stop, w, threads, interval))
            })
            .collect();
        Writers { stop, handles }
    }

    /// Stops the writers without waiting (on an error path; they end within
    /// one request timeout).
    pub fn stop_now(&self) {
        self.stop.store(true, Ordering::SeqCst);
    }

    /// Stops the writers and waits for their last request to finish.
    pub fn stop(self) {
        self.stop.store(true, Ordering::SeqCst);
        for h in self.handles {
            let _ = h.join();
        }
    }
}

fn now_ns() -> i128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i128)
}

/// A random ISO 6709 location, `+DD.dddddd+DDD.dddddd`.
fn location() -> String {
    let lat = fastrand::f64() * 160.0 - 80.0;
    let lon = fastrand::f64() * 340.0 - 170.0;
    let sign = |v: f64| if v < 0.0 { '-' } else { '+' };
    format!(
        "{}{:09.6}{}{:010.6}",
        sign(lat),
        lat.abs(),
        sign(lon),
        lon.abs()
    )
}

fn write_loop(shared: &Shared, stop: &AtomicBool, w: usize, threads: usize, interval: Duration) {
    let servers = shared.addrs.len();
    let mine: Vec<usize> = {
        let ledger = shared.ledger();
        (0..ledger.ids().len())
            .filter(|n| n % threads == w)
            .collect()
    };
    if mine.is_empty() {
        return;
    }
    let mut conns: Vec<Option<Conn>> = (0..servers).map(|_| None).collect();
    let mut avoid_until = vec![Instant::now(); servers];
    let mut next = Instant::now();
    while !stop.load(Ordering::SeqCst) && !crate::interrupt::interrupted() {
        let now = Instant::now();
        if next > now {
            thread::sleep(next - now); // pacing, not synchronisation
        }
        next += interval;
        let now = Instant::now();
        let choices: Vec<usize> = (0..servers)
            .filter(|&s| shared.up[s].load(Ordering::SeqCst) && avoid_until[s] <= now)
            .collect();
        if choices.is_empty() {
            continue;
        }
        let s = choices[fastrand::usize(..choices.len())];
        let n = mine[fastrand::usize(..mine.len())];
        let (part, _) = shared.ledger().next_send(n, now_ns(), &location());
        let answer = match conns[s].take() {
            Some(c) => Ok(c),
            None => Conn::connect(shared.addrs[s], TIMEOUT),
        }
        .and_then(|mut c| c.iamat(&part).map(|a| (c, a)));
        match answer {
            Ok((conn, line)) => {
                match Update::parse(&line).filter(|u| u.client_part() == part) {
                    Some(u) => shared.ledger().ack(n, s, u, Instant::now()),
                    None => avoid_until[s] = Instant::now() + AVOID,
                }
                conns[s] = Some(conn);
            }
            Err(_) => avoid_until[s] = Instant::now() + AVOID,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_are_iso6709() {
        for _ in 0..1000 {
            let l = location();
            let b = l.as_bytes();
            assert!(b[0] == b'+' || b[0] == b'-', "{l}");
            assert_eq!(l.len(), 21, "{l}");
            assert!(b[10] == b'+' || b[10] == b'-', "{l}");
            assert_eq!(&l[3..4], ".");
            assert_eq!(&l[14..15], ".");
        }
    }
}
