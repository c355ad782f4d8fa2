//! Commands: what each kind of line does to the node, and what it answers.
//!
//! Input is one line of bytes from `connection.rs` (a client) or `peer.rs`
//! (a neighbour's link); this module decodes and parses it with
//! `protocol.rs` and hands it to the file named after its verb, which works
//! through the node's handles (cache, flooder, Places) and appends the answer
//! to the connection's output buffer. Invalid input is not an error here: it
//! is the normal answer `? ` + the line.

pub mod at;
pub mod iamat;
pub mod whatsat;

use crate::node::NodeState;
use crate::peer_auth::{self, Challenge, Hello, HerdSecret, Why};
use crate::protocol::{self, Request};

/// What the connection should do after a client's line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Go on reading lines.
    Continue,
    /// Write what was answered, then close.
    Close,
    /// The line was a valid `PEER <name>` from a neighbour: hand the socket
    /// to `peer.rs`.
    BecomePeer(String),
    /// A neighbour's `PEER <name> <nonce>` in a herd with a secret: send the
    /// challenge and check the proof (`peer_handshake.rs`) before the link
    /// is served.
    Challenge(Challenge),
    /// A `PEER` line refused (answered `? ` + the line): log why, close.
    RefusePeer(Why),
}

/// Answers one line from a client connection, appending to `out`.
/// `first` is true for the connection's first line, the only place where a
/// neighbour may say `PEER`.
pub fn client_line(state: &NodeState, line: &[u8], first: bool, out: &mut Vec<u8>) -> Outcome {
    let Ok(text) = std::str::from_utf8(line) else {
        state.metrics.client_invalid();
        invalid(line, out);
        return Outcome::Continue;
    };
    match protocol::parse(text) {
        Request::Blank => Outcome::Continue,
        Request::IAmAt(iamat) => {
            state.metrics.iamat();
            iamat::run(state, &iamat, out);
            Outcome::Continue
        }
        Request::WhatsAt(whatsat) => {
            if whatsat::run(state, &whatsat, out) {
                state.metrics.whatsat();
            } else {
                state.metrics.client_invalid();
                invalid(line, out);
            }
            Outcome::Continue
        }
        Request::Peer(name, nonce) if first => {
            state.metrics.peer_hello();
            peer_hello(
                state.secret.as_ref(),
                state.is_neighbour(name),
                (name, nonce),
                line,
                out,
            )
        }
        // A malformed PEER line is refused and the connection closed
        // (PROTOCOL §3).
        _ if first && protocol::fields(text).next() == Some("PEER") => {
            state.metrics.client_invalid();
            invalid(line, out);
            Outcome::RefusePeer("a malformed PEER line")
        }
        // Includes an AT line from a connection that is not a peer.
        _ => {
            state.metrics.client_invalid();
            invalid(line, out);
            Outcome::Continue
        }
    }
}

/// A neighbour's first line, `PEER <name> [<nonce>]` (`hello`): a link, a
/// challenge (herd with a secret) or a refusal answered `? ` + `line`.
/// Shared with the tokio build.
pub fn peer_hello(
    secret: Option<&HerdSecret>,
    is_neighbour: bool,
    (name, nonce): (&str, Option<&str>),
    line: &[u8],
    out: &mut Vec<u8>,
) -> Outcome {
    match peer_auth::on_hello(secret, is_neighbour, name, nonce) {
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

/// Handles one line from neighbour `from`'s link. Only AT lines are valid
/// there; returns false for anything else (counted as garbage by the link).
/// Nothing is ever answered on a peer link.
pub fn peer_line(state: &NodeState, from: &str, line: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(line) else {
        state.metrics.peer_invalid();
        return false;
    };
    match protocol::parse(text) {
        Request::Blank => true,
        Request::At(at_line) => {
            at::run(state, from, &at_line);
            true
        }
        _ => {
            state.metrics.peer_invalid();
            false
        }
    }
}

/// `? ` + the line exactly as received, without its line ending.
pub fn invalid(line: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(b"? ");
    out.extend_from_slice(line);
    out.push(b'\n');
}
