//! One client connection, served by its own task from first byte to close.
//!
//! The tokio twin of the blocking `connection.rs`: `accept.rs` spawns this
//! task; it reads lines with the bounded [`LineReader`], passes each to
//! `cmd::client_line` (which awaits Places for a WHATSAT), and writes the
//! answers back in order: answers to pipelined lines are gathered and
//! written together once no further complete line is buffered. Where the
//! blocking worker blocks in `read`, this task is parked and its worker
//! thread serves other connections. A valid `PEER` first line hands the
//! socket to `link/inbound.rs`.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use herd::dispatch::{Outcome, invalid};
use herd::framing::Event;
use herd::limits::{LINGER, LINGER_BYTES};
use herd::link::auth::Challenge;
use herd::logfile::LogBatch;
use herd::store::changes::Ticket;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::time::Instant;

use crate::cmd;
use crate::line_reader::LineReader;
use crate::link::{handshake, inbound};
use crate::state::NodeState;

/// Holds a client's place in the admission count; gives it back however
/// the connection ends.
struct Slot<'a> {
    state: &'a NodeState,
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.state.clients.fetch_sub(1, Ordering::AcqRel);
    }
}

enum Ending {
    Closed,
    Broken,
    Refused,
    Peer(String),
    /// A neighbour's hello in a herd with a secret: the handshake is next.
    Challenge(Challenge),
}

/// Serves one client until it closes, idles out, breaks or the node stops.
pub async fn serve(state: Arc<NodeState>, stream: TcpStream, addr: SocketAddr) {
    let slot = Slot { state: &state };
    let limits = state.me.limits();
    let (read, mut write) = stream.into_split();
    let mut reader = LineReader::new(read, limits.max_line_bytes, Some(limits.idle_timeout));
    let mut out = Vec::with_capacity(4096);
    let mut log = LogBatch::new();
    // Formatted once: every line in and out is logged with it.
    let peer = addr.to_string();
    let mut first = true;
    // The store ticket the answers in `out` wait for (`sync = always`).
    let mut durable = None;
    // One stop future for the connection's life: made (and registered with
    // the token) once, not once per line.
    let stop = state.stop.cancelled();
    tokio::pin!(stop);
    let ending = loop {
        let event = tokio::select! {
            event = reader.next_line() => event,
            () = &mut stop => break Ending::Closed,
        };
        let outcome = match event {
            Ok(Event::Line(line)) => {
                log.received(&peer, line);
                let answered_from = out.len();
                let mut summary = None;
                let outcome =
                    cmd::client_line(&state, line, first, &mut out, &mut summary, &mut durable)
                        .await;
                first = false;
                if out.len() > answered_from {
                    let answer = &out[answered_from..];
                    match summary {
                        Some(s) if !state.log.logs_answers() => {
                            log.sent_summary(&peer, answer, &s.status, s.results);
                        }
                        _ => log.sent(&peer, trim_newline(answer)),
                    }
                }
                outcome
            }
            Ok(Event::TooLong(head)) => {
                log.received(&peer, head);
                log.notice(format_args!(
                    "{addr}: line over {} bytes",
                    limits.max_line_bytes
                ));
                invalid(head, &mut out);
                log.sent(&peer, trim_newline(&out));
                Outcome::Close
            }
            Ok(Event::Eof) => break Ending::Closed,
            Ok(Event::Idle) => {
                log.notice(format_args!(
                    "{addr}: idle for {:?}, closed",
                    limits.idle_timeout
                ));
                break Ending::Closed;
            }
            Err(_) => break Ending::Broken,
        };
        match outcome {
            Outcome::Continue if reader.has_buffered_line() => continue,
            Outcome::Continue => {
                wait_for_store(&state, durable.take()).await;
                let written = write_out(&mut write, &mut out, limits.write_timeout).await;
                if let Err(e) = written {
                    log_not_taken(&mut log, addr, &e, limits.write_timeout);
                    break Ending::Broken;
                }
                state.log.submit(log.take());
            }
            Outcome::Close => break Ending::Refused,
            Outcome::BecomePeer(name) => break Ending::Peer(name),
            Outcome::Challenge(challenge) => break Ending::Challenge(challenge),
            Outcome::RefusePeer(why) => {
                log.notice(format_args!("link from {addr} refused: {why}"));
                break Ending::Refused;
            }
            Outcome::RefuseLinkOpen(name) => {
                log.notice(format_args!(
                    "link from {name} ({addr}) refused: a link from {name} is open"
                ));
                break Ending::Refused;
            }
        }
    };
    wait_for_store(&state, durable.take()).await;
    if let Err(e) = write_out(&mut write, &mut out, limits.write_timeout).await {
        log_not_taken(&mut log, addr, &e, limits.write_timeout);
    }
    let ending = match ending {
        Ending::Challenge(challenge) => {
            let name = challenge.opener().to_owned();
            let answered =
                handshake::answer(&state, &mut reader, &mut write, &challenge, addr, &mut log)
                    .await;
            match answered {
                Ok(()) => Ending::Peer(name),
                Err(why) => {
                    log.notice(format_args!("link from {name} ({addr}) refused: {why}"));
                    Ending::Refused
                }
            }
        }
        other => other,
    };
    state.log.submit(log);
    match ending {
        Ending::Peer(name) => {
            // The link no longer counts as a client.
            drop(slot);
            inbound::accept(&state, name, reader, write, addr);
        }
        Ending::Refused => linger_close(reader.get_mut(), write).await,
        Ending::Closed | Ending::Broken | Ending::Challenge(_) => {}
    }
}

