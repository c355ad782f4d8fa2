//! Outgoing links of a blocking node: one sender thread per neighbour.
//!
//! Each sender thread owns one persistent TCP link: it connects (retrying
//! with backoff while the neighbour is down), says `PEER <name>` (or, in a
//! herd with a secret, proves itself with `handshake.rs`), sends a
//! catch-up dump of the whole cache, then writes the AT lines its queue
//! (`queues.rs`) hands it as they come: when it wakes, everything queued
//! leaves in one write. Every write wakes the neighbour's reader, so on a
//! busy link a sender with a single update first yields its CPU once
//! ([`BUSY_LINK`]): the workers making updates run, and theirs join the
//! write. It never sleeps on a timer: an idle link, or an idle CPU, sends at
//! once. A link whose sent data goes
//! unacknowledged for `write_timeout_ms` (a partition stalls a link rather
//! than closing it) is closed by the kernel ([`configure_link`],
//! `socket.rs`) and opened again.

use std::io::{self, BufWriter, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, select};

use super::handshake;
use super::queues::LinkPlan;
use super::socket;
use crate::limits::{BATCH, BUSY_LINK, CONNECT_TIMEOUT, LINK_BUFFER, LIVENESS_CHECK};
use crate::logfile::LogBatch;
use crate::record::AtRecord;
use crate::state::NodeState;

/// Starts one sender thread per neighbour.
pub fn spawn_senders(
    state: &Arc<NodeState>,
    plans: Vec<LinkPlan>,
) -> io::Result<Vec<JoinHandle<()>>> {
    plans
        .into_iter()
        .map(|plan| {
            let state = Arc::clone(state);
            std::thread::Builder::new()
                .name(format!("flood-{}", plan.name))
                .spawn(move || keep_link(&state, &plan))
        })
        .collect()
}

/// The sender thread: keeps the link to one neighbour up until the node stops.
fn keep_link(state: &NodeState, plan: &LinkPlan) {
    let limits = state.me.limits();
    let mut backoff = limits.reconnect_min;
    let mut reported_down = false;
    while !state.shutdown.is_triggered() {
        match connect(&plan.addr) {
            Ok((stream, addr)) => match open_link(state, plan, &stream, addr) {
                Ok(link) => {
                    backoff = limits.reconnect_min;
                    reported_down = false;
                    state
                        .log
                        .notice(format_args!("link to {} ({addr}) up", plan.name));
                    let _up = state.metrics.link_up(&plan.name);
                    let why = serve_link(state, plan, link, &stream);
                    state
                        .log
                        .notice(format_args!("link to {} ({addr}) down: {why}", plan.name));
                }
                // Refused (a wrong secret, say): retried with backoff like
                // a neighbour that is down, and logged every time.
                Err(why) => state.log.notice(format_args!(
                    "link to {} ({addr}) refused: {why}",
                    plan.name
                )),
            },
            Err(e) if !reported_down => {
                reported_down = true;
                state.log.notice(format_args!(
                    "cannot reach {} ({}): {e}; retrying with backoff",
                    plan.name, plan.addr
                ));
            }
            Err(_) => {}
        }
        select! {
            recv(state.shutdown.signal()) -> _ => break,
            recv(plan.wake) -> _ => backoff = limits.reconnect_min,
            default(backoff) => backoff = (backoff * 2).min(limits.reconnect_max),
        }
    }
}

fn connect(addr: &str) -> io::Result<(TcpStream, SocketAddr)> {
    let mut last_error = io::Error::new(io::ErrorKind::NotFound, "address resolves to nothing");
    for candidate in addr.to_socket_addrs()? {
        match TcpStream::connect_timeout(&candidate, CONNECT_TIMEOUT) {
            Ok(stream) => return Ok((stream, candidate)),
            Err(e) => last_error = e,
        }
    }
    Err(last_error)
}

/// Sets up a fresh outgoing link's socket: no Nagle delay, and
/// `write_timeout` both for one write and, through `TCP_USER_TIMEOUT`, for
/// how long what we sent may stay unacknowledged. A partition stalls a link
/// rather than closing it; the latter closes it, so the sender reconnects
/// and catches the neighbour up soon after the heal instead of waiting for
/// TCP's next retransmission (up to two minutes).
pub fn configure_link(stream: &TcpStream, write_timeout: Duration) -> io::Result<()> {
    stream.set_nodelay(true)?;
    stream.set_write_timeout(Some(write_timeout))?;
    socket::limit_unacked(stream, write_timeout)
}

