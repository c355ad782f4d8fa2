//! The real `herd-tokio` binary: config errors stop it before any port
//! opens, with exit code 2 and one line on stderr; SIGTERM and SIGINT stop
//! a running node (started by herd-launch, which waits until it answers)
//! cleanly (exit 0, the stop in its log).

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
