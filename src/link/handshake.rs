//! The peer-link handshake of PROTOCOL §7 over blocking sockets.
//!
//! Both halves live here: [`answer`] runs on the pool worker that read a
//! neighbour's `PEER <name> <nonce>` (`connection.rs`), [`open`] on the
//! sender thread that opened a link (`outbound.rs`). Each waits at most the
//! handshake timeout for each line, so a stranger who says `PEER` and then
//! nothing holds a worker no longer than that. The lines and checks are
//! `auth.rs`'s; this file only moves them and logs them.

use std::io::{self, Write};
use std::net::{SocketAddr, TcpStream};

use super::auth::{Challenge, HerdSecret, Opening};
use crate::limits::MAX_HANDSHAKE_LINE;
use crate::line_reader::{Event, LineReader};
use crate::logfile::LogBatch;
use crate::state::NodeState;

/// The acceptor's half: sends `challenge`, reads the opener's `PROOF` and
/// answers `WELCOME`, or `? ` + the line on a bad proof. `Err` says why the
/// link is refused (for the log; the caller closes the connection).
pub fn answer(
    state: &NodeState,
    reader: &mut LineReader<TcpStream>,
    challenge: &Challenge,
    addr: SocketAddr,
    log: &mut LogBatch,
) -> Result<(), String> {
    let Some(secret) = &state.secret else {
        return Err("no herd secret".into());
    };
    send(reader.get_ref(), addr, &challenge.line(), log)?;
    reader.set_idle(Some(state.me.limits().handshake_timeout));
    let line = match reader.next_line() {
        Ok(Event::Line(line)) => line,
        Ok(Event::TooLong(head)) => {
            log.received(addr, head);
            return Err("line too long".into());
        }
        Ok(Event::Eof) => return Err("closed during the handshake".into()),
        Ok(Event::Idle) => return Err("no PROOF within the handshake timeout".into()),
        Err(e) => return Err(e.to_string()),
    };
    log.received(addr, line);
    let checked = std::str::from_utf8(line)
        .map_err(|_| "not UTF-8")
        .and_then(|text| challenge.check_proof(secret, state.me.name(), text));
    match checked {
        Ok(welcome) => send(reader.get_ref(), addr, &welcome, log),
        Err(why) => {
            let mut refusal = b"? ".to_vec();
            refusal.extend_from_slice(line);
            log.sent(addr, &refusal);
            refusal.push(b'\n');
            let _ = write_all(reader.get_ref(), &refusal);
            Err(why.into())
        }
    }
}

/// The opener's half, on a freshly connected `stream` to `neighbour`: says
/// `PEER <me> <nonce>`, answers the challenge, checks the welcome. `Err`
/// says why the link is refused.
pub fn open(
    state: &NodeState,
    secret: &HerdSecret,
    neighbour: &str,
    stream: &TcpStream,
    addr: SocketAddr,
    log: &mut LogBatch,
) -> Result<(), String> {
    let opening = Opening::new(state.me.name(), neighbour).map_err(|e| e.to_string())?;
    let reading = stream.try_clone().map_err(|e| e.to_string())?;
    let mut reader = LineReader::new(
        reading,
        MAX_HANDSHAKE_LINE,
        Some(state.me.limits().handshake_timeout),
    );
    send(stream, addr, &opening.hello(), log)?;
    let challenge = read_line(&mut reader, addr, log, "CHALLENGE")?;
    let (proof, welcome) = opening.answer(secret, &challenge)?;
    send(stream, addr, &proof, log)?;
    let answer = read_line(&mut reader, addr, log, "WELCOME")?;
    welcome.check(&answer)?;
    // Back to a blocking socket for the link's life (the sender's liveness
    // check sets its own mode).
    stream.set_read_timeout(None).map_err(|e| e.to_string())
}

/// Writes one handshake line and logs it.
fn send(
    stream: &TcpStream,
    addr: SocketAddr,
    line: &str,
    log: &mut LogBatch,
) -> Result<(), String> {
    let mut bytes = Vec::with_capacity(line.len() + 1);
    bytes.extend_from_slice(line.as_bytes());
    bytes.push(b'\n');
    write_all(stream, &bytes).map_err(|e| e.to_string())?;
    log.sent(addr, line.as_bytes());
    Ok(())
}

fn write_all(mut stream: &TcpStream, bytes: &[u8]) -> io::Result<()> {
    stream.write_all(bytes)?;
    stream.flush()
}

/// Reads the acceptor's next line (`expected` names it in errors).
fn read_line(
    reader: &mut LineReader<TcpStream>,
    addr: SocketAddr,
    log: &mut LogBatch,
    expected: &str,
) -> Result<String, String> {
    match reader.next_line() {
        Ok(Event::Line(line)) => {
            log.received(addr, line);
            String::from_utf8(line.to_vec()).map_err(|_| format!("a {expected} that is not UTF-8"))
        }
        Ok(Event::TooLong(head)) => {
            log.received(addr, head);
            Err(format!(
                "a line over {MAX_HANDSHAKE_LINE} bytes instead of {expected}"
            ))
        }
        Ok(Event::Eof) => Err(format!("closed before {expected}")),
        Ok(Event::Idle) => Err(format!("no {expected} within the handshake timeout")),
        Err(e) => Err(e.to_string()),
    }
}
