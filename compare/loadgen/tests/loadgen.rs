//! End-to-end tests of the real `herd-loadgen` binary: against its own echo
//! servers (both models), against a fake server that answers wrongly, and
//! against real herd nodes started by herd-launch (`target/{debug,release}/herd`
//! or `$HERD_BIN`). Without a herd binary those tests fail and say so, unless
//! `HERD_ALLOW_SKIP=1` asks to skip them. Every wait has a deadline and every
//! process started here is stopped (its whole process group) when its test
//! ends.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::Duration;

use herd_launch::{Launch, Proc, Spec, skip_or_fail};
use serde_json::Value;

/// The longest any one step may take.
const DEADLINE: Duration = Duration::from_secs(30);

fn loadgen(name: &str) -> Spec {
    Spec::new(name, env!("CARGO_BIN_EXE_herd-loadgen"))
}

fn here() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A free loopback address: bind port 0, note it, let it go.
fn free_addr() -> String {
    let port = herd_launch::free_ports(1).expect("a free port")[0];
    format!("127.0.0.1:{port}")
}

/// Runs herd-loadgen with `args` to its end (within [`DEADLINE`]) and
/// returns the one JSON object it printed.
fn run_json(args: &[&str]) -> Value {
    let p = Proc::spawn(&loadgen("herd-loadgen").args(args.iter().copied()), here())
        .expect("start herd-loadgen");
    let stderr = p.stderr.clone();
    let (status, out) = p
        .wait_output(DEADLINE)
        .unwrap_or_else(|e| panic!("herd-loadgen {args:?} did not end: {e:#}"));
    assert!(
        status.success(),
        "herd-loadgen {args:?}: {status}\n{out}\n{}",
        stderr.tail(20)
    );
    let lines: Vec<&str> = out.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "exactly one JSON line on stdout: {out}");
    serde_json::from_str(lines[0]).expect("stdout is JSON")
}

/// Starts `herd-loadgen echo` on a free port; returns it and its address.
fn start_echo(model: &str) -> (Proc, String) {
    let spec = loadgen("echo").args([
        "echo",
        "--addr",
        "127.0.0.1:0",
        "--model",
        model,
        "--workers",
        "1",
    ]);
    let mut echo = Proc::spawn(&spec, here()).expect("start echo");
    let line = echo
        .wait_line(false, DEADLINE, &|l| l.starts_with("echo listening on "))
        .expect("echo announces itself");
    let addr = line
        .strip_prefix("echo listening on ")
        .unwrap_or_else(|| panic!("unexpected echo line {line:?}"))
        .to_owned();
    (echo, addr)
}

fn errors(report: &Value) -> u64 {
    report["errors"]
        .as_object()
        .expect("errors object")
        .values()
        .filter_map(Value::as_u64)
        .sum()
}

fn assert_clean(report: &Value) {
    assert!(report["requests_ok"].as_u64().unwrap_or(0) > 0, "{report}");
    assert_eq!(errors(report), 0, "{report}");
    for key in ["p50", "p90", "p99", "p999", "max", "mean"] {
        assert!(report["latency_us"][key].is_number(), "{key}: {report}");
    }
}

#[test]
fn closed_and_open_loops_against_the_thread_echo() {
    let (_echo, addr) = start_echo("threads");
    let closed = run_json(&[
        "run",
        "--target",
        &addr,
        "--duration-s",
        "1",
        "--warmup-s",
        "0.2",
        "--connections",
        "4",
        "--mix",
        "iamat=1",
    ]);
    assert_clean(&closed);
    assert_eq!(closed["mode"], "closed");
    assert_eq!(closed["targets"][0], addr.as_str());
    let open = run_json(&[
        "run",
        "--target",
        &addr,
        "--mode",
        "open",
        "--rate",
        "400",
        "--duration-s",
        "1",
        "--warmup-s",
        "0",
        "--connections",
        "4",
        "--mix",
        "iamat=1",
        "--idle",
        "5",
    ]);
    assert_clean(&open);
    assert_eq!(open["mode"], "open");
    assert_eq!(open["idle_requested"], 5);
    assert_eq!(open["idle_open_at_end"], 5);
    let ok = open["requests_ok"].as_u64().unwrap_or(0);
    assert!(
        (300..=400).contains(&ok),
        "open loop at 400/s for 1 s: {open}"
    );
}

