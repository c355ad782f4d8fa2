//! The protocol cases of `tests/cases/` against a real server process.
//!
//! `HERD_BUILD` picks the build: unset or `blocking` is this crate's
//! `herd` binary; `asyncio`, `tokio` or `node` is the launcher
//! `compare/<build>/herd-<build>`; anything else is taken as the path of a
//! launcher. Every build is started the same way (PROTOCOL §6):
//! `<launcher> node Clark --config FILE --log-dir DIR`.

use std::net::SocketAddr;
use std::path::PathBuf;

use herd::client::Client;

use herd_launch::Launch;

use crate::support::{self, cases};

pub(crate) fn launcher() -> PathBuf {
    match std::env::var("HERD_BUILD").ok().as_deref() {
        None | Some("") | Some("blocking") => support::herd_bin(),
        Some(build @ ("asyncio" | "tokio" | "node")) => PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("compare")
            .join(build)
            .join(format!("herd-{build}")),
        Some(path) => PathBuf::from(path),
    }
}

/// Starts `Clark` alone from `launcher` on a free port, with `tables`
/// (config TOML, e.g. a `[limits]` table), and waits until it answers
/// (herd-launch retries when the port was taken meanwhile).
pub fn start_clark_with(
    dir: &std::path::Path,
    tables: &str,
) -> (herd_launch::Herd, std::net::SocketAddr) {
    let mut launch = Launch::new(dir, launcher(), &[("Clark", &[])]).tables(tables);
    launch.attempts = 5;
    let herd = launch
        .start()
        .unwrap_or_else(|e| panic!("{} did not start: {e:#}", launcher().display()));
    let addr = herd.addr(0);
    (herd, addr)
}

/// Runs every case on the server its file asks for (`@limits`), each
/// group of cases on a server started by `start`; the failures.
fn failures_of<S>(start: impl Fn(&str) -> (S, SocketAddr)) -> (usize, Vec<String>) {
    let all = cases::load_all(&cases::cases_dir());
    let mut failures = Vec::new();
    for (limits, group) in cases::by_server(&all) {
        let (_server, addr) = start(&limits);
        failures.extend(group.iter().filter_map(|case| {
            cases::run(case, addr)
                .err()
                .map(|e| format!("{}:{} {}: {e}", case.file, case.line, case.name))
        }));
    }
    (all.len(), failures)
}

#[test]
fn every_case_passes_against_a_real_server_process() {
    let (count, failures) = failures_of(|limits| {
        let dir = tempfile::tempdir().expect("temp dir");
        let (herd, addr) = start_clark_with(dir.path(), limits);
        ((dir, herd), addr)
    });
    assert!(count >= 35, "only {count} cases found");
    assert!(
        failures.is_empty(),
        "{} of {count} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_case_passes_in_process() {
    let (_, failures) = failures_of(|limits| {
        let herd = support::TestHerd::single(limits);
        let addr = herd.addr("Clark");
        (herd, addr)
    });
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The process's resident memory in KiB (`VmRSS` of /proc/PID/status).
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .expect("a VmRSS line")
}

/// IAMATs for clients `from..to` (ids about 1 KiB long, so that each
/// cached client costs a few KiB), pipelined in chunks, every answer read.
fn send_clients(addr: SocketAddr, from: usize, to: usize) {
    let padding = "p".repeat(1000);
    let now = support::node_now() / 1_000_000_000;
    let mut client = Client::connect(addr, support::DEADLINE).expect("connect");
    for chunk in (from..to).collect::<Vec<_>>().chunks(100) {
        let lines: Vec<String> = chunk
            .iter()
            // Each newer than the last, all in the past.
            .map(|i| {
                format!(
                    "IAMAT rss{i}-{padding} +0.0-140.0 {}",
                    now - 100_000 + *i as i128
                )
            })
            .collect();
        for line in &lines {
            client.send(line.as_bytes()).expect("send");
        }
        for line in &lines {
            let answer = client.read_answer(line.as_bytes()).expect("answer");
            assert!(
                answer.is_some_and(|a| a.starts_with(b"AT Clark ")),
                "no AT answer to {}...",
                &line[..20]
            );
        }
    }
}

#[test]
fn a_full_cache_keeps_the_process_from_growing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (herd, addr) = start_clark_with(dir.path(), "[limits]\nmax_cached_clients = 1000\n");
    let pid = herd.proc(0).expect("Clark's process").pid();
    // Fill the cache, and then some: every allocation pattern of eviction
    // has run, and garbage-collected heaps (V8's) have grown to the size
    // their collector keeps, before the first reading.
    send_clients(addr, 0, 25_000);
    let full = rss_kib(pid);
    send_clients(addr, 25_000, 45_000);
    let after = rss_kib(pid);
    // Unbounded, 20,000 more clients of about 1 KiB of id each (held twice
    // in the Rust builds' cache: key and AT line) would add 40 MiB or more
    // in every build. The margin, 16 MiB, is for what a bounded server
    // still does: allocator and garbage-collector heaps that settle a few
    // MiB above their first reading (V8's young generation, CPython's
    // arenas), and buffers of the connection.
    let grown = after.saturating_sub(full);
    assert!(
        grown < 16 * 1024,
        "RSS grew by {grown} KiB (from {full} KiB) over 20,000 clients past a full cache"
    );
}
