//! Line framing without I/O: where each line of a byte stream starts and
//! ends, with a length cap.
//!
//! The blocking reader (`line_reader.rs`) and the tokio build's async reader
//! both feed bytes into a [`Framer`] and ask it for the next line, so that
//! both builds split input in exactly the same way (LF or CR LF endings, a
//! last line without a newline at end of file, the cap with one byte of
//! slack for the CR of CR LF, the first 1 KiB of an over-long line kept for
//! the answer). Only how bytes arrive, and how long a reader waits for
//! them, differs between the builds.

use std::ops::Range;

use crate::limits::{FIRST_READ_BUFFER, TOO_LONG_ECHO};

/// What a reader found, for the connections and the inbound links.
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

/// What [`Framer::next_found`] found in the bytes buffered so far; ranges index
/// the framer's buffer (see [`Framer::bytes`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    Line(Range<usize>),
    TooLong(Range<usize>),
    Eof,
    /// No complete line yet: read more into [`Framer::spare`].
    NeedMore,
}

/// A line splitter over a growing buffer (up to the cap plus two bytes).
#[derive(Debug)]
pub struct Framer {
    buf: Vec<u8>,
    /// `buf[start..end]` holds bytes read but not yet returned.
    start: usize,
    end: usize,
    /// No newline lies in `buf[start..scanned]`.
    scanned: usize,
    max_line: usize,
    eof: bool,
    finished: bool,
}

impl Framer {
    /// `max_line`: longest line in bytes, ending excluded.
    pub fn new(max_line: usize) -> Framer {
        Framer {
            buf: vec![0; FIRST_READ_BUFFER.min(max_line + 2)],
            start: 0,
            end: 0,
            scanned: 0,
            max_line,
            eof: false,
            finished: false,
        }
    }

    /// The next line, or what stands in its way.
    pub fn next_found(&mut self) -> Found {
        if self.finished {
            return Found::Eof;
        }
        if let Some(offset) = memchr::memchr(b'\n', &self.buf[self.scanned..self.end]) {
            let newline = self.scanned + offset;
            let line_start = self.start;
            let mut line_end = newline;
            if line_end > line_start && self.buf[line_end - 1] == b'\r' {
                line_end -= 1;
            }
            self.start = newline + 1;
            self.scanned = self.start;
            if line_end - line_start > self.max_line {
                return self.too_long(line_start, line_end);
            }
            return Found::Line(line_start..line_end);
        }
        self.scanned = self.end;
        // One byte of slack: the cap may be followed by the CR of CR LF.
        if self.end - self.start > self.max_line + 1 {
            return self.too_long(self.start, self.end);
        }
        if self.eof {
            self.finished = true;
            if self.start < self.end {
                let line = self.start..self.end;
                self.start = self.end;
                if line.len() > self.max_line {
                    return self.too_long(line.start, line.end);
                }
                return Found::Line(line);
            }
            return Found::Eof;
        }
        Found::NeedMore
    }

    /// The bytes a [`Found`] range points at.
    pub fn bytes(&self, range: Range<usize>) -> &[u8] {
        &self.buf[range]
    }

    /// [`next_found`](Self::next_found)'s answer as an [`Event`]; `NeedMore` is `None`.
    pub fn event(&self, found: Found) -> Option<Event<'_>> {
        match found {
            Found::Line(range) => Some(Event::Line(&self.buf[range])),
            Found::TooLong(range) => Some(Event::TooLong(&self.buf[range])),
            Found::Eof => Some(Event::Eof),
            Found::NeedMore => None,
        }
    }

    /// True when the next [`next_found`](Self::next_found) can answer without reading:
    /// a complete line, or a last partial line before EOF, is buffered.
    /// Connections write their answers out when this is false.
    pub fn has_buffered_line(&self) -> bool {
        let rest = &self.buf[self.scanned..self.end];
        memchr::memchr(b'\n', rest).is_some() || (self.eof && self.start < self.end)
    }

    /// Free space to read into (never empty); report what was read with
    /// [`filled`](Self::filled).
    pub fn spare(&mut self) -> &mut [u8] {
        if self.end == self.buf.len() {
            self.make_room();
        }
        &mut self.buf[self.end..]
    }

    /// `n` bytes were read into [`spare`](Self::spare); 0 means end of file.
    pub fn filled(&mut self, n: usize) {
        if n == 0 {
            self.eof = true;
        }
        self.end = (self.end + n).min(self.buf.len());
    }

    fn too_long(&mut self, line_start: usize, line_end: usize) -> Found {
        self.finished = true;
        let shown = (line_end - line_start).min(TOO_LONG_ECHO);
        Found::TooLong(line_start..line_start + shown)
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

    /// Feeds `input` in chunks of `chunk` bytes, as a reader would.
    fn lines(input: &[u8], max_line: usize, chunk: usize) -> Vec<String> {
        let mut framer = Framer::new(max_line);
        let mut rest = input;
        let mut out = Vec::new();
        for _ in 0..input.len() + 64 {
            match framer.next_found() {
                Found::Line(r) => {
                    out.push(format!("L:{}", String::from_utf8_lossy(framer.bytes(r))))
                }
                Found::TooLong(r) => out.push(format!("TOO LONG:{}", r.len())),
                Found::Eof => return out,
                Found::NeedMore => {
                    let spare = framer.spare();
                    let n = rest.len().min(chunk).min(spare.len());
                    spare[..n].copy_from_slice(&rest[..n]);
                    rest = &rest[n..];
                    framer.filled(n);
                }
            }
        }
        panic!("the framer did not finish");
    }

    #[test]
    fn chunking_does_not_change_the_lines() {
        let input = b"IAMAT a +1+2 3\r\n\nWHATSAT a 1 1\nlast";
        let whole = lines(input, 100, usize::MAX);
        assert_eq!(
            whole,
            ["L:IAMAT a +1+2 3", "L:", "L:WHATSAT a 1 1", "L:last"]
        );
        for chunk in 1..8 {
            assert_eq!(lines(input, 100, chunk), whole, "chunk {chunk}");
        }
    }

    #[test]
    fn the_cap_holds_whatever_the_chunking() {
        for chunk in [1, 3, 7, 4096] {
            assert_eq!(
                lines(b"12345\n123456\nx\n", 5, chunk),
                ["L:12345", "TOO LONG:6"]
            );
            assert_eq!(lines(b"12345\r\n", 5, chunk), ["L:12345"]);
        }
    }
}
