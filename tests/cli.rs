//! The `herd` command line, driven as a user drives it: real `herd`
//! processes (`node`, `up`, `client`, `config`) on free ports, a temp dir
//! for configs and logs, signals sent with `nix`.
//!
//! Every wait polls until a deadline; no fixed port is used (a port picked
//! by binding port 0 can be taken before the binary binds it, so starting a
//! herd retries on "cannot listen"); every process is killed and reaped
//! when its handle drops.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use parking_lot::Mutex;

use herd::client::Client;
use herd::config::{Config, Overrides};

use crate::support::{self, DEADLINE, Process, accepts, eventually, write_file};

/// How long a node may take to exit after SIGTERM or SIGINT.
const STOP_WITHIN: Duration = Duration::from_secs(2);

/// How long a restarted node may take, from its port accepting, to answer
/// for every client the herd knew.
const CATCH_UP_WITHIN: Duration = Duration::from_secs(2);

/// Start-up of several debug-build nodes (each loads the offline data set)
/// on a busy machine can take longer than one ordinary [`DEADLINE`].
const START_DEADLINE: Duration = Duration::from_secs(30);

const KIWI_AT: &str = "+34.068930-118.445127";

// ---------------------------------------------------------------- helpers

/// Everything a process wrote on one of its pipes, read by a thread of its
/// own so that the process never blocks on a full pipe.
#[derive(Clone, Default)]
struct Captured {
    bytes: Arc<Mutex<Vec<u8>>>,
    /// Set at end of file: every holder of the pipe's write end is gone.
    closed: Arc<AtomicBool>,
}

impl Captured {
    fn start(mut source: impl Read + Send + 'static) -> Captured {
        let captured = Captured::default();
        let sink = captured.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            loop {
                match source.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => sink.bytes.lock().extend_from_slice(&buf[..n]),
                }
            }
            sink.closed.store(true, Ordering::SeqCst);
        });
        captured
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes.lock()).into_owned()
    }

    fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }
}

/// A running `herd` process with its stdout and stderr captured.
struct Running {
    process: Process,
    stdout: Captured,
    stderr: Captured,
}

/// What a finished process left.
#[derive(Debug)]
struct Finished {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

impl Running {
    /// Starts `command` with stdin closed.
    fn spawn(command: &mut Command) -> Running {
        Running::capture(Process::spawn(command))
    }

    /// Starts `command` with stdin a pipe (taken with `child.stdin.take()`).
    fn spawn_with_stdin(command: &mut Command) -> Running {
        let child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn herd");
        Running::capture(Process { child })
    }

    fn capture(mut process: Process) -> Running {
        let stdout = Captured::start(process.child.stdout.take().expect("stdout is piped"));
        let stderr = Captured::start(process.child.stderr.take().expect("stderr is piped"));
        Running {
            process,
            stdout,
            stderr,
        }
    }

    fn pid(&self) -> i32 {
        self.process.pid()
    }

    fn signal(&self, signal: Signal) {
        kill(Pid::from_raw(self.pid()), signal).expect("send a signal");
    }

    /// The exit status, if the process has exited (reaping it).
    fn exited(&mut self) -> Option<ExitStatus> {
        self.process.child.try_wait().expect("try_wait")
    }

    /// Polls for the exit for at most `within`.
    fn wait_exit(&mut self, within: Duration) -> Option<ExitStatus> {
        let mut status = None;
        eventually(within, || {
            status = self.exited();
            status.is_some()
        });
        status
    }

    /// Sends `signal` and returns the exit status and how long after the
    /// signal it came; fails the test if there is none within [`DEADLINE`].
    fn stop_with(&mut self, signal: Signal) -> (ExitStatus, Duration) {
        let sent = Instant::now();
        self.signal(signal);
        let status = self
            .wait_exit(DEADLINE)
            .unwrap_or_else(|| panic!("no exit within {DEADLINE:?} of {signal}"));
        (status, sent.elapsed())
    }

    /// Waits for the exit and the end of both pipes.
    fn finish(mut self) -> Finished {
        let status = self
            .wait_exit(DEADLINE)
            .unwrap_or_else(|| panic!("herd did not exit; stderr: {}", self.stderr.text()));
        assert!(
            eventually(DEADLINE, || self.stdout.is_closed()
                && self.stderr.is_closed()),
            "the output pipes stayed open after the exit"
        );
        Finished {
            status,
            stdout: self.stdout.text(),
            stderr: self.stderr.text(),
        }
    }
}

/// `herd` run in `dir` (so that a default `logs/` lands there), with info
/// logging (the "listening" line tells when signal handlers are installed)
/// and no Places key unless a test sets one.
fn herd(dir: &Path) -> Command {
    let mut command = Command::new(support::herd_bin());
    command
        .current_dir(dir)
        .env("RUST_LOG", "info")
        .env_remove("PLACES_API_KEY");
    command
}

/// Runs `herd ARGS...` in `dir` to its end.
fn run(dir: &Path, args: &[&str]) -> Finished {
    Running::spawn(herd(dir).args(args)).finish()
}

/// `n` distinct free loopback addresses (all bound at once, then released).
fn free_addrs(n: usize) -> Vec<SocketAddr> {
    let listeners: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("bind port 0"))
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().expect("local addr"))
        .collect()
}

/// The answer to `line` on a new connection, or `None` if there is none
/// (for polling a node that may be down or still starting).
fn try_ask(addr: SocketAddr, line: &str) -> Option<String> {
    let mut client = Client::connect(addr, DEADLINE).ok()?;
    let answer = client.request(line.as_bytes()).ok()??;
    String::from_utf8(answer).ok()
}

fn ask(addr: SocketAddr, line: &str) -> String {
    try_ask(addr, line).unwrap_or_else(|| panic!("no answer from {addr} to {line:?}"))
}

/// Sends an IAMAT for `client` at `time` and returns the AT line answered
/// (without its newline), checking that `server` made it.
fn iamat(addr: SocketAddr, server: &str, client: &str, time: &str) -> String {
    let line = format!("IAMAT {client} {KIWI_AT} {time}");
    let answer = ask(addr, &line);
    let at = answer.trim_end_matches('\n').to_owned();
    assert!(
        at.starts_with(&format!("AT {server} "))
            && at.ends_with(&format!(" {client} {KIWI_AT} {time}"))
            && answer.ends_with('\n')
            && !at.contains('\n'),
        "{server} answered {answer:?} to {line:?}"
    );
    at
}

/// True if a WHATSAT for `client` at `addr` is answered with `at` first.
fn whatsat_shows(addr: SocketAddr, client: &str, at: &str) -> bool {
    try_ask(addr, &format!("WHATSAT {client} 10 1"))
        .is_some_and(|answer| answer.lines().next() == Some(at) && answer.ends_with("\n\n"))
}

/// A POSIX time `offset` seconds from now, as the protocol writes it.
fn time_text(offset: u64) -> String {
    let (secs, nanos) = support::now_text()
        .split_once('.')
        .map(|(s, n)| (s.parse::<u64>().expect("seconds"), n.to_owned()))
        .expect("secs.nanos");
    format!("{}.{nanos}", secs + offset)
}

