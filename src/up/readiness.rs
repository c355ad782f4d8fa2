//! When a server of `herd up` counts as up: it answers a protocol round
//! trip, not merely a TCP connect. The kernel completes a connection
//! before the server reads it, and another process may hold the port, so
//! the probe sends [`PROBE`], a line that is no command: every build
//! answers it with `? ` and the line (PROTOCOL §2) whatever its cache
//! holds, without asking Places, and nothing in the server changes but its
//! log (one `<` and one `>` entry). The lab's launcher
//! (`compare/launch/src/ready.rs`) probes the same way.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use super::child::{Server, describe};
use crate::limits::{UP_POLL_INTERVAL, UP_PROBE_TIMEOUT, UP_READY_DEADLINE};
use crate::shutdown::Shutdown;

/// The line the probe sends (without its newline).
pub const PROBE: &str = "herd-up-probe";

/// Sends [`PROBE`] to `addr` on a new connection and checks that the
/// answer is `? herd-up-probe`, within `limit` for the connect and again
/// for the answer. `Err` says what went wrong.
pub fn answers(addr: &str, limit: Duration) -> Result<(), String> {
    let limit = limit.max(Duration::from_millis(1));
    let candidates = addr
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {addr}: {e}"))?;
    let mut last = format!("{addr} names no address");
    for candidate in candidates {
        let mut stream = match TcpStream::connect_timeout(&candidate, limit) {
            Ok(stream) => stream,
            Err(e) => {
                last = format!("cannot connect to {candidate}: {e}");
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        if let Err(e) = stream
            .set_read_timeout(Some(limit))
            .and_then(|()| stream.set_write_timeout(Some(limit)))
            .and_then(|()| stream.write_all(format!("{PROBE}\n").as_bytes()))
        {
            last = format!("cannot write to {candidate}: {e}");
            continue;
        }
        let mut line = Vec::new();
        let read = BufReader::new((&stream).take(1024)).read_until(b'\n', &mut line);
        return match read {
            Ok(_) if line == format!("? {PROBE}\n").as_bytes() => Ok(()),
            Ok(0) => Err(format!("{candidate} closed without answering")),
            Ok(_) => Err(format!(
                "{candidate} answered {:?}, not \"? {PROBE}\"",
                String::from_utf8_lossy(&line)
            )),
            Err(e) => Err(format!("no answer from {candidate}: {e}")),
        };
    }
    Err(last)
}

/// At start: polls until every server answers the probe, for at most
/// [`UP_READY_DEADLINE`]. Fails at once when any child exits (answering
/// or not: an answer may have come from another process on its port) or
/// the stop latch fires.
pub fn wait_until_ready(servers: &mut [Server], stop: &Shutdown) -> Result<(), String> {
    let deadline = Instant::now() + UP_READY_DEADLINE;
    let mut waiting: Vec<usize> = (0..servers.len()).collect();
    let mut last = String::new();
    loop {
        if stop.is_triggered() {
            return Err("stopped while starting".into());
        }
        for server in servers.iter_mut() {
            if let Some(status) = server.exited() {
                return Err(format!(
                    "{} exited {} during start-up",
                    server.name,
                    describe(status)
                ));
            }
        }
        if waiting.is_empty() {
            return Ok(());
        }
        waiting.retain(|&i| {
            let left = deadline.saturating_duration_since(Instant::now());
            match answers(&servers[i].addr, left.min(UP_PROBE_TIMEOUT)) {
                Ok(()) => false,
                Err(why) => {
                    last = why;
                    true
                }
            }
        });
        if !waiting.is_empty() {
            if Instant::now() >= deadline {
                return Err(format!(
                    "{} did not answer within {}s ({last})",
                    servers[waiting[0]].name,
                    UP_READY_DEADLINE.as_secs()
                ));
            }
            stop.wait(UP_POLL_INTERVAL);
        }
        // With every server answering, the loop looks for exits once more:
        // a child that found its port taken exits at its bind.
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{SocketAddr, TcpListener};
    use std::thread;

    /// A server that answers each connection's first line with
    /// `reply(line)`, then holds the connection until the client leaves.
    fn fake(reply: fn(&str) -> Option<String>) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                thread::spawn(move || {
                    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                    let mut line = String::new();
                    if reader.read_line(&mut line).is_ok()
                        && let Some(answer) = reply(line.trim_end())
                    {
                        let _ = (&stream).write_all(answer.as_bytes());
                    }
                    let _ = reader.read_line(&mut line);
                });
            }
        });
        addr
    }

    #[test]
    fn a_protocol_answer_counts_and_a_bare_listener_or_nonsense_does_not() {
        let herd_like = fake(|line| Some(format!("? {line}\n")));
        assert_eq!(
            answers(&herd_like.to_string(), Duration::from_secs(5)),
            Ok(())
        );

        // Accepts connections and never answers: a bare connect would pass.
        let silent = fake(|_| None);
        let begun = Instant::now();
        let why = answers(&silent.to_string(), Duration::from_millis(300)).expect_err("silent");
        assert!(begun.elapsed() < Duration::from_secs(2), "bounded: {why}");
        assert!(why.starts_with("no answer from"), "{why}");

        let other = fake(|_| Some("HTTP/1.1 400 Bad Request\r\n".into()));
        let why = answers(&other.to_string(), Duration::from_secs(5)).expect_err("not the herd");
        assert!(why.contains("HTTP/1.1"), "{why}");
    }

    #[test]
    fn nothing_listening_is_not_ready() {
        let addr = {
            let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
            listener.local_addr().expect("addr")
        };
        let why = answers(&addr.to_string(), Duration::from_millis(300)).expect_err("closed");
        assert!(why.starts_with("cannot connect"), "{why}");
    }
}
