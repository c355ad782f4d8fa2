//! Logs an operator can keep (PROTOCOL §4), blocking build: WHATSAT
//! answers as summary entries (whole with `[log] answers` or
//! `--log-answers`), size rotation that keeps K files and loses or splits
//! no entry, and SIGHUP reopening a log that was moved away while the node
//! goes on answering (the real `herd` binary, started by herd-launch).

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use herd_launch::{Launch, Signal};
use serde_json::Value;

use crate::support::{self, DEADLINE, TestHerd, eventually, now_text};

const KIWI: &str = "+34.068930-118.445127";

/// `IAMAT kiwi`, then `WHATSAT kiwi 10 5` through `ask`; returns the whole
/// WHATSAT answer.
fn kiwi_answer(ask: impl Fn(&str) -> String) -> String {
    let at = ask(&format!("IAMAT kiwi {KIWI} {}", now_text()));
    assert!(at.starts_with("AT "), "{at:?}");
    let answer = ask("WHATSAT kiwi 10 5");
    assert!(answer.ends_with("\n\n"), "{answer:?}");
    answer
}

/// The summary entry's text after the address: the AT line, then
/// `[answer: STATUS, N results, B bytes]` read off `answer` itself.
fn expected_summary(answer: &str) -> String {
    let (at_line, json) = answer.split_once('\n').expect("an AT line");
    let value: Value = serde_json::from_str(json).expect("the answer's JSON");
    let status = value["status"].as_str().expect("a status");
    let results = value["results"].as_array().expect("results").len();
    format!(
        "{at_line} [answer: {status}, {results} results, {} bytes]",
        answer.len()
    )
}

/// True once `path`'s text satisfies `check`.
fn file_shows(path: &Path, check: impl Fn(&str) -> bool) -> bool {
    eventually(DEADLINE, || {
        std::fs::read_to_string(path).is_ok_and(|text| check(&text))
    })
}

#[test]
fn a_whatsat_answer_is_one_summary_entry_unless_answers_are_logged_whole() {
    let herd = TestHerd::single("");
    let answer = kiwi_answer(|line| herd.ask("Clark", line));
    let summary = expected_summary(&answer);
    assert!(summary.contains("[answer: OK, 5 results, "), "{summary}");
    assert!(
        eventually(DEADLINE, || herd.log("Clark").contains(&summary)),
        "no summary entry {summary:?} in:\n{}",
        herd.log("Clark")
    );
    let log = herd.log("Clark");
    let entry = log
        .lines()
        .find(|l| l.contains(&summary))
        .unwrap_or_default();
    assert!(entry.contains(" > 127.0.0.1:"), "{entry}");
    assert!(
        !log.contains("html_attributions"),
        "the JSON was logged:\n{log}"
    );

    let whole = TestHerd::single("[log]\nanswers = true\n");
    let answer = kiwi_answer(|line| whole.ask("Clark", line));
    // The whole answer, escaped into one entry as before.
    let escaped = answer.trim_end_matches('\n').replace('\n', "\\n");
    assert!(
        eventually(DEADLINE, || whole.log("Clark").contains(&escaped)),
        "the answer is not logged whole:\n{}",
        whole.log("Clark")
    );
    assert!(!whole.log("Clark").contains("[answer: "));
}

/// Every line of `NAME.log.K` down to `NAME.log` (oldest first); fails if
/// a file is over `max` bytes.
fn rotated_lines(dir: &Path, keep: u32, max: u64) -> Vec<String> {
    let mut names: Vec<String> = (1..=keep).rev().map(|n| format!("Clark.log.{n}")).collect();
    names.push("Clark.log".into());
    let mut lines = Vec::new();
    for name in names {
        let path = dir.join(&name);
        let size = std::fs::metadata(&path).map_or(0, |m| m.len());
        assert!(size <= max, "{name} has {size} bytes, over {max}");
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        lines.extend(text.lines().map(str::to_owned));
    }
    lines
}

/// Sends `n` IAMATs on one connection to `herd`'s Clark, one at a time.
fn send_iamats(herd: &TestHerd, n: usize) {
    let mut client = herd.client("Clark");
    for i in 0..n {
        let line = format!("IAMAT c{i} {KIWI} {}", now_text());
        let answer = client.request(line.as_bytes()).expect("answered");
        assert!(answer.is_some_and(|a| a.starts_with(b"AT Clark ")));
    }
}