/// One `herd node` process per server of `topology`, from one config file,
/// on free ports; a node can be killed and restarted with the same command.
struct NodeHerd {
    dir: PathBuf,
    config: PathBuf,
    log_dir: PathBuf,
    args: Vec<String>,
    servers: Vec<(String, SocketAddr)>,
    nodes: Vec<Option<Running>>,
}

impl NodeHerd {
    /// Starts every node and waits until each accepts and has installed its
    /// signal handlers. Retries with new ports if one was taken meanwhile.
    fn start(dir: &Path, topology: &[(&str, &[&str])], args: &[&str]) -> NodeHerd {
        let mut last_error = String::new();
        for _ in 0..5 {
            let addrs = free_addrs(topology.len());
            let servers: Vec<(&str, SocketAddr, &[&str])> = topology
                .iter()
                .zip(&addrs)
                .map(|((name, peers), addr)| (*name, *addr, *peers))
                .collect();
            let config = write_file(dir, "herd.toml", &support::config_text(&servers, ""));
            let mut started = NodeHerd {
                dir: dir.to_owned(),
                config,
                log_dir: dir.join("logs"),
                args: args.iter().map(|a| a.to_string()).collect(),
                servers: servers
                    .iter()
                    .map(|(n, a, _)| (n.to_string(), *a))
                    .collect(),
                nodes: Vec::new(),
            };
            for (name, _) in started.servers.clone() {
                let node = Running::spawn(&mut started.command(&name));
                started.nodes.push(Some(node));
            }
            match started.wait_ready() {
                Ok(()) => return started,
                Err(stderr) if stderr.contains("cannot listen") => last_error = stderr,
                Err(stderr) => panic!("a node failed to start: {stderr}"),
            }
        }
        panic!("no free ports after 5 tries: {last_error}");
    }

    /// `herd node NAME --config FILE --log-dir DIR ARGS...`
    fn command(&self, name: &str) -> Command {
        let mut command = herd(&self.dir);
        command
            .args(["node", name, "--config"])
            .arg(&self.config)
            .arg("--log-dir")
            .arg(&self.log_dir)
            .args(&self.args);
        command
    }

    /// Ok once every running node is ready; the stderr of a node that exited.
    fn wait_ready(&mut self) -> Result<(), String> {
        let mut failed = None;
        let ready = eventually(START_DEADLINE, || {
            let mut all = true;
            for ((name, addr), node) in self.servers.iter().zip(&mut self.nodes) {
                let Some(node) = node else { continue };
                if node.exited().is_some() {
                    failed = Some(node.stderr.text());
                    return true;
                }
                all &=
                    node.stderr.text().contains(&format!("{name} listening on")) && accepts(*addr);
            }
            all
        });
        match failed {
            Some(stderr) => Err(stderr),
            None if ready => Ok(()),
            None => panic!("the nodes did not start within {START_DEADLINE:?}"),
        }
    }

    fn index(&self, name: &str) -> usize {
        self.servers
            .iter()
            .position(|(n, _)| n == name)
            .expect("a server of this herd")
    }

    fn addr(&self, name: &str) -> SocketAddr {
        self.servers[self.index(name)].1
    }

    fn node(&mut self, name: &str) -> &mut Running {
        let i = self.index(name);
        self.nodes[i].as_mut().expect("node is running")
    }

    /// Kills `name` with SIGKILL and reaps it.
    fn kill(&mut self, name: &str) {
        let i = self.index(name);
        let mut node = self.nodes[i].take().expect("node is running");
        let (status, _) = node.stop_with(Signal::SIGKILL);
        assert_eq!(
            status.signal(),
            Some(Signal::SIGKILL as i32),
            "{name}: {status}"
        );
    }

    /// Starts `name` again with the command it was first started with.
    fn restart(&mut self, name: &str) {
        let i = self.index(name);
        assert!(self.nodes[i].is_none(), "{name} is still running");
        self.nodes[i] = Some(Running::spawn(&mut self.command(name)));
    }
}

/// The process ids whose parent is `parent`, from `/proc/*/stat`.
fn children_of(parent: i32) -> Vec<i32> {
    let mut children = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("read /proc").flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // `pid (comm) state ppid ...`; comm may hold spaces and parentheses.
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<i32>().ok());
        if ppid == Some(parent) {
            children.push(pid);
        }
    }
    children
}

/// The start time of process `pid` (in clock ticks since boot: with the pid
/// it names one process, even if the pid is reused), while it exists,
/// zombie or not.
fn start_time(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after `(comm)` start at field 3 (state); starttime is field 22.
    let (_, rest) = stat.rsplit_once(')')?;
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// A child process of `herd up`, remembered so that the test can tell
/// whether it is still there, and kill it if `herd up` left it behind.
struct Orphan {
    pid: i32,
    start: u64,
    args: Vec<String>,
}

impl Orphan {
    fn is_there(&self) -> bool {
        start_time(self.pid) == Some(self.start)
    }
}

impl Drop for Orphan {
    fn drop(&mut self) {
        if self.is_there() {
            let _ = kill(Pid::from_raw(self.pid), Signal::SIGKILL);
        }
    }
}

/// The command line of process `pid`, if it exists.
fn cmdline(pid: i32) -> Option<Vec<String>> {
    let bytes = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    Some(
        bytes
            .split(|&b| b == 0)
            .filter(|arg| !arg.is_empty())
            .map(|arg| String::from_utf8_lossy(arg).into_owned())
            .collect(),
    )
}

/// The one line of a failure on stderr, checked: `herd: ...`, one line.
fn one_error_line(finished: &Finished) -> &str {
    let lines: Vec<&str> = finished.stderr.lines().collect();
    assert_eq!(
        lines.len(),
        1,
        "stderr is not one line: {:?}",
        finished.stderr
    );
    assert!(
        lines[0].starts_with("herd: ") && finished.stderr.ends_with('\n'),
        "stderr does not start with `herd: `: {:?}",
        finished.stderr
    );
    lines[0]
}

// ------------------------------------------------------------ 1. errors

/// A config that `herd node` must refuse.
struct BadConfig<'a> {
    what: &'static str,
    node: &'static str,
    /// Config text; `{ADDR}` becomes the address this test holds. `None`:
    /// a config path that does not exist.
    text: Option<&'a str>,
    /// `PLACES_API_KEY`: `None` unset, `Some(value)` set.
    key: Option<&'static str>,
    /// `HERD_TEST_SECRET`: `None` unset, `Some(value)` set.
    secret: Option<&'static str>,
    expected: &'static str,
}

const SECRET_CONFIG: &str =
    "[[server]]\nname = \"Clark\"\naddr = \"{ADDR}\"\n[herd]\nsecret_env = \"HERD_TEST_SECRET\"\n";

const CLARK: &str = "[[server]]\nname = \"Clark\"\naddr = \"{ADDR}\"\n";

