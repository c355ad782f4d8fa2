//! The answers themselves, byte for byte (PROTOCOL §2): the AT line a
//! server makes of an IAMAT, and the layout of a WHATSAT answer.
//!
//! Pure and shared by both Rust builds: `cmd/iamat.rs` and
//! `cmd/whatsat.rs` (blocking) and tokio's `cmd.rs` differ only in how they
//! wait for Places, never in what they answer.

use std::sync::Arc;
use std::time::Duration;

use crate::cache::Cache;
use crate::places::NearbyQuery;
use crate::protocol::{AtLine, IAmAt, Nanos, WhatsAt};
use crate::record::AtRecord;

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

/// PROTOCOL §5: whether `iamat`'s time is more than `max_ahead` ahead of
/// the server's clock `now` (then it is invalid). Exact, in nanoseconds:
/// exactly `max_ahead` ahead is accepted. AT lines are never checked.
pub fn too_far_ahead(now: Nanos, iamat: &IAmAt<'_>, max_ahead: Duration) -> bool {
    // Times have at most 20 integer digits: no overflow in i128.
    iamat.time.0 - now.0 > max_ahead.as_nanos() as i128
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{Request, parse};

    fn ahead(time: &str, now: i128, max_ms: u64) -> bool {
        let line = format!("IAMAT kiwi +1+2 {time}");
        let Request::IAmAt(iamat) = parse(&line) else {
            panic!("not an IAMAT: {line}");
        };
        too_far_ahead(Nanos(now), &iamat, Duration::from_millis(max_ms))
    }

    #[test]
    fn the_clock_window_is_exact_to_the_nanosecond() {
        let now = 1_000_000_000_000_000_000;
        // 60 s ahead exactly: accepted; one nanosecond more: refused.
        assert!(!ahead("1000000060", now, 60_000));
        assert!(ahead("1000000060.000000001", now, 60_000));
        assert!(!ahead("1000000059.999999999", now, 60_000));
        // Behind the server's clock, however far: accepted.
        assert!(!ahead("-1", now, 1));
        assert!(ahead("99999999999999999999.999999999", now, 60_000));
    }
}
