//! A small blocking client for the herd protocol: `herd client` and tests.
//!
//! It knows how answers are framed: a blank line gets no answer, most lines
//! get one line, and a WHATSAT answered with an AT line runs to the first
//! blank line. Answers are bytes, as the server sent them. It also spells
//! the short forms of `herd client` ([`short_form`]): `iamat ID LOCATION`
//! with the current time filled in, and `whatsat ID RADIUS BOUND`.

use std::io::{self, BufRead, BufReader, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use crate::protocol::{self, Nanos};

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

/// The line a short form of `herd client` stands for, if `words` is one:
/// `iamat ID LOCATION` becomes `IAMAT ID LOCATION <now>` (the time as POSIX
/// seconds with nine digits, so no `date +%s.%N` is needed) and `whatsat
/// ID RADIUS BOUND` becomes `WHATSAT ID RADIUS BOUND`. `None`: the words
/// are lines to send as they are. `Err`: a short form with the wrong number
/// of words. The server still checks every field.
pub fn short_form(words: &[String], now: Nanos) -> Option<Result<String, String>> {
    let (verb, operands) = words.split_first()?;
    let (line_verb, wanted, usage) = match verb.as_str() {
        "iamat" => ("IAMAT", 2, "iamat ID LOCATION"),
        "whatsat" => ("WHATSAT", 3, "whatsat ID RADIUS BOUND"),
        _ => return None,
    };
    if operands.len() != wanted {
        return Some(Err(format!(
            "{verb}: takes {wanted} words ({usage}), not {}",
            operands.len()
        )));
    }
    let mut line = format!("{line_verb} {}", operands.join(" "));
    if line_verb == "IAMAT" {
        line.push(' ');
        line.push_str(&posix_time(now));
    }
    Some(Ok(line))
}

/// `now` as an IAMAT time: seconds, a point, nine digits; a sign only
/// before 1970.
fn posix_time(now: Nanos) -> String {
    let signed = now.to_string();
    signed.strip_prefix('+').unwrap_or(&signed).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        text.split(' ').map(str::to_owned).collect()
    }

    #[test]
    fn iamat_gets_the_time_with_nine_digits_and_no_plus() {
        let now = Nanos(1_795_682_249_000_000_007);
        assert_eq!(
            short_form(&words("iamat kiwi +34.068930-118.445127"), now),
            Some(Ok(
                "IAMAT kiwi +34.068930-118.445127 1795682249.000000007".into()
            ))
        );
        assert_eq!(posix_time(Nanos(-1_500_000_000)), "-1.500000000");
        let line = short_form(&words("iamat a +1+1"), now).and_then(Result::ok);
        assert!(matches!(
            line.as_deref().map(protocol::parse),
            Some(protocol::Request::IAmAt(_))
        ));
    }

    #[test]
    fn whatsat_is_spelled_out_and_raw_lines_are_left_alone() {
        let now = Nanos(0);
        assert_eq!(
            short_form(&words("whatsat kiwi 10 5"), now),
            Some(Ok("WHATSAT kiwi 10 5".into()))
        );
        assert_eq!(short_form(&words("IAMAT kiwi +1+1 5"), now), None);
        assert_eq!(short_form(&["WHATSAT kiwi 10 5".to_owned()], now), None);
        assert_eq!(short_form(&[], now), None);
    }

    #[test]
    fn a_short_form_with_the_wrong_count_is_an_error() {
        let error = short_form(&words("iamat kiwi"), Nanos(0));
        assert_eq!(
            error,
            Some(Err("iamat: takes 2 words (iamat ID LOCATION), not 1".into()))
        );
        assert!(matches!(
            short_form(&words("whatsat a 1 2 3"), Nanos(0)),
            Some(Err(_))
        ));
    }
}
