//! The harness end to end, as a real process: argument errors need nothing;
//! with root, one small real fault (kill -9 and restart) against the
//! blocking build must pass and leave no namespace or server behind, and a
//! Ctrl-C in the middle of a run must clean up too. Without root those two
//! fail, saying so, unless `HERD_ALLOW_SKIP=1` asks to skip them (plain
//! `cargo test` in the repository root does not run this crate's tests).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_herd-faults");

/// True as root; otherwise fails the test, or skips it (false) when
/// `HERD_ALLOW_SKIP=1`.
fn root_or_skip(test: &str) -> bool {
    if nix::unistd::geteuid().is_root() {
        return true;
    }
    herd_launch::skip_or_fail(&format!(
        "{test} needs root (network namespaces); CI runs it as root"
    ));
    false
}

fn blocking_binary() -> PathBuf {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or(repo.join("target"), PathBuf::from);
    let bin = target.join("release/herd");
    assert!(
        bin.exists(),
        "{} is missing: run `cargo build --release -p herd` first",
        bin.display()
    );
    bin
}

/// Our namespaces of the harness process `pid` still present.
fn leftovers(pid: u32) -> Vec<String> {
    let prefix = format!("hf{pid:x}-");
    let out = Command::new("ip")
        .args(["netns", "list"])
        .output()
        .expect("ip netns list");
    let links = Command::new("ip")
        .args(["-o", "link", "show"])
        .output()
        .expect("ip link show");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .chain(String::from_utf8_lossy(&links.stdout).lines())
        .filter(|l| l.contains(&prefix))
        .map(str::to_string)
        .collect()
}

/// Processes whose command line mentions `dir` (the servers of a run there).
fn processes_under(dir: &Path) -> Vec<u32> {
    let needle = dir.to_string_lossy().into_owned();
    fs::read_dir("/proc")
        .expect("/proc")
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains(&needle))
        })
        .collect()
}

#[test]
fn unknown_build_is_one_clear_error() {
    let out = Command::new(BIN)
        .args(["run", "--builds", "cobol"])
        .output()
        .expect("run herd-faults");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown build \"cobol\""), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}

#[test]
fn kill_and_restart_against_the_blocking_build_loses_nothing() {
    if !root_or_skip("kill_and_restart_against_the_blocking_build_loses_nothing") {
        return;
    }
    blocking_binary();
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("run");
    let child = Command::new(BIN)
        .args([
            "run",
            "--builds",
            "blocking",
            "--scenarios",
            "kill",
            "--quick",
            "--out",
        ])
        .arg(&out)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start herd-faults");
    let pid = child.id();
    let result = child.wait_with_output().expect("wait for herd-faults");
    let stdout = String::from_utf8_lossy(&result.stdout);
    assert!(
        result.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&result.stderr)
    );
    let rows: Vec<serde_json::Value> = fs::read_to_string(out.join("results.jsonl"))
        .expect("results.jsonl")
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON row"))
        .collect();
    assert_eq!(rows.len(), 2, "warm-up and one kill: {rows:?}");
    let kill = &rows[1];
    assert_eq!(kill["fault"], "kill -9 Bernard, restart");
    assert_eq!(kill["lost"], 0);
    assert_eq!(kill["pass"], true);
    assert!(kill["acked"].as_u64().is_some_and(|a| a > 0), "{kill}");
    assert!(
        kill["converge_s"].as_f64().is_some_and(|s| s < 20.0),
        "{kill}"
    );
    assert!(
        fs::read_to_string(out.join("summary.md"))
            .expect("summary.md")
            .contains("**PASS**")
    );
    assert!(leftovers(pid).is_empty(), "{:?}", leftovers(pid));
    assert!(processes_under(&out).is_empty());
}

#[test]
fn ctrl_c_mid_run_removes_namespaces_and_servers() {
    if !root_or_skip("ctrl_c_mid_run_removes_namespaces_and_servers") {
        return;
    }
    blocking_binary();
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("run");
    let mut child = Command::new(BIN)
        .args([
            "run",
            "--builds",
            "blocking",
            "--scenarios",
            "cs131",
            "--out",
        ])
        .arg(&out)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start herd-faults");
    let pid = child.id();
    // Wait for the first row: the herd is up and writers have run.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !fs::read_to_string(out.join("results.jsonl")).is_ok_and(|s| !s.is_empty()) {
        assert!(Instant::now() < deadline, "no first row within 60 s");
        assert!(
            child.try_wait().expect("try_wait").is_none(),
            "harness exited early"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        !leftovers(pid).is_empty(),
        "the run should have namespaces now"
    );
    assert!(
        !processes_under(&out).is_empty(),
        "the run should have servers now"
    );
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .expect("SIGINT");
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("harness did not exit within 30 s of Ctrl-C");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(!status.success());
    assert!(leftovers(pid).is_empty(), "{:?}", leftovers(pid));
    assert!(processes_under(&out).is_empty(), "servers left running");
}
