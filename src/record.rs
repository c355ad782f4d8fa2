//! One client's newest known location as the herd keeps it: an AT line and
//! its parsed parts, and the merge rule that says which of two is newer.
//!
//! A leaf shared by the cache (`cache.rs`), the flood queues (`link/`) and
//! the durable store (`store/`), so that none of them depends on another
//! for the type they all carry.

use crate::protocol::{AtLine, Location, Nanos};

/// One client's newest known location, as an AT line and its parsed parts.
#[derive(Debug, Clone, PartialEq)]
pub struct AtRecord {
    /// The client's own time from the IAMAT: what "newest" compares.
    pub client_time: Nanos,
    pub location: Location,
    /// Canonical AT line (one space between fields), no line ending.
    pub line: String,
    /// Where the client id sits in `line`.
    client: std::ops::Range<usize>,
}

impl AtRecord {
    /// Builds a record from a parsed AT line (ours or a neighbour's).
    pub fn new(at: &AtLine<'_>) -> AtRecord {
        let line = at.canonical();
        let start = "AT ".len() + at.server.len() + 1 + at.diff.len() + 1;
        AtRecord {
            client_time: at.time,
            location: at.location,
            line,
            client: start..start + at.client.len(),
        }
    }

    /// The client id this record is about.
    pub fn client(&self) -> &str {
        &self.line[self.client.clone()]
    }
}

/// The merge rule of PROTOCOL §3: `candidate` replaces `kept` when its
/// client time is later, or the times are equal and its line is larger
/// byte-wise. Equal lines change nothing, so a flood always ends, and every
/// server settles on the same line whatever order the updates arrive in.
pub fn newer(candidate: &AtRecord, kept: &AtRecord) -> bool {
    (candidate.client_time, candidate.line.as_bytes()) > (kept.client_time, kept.line.as_bytes())
}
