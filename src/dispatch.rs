//! Which line is what, on which kind of connection (PROTOCOL §2, §3, §7).
//!
//! The rules both Rust builds follow before any command runs: on a client
//! connection, `IAMAT` and `WHATSAT` are commands, `PEER` is a neighbour's
//! hello only as the connection's first line (a malformed one closes the
//! connection), and everything else, an `AT` line included, is answered
//! `? ` + the line. On a neighbour's link only `AT` lines are valid and
//! nothing is ever answered. Pure: the builds' `cmd` modules act on what
//! this file decides.

use crate::link::auth::{self, Challenge, Hello, HerdSecret, Why};
use crate::protocol::{self, AtLine, IAmAt, Request, WhatsAt};

/// What a line on a client connection is.
#[derive(Debug, PartialEq)]
pub enum ClientLine<'a> {
    /// Empty or all white space: ignored, nothing answered.
    Blank,
    IAmAt(IAmAt<'a>),
    WhatsAt(WhatsAt<'a>),
    /// `PEER <name> [<nonce>]` as the connection's first line: a
    /// neighbour's hello (see [`peer_hello`]).
    Hello {
        name: &'a str,
        nonce: Option<&'a str>,
    },
    /// Not a valid client line: answered `? ` + the line. `Some(why)`: a
    /// malformed `PEER` first line, after which the connection is closed.
    Invalid(Option<Why>),
}

/// Classifies one line from a client connection. `first` is true for the
/// connection's first line, the only place where a neighbour may say `PEER`.
pub fn client_line(line: &[u8], first: bool) -> ClientLine<'_> {
    let Ok(text) = std::str::from_utf8(line) else {
        return ClientLine::Invalid(None);
    };
    match protocol::parse(text) {
        Request::Blank => ClientLine::Blank,
        Request::IAmAt(iamat) => ClientLine::IAmAt(iamat),
        Request::WhatsAt(whatsat) => ClientLine::WhatsAt(whatsat),
        Request::Peer(name, nonce) if first => ClientLine::Hello { name, nonce },
        // A malformed PEER line is refused and the connection closed.
        _ if first && protocol::fields(text).next() == Some("PEER") => {
            ClientLine::Invalid(Some("a malformed PEER line"))
        }
        // Includes an AT line from a connection that is not a peer.
        _ => ClientLine::Invalid(None),
    }
}

/// What a line on a neighbour's link is.
#[derive(Debug, PartialEq)]
pub enum LinkLine<'a> {
    Blank,
    At(AtLine<'a>),
    /// Anything else: counted as garbage by the link, never answered.
    Invalid,
}

/// Classifies one line from a neighbour's link.
pub fn link_line(line: &[u8]) -> LinkLine<'_> {
    let Ok(text) = std::str::from_utf8(line) else {
        return LinkLine::Invalid;
    };
    match protocol::parse(text) {
        Request::Blank => LinkLine::Blank,
        Request::At(at) => LinkLine::At(at),
        _ => LinkLine::Invalid,
    }
}

/// What a connection should do after a client's line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Go on reading lines.
    Continue,
    /// Write what was answered, then close.
    Close,
    /// The line was a valid `PEER <name>` from a neighbour: the connection
    /// becomes that neighbour's inbound link.
    BecomePeer(String),
    /// A neighbour's `PEER <name> <nonce>` in a herd with a secret: send the
    /// challenge and check the proof before the link is served.
    Challenge(Challenge),
    /// A `PEER` line refused (answered `? ` + the line): log why, close.
    RefusePeer(Why),
    /// A bare `PEER <name>` from a neighbour whose inbound link is open and
    /// alive (PROTOCOL §3), answered `? ` + the line: log it, close. Were it
    /// let in, anyone could make the neighbour resend its whole cache by
    /// repeating its name.
    RefuseLinkOpen(String),
}

/// A neighbour's first line, `PEER <name> [<nonce>]` (`hello`): a link, a
/// challenge (herd with a secret) or a refusal answered `? ` + `line`.
/// `link_open` says whether the named neighbour's inbound link is open and
/// alive; it is asked only for a bare `PEER` that would otherwise become a
/// link (with a secret, a proven handshake replaces the old link instead).
pub fn peer_hello(
    secret: Option<&HerdSecret>,
    is_neighbour: bool,
    link_open: impl FnOnce(&str) -> bool,
    (name, nonce): (&str, Option<&str>),
    line: &[u8],
    out: &mut Vec<u8>,
) -> Outcome {
    match auth::on_hello(secret, is_neighbour, name, nonce) {
        Ok(Hello::Link(name)) if link_open(&name) => {
            invalid(line, out);
            Outcome::RefuseLinkOpen(name)
        }
        Ok(Hello::Link(name)) => Outcome::BecomePeer(name),
        Ok(Hello::Challenge(challenge)) => Outcome::Challenge(challenge),
        Ok(Hello::Refuse(why)) => {
            invalid(line, out);
            Outcome::RefusePeer(why)
        }
        Err(_) => {
            invalid(line, out);
            Outcome::RefusePeer("no random bytes for a nonce")
        }
    }
}

/// Answers a [`ClientLine::Invalid`] line: `? ` + the line, then go on,
/// or close after a malformed `PEER` first line (`refused`).
pub fn answer_invalid(refused: Option<Why>, line: &[u8], out: &mut Vec<u8>) -> Outcome {
    invalid(line, out);
    match refused {
        Some(why) => Outcome::RefusePeer(why),
        None => Outcome::Continue,
    }
}

/// Appends the answer to an invalid line: `? ` + the line exactly as
/// received, without its line ending.
pub fn invalid(line: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(b"? ");
    out.extend_from_slice(line);
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peer_counts_as_a_hello_only_on_the_first_line() {
        assert_eq!(
            client_line(b"PEER Clark", true),
            ClientLine::Hello {
                name: "Clark",
                nonce: None
            }
        );
        assert_eq!(client_line(b"PEER Clark", false), ClientLine::Invalid(None));
        assert_eq!(
            client_line(b"PEER", true),
            ClientLine::Invalid(Some("a malformed PEER line"))
        );
    }

    #[test]
    fn an_at_line_is_invalid_from_a_client_and_valid_on_a_link() {
        let at = b"AT Clark +0.263873386 kiwi +34.068930-118.445127 1621464827.959498503";
        assert_eq!(client_line(at, true), ClientLine::Invalid(None));
        assert!(matches!(link_line(at), LinkLine::At(_)));
        assert_eq!(link_line(b"IAMAT a +1+1 1"), LinkLine::Invalid);
        assert_eq!(link_line(b" \t"), LinkLine::Blank);
    }

    #[test]
    fn bytes_that_are_not_utf8_are_invalid_everywhere() {
        assert_eq!(
            client_line(b"IAMAT \xff +1+1 1", true),
            ClientLine::Invalid(None)
        );
        assert_eq!(link_line(b"AT \xff"), LinkLine::Invalid);
        let mut out = Vec::new();
        invalid(b"\xff\xfe", &mut out);
        assert_eq!(out, b"? \xff\xfe\n");
    }
}
