//! One client connection, served on a pool worker from first byte to close.
//!
//! `accept.rs` hands over the socket; this file reads lines with the
//! bounded [`LineReader`], passes each to `cmd::client_line`, and writes the
//! answers back in order: answers to pipelined lines are gathered and
//! written together once no further complete line is buffered, so each
//! answer (a whole WHATSAT answer included) leaves in one write. A valid
//! `PEER` first line moves the socket to `link/inbound.rs` and frees the
//! worker; in a herd with a secret, `link/handshake.rs` checks the
//! neighbour's proof first.

use std::io::{self, Read, Write};
use std::net::{Shutdown as Both, SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::cmd;
use crate::dispatch::{Outcome, invalid};
use crate::limits::{LINGER, LINGER_BYTES};
use crate::line_reader::{Event, LineReader};
use crate::link::auth::Challenge;
use crate::link::{handshake, inbound};
use crate::logfile::LogBatch;
use crate::state::NodeState;

/// Holds a client's place in the admission count and the socket registry;
/// gives both back however the connection ends.
struct Slot<'a> {
    state: &'a NodeState,
    socket_id: u64,
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.state.sockets.forget(self.socket_id);
        self.state.clients.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Serves one client until it closes, idles out, breaks or the node stops.
/// `accepted` is when the accept loop took the connection: its idle clock
/// starts then, not when this worker took it from the queue.
pub fn serve(
    state: Arc<NodeState>,
    stream: TcpStream,
    addr: SocketAddr,
    socket_id: u64,
    accepted: Instant,
) {
    let slot = Slot {
        state: &state,
        socket_id,
    };
    let limits = state.me.limits();
    let mut reader = LineReader::new(stream, limits.max_line_bytes, Some(limits.idle_timeout));
    reader.start_idle_clock(accepted);
    let mut out = Vec::with_capacity(4096);
    let mut log = LogBatch::new();
    let mut first = true;
    let ending = loop {
        let outcome = match reader.next_line() {
            Ok(Event::Line(line)) => {
                log.received(addr, line);
                let answered_from = out.len();
                let outcome = cmd::client_line(&state, line, first, &mut out);
                first = false;
                if out.len() > answered_from {
                    log.sent(addr, trim_newline(&out[answered_from..]));
                }
                outcome
            }
            Ok(Event::TooLong(head)) => {
                log.received(addr, head);
                log.notice(format_args!(
                    "{addr}: line over {} bytes",
                    limits.max_line_bytes
                ));
                state.metrics.client_invalid();
                invalid(head, &mut out);
                log.sent(addr, trim_newline(&out));
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
                if write_out(reader.get_ref(), &mut out).is_err() {
                    break Ending::Broken;
                }
                state.log.submit(std::mem::take(&mut log));
            }
            Outcome::Close => break Ending::Refused,
            Outcome::BecomePeer(name) => break Ending::Peer(name),
            Outcome::Challenge(challenge) => break Ending::Challenge(challenge),
            Outcome::RefusePeer(why) => {
                log.notice(format_args!("link from {addr} refused: {why}"));
                break Ending::Refused;
            }
        }
    };
    let _ = write_out(reader.get_ref(), &mut out);
    let ending = match ending {
        Ending::Challenge(challenge) => {
            let name = challenge.opener().to_owned();
            match handshake::answer(&state, &mut reader, &challenge, addr, &mut log) {
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
            // The link no longer counts as a client: `slot` gives back its
            // place before the (long-lived) peer thread takes the socket.
            drop(slot);
            inbound::accept(&state, name, reader, addr);
        }
        Ending::Refused => linger_close(reader.get_ref(), LINGER),
        Ending::Closed | Ending::Broken | Ending::Challenge(_) => {}
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

fn write_out(stream: &TcpStream, out: &mut Vec<u8>) -> io::Result<()> {
    if out.is_empty() {
        return Ok(());
    }
    let written = (&*stream).write_all(out);
    out.clear();
    written
}

fn trim_newline(text: &[u8]) -> &[u8] {
    text.strip_suffix(b"\n").unwrap_or(text)
}

/// Half-closes, then reads and drops what the client is still sending
/// (for up to `linger`, and at most [`LINGER_BYTES`]) before the socket is
/// closed, so that the close does not reset the connection under the answer
/// (also used by the metrics endpoint).
pub(crate) fn linger_close(stream: &TcpStream, linger: Duration) {
    let _ = stream.shutdown(Both::Write);
    let deadline = Instant::now() + linger;
    let mut scratch = [0u8; 16 * 1024];
    let mut drained = 0;
    while drained < LINGER_BYTES {
        let Some(left) = deadline.checked_duration_since(Instant::now()) else {
            break;
        };
        if left.is_zero() || stream.set_read_timeout(Some(left)).is_err() {
            break;
        }
        match (&*stream).read(&mut scratch) {
            Ok(0) | Err(_) => break,
            Ok(n) => drained += n,
        }
    }
}
