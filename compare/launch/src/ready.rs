//! When a started server counts as up: it answers a protocol round trip.
//! A TCP connect alone is not enough (the kernel completes connections
//! before a server reads them, and another process may hold the port): the
//! probe sends [`PROBE`], a line that is no command, so every build answers
//! it with `? ` and the line (PROTOCOL §2), and nothing in the server
//! changes but its log.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::proc::{Proc, check_cancelled};

/// The line the probe sends (without its newline).
pub const PROBE: &str = "herd-launch-probe";

/// Sends [`PROBE`] to `addr` on a new connection and checks the answer
/// `? herd-launch-probe`, all within `limit`.
pub fn answers(addr: SocketAddr, limit: Duration) -> Result<()> {
    let deadline = Instant::now() + limit;
    let connect = limit.min(Duration::from_millis(500));
    let mut stream = TcpStream::connect_timeout(&addr, connect)
        .with_context(|| format!("cannot connect to {addr}"))?;
    let left = deadline
        .saturating_duration_since(Instant::now())
        .max(Duration::from_millis(1));
    stream.set_read_timeout(Some(left))?;
    stream.set_write_timeout(Some(left))?;
    stream
        .write_all(format!("{PROBE}\n").as_bytes())
        .with_context(|| format!("cannot write to {addr}"))?;
    let mut line = String::new();
    BufReader::new(stream.take(4096))
        .read_line(&mut line)
        .with_context(|| format!("no answer from {addr}"))?;
    if line != format!("? {PROBE}\n") {
        bail!("{addr} answered {line:?}, not \"? {PROBE}\"");
    }
    Ok(())
}

/// Waits until `proc`, serving on `addr`, answers [`PROBE`], for at most
/// `limit`; fails at once when it exits (with the tail of its stderr), and
/// when the wait is cancelled.
pub fn wait_answers(proc: &mut Proc, addr: SocketAddr, limit: Duration) -> Result<()> {
    let deadline = Instant::now() + limit;
    let mut last = None;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match answers(
            addr,
            left.clamp(Duration::from_millis(1), Duration::from_secs(2)),
        ) {
            // Answered, but is it ours? A server that could not bind exits.
            Ok(()) if proc.exited().is_none() => return Ok(()),
            Ok(()) => {}
            Err(e) => last = Some(e),
        }
        if let Some(s) = proc.exited() {
            // Its stderr readers may still hold the last lines.
            thread::sleep(Duration::from_millis(50));
            bail!(
                "{} exited ({s}) before answering on {addr}: {}",
                proc.name,
                proc.stderr_tail(8)
            );
        }
        check_cancelled()?;
        if Instant::now() >= deadline {
            bail!(
                "{} did not answer on {addr} within {limit:?} ({}): {}",
                proc.name,
                last.map_or_else(String::new, |e| format!("{e:#}")),
                proc.stderr_tail(8)
            );
        }
        thread::sleep(Duration::from_millis(20));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    /// A server that answers each line with `reply(line)`.
    fn fake(reply: fn(&str) -> Option<String>) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                let mut line = String::new();
                if reader.read_line(&mut line).is_ok()
                    && let Some(answer) = reply(line.trim_end())
                {
                    let _ = (&stream).write_all(answer.as_bytes());
                }
                // Held open until the client gives up (a silent server).
                let _ = reader.read_line(&mut line);
            }
        });
        addr
    }

    #[test]
    fn a_protocol_answer_counts_and_silence_or_nonsense_does_not() {
        let good = fake(|l| Some(format!("? {l}\n")));
        answers(good, Duration::from_secs(5)).expect("a herd-like server answers");
        // Accepts connections, never answers: a bare connect would pass.
        let silent = fake(|_| None);
        let begun = Instant::now();
        let e = answers(silent, Duration::from_millis(300)).expect_err("silent");
        assert!(begun.elapsed() < Duration::from_secs(2), "bounded: {e:#}");
        let other = fake(|_| Some("HTTP/1.1 400 Bad Request\r\n".into()));
        let e = answers(other, Duration::from_secs(5)).expect_err("not the protocol");
        assert!(format!("{e:#}").contains("HTTP/1.1"), "{e:#}");
    }

    #[test]
    fn a_closed_port_is_refused() {
        let addr = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a port");
        assert!(answers(addr, Duration::from_millis(500)).is_err());
    }
}
