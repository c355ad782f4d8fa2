//! The answers themselves, byte for byte (PROTOCOL §2): the AT line a
//! server makes of an IAMAT, and the layout of a WHATSAT answer.
//!
//! Pure and shared by both Rust builds: `cmd/iamat.rs` and
//! `cmd/whatsat.rs` (blocking) and tokio's `cmd.rs` differ only in how they
//! wait for Places, never in what they answer.

use std::sync::Arc;

use crate::cache::{AtRecord, Cache};
use crate::places::NearbyQuery;
use crate::protocol::{AtLine, IAmAt, Nanos, WhatsAt};

/// The AT record server `server` makes of `iamat` received at `now`: the
/// exact signed time difference, then the client's operands as written.
pub fn iamat_record(server: &str, now: Nanos, iamat: &IAmAt<'_>) -> AtRecord {
    let mut text = [0u8; Nanos::MAX_TEXT];
    let diff = now.minus(iamat.time).write_to(&mut text);
    AtRecord::new(&AtLine {
        server,
        diff,
        client: iamat.client,
        location_text: iamat.location_text,
        location: iamat.location,
        time_text: iamat.time_text,
        time: iamat.time,
    })
}

/// Appends the answer to an IAMAT: its AT line.
pub fn write_iamat(record: &AtRecord, out: &mut Vec<u8>) {
    out.extend_from_slice(record.line.as_bytes());
    out.push(b'\n');
}

/// The client's kept record and the Places question about it; `None` if
/// the herd does not know the client (the WHATSAT is then answered `? `).
pub fn whatsat_lookup(
    cache: &Cache,
    whatsat: &WhatsAt<'_>,
) -> Option<(Arc<AtRecord>, NearbyQuery)> {
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

/// Appends a WHATSAT answer: the kept AT line, the JSON (from
/// `places::answer_json`, which holds no blank line), a blank line.
pub fn write_whatsat(record: &AtRecord, json: &str, out: &mut Vec<u8>) {
    out.reserve(record.line.len() + json.len() + 3);
    out.extend_from_slice(record.line.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(json.as_bytes());
    out.extend_from_slice(b"\n\n");
}
