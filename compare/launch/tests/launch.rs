//! herd-launch against the real blocking build: the five-server herd starts
//! on free ports and answers, an update flows between two servers, a killed
//! server comes back on its address, a paused one stops answering until
//! resumed, and nothing is left running afterwards. The `herd` binary comes
//! from `$HERD_BIN`, else `target/release/herd` or `target/debug/herd`;
//! without one the test fails (`HERD_ALLOW_SKIP=1` skips it).

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use herd_launch::{FIVE, Launch, Paths, Signal, answers, skip_or_fail};

fn herd_bin() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("HERD_BIN") {
        return Some(PathBuf::from(p));
    }
    let paths = Paths::new(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."));
    [paths.release("herd"), paths.target.join("debug/herd")]
        .into_iter()
        .find(|p| p.is_file())
}

/// One request on a new connection; its answer up to the first blank line
/// (WHATSAT) or the first line (anything else).
fn ask(addr: SocketAddr, line: &str) -> String {
    let mut stream =
        TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect to a server");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    stream
        .write_all(format!("{line}\n").as_bytes())
        .expect("write");
    let mut reader = BufReader::new(stream);
    let mut answer = String::new();
    reader.read_line(&mut answer).expect("an answer");
    answer
}

fn now_text() -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970");
    format!("{}.{:09}", t.as_secs(), t.subsec_nanos())
}

fn pid_running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        !s.rsplit(')')
            .next()
            .is_some_and(|r| r.trim_start().starts_with('Z'))
    })
}

#[test]
fn a_blocking_herd_starts_answers_survives_a_kill_and_is_cleaned_up() {
    let Some(bin) = herd_bin() else {
        skip_or_fail("no herd binary: build it (cargo build --release -p herd) or set HERD_BIN");
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let launch = Launch::new(dir.path(), &bin, &FIVE)
        .log_dir(&dir.path().join("logs"))
        .threads(4)
        .args(["--idle-timeout-ms", "20000"])
        .ready_within(Duration::from_secs(20));
    let mut herd = launch.start().expect("the herd starts");
    let pids: Vec<u32> = (0..5)
        .map(|i| herd.proc(i).expect("running").pid())
        .collect();
    for addr in herd.addrs() {
        answers(*addr, Duration::from_secs(5)).expect("every server answers");
    }
    let config = std::fs::read_to_string(herd.config()).expect("config");
    assert_eq!(config.matches("[[server]]").count(), 5, "{config}");
    assert!(herd.command_lines()[0].contains("node Bernard --config"));

    // An update at Bernard reaches Clark (two links away).
    let bernard = herd.index("Bernard").expect("Bernard");
    let clark = herd.index("Clark").expect("Clark");
    let at = ask(
        herd.addr(bernard),
        &format!("IAMAT launch.example +34.068930-118.445127 {}", now_text()),
    );
    assert!(at.starts_with("AT Bernard "), "{at:?}");
    let reached = (0..500).any(|_| {
        std::thread::sleep(Duration::from_millis(10));
        ask(herd.addr(clark), "WHATSAT launch.example 10 1") == at
    });
    assert!(reached, "the update did not reach Clark");

    // Kill and restart Clark on its address.
    herd.kill(clark).expect("kill");
    assert!(herd.proc(clark).is_none());
    assert!(answers(herd.addr(clark), Duration::from_millis(300)).is_err());
    herd.restart(clark).expect("restart");
    answers(herd.addr(clark), Duration::from_secs(5)).expect("Clark answers again");

    // A paused server answers only once resumed.
    herd.signal(bernard, Signal::SIGSTOP).expect("SIGSTOP");
    assert!(answers(herd.addr(bernard), Duration::from_millis(300)).is_err());
    herd.signal(bernard, Signal::SIGCONT).expect("SIGCONT");
    answers(herd.addr(bernard), Duration::from_secs(5)).expect("Bernard answers again");

    let restarted = herd.proc(clark).expect("Clark").pid();
    drop(herd);
    let deadline = Instant::now() + Duration::from_secs(10);
    while pids.iter().chain([&restarted]).any(|p| pid_running(*p)) {
        assert!(Instant::now() < deadline, "a server outlived its herd");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_config_error_is_reported_with_the_servers_own_words() {
    let Some(bin) = herd_bin() else {
        skip_or_fail("no herd binary: build it (cargo build --release -p herd) or set HERD_BIN");
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    // A peer that is no server: the node stops before opening its port.
    let e = Launch::new(dir.path(), &bin, &[("Clark", &["Nobody"])])
        .ready_within(Duration::from_secs(20))
        .start()
        .err()
        .expect("a config error");
    let text = format!("{e:#}");
    assert!(text.contains("Clark exited"), "{text}");
    assert!(text.contains("Nobody"), "{text}");
}
