//! Outgoing links of a tokio node: one sender task per neighbour.
//!
//! The tokio twin of the blocking `link/outbound.rs`: each sender task owns
//! one persistent TCP link: it connects (retrying with backoff while the
//! neighbour is down), says `PEER <name>` (or runs the §7 handshake,
//! `handshake.rs`), sends a catch-up dump of the whole cache, then writes
//! the AT lines its queue (`queues.rs`) hands it as they come. Where the
//! blocking sender polls the idle link every 100 ms to notice that the
//! neighbour closed it, this task simply awaits the socket becoming
//! readable alongside its queue. A link whose sent data goes unacknowledged
//! for `write_timeout_ms` (a partition stalls a link rather than closing
//! it) is closed by the kernel ([`configure_link`]).

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use herd::limits::{BATCH, CONNECT_TIMEOUT, LINK_BUFFER};
use herd::logfile::LogBatch;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

use super::handshake;
use super::queues::LinkPlan;
use crate::state::NodeState;

/// The sender task: keeps the link to one neighbour up until the node stops.
pub async fn keep_link(state: Arc<NodeState>, mut plan: LinkPlan) {
    let limits = state.me.limits();
    let mut backoff = limits.reconnect_min;
    let mut reported_down = false;
    while !state.stop.is_cancelled() {
        match connect(&plan.addr).await {
            Ok((stream, addr)) => {
                reported_down = false;
                match serve_link(&state, &mut plan, stream, addr).await {
                    Ok(why) => {
                        backoff = limits.reconnect_min;
                        state
                            .log
                            .notice(format_args!("link to {} ({addr}) down: {why}", plan.name));
                    }
                    // Refused (a wrong secret, say): retried with backoff
                    // like a neighbour that is down, and logged every time.
                    Err(why) => state.log.notice(format_args!(
                        "link to {} ({addr}) refused: {why}",
                        plan.name
                    )),
                }
            }
            Err(e) if !reported_down => {
                reported_down = true;
                state.log.notice(format_args!(
                    "cannot reach {} ({}): {e}; retrying with backoff",
                    plan.name, plan.addr
                ));
            }
            Err(_) => {}
        }
        tokio::select! {
            () = state.stop.cancelled() => break,
            () = plan.wake.notified() => backoff = limits.reconnect_min,
            () = tokio::time::sleep(backoff) => backoff = (backoff * 2).min(limits.reconnect_max),
        }
    }
}

async fn connect(addr: &str) -> io::Result<(TcpStream, SocketAddr)> {
    let mut last_error = io::Error::new(io::ErrorKind::NotFound, "address resolves to nothing");
    for candidate in tokio::net::lookup_host(addr).await? {
        match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(candidate)).await {
            Ok(Ok(stream)) => return Ok((stream, candidate)),
            Ok(Err(e)) => last_error = e,
            Err(_) => last_error = io::ErrorKind::TimedOut.into(),
        }
    }
    Err(last_error)
}

/// Sets up a fresh outgoing link's socket: no Nagle delay, and a limit of
/// `write_timeout` on how long what we sent may stay unacknowledged
/// (`TCP_USER_TIMEOUT`). A partition stalls a link rather than closing it;
/// with the limit the kernel closes it, the pending read in [`run_link`]
/// fails, and the task reconnects and catches the neighbour up soon after
/// the heal instead of waiting for TCP's next retransmission.
pub fn configure_link(stream: &TcpStream, write_timeout: Duration) -> io::Result<()> {
    stream.set_nodelay(true)?;
    herd::link::socket::limit_unacked(stream, write_timeout)
}

