//! The scrape endpoint: `GET /metrics` over a std `TcpListener`.
//!
//! One thread of its own accepts and reads request heads without a thread
//! per connection: the listener and every connection still sending its
//! head are non-blocking and waited on together with `poll(2)`. A head has
//! [`METRICS_READ_DEADLINE`](crate::limits::METRICS_READ_DEADLINE) to arrive (at
//! most [`METRICS_HEAD_LIMIT`](crate::limits::METRICS_HEAD_LIMIT) bytes); at most
//! [`METRICS_PENDING`](crate::limits::METRICS_PENDING) connections wait for theirs,
//! and a new one past that drops the oldest. So connections that say
//! nothing cost a descriptor and a slot in a list for a second, never a
//! thread, and cannot keep a scrape out: a scraper sends its head as it
//! connects. A complete head is answered on a short-lived thread, at most
//! [`METRICS_AT_ONCE`](crate::limits::METRICS_AT_ONCE) at a time (writing and
//! draining can block); past that, `503` at once.
//! Hand-written rather than a crate: a scrape is one request and one
//! answer, and the node pulls in no HTTP server or async runtime for it.
//! Garbage gets `400` and a close, other paths `404`, other methods `405`.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::{JoinHandle, Scope};
use std::time::Instant;

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

use super::render::{CONTENT_TYPE, render};
use crate::connection::linger_close;
use crate::limits::{
    ACCEPT_ERROR_PAUSE, METRICS_AT_ONCE as AT_ONCE, METRICS_BUSY_DRAIN as BUSY_DRAIN,
    METRICS_DRAIN as DRAIN, METRICS_HEAD_LIMIT as HEAD_LIMIT, METRICS_PENDING as PENDING,
    METRICS_READ_DEADLINE as READ_DEADLINE, METRICS_WRITE_TIMEOUT as WRITE_TIMEOUT,
    STOP_WAKE_CONNECT,
};
use crate::shutdown::wake_addr;
use crate::state::NodeState;

/// A running scrape endpoint.
#[derive(Debug)]
pub struct MetricsServer {
    addr: SocketAddr,
    stopping: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

/// Serves `state`'s metrics on `listener` (already bound, so that a bad
/// address fails start-up) until [`MetricsServer::stop`].
pub fn serve(listener: TcpListener, state: Arc<NodeState>) -> io::Result<MetricsServer> {
    let addr = listener.local_addr()?;
    listener.set_nonblocking(true)?;
    let stopping = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stopping);
    let thread = std::thread::Builder::new()
        .name(format!("metrics-{}", state.me.name()))
        .spawn(move || serve_loop(&listener, &state, &flag))?;
    Ok(MetricsServer {
        addr,
        stopping,
        thread,
    })
}

impl MetricsServer {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops serving: wakes the accept with a connection to itself, then
    /// joins the thread (it finishes the answers in progress, each within
    /// its read and write deadlines).
    pub fn stop(self) {
        self.stopping.store(true, Ordering::Release);
        let _ = TcpStream::connect_timeout(&wake_addr(self.addr), STOP_WAKE_CONNECT);
        let _ = self.thread.join();
    }
}

/// A connection whose request head is still arriving.
struct Pending {
    stream: TcpStream,
    head: Vec<u8>,
    /// When it is closed if the head is not complete.
    deadline: Instant,
}

/// What reading a pending connection came to.
enum Heard {
    /// Nothing more for now: keep waiting.
    Waiting,
    /// The head is complete (up to its blank line).
    Head(Vec<u8>),
    /// Over the limit, or closed before the end of the head: `400`.
    Bad,
    /// Closed before sending anything, or broken: just close.
    Gone,
}

