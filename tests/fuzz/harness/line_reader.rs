//! Fuzz harness for line framing: the real [`LineReader`] (and through it
//! the sans-I/O `Framer` shared with the tokio build) reading arbitrary
//! bytes that arrive in arbitrary chunks.
//!
//! Shared by the `line_reader` fuzz target and the corpus replay in the
//! normal test run (`tests/fuzz_corpus.rs`). Input layout: byte 0 picks the
//! line cap (small caps, or caps around the 1 KiB echo), byte 1 seeds the
//! chunk sizes, the rest is the stream. Checked against a plain model of
//! PROTOCOL §5: the lines delivered are exactly the model's (no line over
//! the cap, every byte accounted for), an over-long line ends the stream
//! with at most 1 KiB of its head, and `has_buffered_line` never promises a
//! line that needs another read.

use std::cell::Cell;
use std::io::{self, Read};
use std::time::Duration;

use herd::limits::TOO_LONG_ECHO;
use herd::line_reader::{Event, LineReader, TimedRead};

/// A reader that hands out `data` in chunks whose sizes come from a small
/// xorshift generator, and counts its reads.
struct Chunked<'a> {
    data: &'a [u8],
    state: u32,
    most: usize,
    reads: &'a Cell<usize>,
}

impl Read for Chunked<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.reads.set(self.reads.get() + 1);
        self.state ^= self.state << 13;
        self.state ^= self.state >> 17;
        self.state ^= self.state << 5;
        let size = 1 + self.state as usize % self.most;
        let n = size.min(buf.len()).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

impl TimedRead for Chunked<'_> {
    fn set_timeout(&mut self, _: Option<Duration>) -> io::Result<()> {
        Ok(())
    }

    fn read_ready(&mut self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        self.read(buf).map(Some)
    }
}

/// What PROTOCOL §5 says a reader delivers: lines (LF or CR LF stripped; a
/// last line without LF kept as it is), until the first one over the cap.
#[derive(Debug, PartialEq)]
enum Expected<'a> {
    Line(&'a [u8]),
    /// An over-long line starting at this offset of the stream.
    TooLong(usize),
}

fn model(stream: &[u8], max_line: usize) -> Vec<Expected<'_>> {
    let mut out = Vec::new();
    let mut start = 0;
    while start < stream.len() {
        let (line, next) = match newline(&stream[start..]) {
            Some(offset) => {
                let raw = &stream[start..start + offset];
                (raw.strip_suffix(b"\r").unwrap_or(raw), start + offset + 1)
            }
            None => (&stream[start..], stream.len()),
        };
        if line.len() > max_line {
            out.push(Expected::TooLong(start));
            return out;
        }
        out.push(Expected::Line(line));
        start = next;
    }
    out
}

fn newline(bytes: &[u8]) -> Option<usize> {
    bytes.iter().position(|&b| b == b'\n')
}

/// Runs one input; panics when an invariant fails.
pub fn run(data: &[u8]) {
    let [cap, seed, stream @ ..] = data else {
        return;
    };
    // Small caps find the edges; caps of 1023 and up make every echo
    // exactly the first 1 KiB, whatever the chunking.
    let max_line = if cap & 0x80 == 0 {
        usize::from(cap & 0x3f)
    } else {
        TOO_LONG_ECHO - 1 + usize::from(cap & 0x07)
    };
    let most = match seed >> 6 {
        0 => 1,
        1 => 7,
        2 => 64,
        _ => 8192,
    };
    let reads = Cell::new(0);
    let reader = Chunked {
        data: stream,
        state: u32::from(*seed) | 0x9e37_0000,
        most,
        reads: &reads,
    };
    let mut lines = LineReader::new(reader, max_line, None);
    let expected = model(stream, max_line);
    let mut seen = 0;
    // Every event consumes at least one byte, or ends the stream.
    for _ in 0..=stream.len() + 1 {
        let promised = lines.has_buffered_line();
        let reads_before = reads.get();
        let event = match lines.next_line() {
            Ok(event) => event,
            Err(e) => panic!("an in-memory read failed: {e}"),
        };
        if promised {
            let read_more = reads.get() != reads_before;
            assert!(
                !read_more,
                "has_buffered_line promised a line that needed a read"
            );
            assert!(
                matches!(event, Event::Line(_) | Event::TooLong(_)),
                "has_buffered_line promised a line, got {event:?}"
            );
        }
        match event {
            Event::Line(line) => {
                assert!(line.len() <= max_line, "a line over the cap {max_line}");
                assert_eq!(
                    expected.get(seen),
                    Some(&Expected::Line(line)),
                    "line {seen} differs from the model"
                );
                seen += 1;
            }
            Event::TooLong(head) => {
                let Some(&Expected::TooLong(at)) = expected.get(seen) else {
                    panic!("an over-long line the model does not have, at event {seen}");
                };
                assert!(head.len() <= TOO_LONG_ECHO, "echo over 1 KiB");
                assert!(
                    head.len() >= (max_line + 1).min(TOO_LONG_ECHO),
                    "echo of {} bytes is shorter than the cap",
                    head.len()
                );
                assert!(
                    stream[at..].starts_with(head),
                    "echo is not the line's head"
                );
                if max_line >= TOO_LONG_ECHO - 1 {
                    assert_eq!(head.len(), TOO_LONG_ECHO, "echo is not the first 1 KiB");
                }
                seen += 1;
                let after = lines.next_line();
                assert!(
                    matches!(after, Ok(Event::Eof)),
                    "the reader went on after an over-long line"
                );
                assert_eq!(seen, expected.len());
                return;
            }
            Event::Eof => {
                assert_eq!(seen, expected.len(), "end of file before the model's end");
                return;
            }
            Event::Idle => panic!("idle without an idle timeout"),
        }
    }
    panic!("the reader neither finished nor consumed its input");
}
