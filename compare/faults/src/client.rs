//! The harness's side of the line protocol: one IAMAT with its AT answer,
//! and a pipelined batch of `WHATSAT <id> 1 1` whose answers' first lines
//! are the AT lines the server holds. Every read and write has a timeout.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// Longest answer line accepted (a WHATSAT's JSON line may be long).
const MAX_LINE: u64 = 1 << 20;

pub struct Conn {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Conn {
    pub fn connect(addr: SocketAddr, timeout: Duration) -> io::Result<Conn> {
        let stream = TcpStream::connect_timeout(&addr, timeout)?;
        stream.set_read_timeout(Some(timeout))?;
        stream.set_write_timeout(Some(timeout))?;
        stream.set_nodelay(true)?;
        Ok(Conn {
            reader: BufReader::new(stream.try_clone()?),
            writer: stream,
        })
    }

    /// Sets both timeouts (polls allow longer than writes).
    pub fn set_timeout(&self, timeout: Duration) -> io::Result<()> {
        self.writer.set_read_timeout(Some(timeout))?;
        self.writer.set_write_timeout(Some(timeout))
    }

    fn read_line(&mut self) -> io::Result<String> {
        let mut buf = Vec::new();
        let n = Read::take(&mut self.reader, MAX_LINE).read_until(b'\n', &mut buf)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "server closed the connection",
            ));
        }
        if buf.last() != Some(&b'\n') {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "answer line too long or cut",
            ));
        }
        buf.pop();
        if buf.last() == Some(&b'\r') {
            buf.pop();
        }
        String::from_utf8(buf).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
    }

    /// Sends `IAMAT <client part>` and returns the answer line.
    pub fn iamat(&mut self, client_part: &str) -> io::Result<String> {
        self.writer
            .write_all(format!("IAMAT {client_part}\n").as_bytes())?;
        self.read_line()
    }

    /// Sends `WHATSAT <id> 1 1` for every id at once, then reads the answers
    /// in order: `Some(AT line)` where the server knows the id, `None` where
    /// it answered `? `.
    pub fn held_lines(&mut self, ids: &[String]) -> io::Result<Vec<Option<String>>> {
        let batch: String = ids.iter().map(|id| format!("WHATSAT {id} 1 1\n")).collect();
        self.writer.write_all(batch.as_bytes())?;
        let mut out = Vec::with_capacity(ids.len());
        for _ in ids {
            let first = self.read_line()?;
            if first.starts_with("? ") {
                out.push(None);
                continue;
            }
            if !first.starts_with("AT ") {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "unexpected WHATSAT answer",
                ));
            }
            // The JSON follows; the answer ends at the first empty line.
            while !self.read_line()?.is_empty() {}
            out.push(Some(first));
        }
        Ok(out)
    }
}