/// Accepts and reads heads until `stopping`; each complete head is
/// answered on a thread of its own within this scope, so leaving it waits
/// for the answers still going (each bounded by its write deadline and
/// drain).
fn serve_loop(listener: &TcpListener, state: &NodeState, stopping: &AtomicBool) {
    let answering = AtomicUsize::new(0);
    let mut pending: VecDeque<Pending> = VecDeque::new();
    std::thread::scope(|scope| {
        while !stopping.load(Ordering::Acquire) {
            let (listener_ready, ready) = wait_ready(listener, &pending);
            let mut still = VecDeque::with_capacity(pending.len());
            let now = Instant::now();
            for (mut conn, ready) in pending.drain(..).zip(ready) {
                let outcome = if ready {
                    read_some(&mut conn)
                } else {
                    Heard::Waiting
                };
                match outcome {
                    Heard::Waiting if conn.deadline <= now => {} // too slow: closed
                    Heard::Waiting => still.push_back(conn),
                    Heard::Head(head) => {
                        hand_over(scope, &answering, state, conn.stream, Some(head))
                    }
                    Heard::Bad => hand_over(scope, &answering, state, conn.stream, None),
                    Heard::Gone => {}
                }
            }
            pending = still;
            if listener_ready {
                accept_all(listener, &mut pending);
            }
        }
    });
}

/// Waits until the listener or a pending connection can be read, or the
/// earliest deadline passes; says which are ready (the listener, then one
/// flag per pending connection, in order).
fn wait_ready(listener: &TcpListener, pending: &VecDeque<Pending>) -> (bool, Vec<bool>) {
    let wanted = PollFlags::POLLIN;
    let mut fds = Vec::with_capacity(pending.len() + 1);
    fds.push(PollFd::new(listener.as_fd(), wanted));
    fds.extend(
        pending
            .iter()
            .map(|c| PollFd::new(c.stream.as_fd(), wanted)),
    );
    let wait = pending
        .iter()
        .map(|c| c.deadline)
        .min()
        .map_or(READ_DEADLINE, |at| {
            at.saturating_duration_since(Instant::now())
        });
    // Rounded up, so that a deadline has passed when the wait ends.
    let millis = wait.as_micros().div_ceil(1000).min(60_000) as u16;
    if poll(&mut fds, PollTimeout::from(millis)).is_err() {
        // EINTR, say: look again (deadlines are checked by the caller).
        return (false, vec![false; pending.len()]);
    }
    let is_ready = |fd: &PollFd<'_>| fd.revents().is_some_and(|r| !r.is_empty());
    let listener_ready = is_ready(&fds[0]);
    (listener_ready, fds[1..].iter().map(is_ready).collect())
}