#[test]
fn closed_open_and_one_shot_against_the_tokio_echo() {
    let (_echo, addr) = start_echo("tokio");
    let closed = run_json(&[
        "run",
        "--target",
        &addr,
        "--duration-s",
        "1",
        "--warmup-s",
        "0",
        "--connections",
        "8",
        "--mix",
        "iamat=1",
    ]);
    assert_clean(&closed);
    let open = run_json(&[
        "run",
        "--target",
        &addr,
        "--mode",
        "open",
        "--rate",
        "300",
        "--duration-s",
        "1",
        "--warmup-s",
        "0.2",
        "--connections",
        "3",
        "--mix",
        "iamat=1",
        "--one-shot",
    ]);
    assert_clean(&open);
    assert_eq!(open["one_shot"], true);
}

#[test]
fn hold_opens_and_keeps_connections() {
    let (_echo, addr) = start_echo("tokio");
    let held = run_json(&[
        "hold",
        "--target",
        &addr,
        "--connections",
        "50",
        "--for-s",
        "0.3",
        "--ignore-stdin",
    ]);
    assert_eq!(held["requested"], 50);
    assert_eq!(held["opened"], 50);
    assert_eq!(held["still_open_at_end"], 50);
    assert_eq!(held["stopped_by"], "time");
    // stdin at EOF (null) ends the hold at once.
    let held = run_json(&["hold", "--target", &addr, "--connections", "5"]);
    assert_eq!(held["opened"], 5);
    assert_eq!(held["stopped_by"], "stdin_eof");
}

#[test]
fn a_refused_target_counts_connect_errors() {
    let addr = free_addr();
    let report = run_json(&[
        "run",
        "--target",
        &addr,
        "--duration-s",
        "0.3",
        "--warmup-s",
        "0",
        "--connections",
        "2",
        "--mix",
        "iamat=1",
        "--timeout-ms",
        "500",
    ]);
    assert_eq!(report["requests_ok"], 0);
    assert!(
        report["errors"]["connect"].as_u64().unwrap_or(0) > 0,
        "{report}"
    );
}

/// A server that answers every IAMAT with an AT line for another client.
#[test]
fn a_wrong_at_line_is_an_invalid_answer_not_a_data_point() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let Ok(mut writer) = stream.try_clone() else {
                    return;
                };
                let mut reader = BufReader::new(stream);
                let mut line = String::new();
                while reader.read_line(&mut line).unwrap_or(0) > 0 {
                    let f: Vec<&str> = line.split_whitespace().collect();
                    let answer = if f.len() == 4 {
                        format!("AT Liar +0.000000000 {}x {} {}\n", f[1], f[2], f[3])
                    } else {
                        format!("? {line}")
                    };
                    if writer.write_all(answer.as_bytes()).is_err() {
                        return;
                    }
                    line.clear();
                }
            });
        }
    });
    let report = run_json(&[
        "run",
        "--target",
        &addr,
        "--duration-s",
        "0.5",
        "--warmup-s",
        "0",
        "--connections",
        "2",
        "--mix",
        "iamat=1",
    ]);
    assert_eq!(report["requests_ok"], 0, "{report}");
    assert!(
        report["errors"]["invalid_answer"].as_u64().unwrap_or(0) > 0,
        "{report}"
    );
    let examples = report["error_examples"].as_array().expect("examples");
    assert!(!examples.is_empty() && examples.len() <= 3, "{report}");
    assert!(
        examples[0]["answer"]
            .as_str()
            .unwrap_or("")
            .starts_with("AT Liar")
    );
}