#[test]
fn rotation_keeps_k_files_within_the_limit_and_loses_or_splits_no_entry() {
    // Enough files to keep everything: every entry is somewhere, whole.
    let mut herd = TestHerd::single("[log]\nmax_bytes = 2000\nkeep = 100\n");
    send_iamats(&herd, 200);
    herd.stop_all();
    let dir = herd.log_dir.path();
    assert!(dir.join("Clark.log.5").exists(), "it did not rotate");
    let lines = rotated_lines(dir, 100, 2000);
    // Each line starts as an entry does: a split one's tail would not.
    let whole = |l: &String| {
        let b = l.as_bytes();
        b.len() > 30 && b[4] == b'-' && b[26] == b'Z' && b"<>*".contains(&b[28])
    };
    assert!(lines.iter().all(whole), "a split entry: {lines:?}");
    for i in 0..200 {
        let received = format!(" IAMAT c{i} {KIWI} ");
        let sent = format!(" c{i} {KIWI} ");
        assert_eq!(
            lines
                .iter()
                .filter(|l| l.contains(" < ") && l.contains(&received))
                .count(),
            1,
            "c{i} received"
        );
        assert_eq!(
            lines
                .iter()
                .filter(|l| l.contains(" > ") && l.contains(" AT Clark ") && l.contains(&sent))
                .count(),
            1,
            "c{i} answered"
        );
    }
    // Keep 3: NAME.log.1 to .3 and no more.
    let mut herd = TestHerd::single("[log]\nmax_bytes = 2000\nkeep = 3\n");
    send_iamats(&herd, 200);
    herd.stop_all();
    let dir = herd.log_dir.path();
    for n in 1..=3 {
        assert!(
            dir.join(format!("Clark.log.{n}")).exists(),
            "no Clark.log.{n}"
        );
    }
    assert!(!dir.join("Clark.log.4").exists());
    let lines = rotated_lines(dir, 3, 2000);
    assert!(
        lines.last().is_some_and(|l| l.contains("Clark stopped in")),
        "{lines:?}"
    );
}

#[test]
fn sighup_reopens_a_log_moved_away_and_the_node_keeps_answering() {
    let dir = tempfile::tempdir().expect("temp dir");
    // The flags beat the file: with the file's 300 bytes the log would rotate;
    // with its `answers = false` the answer would be a summary.
    let mut launched = Launch::new(dir.path(), support::herd_bin(), &[("Clark", &[])])
        .tables("[log]\nmax_bytes = 300\nanswers = false\n")
        .args([
            "--log-max-bytes",
            "1000000",
            "--log-keep",
            "2",
            "--log-answers",
        ])
        .threads(2)
        .ready_within(Duration::from_secs(30))
        .start()
        .unwrap_or_else(|e| panic!("the node did not start: {e:#}"));
    let addr = launched.addr(0);
    let ask = |line: &str| {
        let mut client = herd::client::Client::connect(addr, DEADLINE).expect("connect");
        let answer = client.request(line.as_bytes()).expect("answer");
        String::from_utf8(answer.unwrap_or_default()).expect("utf-8")
    };
    let answer = kiwi_answer(ask);
    let log = dir.path().join("Clark.log");
    let escaped = answer.trim_end_matches('\n').replace('\n', "\\n");
    assert!(
        file_shows(&log, |t| t.contains(&escaped)),
        "not logged whole"
    );
    assert!(
        !dir.path().join("Clark.log.1").exists(),
        "rotated at the file's 300 bytes"
    );

    let moved = dir.path().join("Clark.log.moved");
    std::fs::rename(&log, &moved).expect("move the log away");
    ask(&format!("IAMAT before {KIWI} {}", now_text()));
    assert!(file_shows(&moved, |t| t.contains("IAMAT before ")));
    launched.signal(0, Signal::SIGHUP).expect("SIGHUP");
    assert!(
        file_shows(&log, |t| t
            .lines()
            .next()
            .is_some_and(|l| l.ends_with(" * log reopened"))),
        "no new log starting with the notice"
    );
    let at = ask(&format!("IAMAT after {KIWI} {}", now_text()));
    assert!(
        at.starts_with("AT Clark "),
        "the node stopped answering: {at:?}"
    );
    assert!(file_shows(&log, |t| t.contains("IAMAT after ")));
    let old = std::fs::read_to_string(&moved).expect("the old log");
    assert!(old.contains(" * Clark listening on ") && old.contains(&escaped));
    assert!(!old.contains("IAMAT after ") && !old.contains("log reopened"));

    let node = launched.proc_mut(0).expect("the node runs");
    node.signal(Signal::SIGTERM).expect("SIGTERM");
    let status = node.wait_exit(DEADLINE).expect("the node exits");
    assert!(status.success(), "{status:?}");
    let new = std::fs::read_to_string(&log).expect("the new log");
    assert!(new.contains("Clark stopped in"), "{new}");
}

#[test]
fn keep_zero_is_a_config_error_from_the_flag_and_the_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = support::write_file(
        dir.path(),
        "herd.toml",
        "[[server]]\nname = \"Clark\"\naddr = \"127.0.0.1:1\"\n[log]\nkeep = 0\n",
    );
    let flag = ["node", "Clark", "--log-keep", "0"];
    let file = [
        "node",
        "Clark",
        "--config",
        config.to_str().expect("utf-8 path"),
    ];
    for args in [&flag[..], &file[..]] {
        let output = Command::new(support::herd_bin())
            .args(args)
            .current_dir(dir.path())
            .output()
            .expect("runs");
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
        assert!(stderr.contains("[log] keep must be at least 1"), "{stderr}");
    }
}
