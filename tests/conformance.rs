//! The protocol cases of `tests/cases/` against a real server process.
//!
//! `HERD_BUILD` picks the build: unset or `blocking` is this crate's
//! `herd` binary; `asyncio`, `tokio` or `node` is the launcher
//! `compare/<build>/herd-<build>`; anything else is taken as the path of a
//! launcher. Every build is started the same way (PROTOCOL §6):
//! `<launcher> node Clark --config FILE --log-dir DIR`.

use std::path::PathBuf;

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

/// Starts `Clark` alone from `launcher` on a free port and waits until it
/// answers (herd-launch retries when the port was taken meanwhile).
pub fn start_clark(dir: &std::path::Path) -> (herd_launch::Herd, std::net::SocketAddr) {
    let mut launch = Launch::new(dir, launcher(), &[("Clark", &[])]).tables("");
    launch.attempts = 5;
    let herd = launch
        .start()
        .unwrap_or_else(|e| panic!("{} did not start: {e:#}", launcher().display()));
    let addr = herd.addr(0);
    (herd, addr)
}

#[test]
fn every_case_passes_against_a_real_server_process() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (_server, addr) = start_clark(dir.path());
    let all = cases::load_all(&cases::cases_dir());
    assert!(all.len() >= 35, "only {} cases found", all.len());
    let failures: Vec<String> = all
        .iter()
        .filter_map(|case| {
            cases::run(case, addr)
                .err()
                .map(|e| format!("{}:{} {}: {e}", case.file, case.line, case.name))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        all.len(),
        failures.join("\n")
    );
}

#[test]
fn every_case_passes_in_process() {
    let herd = support::TestHerd::single("");
    let failures: Vec<String> = cases::load_all(&cases::cases_dir())
        .iter()
        .filter_map(|case| {
            cases::run(case, herd.addr("Clark"))
                .err()
                .map(|e| format!("{}:{} {}: {e}", case.file, case.line, case.name))
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
