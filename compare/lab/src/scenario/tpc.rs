//! What the `blocking-tpc` rows of a section ran, in one sentence each
//! section that measures it (memory, WHATSAT, hoarders) shows: the blocking
//! node with a thread per connection, and, where a point had more
//! connections than the node takes threads, how many were left without one.

use std::fmt::Write as _;

use crate::builds::{TPC, TPC_MAX_THREADS};
use crate::report::query::Rows;
use crate::report::units::thousands;

/// Writes the note on `scenario`'s `blocking-tpc` rows (nothing when it
/// has none).
pub fn note(md: &mut String, rows: &Rows<'_>, scenario: &str) {
    let tpc: Vec<_> = rows
        .of(scenario)
        .into_iter()
        .filter(|r| r.build == TPC)
        .collect();
    let threads: Vec<f64> = tpc.iter().filter_map(|r| r.param("threads")).collect();
    let (Some(lo), Some(hi)) = (
        threads.iter().copied().reduce(f64::min),
        threads.iter().copied().reduce(f64::max),
    ) else {
        return;
    };
    let range = if lo == hi {
        thousands(lo)
    } else {
        format!("{} to {}", thousands(lo), thousands(hi))
    };
    let _ = write!(
        md,
        "`{TPC}` is the blocking node as a thread per connection (the design the classic papers \
         argue about): the plain pool (`--park-idle-ms 0`) with `--threads` equal to the point's \
         client connections ({range} threads here)."
    );
    let mut capped: Vec<String> = tpc
        .iter()
        .filter_map(|r| {
            let unserved = r.param("tpc_unserved")?;
            let asked = r.param("threads")? + unserved;
            Some(format!(
                "{} connections ran {} threads and left {} without one (queued, open sockets)",
                thousands(asked),
                thousands(r.param("threads")?),
                thousands(unserved)
            ))
        })
        .collect();
    capped.dedup();
    if !capped.is_empty() {
        let _ = write!(
            md,
            " The node takes at most {} threads (`MAX_THREADS`, src/limits.rs), so {}: there its \
             figures per connection are over all the connections, not only those with a thread.",
            thousands(TPC_MAX_THREADS as f64),
            capped.join("; ")
        );
    }
    md.push_str("\n\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rows::Row;

    /// A fixture row made into a `blocking-tpc` memory row.
    fn row(idle: u64, threads: u64, unserved: Option<u64>) -> Row {
        let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixture");
        let mut r = crate::rows::read(&fixture.join("rows.jsonl"))
            .expect("fixture rows")
            .swap_remove(0);
        r.build = TPC.into();
        r.scenario = "memory".into();
        r.error = None;
        r.params = serde_json::Map::new();
        r.params.insert("idle".into(), idle.into());
        r.params.insert("threads".into(), threads.into());
        if let Some(u) = unserved {
            r.params.insert("tpc_unserved".into(), u.into());
        }
        r
    }

    #[test]
    fn the_note_names_the_threads_and_the_connections_left_without_one() {
        let all = [row(1000, 1000, None), row(10_000, 4096, Some(5904))];
        let mut md = String::new();
        note(&mut md, &Rows { all: &all }, "memory");
        assert!(md.contains("1,000 to 4,096 threads"), "{md}");
        assert!(
            md.contains("10,000 connections ran 4,096 threads and left 5,904"),
            "{md}"
        );
        let mut none = String::new();
        note(&mut none, &Rows { all: &all }, "whatsat_latency");
        assert!(none.is_empty(), "{none}");
        let one = [row(64, 64, None)];
        let mut md = String::new();
        note(&mut md, &Rows { all: &one }, "memory");
        assert!(md.contains("(64 threads here)"), "{md}");
        assert!(!md.contains("without one"), "{md}");
    }
}