#[test]
fn config_errors_exit_2_with_one_stderr_line_before_any_port_is_opened() {
    let dir = tempfile::tempdir().expect("temp dir");
    let google = format!("{CLARK}[places]\nprovider = \"google\"\n");
    let cases = [
        BadConfig {
            what: "unknown server name",
            node: "Nobody",
            text: Some(CLARK),
            key: None,
            secret: None,
            expected: "unknown server \"Nobody\" (servers: Clark)",
        },
        BadConfig {
            what: "a peer that is not a server",
            node: "Clark",
            text: Some(
                "[[server]]\nname = \"Clark\"\naddr = \"{ADDR}\"\npeers = [\"Jaquez\", \"Ghost\"]\n\
                 [[server]]\nname = \"Jaquez\"\naddr = \"127.0.0.1:9\"\n",
            ),
            key: None,
            secret: None,
            expected: "server \"Clark\": peer \"Ghost\" is not a server",
        },
        BadConfig {
            what: "a neighbour's address without a port",
            node: "Clark",
            text: Some(
                "[[server]]\nname = \"Clark\"\naddr = \"{ADDR}\"\npeers = [\"Jaquez\"]\n\
                 [[server]]\nname = \"Jaquez\"\naddr = \"127.0.0.1\"\n",
            ),
            key: None,
            secret: None,
            expected: "server \"Jaquez\": address \"127.0.0.1\" is not host:port",
        },
        BadConfig {
            what: "a neighbour's address with port 0",
            node: "Clark",
            text: Some(
                "[[server]]\nname = \"Clark\"\naddr = \"{ADDR}\"\npeers = [\"Jaquez\"]\n\
                 [[server]]\nname = \"Jaquez\"\naddr = \"localhost:0\"\n",
            ),
            key: None,
            secret: None,
            expected: "address \"localhost:0\" is not host:port",
        },
        BadConfig {
            what: "a neighbour's address with port 99999",
            node: "Clark",
            text: Some(
                "[[server]]\nname = \"Clark\"\naddr = \"{ADDR}\"\npeers = [\"Jaquez\"]\n\
                 [[server]]\nname = \"Jaquez\"\naddr = \"127.0.0.1:99999\"\n",
            ),
            key: None,
            secret: None,
            expected: "address \"127.0.0.1:99999\" is not host:port",
        },
        BadConfig {
            what: "the node's own address with port 0",
            node: "Clark",
            text: Some("[[server]]\nname = \"Clark\"\naddr = \"127.0.0.1:0\"\n"),
            key: None,
            secret: None,
            expected: "server \"Clark\": address \"127.0.0.1:0\" is not host:port",
        },
        BadConfig {
            what: "a missing config file",
            node: "Clark",
            text: None,
            key: None,
            secret: None,
            expected: "cannot read config",
        },
        BadConfig {
            what: "a TOML syntax error",
            node: "Clark",
            text: Some("[[server]\nname = \"Clark\"\naddr = \"{ADDR}\"\n"),
            key: None,
            secret: None,
            expected: "line 1, column",
        },
        BadConfig {
            what: "an unknown key",
            node: "Clark",
            text: Some("[[server]]\nname = \"Clark\"\naddr = \"{ADDR}\"\ncolour = \"blue\"\n"),
            key: None,
            secret: None,
            expected: "unknown field `colour`",
        },
        BadConfig {
            what: "google with PLACES_API_KEY unset",
            node: "Clark",
            text: Some(&google),
            key: None,
            secret: None,
            expected: "PLACES_API_KEY",
        },
        BadConfig {
            what: "google with PLACES_API_KEY empty",
            node: "Clark",
            text: Some(&google),
            key: Some(""),
            secret: None,
            expected: "PLACES_API_KEY",
        },
        BadConfig {
            what: "google-new with PLACES_API_KEY unset",
            node: "Clark",
            text: Some(
                "[[server]]\nname = \"Clark\"\naddr = \"{ADDR}\"\n\
                 [places]\nprovider = \"google-new\"\n",
            ),
            key: None,
            secret: None,
            expected: "[places] provider \"google-new\" needs an API key in PLACES_API_KEY",
        },
        BadConfig {
            what: "a herd secret whose variable is unset",
            node: "Clark",
            text: Some(SECRET_CONFIG),
            key: None,
            secret: None,
            expected: "[herd] secret_env: the environment variable HERD_TEST_SECRET \
                       is not set or is empty",
        },
        BadConfig {
            what: "a herd secret whose variable is empty",
            node: "Clark",
            text: Some(SECRET_CONFIG),
            key: None,
            secret: Some(""),
            expected: "HERD_TEST_SECRET is not set or is empty",
        },
    ];
    for (i, case) in cases.iter().enumerate() {
        // Held while the node runs: a node that bound its port before
        // checking its config would fail with exit 1, "cannot listen".
        let held = TcpListener::bind("127.0.0.1:0").expect("bind port 0");
        let addr = held.local_addr().expect("local addr");
        let path = match case.text {
            Some(text) => write_file(
                dir.path(),
                &format!("bad{i}.toml"),
                &text.replace("{ADDR}", &addr.to_string()),
            ),
            None => dir.path().join("no-such-herd.toml"),
        };
        let mut command = herd(dir.path());
        command
            .args(["node", case.node, "--config"])
            .arg(&path)
            .arg("--log-dir")
            .arg(dir.path().join(format!("logs{i}")));
        if let Some(key) = case.key {
            command.env("PLACES_API_KEY", key);
        }
        command.env_remove("HERD_TEST_SECRET");
        if let Some(secret) = case.secret {
            command.env("HERD_TEST_SECRET", secret);
        }
        let finished = Running::spawn(&mut command).finish();
        assert_eq!(
            finished.status.code(),
            Some(2),
            "{}: {finished:?}",
            case.what
        );
        let line = one_error_line(&finished);
        assert!(
            line.contains(case.expected),
            "{}: {line:?} does not say {:?}",
            case.what,
            case.expected
        );
        assert_eq!(finished.stdout, "", "{}", case.what);
        // (Checking that the port is free after the exit would race with
        // other tests' port-0 binds; holding it during the run proves more.)
        drop(held);
    }
}

#[test]
fn a_port_already_in_use_exits_1_with_one_stderr_line() {
    let dir = tempfile::tempdir().expect("temp dir");
    let held = TcpListener::bind("127.0.0.1:0").expect("bind port 0");
    let addr = held.local_addr().expect("local addr");
    let config = write_file(
        dir.path(),
        "herd.toml",
        &support::config_text(&[("Clark", addr, &[])], ""),
    );
    let config = config.to_str().expect("utf-8 path");
    let finished = run(dir.path(), &["node", "Clark", "--config", config]);
    assert_eq!(finished.status.code(), Some(1), "{finished:?}");
    let line = one_error_line(&finished);
    assert!(
        line.contains(&format!("cannot listen on {addr}")),
        "{line:?}"
    );
    // The port is still ours: nothing took it over.
    held.set_nonblocking(true).expect("nonblocking");
    assert!(accepts(addr), "the held port stopped accepting");
}

// ------------------------------------------------------------ 2. config

