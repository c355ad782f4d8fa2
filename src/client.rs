//! A small blocking client for the herd protocol: `herd client` and tests.
//!
//! It knows how answers are framed: a blank line gets no answer, most lines
//! get one line, and a WHATSAT answered with an AT line runs to the first
//! blank line. Answers are bytes, as the server sent them.

use std::io::{self, BufRead, BufReader, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use crate::protocol;

/// One connection to a herd server.
#[derive(Debug)]
pub struct Client {
    writer: TcpStream,
    reader: BufReader<TcpStream>,
}

impl Client {
    /// Connects, with `timeout` for the connection and for every later read
    /// and write (an answer that does not come in time is an error).
    pub fn connect(addr: impl ToSocketAddrs, timeout: Duration) -> io::Result<Client> {
        let mut last_error = io::Error::new(io::ErrorKind::NotFound, "address resolves to nothing");
        for candidate in addr.to_socket_addrs()? {
            match TcpStream::connect_timeout(&candidate, timeout) {
                Ok(stream) => {
                    stream.set_read_timeout(Some(timeout))?;
                    stream.set_write_timeout(Some(timeout))?;
                    let _ = stream.set_nodelay(true);
                    let reader = BufReader::new(stream.try_clone()?);
                    return Ok(Client {
                        writer: stream,
                        reader,
                    });
                }
                Err(e) => last_error = e,
            }
        }
        Err(last_error)
    }

    /// Sends `line` (a newline is added) and reads its answer: `None` for a
    /// blank line, which gets none.
    pub fn request(&mut self, line: &[u8]) -> io::Result<Option<Vec<u8>>> {
        self.send(line)?;
        self.read_answer(line)
    }

    /// Sends one line without waiting for its answer (for pipelining).
    pub fn send(&mut self, line: &[u8]) -> io::Result<()> {
        let mut bytes = Vec::with_capacity(line.len() + 1);
        bytes.extend_from_slice(line);
        bytes.push(b'\n');
        self.writer.write_all(&bytes)
    }

    /// Reads the answer to `line`, sent earlier.
    pub fn read_answer(&mut self, line: &[u8]) -> io::Result<Option<Vec<u8>>> {
        let text = String::from_utf8_lossy(line);
        if protocol::is_blank(&text) {
            return Ok(None);
        }
        let mut answer = self.read_line()?;
        let is_whatsat = protocol::fields(&text).next() == Some("WHATSAT");
        if is_whatsat && answer.starts_with(b"AT ") {
            // The JSON runs to the first blank line.
            loop {
                let line = self.read_line()?;
                answer.extend_from_slice(&line);
                if line == b"\n" {
                    break;
                }
            }
        }
        Ok(Some(answer))
    }

    /// One line including its newline; an error at EOF.
    pub fn read_line(&mut self) -> io::Result<Vec<u8>> {
        let mut line = Vec::new();
        self.reader.read_until(b'\n', &mut line)?;
        if line.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "server closed the connection",
            ));
        }
        Ok(line)
    }

    /// Closes our sending side; the server answers what it has and closes.
    pub fn finish_sending(&self) -> io::Result<()> {
        self.writer.shutdown(std::net::Shutdown::Write)
    }

    pub fn stream(&self) -> &TcpStream {
        &self.writer
    }
}