/// Accepts every connection waiting; past [`PENDING`] the oldest pending
/// one is dropped to make room.
fn accept_all(listener: &TcpListener, pending: &mut VecDeque<Pending>) {
    loop {
        match listener.accept() {
            Ok((stream, _)) => {
                if stream.set_nonblocking(true).is_err() {
                    continue;
                }
                if pending.len() >= PENDING {
                    pending.pop_front();
                }
                pending.push_back(Pending {
                    stream,
                    head: Vec::with_capacity(512),
                    deadline: Instant::now() + READ_DEADLINE,
                });
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => {
                // Out of descriptors, say: do not spin while it lasts.
                std::thread::sleep(ACCEPT_ERROR_PAUSE);
                return;
            }
        }
    }
}

/// Reads what `conn` has sent, without blocking.
fn read_some(conn: &mut Pending) -> Heard {
    let mut chunk = [0u8; 1024];
    loop {
        match (&conn.stream).read(&mut chunk) {
            Ok(0) if conn.head.is_empty() => return Heard::Gone,
            Ok(0) => return Heard::Bad,
            Ok(n) => {
                conn.head.extend_from_slice(&chunk[..n]);
                if let Some(end) = head_end(&conn.head) {
                    let mut head = std::mem::take(&mut conn.head);
                    head.truncate(end);
                    return Heard::Head(head);
                }
                if conn.head.len() >= HEAD_LIMIT {
                    return Heard::Bad;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Heard::Waiting,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return Heard::Gone,
        }
    }
}

/// Answers `head` (`None`: `400`) on a thread of its own, or `503` at once
/// if [`AT_ONCE`] answers are already being written.
fn hand_over<'scope>(
    scope: &'scope Scope<'scope, '_>,
    answering: &'scope AtomicUsize,
    state: &'scope NodeState,
    stream: TcpStream,
    head: Option<Vec<u8>>,
) {
    if stream.set_nonblocking(false).is_err() {
        return;
    }
    if answering.load(Ordering::Acquire) >= AT_ONCE {
        busy(&stream);
        return;
    }
    answering.fetch_add(1, Ordering::AcqRel);
    let spawned = std::thread::Builder::new()
        .name(format!("metrics-{}-scrape", state.me.name()))
        .spawn_scoped(scope, move || {
            answer(state, &stream, head.as_deref());
            answering.fetch_sub(1, Ordering::AcqRel);
        });
    if spawned.is_err() {
        // No thread: the connection was dropped (closed) with it.
        answering.fetch_sub(1, Ordering::AcqRel);
    }
}

/// `503` to a connection past [`METRICS_AT_ONCE`](crate::limits::METRICS_AT_ONCE).
fn busy(stream: &TcpStream) {
    let _ = stream.set_write_timeout(Some(WRITE_TIMEOUT));
    let _ = (&*stream).write_all(&status_only(503, "Service Unavailable"));
    linger_close(stream, BUSY_DRAIN);
}

/// Answers the request `head` (`None`: a bad one) and closes.
fn answer(state: &NodeState, stream: &TcpStream, head: Option<&[u8]>) {
    let _ = stream.set_write_timeout(Some(WRITE_TIMEOUT));
    let response = match head {
        Some(head) => respond(state, head),
        None => status_only(400, "Bad Request"),
    };
    let _ = (&*stream).write_all(&response);
    linger_close(stream, DRAIN);
}

/// Where the head's blank line starts (CRLF CRLF, or bare LF LF).
fn head_end(bytes: &[u8]) -> Option<usize> {
    let crlf = bytes.windows(4).position(|w| w == b"\r\n\r\n");
    let lf = bytes.windows(2).position(|w| w == b"\n\n");
    match (crlf, lf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The whole response to a request head.
fn respond(state: &NodeState, head: &[u8]) -> Vec<u8> {
    let Ok(head) = std::str::from_utf8(head) else {
        return status_only(400, "Bad Request");
    };
    let request_line = head.lines().next().unwrap_or("");
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return status_only(400, "Bad Request");
    };
    if !version.starts_with("HTTP/1.") || !target.starts_with('/') {
        return status_only(400, "Bad Request");
    }
    let path = target.split('?').next().unwrap_or(target);
    if path != "/metrics" {
        return status_only(404, "Not Found");
    }
    match method {
        "GET" => response(200, "OK", CONTENT_TYPE, render(state).as_bytes(), true),
        "HEAD" => response(200, "OK", CONTENT_TYPE, render(state).as_bytes(), false),
        _ => status_only(405, "Method Not Allowed"),
    }
}

fn status_only(code: u16, reason: &str) -> Vec<u8> {
    let body = format!("{code} {reason}\n");
    response(
        code,
        reason,
        "text/plain; charset=utf-8",
        body.as_bytes(),
        true,
    )
}

fn response(code: u16, reason: &str, content_type: &str, body: &[u8], with_body: bool) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {code} {reason}\r\nContent-Type: {content_type}\r\n\
         Content-Length: {}\r\nConnection: close\r\n",
        body.len()
    )
    .into_bytes();
    if code == 405 {
        out.extend_from_slice(b"Allow: GET, HEAD\r\n");
    }
    if code == 503 {
        out.extend_from_slice(b"Retry-After: 1\r\n");
    }
    out.extend_from_slice(b"\r\n");
    if with_body {
        out.extend_from_slice(body);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_head_ends_at_the_first_blank_line() {
        assert_eq!(head_end(b"GET / HTTP/1.1\r\nHost: x\r\n\r\nrest"), Some(23));
        assert_eq!(head_end(b"GET / HTTP/1.0\n\n"), Some(14));
        assert_eq!(head_end(b"GET / HTTP/1.1\r\nHost: x\r\n"), None);
    }
}
