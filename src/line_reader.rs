//! Splits a byte stream into lines, with a length cap and an idle deadline.
//!
//! Input is a socket (or any [`TimedRead`]); output is one [`Event`] at a
//! time for `connection.rs` and `peer.rs`. It works on bytes, not `String`s:
//! a line that is not UTF-8 is still a line (the caller answers it with
//! `? `), and std's `BufRead::read_line` has neither a length cap nor a way
//! to tell a slow client from an idle one.

use std::io::{self, ErrorKind, Read};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// How much of an over-long line is echoed back (PROTOCOL §5).
pub const TOO_LONG_ECHO: usize = 1024;

const FIRST_BUFFER: usize = 8 * 1024;

/// A reader whose blocking reads can be given a timeout.
pub trait TimedRead: Read {
    fn set_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()>;
}

impl TimedRead for TcpStream {
    fn set_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        self.set_read_timeout(timeout)
    }
}

impl TimedRead for &[u8] {
    fn set_timeout(&mut self, _: Option<Duration>) -> io::Result<()> {
        Ok(())
    }
}

/// What the next call to [`LineReader::next_line`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Event<'a> {
    /// A complete line without its ending (LF, or CR LF). A last line
    /// without a newline, followed by end of file, is a line too.
    Line(&'a [u8]),
    /// The line passed the length cap; holds its first 1 KiB. The reader
    /// yields nothing more after this.
    TooLong(&'a [u8]),
    /// The other end closed its side and every line has been read.
    Eof,
    /// No complete line within the idle timeout.
    Idle,
}

/// Bounded line reader over any [`TimedRead`].
#[derive(Debug)]
pub struct LineReader<R> {
    inner: R,
    buf: Vec<u8>,
    /// `buf[start..end]` holds bytes read but not yet returned.
    start: usize,
    end: usize,
    /// No newline lies in `buf[start..scanned]`.
    scanned: usize,
    max_line: usize,
    idle: Option<Duration>,
    /// When the line being read must be complete; set when the reader starts
    /// waiting for a line, so bytes trickling in do not push it back.
    deadline: Option<Instant>,
    /// The read timeout last set on `inner`, to skip redundant syscalls.
    timeout_set: Option<Duration>,
    eof: bool,
    finished: bool,
}

impl<R: TimedRead> LineReader<R> {
    /// `max_line`: longest line in bytes, ending excluded. `idle`: how long a
    /// line may take to arrive (`None`: forever, for neighbours' links).
    pub fn new(inner: R, max_line: usize, idle: Option<Duration>) -> LineReader<R> {
        LineReader {
            inner,
            buf: vec![0; FIRST_BUFFER.min(max_line + 2)],
            start: 0,
            end: 0,
            scanned: 0,
            max_line,
            idle,
            deadline: None,
            timeout_set: None,
            eof: false,
            finished: false,
        }
    }

    /// Changes the idle timeout (a client link that becomes a peer link).
    pub fn set_idle(&mut self, idle: Option<Duration>) {
        self.idle = idle;
        self.deadline = None;
    }

    pub fn get_ref(&self) -> &R {
        &self.inner
    }

    /// True when the next [`next_line`](Self::next_line) can answer without
    /// reading: a complete line, or a last partial line before EOF, is
    /// buffered. The connection writes its answers out when this is false.
    pub fn has_buffered_line(&self) -> bool {
        let rest = &self.buf[self.scanned..self.end];
        memchr::memchr(b'\n', rest).is_some() || (self.eof && self.start < self.end)
    }

    /// Reads until a line, the cap, end of file or the idle deadline.
    pub fn next_line(&mut self) -> io::Result<Event<'_>> {
        if self.finished {
            return Ok(Event::Eof);
        }
        loop {
            if let Some(offset) = memchr::memchr(b'\n', &self.buf[self.scanned..self.end]) {
                let newline = self.scanned + offset;
                let line_start = self.start;
                let mut line_end = newline;
                if line_end > line_start && self.buf[line_end - 1] == b'\r' {
                    line_end -= 1;
                }
                self.start = newline + 1;
                self.scanned = self.start;
                self.deadline = None;
                if line_end - line_start > self.max_line {
                    return Ok(self.too_long(line_start, line_end));
                }
                return Ok(Event::Line(&self.buf[line_start..line_end]));
            }
            self.scanned = self.end;
            // One byte of slack: the cap may be followed by the CR of CR LF.
            if self.end - self.start > self.max_line + 1 {
                return Ok(self.too_long(self.start, self.end));
            }
            if self.eof {
                self.finished = true;
                if self.start < self.end {
                    let line = self.start..self.end;
                    self.start = self.end;
                    if line.len() > self.max_line {
                        return Ok(self.too_long(line.start, line.end));
                    }
                    return Ok(Event::Line(&self.buf[line]));
                }
                return Ok(Event::Eof);
            }
            if !self.fill()? {
                return Ok(Event::Idle);
            }
        }
    }

    fn too_long(&mut self, line_start: usize, line_end: usize) -> Event<'_> {
        self.finished = true;
        let shown = (line_end - line_start).min(TOO_LONG_ECHO);
        Event::TooLong(&self.buf[line_start..line_start + shown])
    }

    /// Reads more bytes. False when the idle deadline passed first.
    fn fill(&mut self) -> io::Result<bool> {
        if self.end == self.buf.len() {
            self.make_room();
        }
        loop {
            let timeout = match self.idle {
                None => None,
                Some(idle) => {
                    let now = Instant::now();
                    let deadline = *self.deadline.get_or_insert(now + idle);
                    match deadline.checked_duration_since(now) {
                        Some(left) if !left.is_zero() => Some(left),
                        _ => return Ok(false),
                    }
                }
            };
            if timeout != self.timeout_set {
                self.inner.set_timeout(timeout)?;
                self.timeout_set = timeout;
            }
            match self.inner.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(true);
                }
                Ok(n) => {
                    self.end += n;
                    return Ok(true);
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                // A read timeout: loop to check the deadline (it may have
                // been an earlier, longer timeout that just ran out).
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Moves unread bytes to the front, or grows the buffer up to the cap.
    fn make_room(&mut self) {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.scanned -= self.start;
            self.start = 0;
        }
        if self.end == self.buf.len() {
            let grown = (self.buf.len() * 2)
                .min(self.max_line + 2)
                .max(self.buf.len() + 1);
            self.buf.resize(grown, 0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(input: &[u8], max_line: usize) -> Vec<String> {
        let mut reader = LineReader::new(input, max_line, None);
        let mut out = Vec::new();
        loop {
            match reader.next_line() {
                Ok(Event::Line(line)) => out.push(format!("L:{}", String::from_utf8_lossy(line))),
                Ok(Event::TooLong(head)) => out.push(format!("TOO LONG:{}", head.len())),
                Ok(Event::Eof) => return out,
                Ok(Event::Idle) => return vec!["idle".into()],
                Err(e) => return vec![format!("error: {e}")],
            }
        }
    }

    #[test]
    fn splits_on_lf_and_crlf_and_keeps_a_last_line_at_eof() {
        assert_eq!(
            lines(b"a\nb\r\n\r\nc\rd", 100),
            ["L:a", "L:b", "L:", "L:c\rd"]
        );
        assert_eq!(lines(b"", 100), Vec::<String>::new());
    }

    #[test]
    fn caps_line_length() {
        assert_eq!(lines(b"12345\n123456\nx\n", 5), ["L:12345", "TOO LONG:6"]);
        assert_eq!(lines(b"12345\r\n", 5), ["L:12345"]);
        assert_eq!(lines(&vec![b'x'; 5000], 2000), ["TOO LONG:1024"]);
        assert_eq!(lines(b"123456", 5), ["TOO LONG:6"]);
    }

    #[test]
    fn handles_lines_longer_than_the_first_buffer() {
        let mut input = vec![b'y'; 3 * FIRST_BUFFER];
        input.push(b'\n');
        input.extend_from_slice(b"z\n");
        let got = lines(&input, 64 * 1024);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].len(), 2 + 3 * FIRST_BUFFER);
        assert_eq!(got[1], "L:z");
    }

    #[test]
    fn reports_buffered_lines() {
        let mut reader = LineReader::new(&b"a\nb\nc"[..], 100, None);
        assert!(!reader.has_buffered_line());
        assert_eq!(reader.next_line().ok(), Some(Event::Line(b"a")));
        assert!(reader.has_buffered_line());
        assert_eq!(reader.next_line().ok(), Some(Event::Line(b"b")));
        // "c" has no newline and EOF has not been seen yet.
        assert!(!reader.has_buffered_line());
        assert_eq!(reader.next_line().ok(), Some(Event::Line(b"c")));
        assert_eq!(reader.next_line().ok(), Some(Event::Eof));
    }
}
