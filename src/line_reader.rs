//! Reads lines from a blocking socket, with a length cap and an idle deadline.
//!
//! Input is a socket (or any [`TimedRead`]); output is one [`Event`] at a
//! time for `connection.rs` and `link/inbound.rs`. Where lines start and end is
//! decided by [`Framer`] (`framing.rs`, shared with the tokio build); this
//! file only reads bytes and keeps the deadline. It works on bytes, not
//! `String`s: a line that is not UTF-8 is still a line (the caller answers it
//! with `? `), and std's `BufRead::read_line` has neither a length cap nor a
//! way to tell a slow client from an idle one.

use std::io::{self, ErrorKind, Read};
use std::net::TcpStream;
use std::time::{Duration, Instant};

pub use crate::framing::Event;
use crate::framing::{Found, Framer};
use crate::limits::LATE_LOOK;

/// A reader whose blocking reads can be given a timeout.
pub trait TimedRead: Read {
    fn set_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()>;

    /// Reads what has already arrived, without waiting: `Ok(None)` if
    /// nothing has.
    fn read_ready(&mut self, buf: &mut [u8]) -> io::Result<Option<usize>>;
}

impl TimedRead for TcpStream {
    fn set_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        self.set_read_timeout(timeout)
    }

    fn read_ready(&mut self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        self.set_nonblocking(true)?;
        let read = match self.read(buf) {
            Ok(n) => Ok(Some(n)),
            Err(e) if e.kind() == ErrorKind::WouldBlock => Ok(None),
            Err(e) => Err(e),
        };
        self.set_nonblocking(false)?;
        read
    }
}

impl TimedRead for &[u8] {
    fn set_timeout(&mut self, _: Option<Duration>) -> io::Result<()> {
        Ok(())
    }

    fn read_ready(&mut self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        self.read(buf).map(Some)
    }
}

/// Bounded line reader over any [`TimedRead`].
#[derive(Debug)]
pub struct LineReader<R> {
    inner: R,
    framer: Framer,
    idle: Option<Duration>,
    /// When the line being read must be complete; set when the reader starts
    /// waiting for a line, so bytes trickling in do not push it back.
    deadline: Option<Instant>,
    /// The read timeout last set on `inner`, to skip redundant syscalls.
    timeout_set: Option<Duration>,
    /// The deadline has passed and the last look at what already arrived
    /// (see [`LATE_LOOK`]) has been taken.
    late_look_done: bool,
}

impl<R: TimedRead> LineReader<R> {
    /// `max_line`: longest line in bytes, ending excluded. `idle`: how long a
    /// line may take to arrive (`None`: forever, for neighbours' links).
    pub fn new(inner: R, max_line: usize, idle: Option<Duration>) -> LineReader<R> {
        LineReader {
            inner,
            framer: Framer::new(max_line),
            idle,
            deadline: None,
            timeout_set: None,
            late_look_done: false,
        }
    }

    /// Starts the idle clock of the first line at `accepted`, when the
    /// connection was accepted rather than when a worker took it: time
    /// spent queued for a worker counts, so idle clients queued behind
    /// other idle clients leave within one idle timeout of arriving.
    pub fn start_idle_clock(&mut self, accepted: Instant) {
        self.deadline = self.idle.map(|idle| accepted + idle);
        self.late_look_done = false;
    }

    /// Changes the idle timeout (a client link that becomes a peer link).
    pub fn set_idle(&mut self, idle: Option<Duration>) {
        self.idle = idle;
        self.deadline = None;
        self.late_look_done = false;
    }

    pub fn get_ref(&self) -> &R {
        &self.inner
    }

    /// True when the next [`next_line`](Self::next_line) can answer without
    /// reading: a complete line, or a last partial line before EOF, is
    /// buffered. The connection writes its answers out when this is false.
    pub fn has_buffered_line(&self) -> bool {
        self.framer.has_buffered_line()
    }

    /// Reads until a line, the cap, end of file or the idle deadline.
    pub fn next_line(&mut self) -> io::Result<Event<'_>> {
        Ok(self.next_line_or_park(None)?.unwrap_or(Event::Idle))
    }

    /// As [`next_line`](Self::next_line), but `None` when no complete line
    /// has arrived by `park_at` and nothing more is waiting to be read (the
    /// connection may then be parked off the pool, `park.rs`). The idle
    /// deadline goes on running either way.
    pub fn next_line_or_park(&mut self, park_at: Option<Instant>) -> io::Result<Option<Event<'_>>> {
        loop {
            let found = self.framer.next_found();
            if found != Found::NeedMore {
                self.deadline = None;
                self.late_look_done = false;
                return Ok(Some(self.framer.event(found).unwrap_or(Event::Eof)));
            }
            match self.fill(park_at)? {
                Fill::More => {}
                Fill::Idle => return Ok(Some(Event::Idle)),
                Fill::Park => return Ok(None),
            }
        }
    }

    /// When the line being read must be complete (`None`: no idle timeout,
    /// or the wait for it has not begun).
    pub fn idle_deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// Reads more bytes, unless the idle deadline or `park_at` passes first.
    fn fill(&mut self, park_at: Option<Instant>) -> io::Result<Fill> {
        loop {
            let now = Instant::now();
            let mut timeout = match self.idle {
                None => None,
                Some(idle) => {
                    let deadline = *self.deadline.get_or_insert(now + idle);
                    match deadline.checked_duration_since(now) {
                        Some(left) if !left.is_zero() => Some(left),
                        _ if !self.late_look_done => {
                            self.late_look_done = true;
                            Some(LATE_LOOK)
                        }
                        _ => return Ok(Fill::Idle),
                    }
                }
            };
            if let Some(park_at) = park_at {
                let left = park_at.saturating_duration_since(now);
                if left.is_zero() {
                    // One look at what already arrived (a client queued
                    // for a worker may have sent its line meanwhile).
                    return match self.inner.read_ready(self.framer.spare())? {
                        Some(n) => {
                            self.framer.filled(n);
                            Ok(Fill::More)
                        }
                        None => Ok(Fill::Park),
                    };
                }
                timeout = Some(timeout.map_or(left, |t| t.min(left)));
            }
            if timeout != self.timeout_set {
                self.inner.set_timeout(timeout)?;
                self.timeout_set = timeout;
            }
            match self.inner.read(self.framer.spare()) {
                Ok(n) => {
                    self.framer.filled(n);
                    return Ok(Fill::More);
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                // A read timeout: loop to check the deadlines (it may have
                // been an earlier, longer timeout that just ran out).
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(e) => return Err(e),
            }
        }
    }
}

/// What one [`LineReader::fill`] gave.
enum Fill {
    /// Bytes arrived (or end of file).
    More,
    /// The idle deadline passed.
    Idle,
    /// `park_at` passed first.
    Park,
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
        let mut input = vec![b'y'; 3 * 8192];
        input.push(b'\n');
        input.extend_from_slice(b"z\n");
        let got = lines(&input, 64 * 1024);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].len(), 2 + 3 * 8192);
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