#[test]
fn herd_config_prints_the_default_herd_as_toml_a_node_can_start_from() {
    let dir = tempfile::tempdir().expect("temp dir");
    let finished = run(dir.path(), &["config"]);
    assert!(finished.status.success(), "{finished:?}");
    assert_eq!(finished.stderr, "");
    let text = finished.stdout;
    let parsed = Config::parse(&text, &Overrides::default())
        .unwrap_or_else(|e| panic!("`herd config` does not parse: {e}\n{text}"));
    let default = Config::default_herd();
    assert_eq!(parsed, default);
    assert_eq!(default.servers.len(), 5);

    // The printed file, moved to free ports, runs a node.
    for _ in 0..5 {
        let addrs = free_addrs(default.servers.len());
        let mut moved = text.clone();
        let mut expected = default.clone();
        for (server, addr) in expected.servers.iter_mut().zip(&addrs) {
            let quoted = format!("\"{}\"", server.addr);
            assert_eq!(moved.matches(&quoted).count(), 1, "{quoted} in:\n{text}");
            moved = moved.replace(&quoted, &format!("\"{addr}\""));
            server.addr = addr.to_string();
        }
        assert_eq!(
            Config::parse(&moved, &Overrides::default()).ok(),
            Some(expected),
            "only the addresses changed"
        );
        let path = write_file(dir.path(), "herd.toml", &moved);
        let clark = addrs[1];
        let mut node = Running::spawn(
            herd(dir.path())
                .args(["node", "Clark", "--config"])
                .arg(&path)
                .arg("--log-dir")
                .arg(dir.path().join("logs")),
        );
        eventually(START_DEADLINE, || accepts(clark) || node.exited().is_some());
        if node.exited().is_some() {
            let stderr = node.stderr.text();
            assert!(stderr.contains("cannot listen"), "{stderr}");
            continue; // the port was taken meanwhile
        }
        iamat(clark, "Clark", "kiwi.cs.ucla.edu", &time_text(0));
        let (status, _) = node.stop_with(Signal::SIGTERM);
        assert_eq!(status.code(), Some(0));
        return;
    }
    panic!("no free ports after 5 tries");
}

// -------------------------------------------------------------- 3. help

#[test]
fn every_help_exits_0_and_mentions_each_documented_flag() {
    let dir = tempfile::tempdir().expect("temp dir");
    let node_flags = [
        "--config",
        "--threads",
        "--log-dir",
        "--max-line-bytes",
        "--idle-timeout-ms",
        "--max-clients",
        "--write-timeout-ms",
        "--max-clock-ahead-ms",
        "--max-cached-clients",
        "--reconnect-min-ms",
        "--reconnect-max-ms",
        "--peer-garbage-lines",
        "--peer-queue",
        "--places-timeout-ms",
        "--help",
    ];
    let helps: [(&[&str], &[&str]); 5] = [
        (
            &["--help"],
            &["node", "up", "client", "config", "--version"],
        ),
        (&["node", "--help"], &node_flags),
        (
            &["up", "--help"],
            &["--config", "--threads", "--log-dir", "--exit-on-failure"],
        ),
        (
            &["client", "--help"],
            &["--config", "--timeout-ms", "<SERVER>", "[LINES]"],
        ),
        (&["config", "--help"], &["Usage: herd config"]),
    ];
    for (args, words) in helps {
        let finished = run(dir.path(), args);
        assert_eq!(
            finished.status.code(),
            Some(0),
            "herd {args:?}: {finished:?}"
        );
        assert!(finished.stdout.starts_with(|c: char| c.is_alphabetic()));
        for word in words {
            assert!(
                finished.stdout.contains(word),
                "`herd {}` does not mention {word}:\n{}",
                args.join(" "),
                finished.stdout
            );
        }
    }
    let version = run(dir.path(), &["--version"]);
    assert_eq!(version.status.code(), Some(0));
    assert_eq!(
        version.stdout,
        format!("herd {}\n", env!("CARGO_PKG_VERSION"))
    );
    // A bad command line is refused, with a non-zero exit.
    let unknown = run(dir.path(), &["node", "Clark", "--no-such-flag"]);
    assert_eq!(unknown.status.code(), Some(2), "{unknown:?}");
    assert!(unknown.stderr.contains("--no-such-flag"), "{unknown:?}");
}

// -------------------------------------------------------------- 4. node

/// Starts Clark alone, stops it with `signal`, and checks the exit.
fn stops_on(signal: Signal) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut nodes = NodeHerd::start(dir.path(), &[("Clark", &[])], &[]);
    let addr = nodes.addr("Clark");
    iamat(addr, "Clark", "kiwi.cs.ucla.edu", &time_text(0));
    let (status, took) = nodes.node("Clark").stop_with(signal);
    assert_eq!(status.code(), Some(0), "exit after {signal}: {status}");
    assert!(took <= STOP_WITHIN, "{signal} took {took:?}");
    assert!(!accepts(addr), "the port still accepts after the exit");
}

#[test]
fn sigterm_stops_a_lone_node_with_exit_0_within_2_s() {
    stops_on(Signal::SIGTERM);
}

#[test]
fn sigint_stops_a_lone_node_with_exit_0_within_2_s() {
    stops_on(Signal::SIGINT);
}

#[test]
fn sigterm_does_not_wait_for_an_idle_client_and_the_log_records_its_lines() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut nodes = NodeHerd::start(dir.path(), &[("Clark", &[])], &[]);
    let addr = nodes.addr("Clark");
    let time = time_text(0);
    let iamat_line = format!("IAMAT kiwi.cs.ucla.edu {KIWI_AT} {time}");
    let mut client = Client::connect(addr, DEADLINE).expect("connect");
    let me = client.stream().local_addr().expect("client address");
    let answer = client
        .request(iamat_line.as_bytes())
        .expect("answer")
        .expect("an answer to an IAMAT");
    let at = String::from_utf8(answer).expect("utf-8");
    let at = at.trim_end_matches('\n');
    assert!(at.starts_with("AT Clark "), "{at:?}");

    // The client stays connected and says nothing more (the idle timeout
    // is 60 s by default): the stop must not wait for it.
    let (status, took) = nodes.node("Clark").stop_with(Signal::SIGTERM);
    assert_eq!(status.code(), Some(0), "{status}");
    assert!(
        took <= STOP_WITHIN,
        "SIGTERM took {took:?} with a client connected"
    );

    let log_path = nodes.log_dir.join("Clark.log");
    let log = std::fs::read_to_string(&log_path)
        .unwrap_or_else(|e| panic!("{}: {e}", log_path.display()));
    let received = format!(" < {me} {iamat_line}");
    let sent = format!(" > {me} {at}");
    for entry in [&received, &sent] {
        assert!(
            log.lines().any(|l| l.ends_with(entry.as_str())),
            "{} has no line ending {entry:?}:\n{log}",
            log_path.display()
        );
    }
    // The idle client's worker was woken, not abandoned after a deadline.
    assert!(
        log.lines()
            .any(|l| l.contains("Clark stopped in") && l.contains(" 0 threads abandoned")),
        "no clean stop in:\n{log}"
    );
}

// ---------------------------------------------------------------- 5. up

/// A running `herd up`. Dropped while it runs (a failed test), it gets
/// SIGTERM first, so that it stops its children, and is killed only then.
struct Up(Running);

