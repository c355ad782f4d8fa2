//! Commands: what each kind of line does to the node, and what it answers.
//!
//! The tokio twin of the blocking `cmd/`: the same decoding and parsing
//! (`herd::protocol`), the same AT record (`herd::cmd::iamat::record`), the
//! same WHATSAT lookup and answer layout (`herd::cmd::whatsat`), the same
//! `? ` answer. The one difference: a WHATSAT awaits the Places provider,
//! so the connection's task is parked, not a thread.

use herd::cmd::{Outcome, iamat, invalid, peer_hello, whatsat};
use herd::places;
use herd::protocol::{self, AtLine, Request};

use crate::node::NodeState;

/// Answers one line from a client connection, appending to `out`.
/// `first` is true for the connection's first line, the only place where a
/// neighbour may say `PEER`.
pub async fn client_line(
    state: &NodeState,
    line: &[u8],
    first: bool,
    out: &mut Vec<u8>,
) -> Outcome {
    let Ok(text) = std::str::from_utf8(line) else {
        invalid(line, out);
        return Outcome::Continue;
    };
    match protocol::parse(text) {
        Request::Blank => Outcome::Continue,
        Request::IAmAt(request) => {
            let record = iamat::record(state.name(), (state.clock)(), &request);
            out.extend_from_slice(record.line.as_bytes());
            out.push(b'\n');
            if let Some(stored) = state.cache.offer(record) {
                state.flooder.flood(&stored, None);
            }
            Outcome::Continue
        }
        Request::WhatsAt(request) => {
            match whatsat::lookup(&state.cache, &request) {
                Some((record, query)) => {
                    let answer = state.places.nearby(&query).await;
                    let json = places::answer_json(answer, query.bound);
                    whatsat::write_answer(&record, &json, out);
                }
                None => invalid(line, out),
            }
            Outcome::Continue
        }
        Request::Peer(name, nonce) if first => peer_hello(
            state.secret.as_ref(),
            state.is_neighbour(name),
            (name, nonce),
            line,
            out,
        ),
        // A malformed PEER line is refused and the connection closed
        // (PROTOCOL §3).
        _ if first && protocol::fields(text).next() == Some("PEER") => {
            invalid(line, out);
            Outcome::RefusePeer("a malformed PEER line")
        }
        // Includes an AT line from a connection that is not a peer.
        _ => {
            invalid(line, out);
            Outcome::Continue
        }
    }
}

/// Handles one line from neighbour `from`'s link. Only AT lines are valid
/// there; returns false for anything else. Nothing is answered on a link.
pub fn peer_line(state: &NodeState, from: &str, line: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(line) else {
        return false;
    };
    match protocol::parse(text) {
        Request::Blank => true,
        Request::At(at_line) => {
            at(state, from, &at_line);
            true
        }
        _ => false,
    }
}

/// AT: offered to the cache; flooded on to every neighbour but `from` if
/// it is newer than what the node kept.
fn at(state: &NodeState, from: &str, at_line: &AtLine<'_>) {
    if let Some(stored) = state.cache.offer(herd::cache::AtRecord::new(at_line)) {
        state.flooder.flood(&stored, Some(from));
    }
}
