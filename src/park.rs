//! Idle client connections parked off the pool, Tomcat-NIO style.
//!
//! A pool worker serves one connection from its first byte to its close,
//! so an idle client would hold a worker until its idle timeout. With
//! `park_idle_ms` set, a worker whose client has sent no complete line for
//! that long hands the connection here and takes the next one from the
//! queue. One poller thread watches every parked socket with `epoll`; when
//! bytes arrive it hands the connection back to the pool's queue (the
//! `resume` callback), and when the connection's idle deadline passes first
//! it closes it (`Parkable::expire`), as a worker would have. The idle clock
//! is the connection's own: parking neither restarts nor stops it.
//!
//! ```text
//! worker ── no line for park_idle_ms ──► park() ──► epoll (one poller thread)
//!    ▲                                               │ readable: resume() ──► pool queue
//!    └──────────────── a free worker ◄───────────────┘ idle deadline: expire(), closed
//! ```
//!
//! Generic over what is parked, so this file knows sockets and deadlines
//! but not connections (`connection.rs` implements [`Parkable`]). Linux
//! only (`epoll`, through `nix`'s safe wrapper); elsewhere `park_idle_ms`
//! is refused at start-up.

use std::collections::{BTreeSet, HashMap};
use std::io;
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
use nix::sys::eventfd::{EfdFlags, EventFd};
use parking_lot::Mutex;

use crate::limits::PARK_POLL_EVENTS;

/// What can be parked: a connection between two lines.
pub trait Parkable: Send + 'static {
    /// The socket to watch for bytes.
    fn socket(&self) -> &TcpStream;
    /// When the connection must be closed if no complete line arrives.
    fn idle_deadline(&self) -> Instant;
    /// Closes the connection at its idle deadline (logged, as a worker
    /// would).
    fn expire(self);
}

/// Hands a connection that became readable back to the pool.
pub type Resume<T> = Box<dyn Fn(T) + Send + Sync>;

/// The token of the eventfd that wakes the poller (to stop, or to look at
/// a new earliest deadline); connection tokens start at 1.
const WAKE: u64 = 0;

/// The parked connections and their poller thread.
pub struct Parker<T: Parkable> {
    shared: Arc<Shared<T>>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

struct Shared<T> {
    epoll: Epoll,
    wake: EventFd,
    parked: Mutex<Parked<T>>,
    next_token: AtomicU64,
    stopping: AtomicBool,
    resume: Resume<T>,
}

struct Parked<T> {
    /// Each parked connection and its idle deadline.
    by_token: HashMap<u64, (Instant, T)>,
    /// The same deadlines, earliest first.
    deadlines: BTreeSet<(Instant, u64)>,
}

impl<T: Parkable> std::fmt::Debug for Parker<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Parker")
            .field("parked", &self.len())
            .finish_non_exhaustive()
    }
}