/// Says hello on a fresh connection (a bare `PEER <name>`, or the
/// handshake where the herd has a secret), then runs the link until it
/// fails or the node stops. `Ok`: why the link ended; `Err`: why it was
/// refused before it was up.
async fn serve_link(
    state: &NodeState,
    plan: &mut LinkPlan,
    stream: TcpStream,
    addr: SocketAddr,
) -> Result<String, String> {
    configure_link(&stream, state.me.limits().write_timeout).map_err(|e| e.to_string())?;
    let (mut read, write) = stream.into_split();
    let mut link = Link {
        write,
        out: Vec::with_capacity(LINK_BUFFER),
        addr,
        log: LogBatch::new(),
        timeout: state.me.limits().write_timeout,
    };
    match &state.secret {
        None => link.add_line(&format!("PEER {}", state.me.name())),
        Some(secret) => {
            let said = handshake::open(
                state,
                secret,
                &plan.name,
                (&mut read, &mut link.write),
                addr,
                &mut link.log,
            )
            .await;
            if let Err(why) = said {
                state.log.submit(std::mem::take(&mut link.log));
                return Err(why);
            }
        }
    }
    state
        .log
        .notice(format_args!("link to {} ({addr}) up", plan.name));
    Ok(run_link(state, plan, link, read).await)
}

/// Runs an open link (hello said) until it fails or the node stops;
/// returns why it ended.
async fn run_link(
    state: &NodeState,
    plan: &mut LinkPlan,
    mut link: Link,
    mut read: OwnedReadHalf,
) -> String {
    if let Err(e) = link.catch_up(state, plan).await {
        return e.to_string();
    }
    // The acceptor never writes on a link: readable means it closed.
    let mut scratch = [0u8; 256];
    let stop = state.stop.cancelled();
    tokio::pin!(stop);
    loop {
        if plan.resync.load(Ordering::Acquire)
            && let Err(e) = link.catch_up(state, plan).await
        {
            return e.to_string();
        }
        tokio::select! {
            update = plan.updates.recv() => {
                let Some(first) = update else { return "node stopping".into() };
                link.add_line(&first.line);
                for _ in 1..BATCH {
                    let Ok(record) = plan.updates.try_recv() else { break };
                    link.add_line(&record.line);
                }
                if let Err(e) = link.finish(state).await {
                    return e.to_string();
                }
            }
            () = &mut stop => return "node stopping".into(),
            read = read.read(&mut scratch) => match read {
                Ok(0) => return "closed by the neighbour".into(),
                Err(e) => return e.to_string(),
                Ok(_) => {} // stray bytes are ignored
            },
        }
    }
}

/// The writing end of one open link.
struct Link {
    write: OwnedWriteHalf,
    out: Vec<u8>,
    addr: SocketAddr,
    log: LogBatch,
    timeout: Duration,
}

impl Link {
    fn add_line(&mut self, line: &str) {
        self.out.extend_from_slice(line.as_bytes());
        self.out.push(b'\n');
        self.log.sent(self.addr, line.as_bytes());
    }

    /// Sends the AT line of every client the node knows (PROTOCOL §3), so a
    /// neighbour that was cut off catches up. Updates queued before the
    /// snapshot is taken are in it, so they are dropped from the queue.
    async fn catch_up(&mut self, state: &NodeState, plan: &mut LinkPlan) -> io::Result<()> {
        plan.resync.store(false, Ordering::Release);
        while plan.updates.try_recv().is_ok() {}
        let snapshot = state.cache.snapshot();
        for record in &snapshot {
            self.add_line(&record.line);
            if self.out.len() >= LINK_BUFFER {
                self.finish(state).await?;
            }
        }
        self.finish(state).await?;
        state.log.notice(format_args!(
            "catch-up to {}: {} clients sent",
            plan.name,
            snapshot.len()
        ));
        Ok(())
    }

    /// Writes what was added, within the write timeout, and logs it.
    async fn finish(&mut self, state: &NodeState) -> io::Result<()> {
        let written =
            match tokio::time::timeout(self.timeout, self.write.write_all(&self.out)).await {
                Ok(written) => written,
                Err(_) => Err(io::ErrorKind::TimedOut.into()),
            };
        self.out.clear();
        state.log.submit(std::mem::take(&mut self.log));
        written
    }
}