/// Says hello on a fresh connection: a bare `PEER <name>`, or the
/// handshake where the herd has a secret. `Err` says why it failed.
fn open_link<'a>(
    state: &NodeState,
    plan: &LinkPlan,
    stream: &'a TcpStream,
    addr: SocketAddr,
) -> Result<Link<'a>, String> {
    configure_link(stream, state.me.limits().write_timeout).map_err(|e| e.to_string())?;
    let mut link = Link {
        out: BufWriter::with_capacity(LINK_BUFFER, stream),
        addr,
        log: LogBatch::new(),
    };
    let said = match &state.secret {
        None => link
            .send_line(&format!("PEER {}", state.me.name()))
            .map_err(|e| e.to_string()),
        Some(secret) => handshake::open(state, secret, &plan.name, stream, addr, &mut link.log),
    };
    if said.is_err() {
        state.log.submit(std::mem::take(&mut link.log));
    }
    said.map(|()| link)
}

/// Runs one open link until it fails or the node stops; returns why it ended.
fn serve_link(
    state: &NodeState,
    plan: &LinkPlan,
    mut link: Link<'_>,
    stream: &TcpStream,
) -> String {
    if let Err(e) = link.catch_up(state, plan) {
        return e.to_string();
    }
    let mut last_batch: Option<Instant> = None;
    loop {
        if plan.resync.load(Ordering::Acquire)
            && let Err(e) = link.catch_up(state, plan)
        {
            return e.to_string();
        }
        select! {
            recv(plan.updates) -> update => {
                let Ok(first) = update else { return "node stopping".into() };
                if plan.updates.is_empty() && last_batch.is_some_and(|at| at.elapsed() < BUSY_LINK) {
                    // A busy link with one update to send: let the threads
                    // that are making updates run first, so that what they
                    // queue leaves in this write. No sleep: on an idle CPU
                    // this returns at once.
                    std::thread::yield_now();
                }
                match link.send_batch(state, first, &plan.updates) {
                    Ok(sent) => state.metrics.floods_sent(&plan.name, sent),
                    Err(e) => return e.to_string(),
                }
                last_batch = Some(Instant::now());
            }
            recv(state.shutdown.signal()) -> _ => return "node stopping".into(),
            default(LIVENESS_CHECK) => {
                if let Some(why) = closed_by_neighbour(stream) {
                    return why;
                }
            }
        }
    }
}

/// The writing end of one open link.
struct Link<'a> {
    out: BufWriter<&'a TcpStream>,
    addr: SocketAddr,
    log: LogBatch,
}

impl Link<'_> {
    fn send_line(&mut self, line: &str) -> io::Result<()> {
        self.out.write_all(line.as_bytes())?;
        self.out.write_all(b"\n")?;
        self.log.sent(self.addr, line.as_bytes());
        Ok(())
    }

    /// Sends the AT line of every client the node knows (PROTOCOL §3), so a
    /// neighbour that was cut off catches up. Updates queued before the
    /// snapshot is taken are in it, so they are dropped from the queue.
    fn catch_up(&mut self, state: &NodeState, plan: &LinkPlan) -> io::Result<()> {
        plan.resync.store(false, Ordering::Release);
        while plan.updates.try_recv().is_ok() {}
        let snapshot = state.cache.snapshot();
        for record in &snapshot {
            self.send_line(&record.line)?;
        }
        self.finish(state)?;
        state.metrics.catch_up(&plan.name, snapshot.len());
        state.log.notice(format_args!(
            "catch-up to {}: {} clients sent",
            plan.name,
            snapshot.len()
        ));
        Ok(())
    }

    /// Writes `first` and whatever else is queued (up to [`BATCH`]), then
    /// flushes once; returns how many lines it wrote.
    fn send_batch(
        &mut self,
        state: &NodeState,
        first: Arc<AtRecord>,
        more: &Receiver<Arc<AtRecord>>,
    ) -> io::Result<u64> {
        self.send_line(&first.line)?;
        let mut sent = 1;
        for record in more.try_iter().take(BATCH - 1) {
            self.send_line(&record.line)?;
            sent += 1;
        }
        self.finish(state).map(|()| sent)
    }

    fn finish(&mut self, state: &NodeState) -> io::Result<()> {
        let flushed = self.out.flush();
        state.log.submit(std::mem::take(&mut self.log));
        flushed
    }
}

/// Why the link is over, if the neighbour closed it or it broke (a stall
/// that outlived `TCP_USER_TIMEOUT` reads as "timed out"). The acceptor
/// never writes on a link, so readable means EOF or an error; stray bytes
/// are ignored.
fn closed_by_neighbour(stream: &TcpStream) -> Option<String> {
    if let Err(e) = stream.set_nonblocking(true) {
        return Some(e.to_string());
    }
    let mut scratch = [0u8; 256];
    let closed = match (&*stream).read(&mut scratch) {
        Ok(0) => Some("closed by the neighbour".to_string()),
        Ok(_) => None,
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => None,
        Err(e) => Some(e.to_string()),
    };
    match stream.set_nonblocking(false) {
        Err(e) if closed.is_none() => Some(e.to_string()),
        _ => closed,
    }
}
