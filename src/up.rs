//! `herd up`: runs every server of a config as a child process.
//!
//! Input is a validated config and the options `herd up` was given; each
//! server becomes `herd node NAME ...` (this same binary), one line per
//! server is printed (name, address, log file), and when the stop latch
//! fires (Ctrl-C or SIGTERM) every child gets SIGTERM, then SIGKILL if it
//! has not exited within [`UP_CHILD_STOP_DEADLINE`](crate::limits::UP_CHILD_STOP_DEADLINE).

use std::io::{self, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::config::Config;
use crate::limits::{UP_CHILD_STOP_DEADLINE, UP_READY_DEADLINE};
use crate::shutdown::Shutdown;

/// How `herd up` was asked to run the herd.
#[derive(Debug, Clone)]
pub struct UpOptions {
    /// The `herd` binary to start each node with.
    pub exe: PathBuf,
    pub config_path: Option<PathBuf>,
    pub threads: Option<usize>,
    pub log_dir: PathBuf,
}

struct Server {
    name: String,
    addr: String,
    child: Option<Child>,
}

/// Runs the herd until `stop` fires; returns the process exit code.
pub fn run(config: &Config, options: &UpOptions, stop: &Shutdown, out: &mut dyn Write) -> i32 {
    let mut servers = Vec::new();
    for server in &config.servers {
        let child = match spawn(options, &server.name) {
            Ok(child) => child,
            Err(e) => {
                let _ = writeln!(out, "herd up: cannot start {}: {e}", server.name);
                stop_all(&mut servers, out);
                return 1;
            }
        };
        let log = log_path(&options.log_dir, &server.name);
        let _ = writeln!(
            out,
            "{:<10} {:<22} {}",
            server.name,
            server.addr,
            log.display()
        );
        servers.push(Server {
            name: server.name.clone(),
            addr: server.addr.clone(),
            child: Some(child),
        });
    }
    if let Err(message) = wait_until_ready(&mut servers, stop) {
        let _ = writeln!(out, "herd up: {message}; stopping the herd");
        stop_all(&mut servers, out);
        return 1;
    }
    let _ = writeln!(
        out,
        "herd up: {} servers answering; Ctrl-C stops them",
        servers.len()
    );
    let _ = out.flush();
    while !stop.wait(Duration::from_millis(200)) {
        for server in &mut servers {
            if let Some(status) = exited(server) {
                let _ = writeln!(out, "herd up: {} exited ({status})", server.name);
                let _ = out.flush();
            }
        }
        if servers.iter().all(|s| s.child.is_none()) {
            let _ = writeln!(out, "herd up: every server has exited");
            return 1;
        }
    }
    stop_all(&mut servers, out);
    let _ = writeln!(out, "herd up: stopped");
    0
}

fn spawn(options: &UpOptions, name: &str) -> io::Result<Child> {
    let mut command = Command::new(&options.exe);
    command
        .arg("node")
        .arg(name)
        .arg("--log-dir")
        .arg(&options.log_dir);
    if let Some(path) = &options.config_path {
        command.arg("--config").arg(path);
    }
    if let Some(threads) = options.threads {
        command.arg("--threads").arg(threads.to_string());
    }
    command.stdin(Stdio::null()).spawn()
}

/// Polls until every server accepts a connection, a child exits, the
/// deadline passes, or the stop latch fires.
fn wait_until_ready(servers: &mut [Server], stop: &Shutdown) -> Result<(), String> {
    let deadline = Instant::now() + UP_READY_DEADLINE;
    let mut waiting: Vec<usize> = (0..servers.len()).collect();
    while !waiting.is_empty() {
        if stop.is_triggered() {
            return Err("stopped while starting".into());
        }
        for &i in &waiting {
            if let Some(status) = exited(&mut servers[i]) {
                return Err(format!(
                    "{} exited during start-up ({status})",
                    servers[i].name
                ));
            }
        }
        waiting.retain(|&i| !accepts(&servers[i].addr));
        if Instant::now() > deadline {
            return Err(format!(
                "{} did not start answering in time",
                servers[waiting[0]].name
            ));
        }
        if !waiting.is_empty() {
            stop.wait(Duration::from_millis(20));
        }
    }
    Ok(())
}

fn accepts(addr: &str) -> bool {
    let Ok(mut addrs) = addr.to_socket_addrs() else {
        return false;
    };
    addrs.any(|a| TcpStream::connect_timeout(&a, Duration::from_millis(200)).is_ok())
}

/// The exit status of a server's child if it has exited (reaping it).
fn exited(server: &mut Server) -> Option<ExitStatus> {
    let status = server.child.as_mut()?.try_wait().ok()??;
    server.child = None;
    Some(status)
}

/// SIGTERM to every child, then SIGKILL to those still running after the
/// deadline.
fn stop_all(servers: &mut [Server], out: &mut dyn Write) {
    for server in servers.iter() {
        if let Some(child) = &server.child
            && let Ok(pid) = i32::try_from(child.id())
        {
            let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
        }
    }
    let deadline = Instant::now() + UP_CHILD_STOP_DEADLINE;
    for server in servers.iter_mut() {
        let Some(child) = server.child.as_mut() else {
            continue;
        };
        loop {
            match child.try_wait() {
                Ok(Some(_)) | Err(_) => break,
                Ok(None) if Instant::now() >= deadline => {
                    let _ = writeln!(out, "herd up: {} did not stop in time; killed", server.name);
                    let _ = child.kill();
                    let _ = child.wait();
                    break;
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            }
        }
        server.child = None;
    }
}

/// The log file `herd node NAME --log-dir DIR` writes.
pub fn log_path(log_dir: &Path, name: &str) -> PathBuf {
    log_dir.join(format!("{name}.log"))
}
