//! Commands: what each kind of line does to a blocking node, and what it
//! answers.
//!
//! Input is one line of bytes from `connection.rs` (a client) or
//! `link/inbound.rs` (a neighbour's link). `dispatch.rs` says what the line
//! is; this module counts it for the metrics and runs it with the file
//! named after its verb, which works through the node's handles (cache,
//! flooder, Places) and appends the answer to the connection's output
//! buffer. Invalid input is not an error here: it is the normal answer
//! `? ` + the line.

pub mod at;
pub mod iamat;
pub mod whatsat;

use crate::dispatch::{self, ClientLine, LinkLine, Outcome, invalid};
use crate::places::AnswerSummary;
use crate::state::NodeState;
use crate::store::changes::Ticket;

/// Answers one line from a client connection, appending to `out`.
/// `first` is true for the connection's first line, the only place where a
/// neighbour may say `PEER`. A WHATSAT answered leaves its summary (for the
/// log) in `summary`; an IAMAT whose answer must wait for the durable store
/// (`sync = always`, PROTOCOL §8) leaves the ticket to wait for in `durable`.
pub fn client_line(
    state: &NodeState,
    line: &[u8],
    first: bool,
    out: &mut Vec<u8>,
    summary: &mut Option<AnswerSummary>,
    durable: &mut Option<Ticket>,
) -> Outcome {
    match dispatch::client_line(line, first) {
        ClientLine::Blank => Outcome::Continue,
        ClientLine::IAmAt(request) => {
            if iamat::run(state, &request, out) {
                state.metrics.iamat();
                *durable = state.cache.durable_ticket().max(*durable);
            } else {
                state.metrics.client_invalid();
                invalid(line, out);
            }
            Outcome::Continue
        }
        ClientLine::WhatsAt(request) => {
            if let Some(answered) = whatsat::run(state, &request, out) {
                state.metrics.whatsat();
                *summary = Some(answered);
            } else {
                state.metrics.client_invalid();
                invalid(line, out);
            }
            Outcome::Continue
        }
        ClientLine::Hello { name, nonce } => {
            state.metrics.peer_hello();
            dispatch::peer_hello(
                state.secret.as_ref(),
                state.me.is_neighbour(name),
                |name| state.inbound.is_live(name),
                (name, nonce),
                line,
                out,
            )
        }
        ClientLine::Invalid(refused) => {
            state.metrics.client_invalid();
            dispatch::answer_invalid(refused, line, out)
        }
    }
}

/// Handles one line from neighbour `from`'s link. Only AT lines are valid
/// there; returns false for anything else (counted as garbage by the link).
/// Nothing is ever answered on a peer link.
pub fn link_line(state: &NodeState, from: &str, line: &[u8]) -> bool {
    match dispatch::link_line(line) {
        LinkLine::Blank => true,
        LinkLine::At(at_line) => {
            at::run(state, from, &at_line);
            true
        }
        LinkLine::Invalid => {
            state.metrics.peer_invalid();
            false
        }
    }
}
