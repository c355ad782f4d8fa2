//! One server of `herd up` as a child process: how it is started (`herd
//! node NAME ...`, this same binary), reaped, described when it exits, and
//! stopped. Kept apart from the supervisor's decisions so that both the
//! start-up and the supervision loop drive children the same way.

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant, SystemTime};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::limits::UP_CHILD_STOP_DEADLINE;

/// How `herd up` was asked to run the herd.
#[derive(Debug, Clone)]
pub struct UpOptions {
    /// The `herd` binary to start each node with.
    pub exe: PathBuf,
    pub config_path: Option<PathBuf>,
    pub threads: Option<usize>,
    pub log_dir: PathBuf,
    /// On the first unexpected exit of a child, stop the herd and exit 1
    /// instead of restarting it.
    pub exit_on_failure: bool,
}

/// A server of the config and its child process, while one runs.
#[derive(Debug)]
pub struct Server {
    pub name: String,
    pub addr: String,
    pub child: Option<Child>,
}

impl Server {
    pub fn new(name: &str, addr: &str) -> Server {
        Server {
            name: name.to_owned(),
            addr: addr.to_owned(),
            child: None,
        }
    }

    /// Starts `herd node NAME --log-dir DIR [--config F] [--threads N]`,
    /// with stdin closed and stdout and stderr those of `herd up`.
    pub fn spawn(&mut self, options: &UpOptions) -> io::Result<()> {
        let mut command = Command::new(&options.exe);
        command
            .arg("node")
            .arg(&self.name)
            .arg("--log-dir")
            .arg(&options.log_dir);
        if let Some(path) = &options.config_path {
            command.arg("--config").arg(path);
        }
        if let Some(threads) = options.threads {
            command.arg("--threads").arg(threads.to_string());
        }
        self.child = Some(command.stdin(Stdio::null()).spawn()?);
        Ok(())
    }

    /// The exit status of the child if it has exited (reaping it).
    pub fn exited(&mut self) -> Option<ExitStatus> {
        let status = self.child.as_mut()?.try_wait().ok()??;
        self.child = None;
        Some(status)
    }

    /// SIGKILL to the child, and reaps it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Appends a notice to the server's own log file, in the log's format
    /// (`<time> * <text>`, PROTOCOL §4). Only called while no child of this
    /// server runs, so that no entry of the node's can be cut in two; a log
    /// that cannot be written only loses the notice.
    pub fn note_in_log(&self, log_dir: &Path, text: &str) {
        if self.child.is_some() {
            return;
        }
        let entry = format!(
            "{} * {}\n",
            humantime::format_rfc3339_micros(SystemTime::now()),
            text.escape_default()
        );
        if let Ok(mut file) = OpenOptions::new()
            .append(true)
            .create(true)
            .open(log_path(log_dir, &self.name))
        {
            let _ = file.write_all(entry.as_bytes());
        }
    }
}

/// How a child ended, for a line of `herd up`: `with code 1` or
/// `on signal 9 (SIGKILL)`.
pub fn describe(status: ExitStatus) -> String {
    if let Some(code) = status.code() {
        return format!("with code {code}");
    }
    match status.signal() {
        Some(number) => match Signal::try_from(number) {
            Ok(signal) => format!("on signal {number} ({})", signal.as_str()),
            Err(_) => format!("on signal {number}"),
        },
        None => format!("({status})"),
    }
}

/// A wait for a line of `herd up`: `100ms`, `1.6s`, `5s`.
pub fn show(wait: Duration) -> String {
    let ms = wait.as_millis();
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{:.1}s", wait.as_secs_f64())
    }
}

/// SIGTERM to every child, then SIGKILL to those still running after
/// [`UP_CHILD_STOP_DEADLINE`]; every child is reaped.
pub fn stop_all(servers: &mut [Server], out: &mut dyn Write) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_are_shown_short() {
        let shown: Vec<String> = [100, 800, 1000, 1600, 3200, 5000]
            .into_iter()
            .map(|ms| show(Duration::from_millis(ms)))
            .collect();
        assert_eq!(shown, ["100ms", "800ms", "1s", "1.6s", "3.2s", "5s"]);
    }

    #[test]
    fn exits_are_described_by_code_or_signal() {
        assert_eq!(describe(ExitStatus::from_raw(1 << 8)), "with code 1");
        assert_eq!(describe(ExitStatus::from_raw(9)), "on signal 9 (SIGKILL)");
    }
}
