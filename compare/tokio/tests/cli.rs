//! The real `herd-tokio` binary: config errors stop it before any port
//! opens, with exit code 2 and one line on stderr; SIGTERM and SIGINT stop
//! a running node cleanly (exit 0, the stop in its log).

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BINARY: &str = env!("CARGO_BIN_EXE_herd-tokio");
const DEADLINE: Duration = Duration::from_secs(10);

/// A child process killed and reaped however the test ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn config_errors_exit_2_with_one_line() {
    for args in [
        &["node", "Nobody"][..],
        &["node", "Clark", "--threads", "0"][..],
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
    for signal in ["TERM", "INT"] {
        let dir = tempfile::tempdir().expect("temp dir");
        let addr = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port");
        let config = dir.path().join("herd.toml");
        std::fs::write(
            &config,
            format!("[[server]]\nname = \"Clark\"\naddr = \"{addr}\"\n"),
        )
        .expect("config");
        let mut child = Running(
            Command::new(BINARY)
                .args(["node", "Clark", "--threads", "2", "--config"])
                .arg(&config)
                .arg("--log-dir")
                .arg(dir.path())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawns"),
        );
        let until = Instant::now() + DEADLINE;
        while TcpStream::connect(addr).is_err() && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(10));
        }
        let killed = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(child.0.id().to_string())
            .status()
            .expect("kill runs");
        assert!(killed.success());
        let mut status = None;
        while status.is_none() && Instant::now() < until {
            status = child.0.try_wait().expect("wait");
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(
            status.is_some_and(|s| s.success()),
            "SIG{signal}: {status:?}"
        );
        let log = std::fs::read_to_string(dir.path().join("Clark.log")).unwrap_or_default();
        assert!(log.contains("Clark stopped in"), "SIG{signal}: {log}");
    }
}
