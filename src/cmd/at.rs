//! AT: a neighbour floods a location update (blocking build).
//!
//! Offers the line to the cache; if it is newer than what the node kept, it
//! is flooded on to every neighbour but the one it came from. An AT that
//! changes nothing goes no further, which is what ends a flood.

use crate::protocol::AtLine;
use crate::record::AtRecord;
use crate::state::NodeState;

pub fn run(state: &NodeState, from: &str, at: &AtLine<'_>) {
    let stored = state.cache.offer(AtRecord::new(at));
    state.metrics.flood_received(stored.is_some());
    if let Some(stored) = stored {
        state.flooder.flood(&stored, Some(from));
    }
    if let Some(notice) = state.cache.eviction_notice() {
        state.log.notice(notice);
    }
}