impl<T: Parkable> Parker<T> {
    /// Starts the poller thread of node `name`; `resume` runs on it.
    pub fn start(name: &str, resume: Resume<T>) -> io::Result<Parker<T>> {
        let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC)?;
        let wake = EventFd::from_flags(EfdFlags::EFD_CLOEXEC | EfdFlags::EFD_NONBLOCK)?;
        epoll.add(&wake, EpollEvent::new(EpollFlags::EPOLLIN, WAKE))?;
        let shared = Arc::new(Shared {
            epoll,
            wake,
            parked: Mutex::new(Parked {
                by_token: HashMap::new(),
                deadlines: BTreeSet::new(),
            }),
            next_token: AtomicU64::new(WAKE + 1),
            stopping: AtomicBool::new(false),
            resume,
        });
        let poller = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name(format!("poller-{name}"))
            .spawn(move || poller.run())?;
        Ok(Parker {
            shared,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Parks `item` until its socket is readable or its idle deadline
    /// passes. `Err(item)`: it cannot be parked (the socket cannot be
    /// watched, or the node is stopping); the caller keeps serving it.
    pub fn park(&self, item: T) -> Result<(), T> {
        let shared = &self.shared;
        if shared.stopping.load(Ordering::Acquire) {
            return Err(item);
        }
        let token = shared.next_token.fetch_add(1, Ordering::Relaxed);
        let deadline = item.idle_deadline();
        let flags = EpollFlags::EPOLLIN | EpollFlags::EPOLLRDHUP | EpollFlags::EPOLLONESHOT;
        let mut parked = shared.parked.lock();
        let earliest = parked.deadlines.first().map(|(at, _)| *at);
        // Registered under the lock, so the poller cannot take the event
        // before the connection is in the map.
        if shared
            .epoll
            .add(item.socket(), EpollEvent::new(flags, token))
            .is_err()
        {
            return Err(item);
        }
        parked.by_token.insert(token, (deadline, item));
        parked.deadlines.insert((deadline, token));
        drop(parked);
        if earliest.is_none_or(|earliest| deadline < earliest) {
            // The poller sleeps until the earliest deadline it knew of.
            let _ = shared.wake.write(1);
        }
        Ok(())
    }

    /// How many connections are parked now.
    pub fn len(&self) -> usize {
        self.shared.parked.lock().by_token.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Stops the poller and closes every parked connection (node stop).
    pub fn stop(&self) {
        self.shared.stopping.store(true, Ordering::Release);
        let _ = self.shared.wake.write(1);
        if let Some(thread) = self.thread.lock().take() {
            let _ = thread.join();
        }
        let parked = std::mem::take(&mut self.shared.parked.lock().by_token);
        for (_, (_, item)) in parked {
            let _ = self.shared.epoll.delete(item.socket());
            drop(item);
        }
    }
}

impl<T: Parkable> Shared<T> {
    /// The poller thread: waits for readable sockets and idle deadlines
    /// until the node stops.
    fn run(&self) {
        let mut events = vec![EpollEvent::empty(); PARK_POLL_EVENTS];
        while !self.stopping.load(Ordering::Acquire) {
            let timeout = self.until_next_deadline();
            let ready = match self.epoll.wait(&mut events, timeout) {
                Ok(n) => n,
                Err(nix::errno::Errno::EINTR) => 0,
                Err(e) => {
                    log::error!("the parked-connection poller failed: {e}");
                    0
                }
            };
            for event in &events[..ready] {
                match event.data() {
                    WAKE => {
                        let _ = self.wake.read();
                    }
                    token => self.unpark(token, Self::hand_back),
                }
            }
            self.expire_due();
        }
    }

    /// How long the poller may sleep: until the earliest idle deadline, at
    /// most a minute.
    fn until_next_deadline(&self) -> EpollTimeout {
        let parked = self.parked.lock();
        let wait = match parked.deadlines.first() {
            Some((at, _)) => at.saturating_duration_since(Instant::now()),
            None => Duration::from_secs(60),
        };
        // Rounded up, so a deadline is never polled a millisecond early.
        let millis = wait.as_micros().div_ceil(1000).min(60_000);
        EpollTimeout::try_from(millis as u32).unwrap_or(EpollTimeout::MAX)
    }

    /// Takes the connection of `token` out of the poll set and gives it to
    /// `then`; nothing if it is no longer parked.
    fn unpark(&self, token: u64, then: fn(&Self, T)) {
        let item = {
            let mut parked = self.parked.lock();
            let item = parked.by_token.remove(&token);
            if let Some((deadline, _)) = &item {
                parked.deadlines.remove(&(*deadline, token));
            }
            item
        };
        if let Some((_, item)) = item {
            let _ = self.epoll.delete(item.socket());
            then(self, item);
        }
    }

    fn hand_back(&self, item: T) {
        (self.resume)(item);
    }

    fn expire(&self, item: T) {
        item.expire();
    }

    /// Closes every parked connection whose idle deadline has passed.
    fn expire_due(&self) {
        let now = Instant::now();
        loop {
            let due = match self.parked.lock().deadlines.first() {
                Some((at, token)) if *at <= now => *token,
                _ => return,
            };
            self.unpark(due, Self::expire);
        }
    }
}
