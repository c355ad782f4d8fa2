//! One request on the wire: connect, write a line, read its whole answer
//! (one line for IAMAT, AT line + JSON + blank line for WHATSAT) within a
//! deadline, and hand it to the checks in `requests`. Shared by the closed
//! and open loops and by `propagate`.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::time::timeout;

use crate::requests::{self, Command, ErrorKind, MAX_ANSWER_BYTES, Request};

/// A client connection: reads buffered, writes straight to the socket.
pub type Conn = BufReader<TcpStream>;

/// A failed request: what went wrong, and the answer bytes when there were
/// any (for the report's examples).
#[derive(Debug)]
pub struct Failure {
    pub kind: ErrorKind,
    pub answer: Vec<u8>,
}

impl Failure {
    fn bare(kind: ErrorKind) -> Failure {
        Failure {
            kind,
            answer: Vec::new(),
        }
    }
}

/// Opens a connection within `limit`, with Nagle off (one line a write).
pub async fn connect(addr: SocketAddr, limit: Duration) -> Result<Conn, ErrorKind> {
    match timeout(limit, TcpStream::connect(addr)).await {
        Ok(Ok(stream)) => {
            // Without it a small answer may wait for a delayed ACK.
            let _ = stream.set_nodelay(true);
            Ok(BufReader::with_capacity(4096, stream))
        }
        Ok(Err(_)) => Err(ErrorKind::Connect),
        Err(_) => Err(ErrorKind::Connect),
    }
}

/// Reads one line (with its newline) onto `buf`; EOF before a newline is
/// `Closed`.
async fn read_line(conn: &mut Conn, buf: &mut Vec<u8>) -> Result<(), ErrorKind> {
    let room = (MAX_ANSWER_BYTES + 1).saturating_sub(buf.len()) as u64;
    match (&mut *conn).take(room).read_until(b'\n', buf).await {
        Ok(_) if buf.ends_with(b"\n") => Ok(()),
        Ok(_) if buf.len() > MAX_ANSWER_BYTES => Err(ErrorKind::AnswerTooLong),
        Ok(_) => Err(ErrorKind::Closed),
        Err(_) => Err(ErrorKind::Io),
    }
}

/// Reads the whole answer to `request` onto `answer`. A WHATSAT answer
/// that starts with anything but `AT ` is one line (`? ...`).
pub async fn read_answer(
    conn: &mut Conn,
    command: Command,
    answer: &mut Vec<u8>,
) -> Result<(), ErrorKind> {
    read_line(conn, answer).await?;
    if command == Command::Whatsat && answer.starts_with(b"AT ") {
        loop {
            let start = answer.len();
            read_line(conn, answer).await?;
            if requests::trim_newline(&answer[start..]).is_empty() {
                return Ok(());
            }
        }
    }
    Ok(())
}

/// Checks a whole answer read by [`read_answer`].
pub fn check_answer(request: &Request, answer: &[u8]) -> Result<(), ErrorKind> {
    match request.command {
        Command::Iamat => requests::check_iamat(request, answer),
        Command::Whatsat => {
            let first_end = answer
                .iter()
                .position(|&b| b == b'\n')
                .unwrap_or(answer.len());
            let at_line = requests::trim_newline(&answer[..first_end]);
            let json = answer.get(first_end + 1..).unwrap_or(&[]);
            requests::check_whatsat(request, at_line, json)
        }
    }
}

/// Sends `request` on `conn` and reads and checks its answer, all within
/// `limit`. On an error whose kind does not keep the connection, the caller
/// must drop it: the stream may be out of step.
pub async fn exchange(conn: &mut Conn, request: &Request, limit: Duration) -> Result<(), Failure> {
    let mut answer = Vec::with_capacity(128);
    let io = async {
        conn.get_mut()
            .write_all(request.line.as_bytes())
            .await
            .map_err(|_| ErrorKind::Io)?;
        read_answer(conn, request.command, &mut answer).await
    };
    match timeout(limit, io).await {
        Err(_) => Err(Failure {
            kind: ErrorKind::Timeout,
            answer,
        }),
        Ok(Err(kind)) => Err(Failure { kind, answer }),
        Ok(Ok(())) => match check_answer(request, &answer) {
            Ok(()) => Ok(()),
            Err(kind) => Err(Failure { kind, answer }),
        },
    }
}

/// `--one-shot`: a fresh connection for one request, closed after it. The
/// deadline covers the connect too.
pub async fn one_shot(addr: SocketAddr, request: &Request, limit: Duration) -> Result<(), Failure> {
    let started = tokio::time::Instant::now();
    let mut conn = connect(addr, limit).await.map_err(Failure::bare)?;
    let left = limit.saturating_sub(started.elapsed());
    let result = exchange(&mut conn, request, left).await;
    let _ = conn.get_mut().shutdown().await;
    result
}
