//! The peer-link handshake of PROTOCOL §7 over tokio sockets.
//!
//! The tokio twin of the blocking `herd::link::handshake`: [`answer`] runs
//! in the connection task that read a neighbour's `PEER <name> <nonce>`,
//! [`open`] in the sender task that opened a link. The lines and every
//! check are `herd::link::auth`'s, so both builds hash the same text; each
//! line is awaited at most the handshake timeout.

use std::net::SocketAddr;
use std::time::Duration;

use herd::framing::Event;
use herd::limits::MAX_HANDSHAKE_LINE;
use herd::link::auth::{Challenge, HerdSecret, Opening};
use herd::logfile::LogBatch;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

use crate::line_reader::LineReader;
use crate::state::NodeState;

/// The acceptor's half: sends `challenge`, reads the opener's `PROOF` and
/// answers `WELCOME`, or `? ` + the line on a bad proof. `Err` says why the
/// link is refused (the caller closes the connection).
pub async fn answer<R, W>(
    state: &NodeState,
    reader: &mut LineReader<R>,
    write: &mut W,
    challenge: &Challenge,
    addr: SocketAddr,
    log: &mut LogBatch,
) -> Result<(), String>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let Some(secret) = &state.secret else {
        return Err("no herd secret".into());
    };
    let limits = state.me.limits();
    send(
        write,
        addr,
        challenge.line().as_bytes(),
        log,
        limits.write_timeout,
    )
    .await?;
    reader.set_idle(Some(limits.handshake_timeout));
    let line = match reader.next_line().await {
        Ok(Event::Line(line)) => line.to_vec(),
        Ok(Event::TooLong(head)) => {
            log.received(addr, head);
            return Err("line too long".into());
        }
        Ok(Event::Eof) => return Err("closed during the handshake".into()),
        Ok(Event::Idle) => return Err("no PROOF within the handshake timeout".into()),
        Err(e) => return Err(e.to_string()),
    };
    log.received(addr, &line);
    let checked = std::str::from_utf8(&line)
        .map_err(|_| "not UTF-8")
        .and_then(|text| challenge.check_proof(secret, state.me.name(), text));
    match checked {
        Ok(welcome) => send(write, addr, welcome.as_bytes(), log, limits.write_timeout).await,
        Err(why) => {
            let mut refusal = b"? ".to_vec();
            refusal.extend_from_slice(&line);
            let _ = send(write, addr, &refusal, log, limits.write_timeout).await;
            Err(why.into())
        }
    }
}

/// The opener's half on a fresh link to `neighbour`: says `PEER <me>
/// <nonce>`, answers the challenge, checks the welcome. `Err` says why the
/// link is refused.
pub async fn open<R, W>(
    state: &NodeState,
    secret: &HerdSecret,
    neighbour: &str,
    (read, write): (&mut R, &mut W),
    addr: SocketAddr,
    log: &mut LogBatch,
) -> Result<(), String>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let limits = state.me.limits();
    let opening = Opening::new(state.me.name(), neighbour).map_err(|e| e.to_string())?;
    let mut reader = LineReader::new(read, MAX_HANDSHAKE_LINE, Some(limits.handshake_timeout));
    send(
        write,
        addr,
        opening.hello().as_bytes(),
        log,
        limits.write_timeout,
    )
    .await?;
    let challenge = read_line(&mut reader, addr, log, "CHALLENGE").await?;
    let (proof, welcome) = opening.answer(secret, &challenge)?;
    send(write, addr, proof.as_bytes(), log, limits.write_timeout).await?;
    let answer = read_line(&mut reader, addr, log, "WELCOME").await?;
    welcome.check(&answer).map_err(String::from)
}

/// Writes one handshake line within `timeout` and logs it.
async fn send<W: AsyncWrite + Unpin>(
    write: &mut W,
    addr: SocketAddr,
    line: &[u8],
    log: &mut LogBatch,
    timeout: Duration,
) -> Result<(), String> {
    let mut bytes = Vec::with_capacity(line.len() + 1);
    bytes.extend_from_slice(line);
    bytes.push(b'\n');
    match tokio::time::timeout(timeout, write.write_all(&bytes)).await {
        Ok(Ok(())) => {
            log.sent(addr, line);
            Ok(())
        }
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("write timed out".into()),
    }
}

/// Reads the acceptor's next line (`expected` names it in errors).
async fn read_line<R: AsyncRead + Unpin>(
    reader: &mut LineReader<R>,
    addr: SocketAddr,
    log: &mut LogBatch,
    expected: &str,
) -> Result<String, String> {
    match reader.next_line().await {
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
