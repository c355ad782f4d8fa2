//! IAMAT: a client says where it is (blocking build).
//!
//! Stamps the receipt time, answers the AT line (`answer.rs`), offers it to
//! the cache and, if it is the client's newest, queues it for every
//! neighbour's sender thread.

use crate::answer;
use crate::protocol::IAmAt;
use crate::state::NodeState;

pub fn run(state: &NodeState, iamat: &IAmAt<'_>, out: &mut Vec<u8>) {
    let record = answer::iamat_record(state.me.name(), (state.clock)(), iamat);
    answer::write_iamat(&record, out);
    // An older IAMAT is still answered, but changes nothing and is not flooded.
    if let Some(stored) = state.cache.offer(record) {
        state.flooder.flood(&stored, None);
    }
}
