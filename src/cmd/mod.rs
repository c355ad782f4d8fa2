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
}

/// Answers one line from a client connection, appending to `out`.
/// `first` is true for the connection's first line, the only place where a
/// neighbour may say `PEER`.
pub fn client_line(state: &NodeState, line: &[u8], first: bool, out: &mut Vec<u8>) -> Outcome {
    let Ok(text) = std::str::from_utf8(line) else {
        invalid(line, out);
        return Outcome::Continue;
    };
    match protocol::parse(text) {
        Request::Blank => Outcome::Continue,
        Request::IAmAt(iamat) => {
            iamat::run(state, &iamat, out);
            Outcome::Continue
        }
        Request::WhatsAt(whatsat) => {
            if !whatsat::run(state, &whatsat, out) {
                invalid(line, out);
            }
            Outcome::Continue
        }
        Request::Peer(name) if first && state.is_neighbour(name) => {
            Outcome::BecomePeer(name.to_owned())
        }
        // A neighbour's hello that fails (a stranger's name, a malformed
        // PEER line) is refused and the connection closed (PROTOCOL §3).
        _ if first && protocol::fields(text).next() == Some("PEER") => {
            invalid(line, out);
            Outcome::Close
        }
        // Includes an AT line from a connection that is not a peer.
        _ => {
            invalid(line, out);
            Outcome::Continue
        }
    }
}

/// Handles one line from neighbour `from`'s link. Only AT lines are valid
/// there; returns false for anything else (counted as garbage by the link).
/// Nothing is ever answered on a peer link.
pub fn peer_line(state: &NodeState, from: &str, line: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(line) else {
        return false;
    };
    match protocol::parse(text) {
        Request::Blank => true,
        Request::At(at_line) => {
            at::run(state, from, &at_line);
            true
        }
        _ => false,
    }
}

/// `? ` + the line exactly as received, without its line ending.
pub fn invalid(line: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(b"? ");
    out.extend_from_slice(line);
    out.push(b'\n');
}
