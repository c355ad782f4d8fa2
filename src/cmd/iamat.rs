//! IAMAT: a client says where it is (blocking build).
//!
//! Stamps the receipt time, refuses a time too far ahead of it (PROTOCOL
//! §5), answers the AT line (`answer.rs`), offers it to the cache and, if it
//! is the client's newest, queues it for every neighbour's sender thread.

use crate::answer;
use crate::protocol::IAmAt;
use crate::state::NodeState;

/// Appends the answer to `out`; false if the client's time is more than
/// `max_clock_ahead_ms` ahead (the caller then answers `? `).
pub fn run(state: &NodeState, iamat: &IAmAt<'_>, out: &mut Vec<u8>) -> bool {
    let now = (state.clock)();
    if answer::too_far_ahead(now, iamat, state.me.limits().max_clock_ahead) {
        return false;
    }
    let record = answer::iamat_record(state.me.name(), now, iamat);
    answer::write_iamat(&record, out);
    // An older IAMAT is still answered, but changes nothing and is not
    // flooded; so is a new client older than every one a full cache keeps.
    if let Some(stored) = state.cache.offer(record) {
        state.flooder.flood(&stored, None);
    }
    if let Some(notice) = state.cache.eviction_notice() {
        state.log.notice(notice);
    }
    true
}
