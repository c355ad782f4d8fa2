//! The report of a run with repeats, through the real `herd-lab report`:
//! the committed fixture run (schema 1, one measurement a point) made into
//! three interleaved repeats whose throughput differs, as a full run writes
//! them. Every figure must then read as a median with its range, rounded
//! to what the range supports, and targets be judged on the whole range.
//! Plain `cargo test` runs it (no servers, under a second).

use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};

/// Throughput of repeat 1, 2, 3 as a share of the fixture's: 24 % apart,
/// so that every throughput figure is noisy (two significant digits).
const SCALE: [f64; 3] = [1.0, 0.88, 1.12];

fn fixture() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixture")
}

/// Writes DIR/rows.jsonl (each fixture row three times, schema 2) and
/// DIR/environment.json.
fn repeated_run(dir: &Path) {
    let text = std::fs::read_to_string(fixture().join("rows.jsonl")).expect("fixture rows");
    let mut out = String::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let row: Value = serde_json::from_str(line).expect("a fixture row");
        for (i, scale) in SCALE.iter().enumerate() {
            let mut r = row.clone();
            r["schema"] = json!(2);
            r["repeat"] = json!(i + 1);
            if let Some(t) = r.pointer("/loadgen/throughput_rps").and_then(Value::as_f64) {
                r["loadgen"]["throughput_rps"] = json!(t * scale);
            }
            out.push_str(&r.to_string());
            out.push('\n');
        }
    }
    std::fs::write(dir.join("rows.jsonl"), out).expect("write rows");
    std::fs::copy(
        fixture().join("environment.json"),
        dir.join("environment.json"),
    )
    .expect("copy environment");
}

#[test]
fn a_run_with_repeats_reports_medians_ranges_and_range_verdicts() {
    let dir = tempfile::tempdir().expect("tempdir");
    repeated_run(dir.path());
    let status = Command::new(env!("CARGO_BIN_EXE_herd-lab"))
        .arg("report")
        .arg(dir.path())
        .status()
        .expect("run herd-lab report");
    assert!(status.success(), "{status}");
    let md = std::fs::read_to_string(dir.path().join("report.md")).expect("report.md");

    assert!(
        md.contains("| repeats of each point | 3, interleaved"),
        "{md}"
    );
    assert!(md.contains("| points | 50 |"), "{md}");
    assert!(md.contains("| measurements | 150 (0 failed) |"), "{md}");
    assert!(md.contains("## Build settings"), "{md}");
    assert!(
        md.contains("(medians of 3 repeats, ranges in brackets)"),
        "{md}"
    );

    // The fixture's blocking node at 64 connections: 27,300 req/s, so the
    // repeats are 24,000-30,600: two significant digits, with the range.
    assert!(
        md.contains("At 64 connections: blocking 27,000 (24,000–31,000) req/s"),
        "{md}"
    );
    // Throughput tables list each point once, not each repeat.
    let iamat = md
        .split("## 1. IAMAT")
        .nth(1)
        .and_then(|s| s.split("### The whole herd").next())
        .expect("section 1");
    assert_eq!(
        iamat.lines().filter(|l| l.starts_with("| 64 |")).count(),
        2,
        "one req/s and one p99 row at 64 connections: {iamat}"
    );
    // No noisy throughput shows more than two significant digits.
    let mut checked = 0;
    for line in iamat
        .lines()
        .filter(|l| l.starts_with("| 1 |") || l.starts_with("| 64 |"))
    {
        for cell in line
            .split('|')
            .skip(2)
            .filter(|c| c.contains("req") || c.contains(','))
        {
            let median = cell.split_whitespace().next().unwrap_or("");
            let digits = median.replace(',', "");
            let significant = digits.trim_end_matches('0');
            checked += usize::from(median.contains(','));
            assert!(
                !median.contains(',') || significant.len() <= 2,
                "{median:?} in {line}"
            );
        }
    }
    assert!(
        checked >= 8,
        "only {checked} throughput cells checked: {iamat}"
    );

    // Ratios are taken repeat by repeat: both builds scaled alike in a
    // round, so the blocking/echo ratio is the fixture's 0.854 every time.
    let targets = md.split("## Targets").nth(1).expect("targets");
    let echo = targets
        .lines()
        .find(|l| l.contains("≥ 0.8 × echo_threads"))
        .expect("echo target");
    assert!(echo.contains("= 0.854 |"), "{echo}");
    assert!(echo.ends_with("| **met** |"), "{echo}");
    // A throughput bound against the whole range: WHATSAT at Places 50 ms
    // made 601 req/s against 576 needed; its repeats 529-673 straddle it.
    let whatsat = targets
        .lines()
        .find(|l| l.contains("Places 50 ms"))
        .expect("WHATSAT target");
    assert!(
        whatsat.contains("**mixed** (range straddles the target)"),
        "{whatsat}"
    );
    assert!(whatsat.contains("600 (530–670) req/s"), "{whatsat}");
}
