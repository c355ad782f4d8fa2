//! The report's glossary: the words the summary and the sections use, each
//! said once in plain terms for a reader who has not run the lab (a
//! student handed the page).

use std::fmt::Write as _;

/// Each term and what it means here, in the order a reader meets them.
pub const TERMS: [(&str, &str); 15] = [
    (
        "IAMAT, WHATSAT",
        "the herd's two client commands. IAMAT reports a client's position (a parse, a cache \
         write, a log line, an answer, and a flood of the update to the other servers); WHATSAT \
         asks for places near a client, which calls the Places service (here a local stand-in \
         whose latency the lab sets).",
    ),
    (
        "echo limit",
        "what the load generator's own echo servers (`echo_threads`: a thread per connection; \
         `echo_tokio`: a tokio task per connection) reach when they answer each IAMAT with a \
         fixed line and do nothing else: the ceiling the loopback network and the load \
         generator allow on this machine.",
    ),
    (
        "closed loop",
        "each connection sends a request, waits for the answer, then sends the next; the load \
         slows down when the server does, so it measures capacity (throughput).",
    ),
    (
        "open loop",
        "requests are sent at a fixed rate whatever the server does, and each latency is \
         counted from the moment the request was due; it measures the latency a client would \
         see at that load.",
    ),
    (
        "p50, p99",
        "percentiles of latency: half of the answers came faster than p50, 99 in 100 faster \
         than p99. The p99 is the slow tail a busy user meets often.",
    ),
    (
        "coordinated omission",
        "the error of a closed loop's latencies: while the server stalls, a closed-loop \
         client sends nothing, so the requests that would have waited are never counted and \
         the tail looks shorter than it is. The open loop avoids it.",
    ),
    (
        "hoarder",
        "a client that opens a connection and never writes. A blocking worker that takes its \
         connection waits with it until the idle timeout closes it.",
    ),
    (
        "parked connection",
        "in `blocking-parked`, a connection that has been quiet for `--park-idle-ms` (100 ms \
         in the lab) is handed from its worker to one poller thread that watches all quiet connections, and goes \
         back to a worker when it speaks again: the pool's workers serve only connections \
         that talk.",
    ),
    (
        "thread pool",
        "`blocking`: a fixed number of worker threads (`--threads`), each serving one \
         connection from its first byte to its close; connections beyond the pool wait.",
    ),
    (
        "thread per connection",
        "`blocking-tpc`: the blocking node with as many workers as connections, so no \
         connection waits for a worker; each one costs a thread.",
    ),
    (
        "event loop",
        "one thread that waits on all its connections at once and runs whichever is ready; a \
         waiting request holds no thread. Node and asyncio run one; tokio runs one per \
         worker thread (one per server CPU).",
    ),
    (
        "median and range over repeats",
        "each point is measured several times, interleaved with the other builds; the report \
         gives the median (the middle value) and, in brackets, the smallest and largest \
         (min–max). Two builds differ only when their ranges do not overlap.",
    ),
    (
        "CPU ms per 1,000 requests",
        "the CPU time (user + system) the servers used while measured, divided by the good \
         answers, times 1,000; it is also the CPU microseconds per request. It compares the \
         work per request even when throughput was capped by something else.",
    ),
    (
        "RSS",
        "resident set size: the memory of a process that is really in RAM (not the virtual \
         memory it reserved).",
    ),
    (
        "MiB, KiB",
        "binary units: 1 MiB = 1,024 KiB = 1,048,576 bytes (not the decimal MB).",
    ),
];

pub fn section(md: &mut String) {
    let _ = writeln!(md, "## Glossary\n");
    for (term, meaning) in TERMS {
        let _ = writeln!(md, "- **{term}**: {meaning}");
    }
    md.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_glossary_defines_every_word_the_summary_leans_on() {
        let mut md = String::new();
        section(&mut md);
        for word in [
            "echo limit",
            "closed loop",
            "open loop",
            "p50, p99",
            "coordinated omission",
            "hoarder",
            "parked connection",
            "thread per connection",
            "event loop",
            "median and range",
            "CPU ms per 1,000 requests",
            "MiB",
        ] {
            assert!(md.contains(&format!("**{word}")), "no entry for {word}");
        }
        assert_eq!(md.matches("\n- **").count(), TERMS.len());
    }
}
