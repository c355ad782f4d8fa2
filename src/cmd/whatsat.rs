//! WHATSAT: what is near a client the herd knows?
//!
//! Looks the client up in the cache (its newest AT line, from any server),
//! asks the Places provider about its location (outside every lock, timed
//! for the metrics), and answers the AT line, a newline, the JSON and a
//! blank line.

use std::sync::Arc;
use std::time::Instant;

use crate::cache::{AtRecord, Cache};
use crate::node::NodeState;
use crate::places::{self, NearbyQuery};
use crate::protocol::WhatsAt;

/// Appends the answer to `out`; false if the client is unknown (the caller
/// then answers `? `).
pub fn run(state: &NodeState, whatsat: &WhatsAt<'_>, out: &mut Vec<u8>) -> bool {
    let Some((record, query)) = lookup(&state.cache, whatsat) else {
        return false;
    };
    let asked = Instant::now();
    let answer = state.places.nearby(&query);
    state.metrics.places.observe(asked.elapsed(), &answer);
    let json = places::answer_json(answer, query.bound);
    write_answer(&record, &json, out);
    true
}

/// The client's kept record and the Places question about it; `None` if
/// the herd does not know the client. Shared with the tokio build.
pub fn lookup(cache: &Cache, whatsat: &WhatsAt<'_>) -> Option<(Arc<AtRecord>, NearbyQuery)> {
    let record = cache.get(whatsat.client)?;
    let query = NearbyQuery {
        lat: record.location.lat,
        lng: record.location.lng,
        radius_m_text: whatsat.radius.metres_text.clone(),
        radius_m: whatsat.radius.metres,
        bound: whatsat.bound,
    };
    Some((record, query))
}

/// Appends the answer: the AT line, the JSON, a blank line.
pub fn write_answer(record: &AtRecord, json: &str, out: &mut Vec<u8>) {
    out.reserve(record.line.len() + json.len() + 3);
    out.extend_from_slice(record.line.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(json.as_bytes());
    out.extend_from_slice(b"\n\n");
}