impl Drop for Up {
    fn drop(&mut self) {
        if self.0.exited().is_none() {
            let _ = kill(Pid::from_raw(self.0.pid()), Signal::SIGTERM);
            self.0.wait_exit(DEADLINE);
        }
    }
}

/// `herd up` on a free-port copy of `topology`, once it says the servers
/// answer; retries with new ports if one was taken meanwhile.
fn start_up(
    dir: &Path,
    topology: &[(&str, &[&str])],
    args: &[&str],
) -> (Up, Vec<SocketAddr>, PathBuf) {
    let log_dir = dir.join("up-logs");
    for _ in 0..5 {
        let addrs = free_addrs(topology.len());
        let servers: Vec<(&str, SocketAddr, &[&str])> = topology
            .iter()
            .zip(&addrs)
            .map(|((name, peers), addr)| (*name, *addr, *peers))
            .collect();
        let config = write_file(dir, "up.toml", &support::config_text(&servers, ""));
        let mut up = Up(Running::spawn(
            herd(dir)
                .arg("up")
                .arg("--config")
                .arg(&config)
                .arg("--log-dir")
                .arg(&log_dir)
                .args(args),
        ));
        let up_out = up.0.stdout.clone();
        let answering = eventually(START_DEADLINE, || {
            up_out.text().contains("answering") || up.0.exited().is_some()
        });
        assert!(answering, "herd up said nothing: {}", up_out.text());
        if up.0.exited().is_none() && up_out.text().contains("answering") {
            return (up, addrs, log_dir);
        }
        let stderr = up.0.stderr.text();
        assert!(
            stderr.contains("cannot listen"),
            "herd up failed: {}\n{stderr}",
            up_out.text()
        );
    }
    panic!("no free ports after 5 tries");
}

#[test]
fn herd_up_runs_every_server_and_sigterm_stops_them_all() {
    let dir = tempfile::tempdir().expect("temp dir");
    let topology: &[(&str, &[&str])] = &[
        ("Clark", &["Jaquez"]),
        ("Jaquez", &["Juzang"]),
        ("Juzang", &[]),
    ];
    let (mut up, addrs, log_dir) = start_up(dir.path(), topology, &[]);

    // Each child is `herd node NAME ...`.
    let children: Vec<Orphan> = children_of(up.0.pid())
        .into_iter()
        .filter_map(|pid| {
            Some(Orphan {
                pid,
                start: start_time(pid)?,
                args: cmdline(pid)?,
            })
        })
        .collect();
    assert_eq!(
        children.len(),
        3,
        "children of herd up: {:?}",
        children.iter().map(|c| &c.args).collect::<Vec<_>>()
    );
    for (name, _) in topology {
        assert!(
            children
                .iter()
                .any(|c| c.args.len() > 2 && c.args[1] == "node" && c.args[2] == *name),
            "no child runs `herd node {name}`"
        );
    }

    // One line per server (name, address, log file), then "answering".
    let stdout = up.0.stdout.text();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{stdout}");
    for (i, ((name, _), addr)) in topology.iter().zip(&addrs).enumerate() {
        let fields: Vec<&str> = lines[i].split_whitespace().collect();
        let log = log_dir.join(format!("{name}.log"));
        assert_eq!(
            fields,
            [*name, &addr.to_string(), &log.display().to_string()],
            "{stdout}"
        );
    }
    assert!(lines[3].contains("3 servers answering"), "{:?}", lines[3]);

    // Every server answers; an update at one is known at the others.
    for ((name, _), addr) in topology.iter().zip(&addrs) {
        iamat(*addr, name, &format!("client-of-{name}"), &time_text(0));
    }
    let at = iamat(addrs[0], "Clark", "kiwi.cs.ucla.edu", &time_text(0));
    for addr in &addrs[1..] {
        assert!(
            eventually(DEADLINE, || whatsat_shows(*addr, "kiwi.cs.ucla.edu", &at)),
            "{addr} never answered WHATSAT with {at:?}"
        );
    }
    for (name, _) in topology {
        assert!(
            log_dir.join(format!("{name}.log")).is_file(),
            "no log for {name}"
        );
    }

    // SIGTERM to `herd up` stops the herd: exit 0, every port free, no child left.
    let (status, took) = up.0.stop_with(Signal::SIGTERM);
    assert_eq!(status.code(), Some(0), "{status}: {}", up.0.stderr.text());
    assert!(took <= DEADLINE, "herd up took {took:?} to stop");
    for addr in &addrs {
        assert!(!accepts(*addr), "{addr} still accepts after herd up exited");
    }
    for child in &children {
        assert!(
            !child.is_there(),
            "child {} ({}) is still there after herd up exited",
            child.pid,
            child.args.join(" ")
        );
    }
    // No process holds the stdout pipe any more (children inherited it).
    assert!(
        eventually(DEADLINE, || up.0.stdout.is_closed()),
        "something still holds herd up's stdout"
    );
    assert!(
        up.0.stdout.text().contains("herd up: stopped"),
        "{}",
        up.0.stdout.text()
    );
}

/// How long a server killed under `herd up` may take to answer again.
const RESTART_WITHIN: Duration = Duration::from_secs(2);

/// The child of `herd up` that runs `herd node NAME`, if there is one.
fn child_running(up: i32, name: &str) -> Option<Orphan> {
    children_of(up).into_iter().find_map(|pid| {
        let args = cmdline(pid)?;
        // Built only for the match: a dropped `Orphan` kills its process.
        if args.len() > 2 && args[1] == "node" && args[2] == name {
            Some(Orphan {
                pid,
                start: start_time(pid)?,
                args,
            })
        } else {
            None
        }
    })
}

/// Every child of `herd up`, remembered.
fn children_of_up(up: i32) -> Vec<Orphan> {
    children_of(up)
        .into_iter()
        .filter_map(|pid| {
            Some(Orphan {
                pid,
                start: start_time(pid)?,
                args: cmdline(pid)?,
            })
        })
        .collect()
}

/// True if `addr` answers a line that every server refuses, `? LINE`.
fn answers_a_line(addr: SocketAddr) -> bool {
    try_ask(addr, "herd-cli-test-probe").as_deref() == Some("? herd-cli-test-probe\n")
}

