//! IAMAT: a client says where it is.
//!
//! Stamps the receipt time, answers the AT line (server name, exact time
//! difference, the client's operands byte for byte), offers it to the cache
//! and, if it is the client's newest, floods it to every neighbour.

use crate::cache::AtRecord;
use crate::node::NodeState;
use crate::protocol::{AtLine, IAmAt, Nanos};

pub fn run(state: &NodeState, iamat: &IAmAt<'_>, out: &mut Vec<u8>) {
    let record = record(state.name(), (state.clock)(), iamat);
    out.extend_from_slice(record.line.as_bytes());
    out.push(b'\n');
    // An older IAMAT is still answered, but changes nothing and is not flooded.
    if let Some(stored) = state.cache.offer(record) {
        state.flooder.flood(&stored, None);
    }
}

/// The AT record server `server` makes of `iamat` received at `now` (shared
/// with the tokio build).
pub fn record(server: &str, now: Nanos, iamat: &IAmAt<'_>) -> AtRecord {
    let diff = now.minus(iamat.time).to_string();
    AtRecord::new(&AtLine {
        server,
        diff: &diff,
        client: iamat.client,
        location_text: iamat.location_text,
        location: iamat.location,
        time_text: iamat.time_text,
        time: iamat.time,
    })
}
