//! IAMAT: a client says where it is.
//!
//! Stamps the receipt time, answers the AT line (server name, exact time
//! difference, the client's operands byte for byte), offers it to the cache
//! and, if it is the client's newest, floods it to every neighbour.

use crate::cache::AtRecord;
use crate::node::NodeState;
use crate::protocol::{AtLine, IAmAt};

pub fn run(state: &NodeState, iamat: &IAmAt<'_>, out: &mut Vec<u8>) {
    let diff = (state.clock)().minus(iamat.time).to_string();
    let at = AtLine {
        server: state.name(),
        diff: &diff,
        client: iamat.client,
        location_text: iamat.location_text,
        location: iamat.location,
        time_text: iamat.time_text,
        time: iamat.time,
    };
    let record = AtRecord::new(&at);
    out.extend_from_slice(record.line.as_bytes());
    out.push(b'\n');
    // An older IAMAT is still answered, but changes nothing and is not flooded.
    if let Some(stored) = state.cache.offer(record) {
        state.flooder.flood(&stored, None);
    }
}