#[test]
fn herd_up_restarts_a_child_killed_with_sigkill_within_2_s_and_says_so() {
    let dir = tempfile::tempdir().expect("temp dir");
    let topology: &[(&str, &[&str])] = &[("Clark", &["Jaquez"]), ("Jaquez", &[])];
    let (mut up, addrs, log_dir) = start_up(dir.path(), topology, &[]);
    let (clark, jaquez) = (addrs[0], addrs[1]);
    let first = child_running(up.0.pid(), "Clark").expect("a child runs `herd node Clark`");
    let kiwi = iamat(jaquez, "Jaquez", "kiwi.cs.ucla.edu", &time_text(0));

    let killed_at = Instant::now();
    kill(Pid::from_raw(first.pid), Signal::SIGKILL).expect("SIGKILL Clark");
    // Back and answering: the killed child reaped, a new one answering.
    let back = eventually(DEADLINE, || !first.is_there() && answers_a_line(clark));
    let took = killed_at.elapsed();
    assert!(back, "Clark did not come back: {}", up.0.stdout.text());
    assert!(
        took <= RESTART_WITHIN,
        "Clark answered again only {took:?} after the kill: {}",
        up.0.stdout.text()
    );
    let second = child_running(up.0.pid(), "Clark").expect("a new child runs Clark");
    assert_ne!(
        (second.pid, second.start),
        (first.pid, first.start),
        "the same process"
    );

    // herd up says so, on stdout and in Clark's own log.
    let said = eventually(DEADLINE, || {
        up.0.stdout
            .text()
            .contains("herd up: Clark restarted, answering")
    });
    let stdout = up.0.stdout.text();
    assert!(said, "{stdout}");
    assert!(
        stdout.contains("herd up: Clark exited on signal 9 (SIGKILL); restarting in 100ms\n"),
        "{stdout}"
    );
    let log = std::fs::read_to_string(log_dir.join("Clark.log")).expect("Clark's log");
    assert!(
        log.contains(" * herd up: Clark exited on signal 9 (SIGKILL); restarting in 100ms\n"),
        "{log}"
    );

    // The restarted Clark is a member of the herd again: Jaquez's dump
    // brings it what it had forgotten.
    assert!(
        eventually(DEADLINE, || whatsat_shows(clark, "kiwi.cs.ucla.edu", &kiwi)),
        "the restarted Clark never learned {kiwi:?}: {}",
        up.0.stdout.text()
    );

    // Stopping still stops everything, the restarted child included.
    let children = children_of_up(up.0.pid());
    let (status, _) = up.0.stop_with(Signal::SIGTERM);
    assert_eq!(status.code(), Some(0), "{status}: {}", up.0.stderr.text());
    for child in children.iter().chain([&first, &second]) {
        assert!(!child.is_there(), "{} is still there", child.args.join(" "));
    }
    assert!(up.0.stdout.text().ends_with("herd up: stopped\n"));
}

#[test]
fn herd_up_backs_off_a_child_that_fails_at_once_restarts_it_once_it_can_and_stops_during_a_wait() {
    let dir = tempfile::tempdir().expect("temp dir");
    let topology: &[(&str, &[&str])] = &[("Clark", &[]), ("Jaquez", &[])];
    let (mut up, addrs, _) = start_up(dir.path(), topology, &[]);
    let clark = addrs[0];
    let first = child_running(up.0.pid(), "Clark").expect("a child runs Clark");

    // Kill Clark and take its port before the restart (100 ms later).
    kill(Pid::from_raw(first.pid), Signal::SIGKILL).expect("SIGKILL Clark");
    let mut holder = None;
    eventually(DEADLINE, || {
        holder = TcpListener::bind(clark).ok();
        holder.is_some()
    });
    let holder = holder.expect("Clark's port free after the kill");

    // Each restart fails at its bind; the waits double, and the lines say
    // why (the child's own `cannot listen` on stderr).
    let backing_off = eventually(START_DEADLINE, || {
        up.0.stdout
            .text()
            .contains("herd up: Clark exited with code 1 before answering; restarting in 800ms")
    });
    let stdout = up.0.stdout.text();
    assert!(backing_off, "{stdout}");
    for wait in ["200ms", "400ms"] {
        assert!(
            stdout.contains(&format!(
                "herd up: Clark exited with code 1 before answering; restarting in {wait}\n"
            )),
            "{stdout}"
        );
    }
    assert!(!stdout.contains("restarting in 1.6s"), "{stdout}");
    assert!(
        up.0.stderr.text().contains("Clark: cannot listen on"),
        "{}",
        up.0.stderr.text()
    );
    assert!(up.0.exited().is_none(), "herd up gave up");

    // The port free again: the next restart answers.
    drop(holder);
    assert!(
        eventually(START_DEADLINE, || up
            .0
            .stdout
            .text()
            .contains("herd up: Clark restarted, answering")),
        "{}",
        up.0.stdout.text()
    );
    assert!(answers_a_line(clark));

    // Killed again after a short run: the backoff goes on (1.6 s, not
    // 100 ms), and SIGTERM during that wait stops at once, restarting
    // nothing.
    let second = child_running(up.0.pid(), "Clark").expect("a child runs Clark");
    kill(Pid::from_raw(second.pid), Signal::SIGKILL).expect("SIGKILL Clark");
    let waiting = eventually(DEADLINE, || {
        up.0.stdout
            .text()
            .contains("herd up: Clark exited on signal 9 (SIGKILL); restarting in 1.6s\n")
    });
    assert!(waiting, "{}", up.0.stdout.text());
    let (status, took) = up.0.stop_with(Signal::SIGTERM);
    assert_eq!(status.code(), Some(0), "{status}");
    assert!(
        took < Duration::from_millis(1200),
        "stopping during the 1.6 s wait took {took:?}"
    );
    assert!(child_running(up.0.pid(), "Clark").is_none());
    assert!(
        up.0.stdout
            .text()
            .ends_with("restarting in 1.6s\nherd up: stopped\n"),
        "{}",
        up.0.stdout.text()
    );
}

#[test]
fn herd_up_exit_on_failure_stops_the_herd_and_exits_1_when_a_child_is_killed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let topology: &[(&str, &[&str])] = &[
        ("Clark", &["Jaquez"]),
        ("Jaquez", &["Juzang"]),
        ("Juzang", &[]),
    ];
    let (mut up, addrs, _) = start_up(dir.path(), topology, &["--exit-on-failure"]);
    let children = children_of_up(up.0.pid());
    assert_eq!(
        children.len(),
        3,
        "{:?}",
        children.iter().map(|c| &c.args).collect::<Vec<_>>()
    );
    let clark = child_running(up.0.pid(), "Clark").expect("a child runs Clark");

    kill(Pid::from_raw(clark.pid), Signal::SIGKILL).expect("SIGKILL Clark");
    let status =
        up.0.wait_exit(DEADLINE)
            .unwrap_or_else(|| panic!("herd up still runs: {}", up.0.stdout.text()));
    assert_eq!(status.code(), Some(1), "{status}");
    let stdout = up.0.stdout.text();
    assert!(
        stdout.contains(
            "herd up: Clark exited on signal 9 (SIGKILL); --exit-on-failure: stopping the herd\n"
        ),
        "{stdout}"
    );
    assert!(!stdout.contains("restart"), "{stdout}");
    assert!(
        up.0.stderr
            .text()
            .ends_with("herd: the herd did not run cleanly\n"),
        "{}",
        up.0.stderr.text()
    );
    for child in &children {
        assert!(
            !child.is_there(),
            "{} is still there after herd up exited",
            child.args.join(" ")
        );
    }
    for addr in &addrs {
        assert!(!accepts(*addr), "{addr} still accepts");
    }
}

