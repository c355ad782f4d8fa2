//! The protocol cases of `tests/cases/` against a real server process.
//!
//! `HERD_BUILD` picks the build: unset or `blocking` is this crate's
//! `herd` binary; `asyncio`, `tokio` or `node` is the launcher
//! `compare/<build>/herd-<build>`; anything else is taken as the path of a
//! launcher. Every build is started the same way (PROTOCOL §6):
//! `<launcher> node Clark --config FILE --log-dir DIR`.

use std::path::PathBuf;
use std::process::Command;

use crate::support::{self, Process, cases};

fn launcher() -> PathBuf {
    match std::env::var("HERD_BUILD").ok().as_deref() {
        None | Some("") | Some("blocking") => support::herd_bin(),
        Some(build @ ("asyncio" | "tokio" | "node")) => PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("compare")
            .join(build)
            .join(format!("herd-{build}")),
        Some(path) => PathBuf::from(path),
    }
}

/// Starts `Clark` alone from `launcher` on a free port (retrying if the port
/// was taken between choosing and binding it).
pub fn start_clark(dir: &std::path::Path) -> (Process, std::net::SocketAddr) {
    for _ in 0..5 {
        let addr = support::free_addr();
        let config = support::config_text(&[("Clark", addr, &[])], "");
        let path = support::write_file(dir, "herd.toml", &config);
        let mut process = Process::spawn(
            Command::new(launcher())
                .args(["node", "Clark", "--config"])
                .arg(&path)
                .arg("--log-dir")
                .arg(dir),
        );
        let up = support::eventually(support::DEADLINE, || {
            support::accepts(addr) || matches!(process.child.try_wait(), Ok(Some(_)))
        });
        if up && support::accepts(addr) {
            return (process, addr);
        }
    }
    panic!("{} did not start", launcher().display());
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
