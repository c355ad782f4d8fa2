//! What an inbound link's reader does with each event, in both Rust
//! builds: lines are logged and handed on, too many invalid lines end the
//! link (PROTOCOL §5, `peer_garbage_lines`), and so do an over-long line,
//! the neighbour closing it and a broken socket. Pure: the builds'
//! `link/inbound.rs` read the events their own way.

use std::io;
use std::net::SocketAddr;

use crate::framing::Event;
use crate::logfile::LogBatch;

/// One inbound link's count of invalid lines.
#[derive(Debug)]
pub struct LinkReading {
    garbage: u32,
    garbage_limit: u32,
}

impl LinkReading {
    /// A link closed after `garbage_limit` invalid lines.
    pub fn new(garbage_limit: u32) -> LinkReading {
        LinkReading {
            garbage: 0,
            garbage_limit,
        }
    }

    /// Logs `event` from `addr` and hands a line to `handle` (true: the line
    /// was valid); returns why the link is over, if it is.
    pub fn on_event(
        &mut self,
        event: io::Result<Event<'_>>,
        addr: SocketAddr,
        log: &mut LogBatch,
        handle: impl FnOnce(&[u8]) -> bool,
    ) -> Option<String> {
        match event {
            Ok(Event::Line(line)) => {
                log.received(addr, line);
                if handle(line) {
                    return None;
                }
                self.garbage += 1;
                (self.garbage >= self.garbage_limit)
                    .then(|| format!("{} invalid lines", self.garbage))
            }
            Ok(Event::TooLong(head)) => {
                log.received(addr, head);
                Some("line too long".to_owned())
            }
            Ok(Event::Eof) => Some("closed by the neighbour".to_owned()),
            Ok(Event::Idle) => None,
            Err(e) => Some(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_garbage_limit_ends_the_link_and_valid_lines_do_not_count() {
        let addr: SocketAddr = "127.0.0.1:1".parse().expect("an address");
        let mut log = LogBatch::new();
        let mut reading = LinkReading::new(2);
        assert_eq!(
            reading.on_event(Ok(Event::Line(b"x")), addr, &mut log, |_| false),
            None
        );
        assert_eq!(
            reading.on_event(Ok(Event::Line(b"ok")), addr, &mut log, |_| true),
            None
        );
        assert_eq!(
            reading.on_event(Ok(Event::Line(b"y")), addr, &mut log, |_| false),
            Some("2 invalid lines".to_owned())
        );
        assert_eq!(
            reading.on_event(Ok(Event::Eof), addr, &mut log, |_| true),
            Some("closed by the neighbour".to_owned())
        );
        assert_eq!(
            reading.on_event(Ok(Event::Idle), addr, &mut log, |_| true),
            None
        );
    }
}