/// Writes `out` and empties it, within one deadline for the whole of it:
/// `timeout` from now (PROTOCOL §5), however many writes it takes (a
/// client that does not take its answer, or takes it a few bytes at a
/// time, is disconnected). `ErrorKind::TimedOut`: not taken in time.
/// With `sync = always`, waits until the store has the updates the
/// answers about to be written acknowledge (PROTOCOL §8): one wait for a
/// whole batch of pipelined lines. The store's writer thread wakes this
/// task; no runtime thread blocks. A store that cannot write ends the wait
/// at once (the node's log says the answers are not durable).
async fn wait_for_store(state: &NodeState, ticket: Option<Ticket>) {
    let (Some(ticket), Some(store)) = (ticket, state.cache.store()) else {
        return;
    };
    let (done, durable) = tokio::sync::oneshot::channel();
    store.when_durable(
        ticket,
        Box::new(move || {
            let _ = done.send(());
        }),
    );
    let _ = durable.await;
}

async fn write_out(
    write: &mut OwnedWriteHalf,
    out: &mut Vec<u8>,
    timeout: Duration,
) -> io::Result<()> {
    if out.is_empty() {
        return Ok(());
    }
    let deadline = Instant::now() + timeout;
    let written = match tokio::time::timeout_at(deadline, write.write_all(out)).await {
        Ok(written) => written,
        Err(_) => Err(io::ErrorKind::TimedOut.into()),
    };
    out.clear();
    written
}

/// Logs a connection closed because its answer was not taken in time.
fn log_not_taken(log: &mut LogBatch, addr: SocketAddr, error: &io::Error, timeout: Duration) {
    if error.kind() == io::ErrorKind::TimedOut {
        log.notice(format_args!(
            "{addr}: answer not taken within {timeout:?}, closed"
        ));
    }
}

fn trim_newline(text: &[u8]) -> &[u8] {
    text.strip_suffix(b"\n").unwrap_or(text)
}

/// Half-closes, then reads and drops what the client is still sending
/// (bounded by `LINGER` and `LINGER_BYTES` (`herd::limits`)) before the socket is closed.
async fn linger_close(read: &mut OwnedReadHalf, mut write: OwnedWriteHalf) {
    let _ = write.shutdown().await;
    let deadline = Instant::now() + LINGER;
    let mut scratch = vec![0u8; 16 * 1024];
    let mut drained = 0;
    while drained < LINGER_BYTES {
        match tokio::time::timeout_at(deadline, read.read(&mut scratch)).await {
            Ok(Ok(n)) if n > 0 => drained += n,
            _ => break,
        }
    }
}
