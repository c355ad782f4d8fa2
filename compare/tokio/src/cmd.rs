//! Commands: what each kind of line does to a tokio node, and what it
//! answers.
//!
//! The tokio twin of the blocking `cmd/`: the same rules for which line is
//! what (`herd::dispatch`), the same AT record and WHATSAT answer
//! (`herd::answer`), the same `? ` answer. The one difference: a WHATSAT
//! awaits the Places provider, so the connection's task is parked, not a
//! thread.

use herd::answer;
use herd::dispatch::{self, ClientLine, LinkLine, Outcome, invalid};
use herd::places::{self, AnswerSummary};
use herd::record::AtRecord;
use herd::store::changes::Ticket;

use crate::state::NodeState;

/// Answers one line from a client connection, appending to `out`.
/// `first` is true for the connection's first line, the only place where a
/// neighbour may say `PEER`. A WHATSAT answered leaves its summary (for the
/// log) in `summary`; an IAMAT whose answer must wait for the durable store
/// leaves the ticket to wait for in `durable`.
pub async fn client_line(
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
            let now = (state.clock)();
            // Too far ahead of our clock (PROTOCOL §5): invalid, changes nothing.
            if answer::too_far_ahead(now, &request, state.me.limits().max_clock_ahead) {
                invalid(line, out);
                return Outcome::Continue;
            }
            let record = answer::iamat_record(state.me.name(), now, &request);
            answer::write_iamat(&record, out);
            // An older IAMAT is still answered, but changes nothing; so is a
            // new client older than every one a full cache keeps.
            if let Some(stored) = state.cache.offer(record) {
                state.flooder.flood(&stored, None);
            }
            log_evictions(state);
            // With `sync = always` the answer waits for this (PROTOCOL §8).
            *durable = state.cache.durable_ticket().max(*durable);
            Outcome::Continue
        }
        ClientLine::WhatsAt(request) => {
            match answer::whatsat_lookup(&state.cache, &request) {
                Some((record, query)) => {
                    let found = state.places.nearby(&query).await;
                    let (json, answered) = places::summarized_answer_json(found, query.bound);
                    answer::write_whatsat(&record, &json, out);
                    *summary = Some(answered);
                }
                None => invalid(line, out),
            }
            Outcome::Continue
        }
        ClientLine::Hello { name, nonce } => dispatch::peer_hello(
            state.secret.as_ref(),
            state.me.is_neighbour(name),
            |name| state.inbound.is_live(name),
            (name, nonce),
            line,
            out,
        ),
        ClientLine::Invalid(refused) => dispatch::answer_invalid(refused, line, out),
    }
}

/// Handles one line from neighbour `from`'s link. Only AT lines are valid
/// there; returns false for anything else. Nothing is answered on a link.
/// An AT newer than what the node kept is flooded on to every neighbour
/// but `from`.
pub fn link_line(state: &NodeState, from: &str, line: &[u8]) -> bool {
    match dispatch::link_line(line) {
        LinkLine::Blank => true,
        LinkLine::At(at_line) => {
            if let Some(stored) = state.cache.offer(AtRecord::new(&at_line)) {
                state.flooder.flood(&stored, Some(from));
            }
            log_evictions(state);
            true
        }
        LinkLine::Invalid => false,
    }
}

/// Logs the cache's `cache full` notice when one is due (at most once a
/// second; `herd::cache`).
fn log_evictions(state: &NodeState) {
    if let Some(notice) = state.cache.eviction_notice() {
        state.log.notice(notice);
    }
}
