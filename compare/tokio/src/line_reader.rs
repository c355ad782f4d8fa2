//! Reads lines from an async socket, with a length cap and an idle deadline.
//!
//! The tokio twin of the blocking `herd::line_reader`: where lines start
//! and end is decided by the same [`Framer`]; this file only awaits bytes
//! and keeps the deadline (a line must be complete within the idle timeout
//! of the moment the reader started waiting for it, so a trickle of bytes
//! does not keep a connection alive).

use std::io;
use std::time::Duration;

use herd::framing::{Event, Found, Framer};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::time::Instant;

/// Bounded line reader over any [`AsyncRead`].
#[derive(Debug)]
pub struct LineReader<R> {
    inner: R,
    framer: Framer,
    idle: Option<Duration>,
    deadline: Option<Instant>,
}

impl<R: AsyncRead + Unpin> LineReader<R> {
    /// `max_line`: longest line in bytes, ending excluded. `idle`: how long a
    /// line may take to arrive (`None`: forever, for neighbours' links).
    pub fn new(inner: R, max_line: usize, idle: Option<Duration>) -> LineReader<R> {
        LineReader {
            inner,
            framer: Framer::new(max_line),
            idle,
            deadline: None,
        }
    }

    /// Changes the idle timeout (a client link that becomes a peer link).
    pub fn set_idle(&mut self, idle: Option<Duration>) {
        self.idle = idle;
        self.deadline = None;
    }

    pub fn get_mut(&mut self) -> &mut R {
        &mut self.inner
    }

    /// True when the next line is already buffered: answers are written
    /// out when this is false.
    pub fn has_buffered_line(&self) -> bool {
        self.framer.has_buffered_line()
    }

    /// Waits for a line, the cap, end of file or the idle deadline.
    /// Cancel-safe between reads: dropping the future loses no bytes.
    pub async fn next_line(&mut self) -> io::Result<Event<'_>> {
        loop {
            let found = self.framer.next_found();
            if found != Found::NeedMore {
                self.deadline = None;
                return Ok(self.framer.event(found).unwrap_or(Event::Eof));
            }
            let read = self.inner.read(self.framer.spare());
            let n = match self.idle {
                None => read.await?,
                Some(idle) => {
                    let deadline = *self.deadline.get_or_insert_with(|| Instant::now() + idle);
                    match tokio::time::timeout_at(deadline, read).await {
                        Ok(n) => n?,
                        Err(_) => return Ok(Event::Idle),
                    }
                }
            };
            self.framer.filled(n);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    #[tokio::test]
    async fn reads_lines_as_the_blocking_reader_does() {
        let (mut client, server) = tokio::io::duplex(64);
        let mut reader = LineReader::new(server, 5, None);
        client.write_all(b"ab\r\n12345\ncd").await.unwrap();
        client.shutdown().await.unwrap();
        assert_eq!(reader.next_line().await.unwrap(), Event::Line(b"ab"));
        assert_eq!(reader.next_line().await.unwrap(), Event::Line(b"12345"));
        assert_eq!(reader.next_line().await.unwrap(), Event::Line(b"cd"));
        assert_eq!(reader.next_line().await.unwrap(), Event::Eof);
    }

    #[tokio::test(start_paused = true)]
    async fn a_trickle_does_not_push_the_deadline_back() {
        let (mut client, server) = tokio::io::duplex(64);
        let mut reader = LineReader::new(server, 100, Some(Duration::from_secs(10)));
        let writer = tokio::spawn(async move {
            for _ in 0..30 {
                client.write_all(b"x").await.unwrap();
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            client
        });
        let started = Instant::now();
        assert_eq!(reader.next_line().await.unwrap(), Event::Idle);
        let waited = started.elapsed();
        assert!(waited >= Duration::from_secs(10) && waited < Duration::from_secs(11));
        writer.abort();
    }

    #[tokio::test]
    async fn an_over_long_line_is_cut_to_its_head() {
        let (mut client, server) = tokio::io::duplex(4096);
        let mut reader = LineReader::new(server, 2000, None);
        client.write_all(&[b'y'; 3000]).await.unwrap();
        match reader.next_line().await.unwrap() {
            Event::TooLong(head) => assert_eq!(head.len(), herd::limits::TOO_LONG_ECHO),
            other => panic!("expected TooLong, got {other:?}"),
        }
    }
}
