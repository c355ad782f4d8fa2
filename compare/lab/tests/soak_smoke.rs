//! A short soak of one build through the real `herd-lab` binary: the whole
//! code path (herd, loaders, sampling, checks, report) in about 20 s. It
//! needs the release binaries (`cargo build --release -p herd -p
//! herd-loadgen`), so plain `cargo test` skips it (`#[ignore]`); CI runs it
//! after its release build:
//! `cargo test -p herd-lab --test soak_smoke -- --ignored`.

use std::path::Path;
use std::time::Duration;

use herd_launch::{Output, Proc, Spec};
use serde_json::Value;

#[test]
#[ignore = "needs the release binaries; about 20 s (CI runs it)"]
fn a_short_soak_of_the_blocking_build_passes_and_reports() {
    let out = tempfile::tempdir().expect("tempdir");
    let mut spec = Spec::new("herd-lab", env!("CARGO_BIN_EXE_herd-lab"))
        .args(["soak", "--no-build", "--builds", "blocking"])
        .args(["--minutes", "0.25", "--idle-s", "4", "--hoarders", "50"])
        .args(["--tricklers", "2", "--churn", "100", "--rate", "40"])
        .arg("--out")
        .arg(out.path().display().to_string());
    // herd-lab stops its own children on SIGTERM (within 5 s) before the
    // SIGKILL that ends a run past its deadline.
    spec.grace = Duration::from_secs(10);
    spec.stdout = Output::Null;
    let mut lab =
        Proc::spawn(&spec, Path::new(env!("CARGO_MANIFEST_DIR"))).expect("start herd-lab");
    let status = lab
        .wait_exit(Duration::from_secs(120))
        .unwrap_or_else(|e| panic!("herd-lab soak did not end within 120 s: {e:#}"));
    let md = std::fs::read_to_string(out.path().join("soak.md")).expect("soak.md");
    assert!(status.success(), "{status}\n{}\n{md}", lab.stderr.tail(20));
    assert!(md.contains("| blocking | PASS |"), "{md}");
    let jsonl = std::fs::read_to_string(out.path().join("soak.jsonl")).expect("soak.jsonl");
    let lines: Vec<Value> = jsonl
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    let summary = lines
        .iter()
        .find(|l| l["type"] == "summary")
        .expect("a summary line");
    assert_eq!(summary["pass"], true);
    // 15 s with a 4 s idle limit: each trickler was closed at least twice.
    let closes = summary["trickle"]["close_ms"]
        .as_array()
        .expect("close times");
    assert!(closes.len() >= 4, "{}", summary["trickle"]);
    let samples = lines.iter().filter(|l| l["type"] == "sample").count();
    assert!(samples >= 5 * 10, "{samples} samples");
    for metric in ["rss_kb", "fds", "threads"] {
        let svg = out.path().join(format!("soak-blocking-{metric}.svg"));
        assert!(svg.is_file(), "{} missing", svg.display());
    }
}
