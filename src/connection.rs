//! One client connection, served on a pool worker from first byte to close.
//!
//! `accept.rs` hands over the socket; this file reads lines with the
//! bounded [`LineReader`], passes each to `cmd::client_line`, and writes the
//! answers back in order: answers to pipelined lines are gathered and
//! written together once no further complete line is buffered, so each
//! answer (a whole WHATSAT answer included) leaves in one write, with one
//! deadline, `write_timeout_ms` from its first byte (PROTOCOL §5). A client
//! that sends nothing for `park_idle_ms` is parked off the pool
//! (`park.rs`) and resumed on a worker when it sends again. A valid `PEER`
//! first line moves the socket to `link/inbound.rs` and frees the worker;
//! in a herd with a secret, `link/handshake.rs` checks the neighbour's
//! proof first.

use std::io::{self, Read, Write};
use std::net::{Shutdown as Both, SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use threadpool::ThreadPool;

use crate::cmd;
use crate::dispatch::{Outcome, invalid};
use crate::limits::{LINGER, LINGER_BYTES};
use crate::line_reader::{Event, LineReader};
use crate::link::auth::Challenge;
use crate::link::{handshake, inbound};
use crate::logfile::LogBatch;
use crate::park::{Parkable, Parker};
use crate::state::NodeState;
use crate::store::changes::Ticket;

/// Holds a client's place in the admission count and the socket registry;
/// gives both back however the connection ends.
struct Slot {
    state: Arc<NodeState>,
    socket_id: u64,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.state.sockets.forget(self.socket_id);
        self.state.clients.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The idle connections parked off the pool (`park.rs`), if parking is on.
pub type ClientParker = Parker<Client>;

/// A client connection between two lines: all that serving it needs, so
/// that a worker can park it (`park.rs`) and another worker take it up
/// where it was.
pub struct Client {
    state: Arc<NodeState>,
    reader: LineReader<TcpStream>,
    addr: SocketAddr,
    /// `addr` formatted once: every line in and out is logged with it.
    peer: String,
    /// Before the first line, the only place a neighbour may say `PEER`.
    first: bool,
    /// Since when it has had nothing to answer (accept, the last answer
    /// written, or its return from the poller): parked `park_idle` later.
    quiet_since: Instant,
    /// Where to park it when it goes quiet; `None`: parking is off.
    parker: Option<Arc<ClientParker>>,
    slot: Slot,
}

impl Parkable for Client {
    fn socket(&self) -> &TcpStream {
        self.reader.get_ref()
    }

    fn idle_deadline(&self) -> Instant {
        let idle = self.state.me.limits().idle_timeout;
        self.reader
            .idle_deadline()
            .unwrap_or_else(|| Instant::now() + idle)
    }

    /// Closed by the poller at its idle deadline, logged as a worker would.
    fn expire(self) {
        self.state.metrics.unparked();
        self.state.log.notice(format_args!(
            "{}: idle for {:?}, closed",
            self.addr,
            self.state.me.limits().idle_timeout
        ));
    }
}

/// Serves one new client until it closes, idles out, breaks, is parked or
/// the node stops. `accepted` is when the accept loop took the connection:
/// its idle clock starts then, not when this worker took it from the queue.
pub fn serve(
    state: Arc<NodeState>,
    stream: TcpStream,
    addr: SocketAddr,
    socket_id: u64,
    accepted: Instant,
    parker: Option<Arc<ClientParker>>,
) {
    let limits = state.me.limits();
    let mut reader = LineReader::new(stream, limits.max_line_bytes, Some(limits.idle_timeout));
    reader.start_idle_clock(accepted);
    let client = Client {
        slot: Slot {
            state: Arc::clone(&state),
            socket_id,
        },
        state,
        reader,
        addr,
        peer: addr.to_string(),
        first: true,
        quiet_since: accepted,
        parker,
    };
    run(client);
}

/// Queues a parked client that sent bytes again for the next free worker
/// (the poller's `resume`), where it is served on from where it was.
pub fn requeue(pool: &ThreadPool, client: Client) {
    let metrics = &client.state.metrics;
    metrics.unparked();
    metrics.waiting_add();
    pool.execute(move || {
        let state = Arc::clone(&client.state);
        let _busy = state.metrics.taken_by_worker();
        let mut client = client;
        client.quiet_since = Instant::now();
        run(client);
    });
}

/// Reads, answers and writes until the connection ends or goes quiet for
/// `park_idle` (then it is parked and this worker is free).
fn run(mut client: Client) {
    let state = Arc::clone(&client.state);
    let limits = state.me.limits();
    let addr = client.addr;
    let mut out = Vec::with_capacity(4096);
    let mut log = LogBatch::new();
    // The store ticket the answers in `out` wait for (`sync = always`).
    let mut durable = None;
    let ending = loop {
        // Parked only while waiting with nothing buffered (answers out).
        let park_at = match &client.parker {
            Some(_) if !limits.park_idle.is_zero() && !client.reader.has_buffered_line() => {
                Some(client.quiet_since + limits.park_idle)
            }
            _ => None,
        };
        let outcome = match client.reader.next_line_or_park(park_at) {
            Ok(Some(Event::Line(line))) => {
                log.received(&client.peer, line);
                let answered_from = out.len();
                let mut summary = None;
                let outcome = cmd::client_line(
                    &state,
                    line,
                    client.first,
                    &mut out,
                    &mut summary,
                    &mut durable,
                );
                client.first = false;
                if out.len() > answered_from {
                    let answer = &out[answered_from..];
                    match summary {
                        Some(s) if !state.log.logs_answers() => {
                            log.sent_summary(&client.peer, answer, &s.status, s.results);
                        }
                        _ => log.sent(&client.peer, trim_newline(answer)),
                    }
                }
                outcome
            }
            Ok(Some(Event::TooLong(head))) => {
                log.received(&client.peer, head);
                log.notice(format_args!(
                    "{addr}: line over {} bytes",
                    limits.max_line_bytes
                ));
                state.metrics.client_invalid();
                invalid(head, &mut out);
                log.sent(&client.peer, trim_newline(&out));
                Outcome::Close
            }
            Ok(Some(Event::Eof)) => break Ending::Closed,
            Ok(Some(Event::Idle)) => {
                log.notice(format_args!(
                    "{addr}: idle for {:?}, closed",
                    limits.idle_timeout
                ));
                break Ending::Closed;
            }
            Ok(None) => {
                state.log.submit(std::mem::take(&mut log));
                match park(client) {
                    None => return,
                    // It could not be parked: this worker keeps it.
                    Some(kept) => {
                        client = kept;
                        client.parker = None;
                        continue;
                    }
                }
            }
            Err(_) => break Ending::Broken,
        };
        match outcome {
            Outcome::Continue if client.reader.has_buffered_line() => continue,
            Outcome::Continue => {
                wait_for_store(&state, durable.take());
                let written = write_out(client.reader.get_ref(), &mut out, limits.write_timeout);
                if let Err(e) = written {
                    log_not_taken(&mut log, addr, &e, limits.write_timeout);
                    break Ending::Broken;
                }
                client.quiet_since = Instant::now();
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
    let Client {
        mut reader, slot, ..
    } = client;
    wait_for_store(&state, durable.take());
    if let Err(e) = write_out(reader.get_ref(), &mut out, limits.write_timeout) {
        log_not_taken(&mut log, addr, &e, limits.write_timeout);
    }
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

/// Hands a quiet client to the parker; gives it back if it cannot be parked.
fn park(client: Client) -> Option<Client> {
    let Some(parker) = client.parker.clone() else {
        return Some(client);
    };
    let state = Arc::clone(&client.state);
    state.metrics.parked();
    match parker.park(client) {
        Ok(()) => None,
        Err(client) => {
            state.metrics.unparked();
            Some(client)
        }
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

/// With `sync = always`, waits until the store has the updates the
/// answers about to be written acknowledge (PROTOCOL §8): one wait for a
/// whole batch of pipelined lines. A store that cannot write ends the wait
/// at once; the node's log and metrics say the answers are not durable.
fn wait_for_store(state: &NodeState, ticket: Option<Ticket>) {
    if let (Some(ticket), Some(store)) = (ticket, state.cache.store()) {
        store.wait(ticket);
    }
}

/// Writes `out` and empties it, within one deadline: `timeout` from now
/// (PROTOCOL §5). `ErrorKind::TimedOut`: the client did not take it in time.
fn write_out(stream: &TcpStream, out: &mut Vec<u8>, timeout: Duration) -> io::Result<()> {
    if out.is_empty() {
        return Ok(());
    }
    let written = write_within(stream, out, timeout);
    out.clear();
    written
}

/// Writes all of `bytes` within `timeout` of the first write, however the
/// client takes them. The socket's `SO_SNDTIMEO` is `timeout` (set at
/// accept), which bounds one `write`; `write_all` would restart it after
/// every partial write, so that a client taking a few bytes now and then
/// held a worker for as long as it liked. Here each write after a partial
/// one gets only the time left, and the timeout is set back afterwards (an
/// answer that leaves in one write, the usual case, costs no extra call).
fn write_within(stream: &TcpStream, bytes: &[u8], timeout: Duration) -> io::Result<()> {
    let deadline = Instant::now() + timeout;
    let mut sent = 0;
    let mut shortened = false;
    let result = loop {
        match (&*stream).write(&bytes[sent..]) {
            Ok(0) => break Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => sent += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            // SO_SNDTIMEO ran out with nothing sent.
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                break Err(io::ErrorKind::TimedOut.into());
            }
            Err(e) => break Err(e),
        }
        if sent == bytes.len() {
            break Ok(());
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break Err(io::ErrorKind::TimedOut.into());
        }
        if let Err(e) = stream.set_write_timeout(Some(left)) {
            break Err(e);
        }
        shortened = true;
    };
    if shortened {
        let _ = stream.set_write_timeout(Some(timeout));
    }
    result
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
