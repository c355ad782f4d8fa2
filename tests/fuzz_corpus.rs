//! Replays the kept fuzz corpus (`tests/fuzz/corpus/<target>/`) and the
//! reproducers of bugs found (`tests/fuzz/regressions/<target>/`) through
//! the same harnesses the cargo-fuzz targets run, so every input the
//! fuzzers found interesting stays a regression test on stable Rust,
//! without libFuzzer.

use std::fs;
use std::path::{Path, PathBuf};

#[path = "fuzz/harness/command.rs"]
mod command;
#[path = "fuzz/harness/config.rs"]
mod config;
#[path = "fuzz/harness/line_reader.rs"]
mod line_reader;
#[path = "fuzz/harness/places_answer.rs"]
mod places_answer;

/// Every file of a target's corpus and regressions, sorted; fails if the
/// corpus is empty, so a lost or misnamed corpus does not pass as an empty
/// one. A target need not have regressions.
fn inputs(target: &str) -> Vec<PathBuf> {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz");
    let corpus = files(&fuzz.join("corpus").join(target));
    assert!(!corpus.is_empty(), "no corpus for {target}");
    let mut all = files(&fuzz.join("regressions").join(target));
    all.extend(corpus);
    all
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    files
}

/// Runs `harness` on every corpus file of `target`, naming the file that fails.
fn replay(target: &str, harness: fn(&[u8])) {
    for path in inputs(target) {
        let data = fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let outcome = std::panic::catch_unwind(|| harness(&data));
        assert!(outcome.is_ok(), "{target}: {} fails", path.display());
    }
}

#[test]
fn line_reader_corpus_passes() {
    replay("line_reader", line_reader::run);
}

#[test]
fn command_corpus_passes() {
    replay("command", command::run);
}

#[test]
fn config_corpus_passes() {
    replay("config", config::run);
}

#[test]
fn places_answer_corpus_passes() {
    replay("places_answer", places_answer::run);
}
