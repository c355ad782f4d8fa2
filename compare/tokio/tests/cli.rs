//! The real `herd-tokio` binary: config errors stop it before any port
//! opens, with exit code 2 and one line on stderr; SIGTERM and SIGINT stop
//! a running node (started by herd-launch, which waits until it answers)
//! cleanly (exit 0, the stop in its log); SIGHUP reopens a log moved away
//! (PROTOCOL §4) and the node goes on answering; the `--log-*` flags beat
//! the config's `[log]`.

use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::time::Duration;

use herd_launch::{Launch, Signal};

const BINARY: &str = env!("CARGO_BIN_EXE_herd-tokio");
const DEADLINE: Duration = Duration::from_secs(10);

#[test]
fn config_errors_exit_2_with_one_line() {
    for args in [
        &["node", "Nobody"][..],
        &["node", "Clark", "--threads", "0"][..],
        &["node", "Clark", "--max-clock-ahead-ms", "0"][..],
        &["node", "Clark", "--max-cached-clients", "0"][..],
        &["node", "Clark", "--config", "/nonexistent/herd.toml"][..],
    ] {
        let output = Command::new(BINARY).args(args).output().expect("runs");
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.starts_with("herd-tokio: "), "{args:?}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{args:?}: {stderr}");
    }
}

#[test]
fn the_metrics_flag_is_refused_in_one_line_before_any_port_opens() {
    let addr = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port");
    let output = Command::new(BINARY)
        .args(["node", "Clark", "--metrics-addr"])
        .arg(addr.to_string())
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        stderr.trim_end(),
        "herd-tokio: --metrics-addr: not built in this build"
    );
    assert!(TcpStream::connect(addr).is_err(), "a metrics port opened");
}

#[test]
fn a_signal_stops_the_node_cleanly() {
    for signal in [Signal::SIGTERM, Signal::SIGINT] {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut herd = Launch::new(dir.path(), BINARY, &[("Clark", &[])])
            .tables("")
            .threads(2)
            .ready_within(DEADLINE)
            .start()
            .unwrap_or_else(|e| panic!("{signal}: the node did not start: {e:#}"));
        let node = herd.proc_mut(0).expect("the node runs");
        node.signal(signal).expect("signal the node");
        let status = node.wait_exit(DEADLINE).expect("the node exits");
        assert!(status.success(), "{signal}: {status:?}");
        let log = std::fs::read_to_string(dir.path().join("Clark.log")).unwrap_or_default();
        assert!(log.contains("Clark stopped in"), "{signal}: {log}");
    }
}

/// True once `path`'s text satisfies `check`, within [`DEADLINE`].
fn file_shows(path: &std::path::Path, check: impl Fn(&str) -> bool) -> bool {
    let until = std::time::Instant::now() + DEADLINE;
    loop {
        if std::fs::read_to_string(path).is_ok_and(|text| check(&text)) {
            return true;
        }
        if std::time::Instant::now() >= until {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn sighup_reopens_a_log_moved_away_and_the_flags_beat_the_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    // With the file's 300 bytes the log would rotate; with its `answers =
    // false` the answer would be a summary entry.
    let mut herd = Launch::new(dir.path(), BINARY, &[("Clark", &[])])
        .tables("[log]\nmax_bytes = 300\nanswers = false\n")
        .args([
            "--log-max-bytes",
            "1000000",
            "--log-keep",
            "2",
            "--log-answers",
        ])
        .threads(2)
        .ready_within(DEADLINE)
        .start()
        .unwrap_or_else(|e| panic!("the node did not start: {e:#}"));
    let addr = herd.addr(0);
    let ask = |line: &str| {
        let mut client = herd::client::Client::connect(addr, DEADLINE).expect("connect");
        let answer = client.request(line.as_bytes()).expect("answer");
        String::from_utf8(answer.unwrap_or_default()).expect("utf-8")
    };
    let now = || {
        let now = herd::clock::system_clock().0;
        format!("{}.{:09}", now / 1_000_000_000, now % 1_000_000_000)
    };
    ask(&format!("IAMAT kiwi +34.068930-118.445127 {}", now()));
    let answer = ask("WHATSAT kiwi 10 5");
    let log = dir.path().join("Clark.log");
    let escaped = answer.trim_end_matches('\n').replace('\n', "\\n");
    assert!(
        file_shows(&log, |t| t.contains(&escaped)),
        "not logged whole"
    );
    assert!(
        !dir.path().join("Clark.log.1").exists(),
        "rotated at 300 bytes"
    );

    let moved = dir.path().join("Clark.log.moved");
    std::fs::rename(&log, &moved).expect("move the log away");
    ask(&format!("IAMAT before +1+1 {}", now()));
    assert!(file_shows(&moved, |t| t.contains("IAMAT before ")));
    herd.signal(0, Signal::SIGHUP).expect("SIGHUP");
    assert!(
        file_shows(&log, |t| t
            .lines()
            .next()
            .is_some_and(|l| l.ends_with(" * log reopened"))),
        "no new log starting with the notice"
    );
    let at = ask(&format!("IAMAT after +1+1 {}", now()));
    assert!(
        at.starts_with("AT Clark "),
        "no answer after SIGHUP: {at:?}"
    );
    assert!(file_shows(&log, |t| t.contains("IAMAT after ")));
    let old = std::fs::read_to_string(&moved).expect("the old log");
    assert!(old.contains(" * Clark listening on ") && old.contains(&escaped));
    assert!(!old.contains("IAMAT after ") && !old.contains("log reopened"));

    let node = herd.proc_mut(0).expect("the node runs");
    node.signal(Signal::SIGTERM).expect("SIGTERM");
    let status = node.wait_exit(DEADLINE).expect("the node exits");
    assert!(status.success(), "{status:?}");
    let new = std::fs::read_to_string(&log).expect("the new log");
    assert!(new.contains("Clark stopped in"), "{new}");
}

#[test]
fn log_keep_zero_is_a_config_error() {
    let output = Command::new(BINARY)
        .args(["node", "Clark", "--log-keep", "0"])
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        stderr.trim_end(),
        "herd-tokio: [log] keep must be at least 1"
    );
}
