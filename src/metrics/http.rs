//! The scrape endpoint: `GET /metrics` over a std `TcpListener`.
//!
//! An accept thread of its own hands each connection to a short-lived
//! thread (at most [`AT_ONCE`](crate::limits::METRICS_AT_ONCE) at a time, so a silent client cannot delay
//! a scrape; past that, `503` at once): read the request head (at most
//! [`HEAD_LIMIT`](crate::limits::METRICS_HEAD_LIMIT) bytes within [`READ_DEADLINE`](crate::limits::METRICS_READ_DEADLINE)), answer, close.
//! Hand-written rather than a crate: a scrape is one request and one
//! answer, and the node pulls in no HTTP server or async runtime for it.
//! Garbage gets `400` and a close, other paths `404`, other methods `405`.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::Instant;

use super::render::{CONTENT_TYPE, render};
use crate::connection::linger_close;
use crate::limits::{
    ACCEPT_ERROR_PAUSE, METRICS_AT_ONCE as AT_ONCE, METRICS_BUSY_DRAIN as BUSY_DRAIN,
    METRICS_DRAIN as DRAIN, METRICS_HEAD_LIMIT as HEAD_LIMIT,
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
    let stopping = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stopping);
    let thread = std::thread::Builder::new()
        .name(format!("metrics-{}", state.me.name()))
        .spawn(move || accept_loop(&listener, &state, &flag))?;
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

/// Accepts until `stopping`; each connection is answered on a thread of
/// its own within this scope, so leaving it waits for the answers still
/// going (each bounded by its read and write deadlines).
fn accept_loop(listener: &TcpListener, state: &NodeState, stopping: &AtomicBool) {
    let answering = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for incoming in listener.incoming() {
            if stopping.load(Ordering::Acquire) {
                break;
            }
            let Ok(stream) = incoming else {
                // Out of descriptors, say: do not spin while it lasts.
                std::thread::sleep(ACCEPT_ERROR_PAUSE);
                continue;
            };
            if answering.load(Ordering::Acquire) >= AT_ONCE {
                busy(&stream);
                continue;
            }
            answering.fetch_add(1, Ordering::AcqRel);
            let answering = &answering;
            let spawned = std::thread::Builder::new()
                .name(format!("metrics-{}-scrape", state.me.name()))
                .spawn_scoped(scope, move || {
                    answer(state, &stream);
                    answering.fetch_sub(1, Ordering::AcqRel);
                });
            if spawned.is_err() {
                // No thread: the connection was dropped (closed) with it.
                answering.fetch_sub(1, Ordering::AcqRel);
            }
        }
    });
}

/// `503` to a connection past [`AT_ONCE`](crate::limits::METRICS_AT_ONCE), without reading its request.
fn busy(stream: &TcpStream) {
    let _ = stream.set_write_timeout(Some(WRITE_TIMEOUT));
    let _ = (&*stream).write_all(&status_only(503, "Service Unavailable"));
    linger_close(stream, BUSY_DRAIN);
}

/// Reads one request from `stream` and answers it; errors just close.
fn answer(state: &NodeState, stream: &TcpStream) {
    let _ = stream.set_write_timeout(Some(WRITE_TIMEOUT));
    let response = match read_head(stream) {
        Ok(Some(head)) => respond(state, &head),
        Ok(None) => status_only(400, "Bad Request"),
        Err(_) => return, // timed out or broken: nothing to answer
    };
    let _ = (&*stream).write_all(&response);
    linger_close(stream, DRAIN);
}

/// The request head up to its blank line; `None` if it is over the limit
/// or the peer closed before finishing it.
fn read_head(stream: &TcpStream) -> io::Result<Option<Vec<u8>>> {
    let deadline = Instant::now() + READ_DEADLINE;
    let mut head = Vec::with_capacity(512);
    let mut chunk = [0u8; 1024];
    loop {
        if let Some(end) = head_end(&head) {
            head.truncate(end);
            return Ok(Some(head));
        }
        if head.len() >= HEAD_LIMIT {
            return Ok(None);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::ErrorKind::TimedOut.into());
        }
        stream.set_read_timeout(Some(left))?;
        let n = (&*stream).read(&mut chunk)?;
        if n == 0 {
            return Ok(None);
        }
        head.extend_from_slice(&chunk[..n]);
    }
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