#[test]
fn herd_up_readiness_is_a_protocol_round_trip_not_a_connect() {
    let dir = tempfile::tempdir().expect("temp dir");
    // Something that accepts connections on Clark's address and never
    // answers: a bare connect counts it as Clark; the probe does not, and
    // Clark itself cannot bind.
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind port 0");
    let clark = listener.local_addr().expect("local addr");
    let heard = Arc::new(Mutex::new(Vec::new()));
    let heard_by_listener = Arc::clone(&heard);
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for mut stream in listener.incoming().flatten() {
            let _ = stream.set_read_timeout(Some(Duration::from_millis(100)));
            let mut buf = [0u8; 256];
            if let Ok(n) = stream.read(&mut buf) {
                heard_by_listener.lock().extend_from_slice(&buf[..n]);
            }
            held.push(stream); // never answered, never closed
        }
    });
    let config = write_file(
        dir.path(),
        "up.toml",
        &support::config_text(&[("Clark", clark, &[])], ""),
    );
    let finished = Running::spawn(
        herd(dir.path())
            .arg("up")
            .arg("--config")
            .arg(&config)
            .arg("--log-dir")
            .arg(dir.path().join("logs")),
    )
    .finish();
    assert_eq!(finished.status.code(), Some(1), "{finished:?}");
    assert!(!finished.stdout.contains("answering"), "{finished:?}");
    assert!(
        finished
            .stdout
            .contains("herd up: Clark exited with code 1 during start-up; stopping the herd\n"),
        "{finished:?}"
    );
    // What arrived was the probe line, not only a connect.
    let heard = String::from_utf8_lossy(&heard.lock()).into_owned();
    assert!(
        heard.contains(&format!("{}\n", herd::up::PROBE)),
        "{heard:?}"
    );
}

// ------------------------------------------------------------ 6. client

#[test]
fn herd_client_prints_answers_for_lines_from_arguments_or_stdin() {
    let dir = tempfile::tempdir().expect("temp dir");
    let nodes = NodeHerd::start(dir.path(), &[("Clark", &[])], &[]);
    let addr = nodes.addr("Clark").to_string();
    let config = nodes.config.to_str().expect("utf-8 path").to_owned();
    let time = time_text(0);
    let iamat_line = format!("IAMAT kiwi.cs.ucla.edu {KIWI_AT} {time}");

    // An IAMAT given as an argument: its AT line.
    let at_run = run(dir.path(), &["client", &addr, &iamat_line]);
    assert!(at_run.status.success(), "{at_run:?}");
    let at = at_run.stdout.clone();
    assert!(
        at.starts_with("AT Clark ")
            && at.ends_with(&format!(" kiwi.cs.ucla.edu {KIWI_AT} {time}\n"))
            && at.lines().count() == 1,
        "{at:?}"
    );

    // A WHATSAT: the AT line, the JSON, a blank line.
    let whatsat = run(
        dir.path(),
        &["client", &addr, "WHATSAT kiwi.cs.ucla.edu 10 3"],
    );
    assert!(whatsat.status.success(), "{whatsat:?}");
    let json = whatsat
        .stdout
        .strip_prefix(at.as_str())
        .unwrap_or_else(|| panic!("{:?} does not start with {at:?}", whatsat.stdout));
    let json = json
        .strip_suffix("\n\n")
        .unwrap_or_else(|| panic!("{:?} does not end with a blank line", whatsat.stdout));
    assert!(!json.contains("\n\n"), "{json:?}");
    let value: serde_json::Value = serde_json::from_str(json).expect("the answer's JSON");
    let results = value["results"].as_array().expect("results");
    assert!(!results.is_empty() && results.len() <= 3, "{json}");
    assert_eq!(value["status"], "OK", "{json}");

    // A server name, looked up in --config; several lines, in order.
    let by_name = run(
        dir.path(),
        &[
            "client",
            "Clark",
            "--config",
            &config,
            "WHATSAT kiwi.cs.ucla.edu 10 1",
            "WHATSAT nobody.example 10 1",
        ],
    );
    assert!(by_name.status.success(), "{by_name:?}");
    assert!(by_name.stdout.starts_with(&at), "{:?}", by_name.stdout);
    assert!(
        by_name
            .stdout
            .ends_with("\n\n? WHATSAT nobody.example 10 1\n"),
        "{:?}",
        by_name.stdout
    );

    // Lines from stdin, to its end.
    let mut piped = Running::spawn_with_stdin(herd(dir.path()).args(["client", &addr]));
    let later = time_text(1);
    let mut stdin = piped.process.child.stdin.take().expect("stdin is piped");
    write!(
        stdin,
        "IAMAT lime.example {KIWI_AT} {later}\r\nWHATSAT kiwi.cs.ucla.edu 10 1\n"
    )
    .expect("write to herd client");
    drop(stdin);
    let from_stdin = piped.finish();
    assert_eq!(from_stdin.status.code(), Some(0), "{from_stdin:?}");
    let mut answers = from_stdin.stdout.splitn(2, '\n');
    let first = answers.next().unwrap_or_default();
    let second = answers.next().unwrap_or_default();
    assert!(
        first.starts_with("AT Clark ")
            && first.ends_with(&format!(" lime.example {KIWI_AT} {later}")),
        "{:?}",
        from_stdin.stdout
    );
    assert!(
        second.starts_with(&at) && second.ends_with("\n\n"),
        "{:?}",
        from_stdin.stdout
    );
}

#[test]
fn herd_client_short_forms_fill_in_the_time_and_spell_the_line() {
    let dir = tempfile::tempdir().expect("temp dir");
    let nodes = NodeHerd::start(dir.path(), &[("Clark", &[])], &[]);
    let addr = nodes.addr("Clark").to_string();

    // `iamat ID LOCATION`: the current time is filled in, so the server's
    // time difference is small (the same clock, a process start apart).
    let iamat = run(dir.path(), &["client", &addr, "iamat", "kiwi", KIWI_AT]);
    assert!(iamat.status.success(), "{iamat:?}");
    let fields: Vec<&str> = iamat.stdout.split_whitespace().collect();
    assert_eq!(fields.len(), 6, "{:?}", iamat.stdout);
    assert_eq!(&fields[..2], ["AT", "Clark"], "{:?}", iamat.stdout);
    assert_eq!(&fields[3..5], ["kiwi", KIWI_AT], "{:?}", iamat.stdout);
    let diff: f64 = fields[2].parse().expect("a time difference");
    assert!(diff.abs() < 30.0, "the filled-in time is not now: {diff}");
    let (secs, nanos) = fields[5].split_once('.').expect("secs.nanos");
    assert!(secs.bytes().all(|b| b.is_ascii_digit()), "{}", fields[5]);
    assert_eq!(nanos.len(), 9, "nine digits: {}", fields[5]);

    // A location that starts with '-' is a value, not a flag.
    let south = run(
        dir.path(),
        &["client", &addr, "iamat", "sydney", "-33.865143+151.209900"],
    );
    assert!(south.status.success(), "{south:?}");
    assert!(south.stdout.starts_with("AT Clark "), "{:?}", south.stdout);
    assert!(
        south.stdout.contains(" sydney -33.865143+151.209900 "),
        "{:?}",
        south.stdout
    );

    // `whatsat ID RADIUS BOUND`: the AT line kept above, then the JSON.
    let whatsat = run(dir.path(), &["client", &addr, "whatsat", "kiwi", "10", "2"]);
    assert!(whatsat.status.success(), "{whatsat:?}");
    assert!(
        whatsat.stdout.starts_with(&iamat.stdout),
        "{:?}",
        whatsat.stdout
    );
    assert!(whatsat.stdout.ends_with("\n\n"), "{:?}", whatsat.stdout);

    // A short form with the wrong number of words: one line, exit 2.
    let wrong = run(dir.path(), &["client", &addr, "iamat", "kiwi"]);
    assert_eq!(wrong.status.code(), Some(2), "{wrong:?}");
    assert_eq!(
        wrong.stderr,
        "herd: iamat: takes 2 words (iamat ID LOCATION), not 1\n"
    );
    assert!(wrong.stdout.is_empty(), "{wrong:?}");
}