/// The `herd` binary of this workspace, if it has been built.
fn herd_binary() -> Option<PathBuf> {
    if let Ok(path) = std::env::var("HERD_BIN") {
        return Some(PathBuf::from(path));
    }
    let me = PathBuf::from(env!("CARGO_BIN_EXE_herd-loadgen"));
    let profile_dir = me.parent()?;
    let target = profile_dir.parent()?;
    [
        profile_dir.join("herd"),
        target.join("release").join("herd"),
        target.join("debug").join("herd"),
    ]
    .into_iter()
    .find(|p| p.is_file())
}

/// Herd nodes started from a config written here, stopped on drop.
struct Herd {
    _nodes: herd_launch::Herd,
    addrs: Vec<String>,
    _dir: tempfile::TempDir,
}

/// Starts the servers `names` (each the neighbour of the one before);
/// None (the test returns) only when there is no herd binary and
/// `HERD_ALLOW_SKIP=1`.
fn start_herd(names: &[&str]) -> Option<Herd> {
    start_herd_with(names, &[])
}

/// [`start_herd`] with extra node flags (e.g. a short idle limit).
fn start_herd_with(names: &[&str], extra: &[&str]) -> Option<Herd> {
    let Some(herd) = herd_binary() else {
        skip_or_fail("no herd binary (build it with `cargo build -p herd`, or set HERD_BIN)");
        return None;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let topology: Vec<(&str, &[&str])> = names
        .iter()
        .enumerate()
        .map(|(i, name)| (*name, if i == 0 { &[][..] } else { &names[i - 1..i] }))
        .collect();
    let nodes = Launch::new(dir.path(), herd, &topology)
        .args(extra.iter().copied())
        .ready_within(DEADLINE)
        .start()
        .unwrap_or_else(|e| panic!("the herd nodes did not start: {e:#}"));
    let addrs = nodes.addrs().iter().map(ToString::to_string).collect();
    Some(Herd {
        _nodes: nodes,
        addrs,
        _dir: dir,
    })
}

#[test]
fn iamat_and_whatsat_against_a_herd_node() {
    let Some(herd) = start_herd(&["Clark"]) else {
        return;
    };
    let addr = &herd.addrs[0];
    let report = run_json(&[
        "run",
        "--target",
        addr,
        "--duration-s",
        "1",
        "--warmup-s",
        "0.2",
        "--connections",
        "4",
        "--mix",
        "iamat=1,whatsat=1",
        "--clients",
        "20",
    ]);
    assert_clean(&report);
    assert!(
        report["requests_ok_by_command"]["whatsat"]
            .as_u64()
            .unwrap_or(0)
            > 0,
        "{report}"
    );
    assert!(
        report["requests_ok_by_command"]["iamat"]
            .as_u64()
            .unwrap_or(0)
            > 0,
        "{report}"
    );
}

/// A plain pool of one worker serves one of three connections; the other
/// two wait from the first instant, through the warm-up, until the load
/// stops and the served connection closes. Those waits are the slowest of
/// the run and must be in its latencies, not dropped as warm-up.
#[test]
fn requests_that_wait_through_the_warm_up_are_counted_when_they_end() {
    let Some(herd) = start_herd_with(&["Clark"], &["--threads", "1", "--park-idle-ms", "0"]) else {
        return;
    };
    let report = run_json(&[
        "run",
        "--target",
        &herd.addrs[0],
        "--connections",
        "3",
        "--mix",
        "iamat=1",
        "--warmup-s",
        "0.5",
        "--duration-s",
        "0.5",
    ]);
    assert_clean(&report);
    // Sent at the start, answered only after the window (1 s in): each
    // waited longer than the whole warm-up.
    let max = report["latency_us"]["max"].as_u64().unwrap_or(0);
    assert!(max >= 500_000, "the starved requests are missing: {report}");
    assert_eq!(report["warmup_errors"].as_u64(), Some(0), "{report}");
}

#[test]
fn propagation_between_two_herd_nodes() {
    let Some(herd) = start_herd(&["Clark", "Jaquez"]) else {
        return;
    };
    let report = run_json(&[
        "propagate",
        "--at",
        &herd.addrs[0],
        "--others",
        &herd.addrs[1],
        "--probes",
        "5",
        "--interval-ms",
        "20",
        "--load-target",
        &herd.addrs[0],
        "--load-connections",
        "2",
    ]);
    assert_eq!(report["probes_complete"], 5, "{report}");
    assert_eq!(report["pairs_ok"], 5, "{report}");
    assert_eq!(errors(&report), 0, "{report}");
    assert!(
        report["all_servers_latency_us"]["max"].is_number(),
        "{report}"
    );
    assert!(
        report["load"]["requests_ok"].as_u64().unwrap_or(0) > 0,
        "{report}"
    );
}

#[test]
fn hold_reopen_keeps_the_hoard_through_idle_closes() {
    // A 1 s idle limit closes every hoarder about twice in 2.6 s; each
    // comes back at once.
    let Some(herd) = start_herd_with(&["Clark"], &["--idle-timeout-ms", "1000"]) else {
        return;
    };
    let held = run_json(&[
        "hold",
        "--target",
        &herd.addrs[0],
        "--connections",
        "20",
        "--reopen",
        "--ramp-s",
        "0.5",
        "--for-s",
        "2.6",
        "--ignore-stdin",
    ]);
    assert_eq!(held["reopen"], true, "{held}");
    assert_eq!(held["requested"], 20, "{held}");
    let closed = held["closed_by_server"].as_u64().unwrap_or(0);
    assert!(closed >= 20, "every hoarder closed at least once: {held}");
    assert_eq!(held["opened"].as_u64(), Some(20 + closed), "{held}");
    assert_eq!(held["connect_errors"], 0, "{held}");
    assert!(
        held["still_open_at_end"].as_u64().unwrap_or(0) >= 15,
        "{held}"
    );
}

#[test]
fn hold_reopen_against_the_echo_never_needs_to_reopen() {
    let (_echo, addr) = start_echo("tokio");
    let held = run_json(&[
        "hold",
        "--target",
        &addr,
        "--connections",
        "10",
        "--reopen",
        "--for-s",
        "1",
        "--ignore-stdin",
    ]);
    assert_eq!(held["opened"], 10, "{held}");
    assert_eq!(held["reopened"], 0, "{held}");
    assert_eq!(held["still_open_at_end"], 10, "{held}");
    assert_eq!(held["min_held_after_ramp"], 10, "{held}");
}

#[test]
fn tricklers_are_closed_at_the_idle_limit_and_timed() {
    let Some(herd) = start_herd_with(&["Clark"], &["--idle-timeout-ms", "1500"]) else {
        return;
    };
    let report = run_json(&[
        "trickle",
        "--target",
        &herd.addrs[0],
        "--connections",
        "3",
        "--interval-ms",
        "200",
        "--for-s",
        "4",
    ]);
    let closes: Vec<f64> = report["close_ms"]
        .as_array()
        .expect("close_ms")
        .iter()
        .filter_map(Value::as_f64)
        .collect();
    // 3 tricklers, each closed at ~1.5 s and replaced: at least 6 closes.
    assert!(closes.len() >= 6, "{report}");
    for c in &closes {
        assert!(
            (1400.0..=2600.0).contains(c),
            "close after {c} ms: {report}"
        );
    }
    assert_eq!(report["connect_errors"], 0, "{report}");
    assert!(report["open_at_end_max_age_ms"].as_f64().unwrap_or(0.0) < 2600.0);
}

#[test]
fn a_trickler_the_server_never_closes_is_reported_open() {
    // The echo server has no idle limit: the trickler lives to the end.
    let (_echo, addr) = start_echo("threads");
    let report = run_json(&[
        "trickle",
        "--target",
        &addr,
        "--connections",
        "2",
        "--interval-ms",
        "100",
        "--for-s",
        "0.8",
    ]);
    assert_eq!(report["closed_by_server"], 0, "{report}");
    assert_eq!(report["open_at_end"], 2, "{report}");
    assert!(report["open_at_end_max_age_ms"].as_f64().unwrap_or(0.0) >= 700.0);
}
