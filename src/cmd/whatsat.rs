//! WHATSAT: what is near a client the herd knows? (blocking build)
//!
//! Looks the client up in the cache (its newest AT line, from any server),
//! asks the Places provider about its location on this worker thread
//! (outside every lock, timed for the metrics), and answers the AT line, a
//! newline, the JSON and a blank line (`answer.rs`).

use std::time::Instant;

use crate::answer;
use crate::places::{self, AnswerSummary};
use crate::protocol::WhatsAt;
use crate::state::NodeState;

/// Appends the answer to `out` and returns its summary for the log;
/// `None` if the client is unknown (the caller then answers `? `).
pub fn run(state: &NodeState, whatsat: &WhatsAt<'_>, out: &mut Vec<u8>) -> Option<AnswerSummary> {
    let (record, query) = answer::whatsat_lookup(&state.cache, whatsat)?;
    let asked = Instant::now();
    let found = state.places.nearby(&query);
    state.metrics.places.observe(asked.elapsed(), &found);
    let (json, summary) = places::summarized_answer_json(found, query.bound);
    answer::write_whatsat(&record, &json, out);
    Some(summary)
}