#[test]
fn herd_client_to_a_port_with_nothing_listening_exits_1_with_one_line() {
    let dir = tempfile::tempdir().expect("temp dir");
    let addr = support::free_addr().to_string();
    let finished = run(
        dir.path(),
        &["client", &addr, "IAMAT kiwi +34.068930-118.445127 1"],
    );
    assert_eq!(finished.status.code(), Some(1), "{finished:?}");
    let line = one_error_line(&finished);
    assert!(
        line.contains(&format!("cannot connect to {addr}")),
        "{line:?}"
    );
    assert_eq!(finished.stdout, "");
}

// -------------------------------------------------------- 7. resilience

#[test]
fn a_killed_node_is_survived_and_restarted_it_catches_up_within_2_s() {
    let dir = tempfile::tempdir().expect("temp dir");
    // A triangle: with one node down the other two are still linked.
    let topology: &[(&str, &[&str])] = &[
        ("Clark", &["Jaquez"]),
        ("Jaquez", &["Juzang"]),
        ("Juzang", &["Clark"]),
    ];
    let mut nodes = NodeHerd::start(dir.path(), topology, &["--threads", "4"]);
    let clark = nodes.addr("Clark");
    let jaquez = nodes.addr("Jaquez");
    let juzang = nodes.addr("Juzang");

    // An IAMAT at Clark reaches all.
    let kiwi = iamat(clark, "Clark", "kiwi.cs.ucla.edu", &time_text(0));
    for addr in [clark, jaquez, juzang] {
        assert!(
            eventually(DEADLINE, || whatsat_shows(addr, "kiwi.cs.ucla.edu", &kiwi)),
            "{addr} never learned {kiwi:?}"
        );
    }

    // Clark dies; the other two go on, and still reach each other.
    nodes.kill("Clark");
    assert!(!accepts(clark), "Clark's port still accepts after SIGKILL");
    for addr in [jaquez, juzang] {
        assert!(whatsat_shows(addr, "kiwi.cs.ucla.edu", &kiwi), "{addr}");
    }
    let lime = iamat(jaquez, "Jaquez", "lime.example", &time_text(0));
    let kiwi = {
        // A newer location for kiwi, given to Juzang.
        let newer = iamat(juzang, "Juzang", "kiwi.cs.ucla.edu", &time_text(1));
        assert_ne!(newer, kiwi);
        newer
    };
    assert!(
        eventually(DEADLINE, || whatsat_shows(juzang, "lime.example", &lime)),
        "Juzang never learned {lime:?}"
    );
    assert!(
        eventually(DEADLINE, || whatsat_shows(
            jaquez,
            "kiwi.cs.ucla.edu",
            &kiwi
        )),
        "Jaquez never learned {kiwi:?}"
    );
    let known = [
        ("kiwi.cs.ucla.edu", kiwi.as_str()),
        ("lime.example", lime.as_str()),
    ];

    // Clark comes back with the same command and an empty cache: once its
    // port accepts, it answers for every client within 2 s.
    nodes.restart("Clark");
    let up = eventually(START_DEADLINE, || {
        accepts(clark) || nodes.node("Clark").exited().is_some()
    });
    let accepted_at = Instant::now();
    assert!(
        up && accepts(clark),
        "Clark did not come back: {}",
        nodes.node("Clark").stderr.text()
    );
    let mut missing: Vec<(&str, &str)> = known.to_vec();
    while !missing.is_empty() && accepted_at.elapsed() <= DEADLINE {
        missing.retain(|(client, at)| !whatsat_shows(clark, client, at));
        if !missing.is_empty() {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    let took = accepted_at.elapsed();
    assert!(missing.is_empty(), "Clark never learned {missing:?}");
    assert!(
        took <= CATCH_UP_WITHIN,
        "Clark caught up only after {took:?}"
    );

    // And its own updates reach the others again.
    let fig = iamat(clark, "Clark", "fig.example", &time_text(2));
    for addr in [jaquez, juzang] {
        assert!(
            eventually(DEADLINE, || whatsat_shows(addr, "fig.example", &fig)),
            "{addr} never learned {fig:?} from the restarted Clark"
        );
    }
}

#[test]
fn the_places_key_stays_out_of_stderr_and_the_log_even_at_trace_level() {
    use crate::support::places_stub::{Behaviour, PlacesStub, legacy_ok_body};
    const KEY: &str = "SECRET-KEY-4d1f9c";
    let dir = tempfile::tempdir().expect("temp dir");
    let stub = PlacesStub::start(Behaviour::Json(legacy_ok_body(3)));
    for _ in 0..5 {
        let addr = free_addrs(1)[0];
        let extra = format!(
            "[places]\nprovider = \"google\"\nurl = \"{}\"\n",
            stub.url()
        );
        let config = support::config_text(&[("Clark", addr, &[])], &extra);
        let path = write_file(dir.path(), "herd.toml", &config);
        let mut node = Running::spawn(
            herd(dir.path())
                .env("RUST_LOG", "trace")
                .env("PLACES_API_KEY", KEY)
                .args(["node", "Clark", "--log-dir", "logs", "--config"])
                .arg(&path),
        );
        if !eventually(DEADLINE, || {
            support::accepts(addr) || node.exited().is_some()
        }) || node.exited().is_some()
        {
            continue; // the port was taken meanwhile
        }
        iamat(addr, "Clark", "key.example", &support::now_text());
        let answer = ask(addr, "WHATSAT key.example 10 2");
        assert!(answer.contains("\"status\" : \"OK\""), "{answer}");
        assert!(
            stub.requests().iter().any(|r| r.contains(KEY)),
            "the key was sent to Places"
        );
        let (status, _) = node.stop_with(Signal::SIGTERM);
        assert!(status.success());
        let finished = node.finish();
        let log = std::fs::read_to_string(dir.path().join("logs/Clark.log")).expect("log");
        assert!(
            log.contains("WHATSAT key.example"),
            "the log records the request"
        );
        assert!(
            !finished.stderr.contains(KEY),
            "key on stderr:\n{}",
            finished.stderr
        );
        assert!(!finished.stdout.contains(KEY));
        assert!(!log.contains(KEY) && !answer.contains(KEY));
        return;
    }
    panic!("no free port after 5 tries");
}
