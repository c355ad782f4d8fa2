//! Child processes: every one is started in a process group of its own, its
//! output collected by reader threads (or sent to a file, or dropped), and
//! stopped with SIGTERM to the group, then SIGKILL after a grace period;
//! dropping a [`Proc`] stops it, so a test or a run that fails never leaves
//! a server behind. A registry of live groups lets a Ctrl-C handler stop
//! them all at once ([`signal_live`]), and one process-wide cancel flag
//! ([`cancel`]) makes every wait give up early.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

/// Process groups (= leader pids) of the children still running.
static LIVE: Mutex<BTreeSet<i32>> = Mutex::new(BTreeSet::new());
/// Set once the process is asked to stop (Ctrl-C): every wait gives up.
static CANCEL: OnceLock<Arc<AtomicBool>> = OnceLock::new();

/// Lines of a child's stdout or stderr kept (the last ones).
const KEEP_LINES: usize = 400;

/// The process-wide cancel flag, for `signal_hook::flag::register`.
pub fn cancel_flag() -> Arc<AtomicBool> {
    CANCEL
        .get_or_init(|| Arc::new(AtomicBool::new(false)))
        .clone()
}

/// Makes every wait of this crate (and of its callers that check
/// [`cancelled`]) give up with "interrupted".
pub fn cancel() {
    cancel_flag().store(true, Ordering::SeqCst);
}

pub fn cancelled() -> bool {
    CANCEL.get().is_some_and(|f| f.load(Ordering::SeqCst))
}

/// Fails with "interrupted" once [`cancel`] was called.
pub fn check_cancelled() -> Result<()> {
    if cancelled() {
        bail!("interrupted");
    }
    Ok(())
}

fn live() -> MutexGuard<'static, BTreeSet<i32>> {
    LIVE.lock().unwrap_or_else(PoisonError::into_inner)
}

fn signal_group(pgid: i32, signal: Signal) {
    // ESRCH (already gone) is fine.
    let _ = killpg(Pid::from_raw(pgid), signal);
}

/// Sends `signal` to the group of every child still running (a Ctrl-C
/// handler: SIGTERM to all at once, later SIGKILL to what is left).
pub fn signal_live(signal: Signal) {
    let groups: Vec<i32> = live().iter().copied().collect();
    for g in groups {
        signal_group(g, signal);
    }
}

/// Where a child's stdout or stderr goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Kept in memory by a reader thread (the last 400 lines).
    Capture,
    /// Appended to a file (which survives the child: a harness keeps the
    /// stderr of a server that failed).
    AppendTo(PathBuf),
    Null,
}

/// A command line as run: an optional prefix (`taskset -c 0`, `ip netns
/// exec NS`), the program and its arguments, environment changes, and where
/// its output goes.
#[derive(Debug, Clone)]
pub struct Spec {
    pub name: String,
    pub prefix: Vec<String>,
    pub program: String,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub env_remove: Vec<String>,
    pub stdin_piped: bool,
    pub stdout: Output,
    pub stderr: Output,
    /// How long SIGTERM is given before SIGKILL when dropped (0: SIGKILL).
    pub grace: Duration,
}

impl Spec {
    pub fn new(name: &str, program: impl Into<String>) -> Spec {
        Spec {
            name: name.to_owned(),
            prefix: Vec::new(),
            program: program.into(),
            args: Vec::new(),
            env: Vec::new(),
            env_remove: Vec::new(),
            stdin_piped: false,
            stdout: Output::Capture,
            stderr: Output::Capture,
            grace: Duration::from_secs(3),
        }
    }

    pub fn arg(mut self, a: impl Into<String>) -> Spec {
        self.args.push(a.into());
        self
    }

    pub fn args<I, S>(mut self, items: I) -> Spec
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args.extend(items.into_iter().map(Into::into));
        self
    }

    pub fn env(mut self, k: &str, v: &str) -> Spec {
        self.env.push((k.to_owned(), v.to_owned()));
        self
    }

    /// Runs the program behind `taskset -c LIST` when `cpus` is given.
    pub fn pinned(mut self, cpus: Option<&str>) -> Spec {
        self.prefix = taskset(cpus);
        self
    }

    /// Keeps a pipe to the child's stdin (closing it asks some to stop).
    pub fn stdin_piped(mut self) -> Spec {
        self.stdin_piped = true;
        self
    }

    /// The argv actually executed (the prefix first).
    pub fn argv(&self) -> Vec<String> {
        let mut v = self.prefix.clone();
        v.push(self.program.clone());
        v.extend(self.args.iter().cloned());
        v
    }

    /// The command as one shell-like line: `K=V ... argv`.
    pub fn line(&self) -> String {
        let mut parts: Vec<String> = self.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        parts.extend(self.argv().iter().map(|a| shell_quote(a)));
        parts.join(" ")
    }
}

/// The prefix `taskset -c LIST` that pins a program to `cpus` (none when
/// `cpus` is `None`).
pub fn taskset(cpus: Option<&str>) -> Vec<String> {
    cpus.map_or_else(Vec::new, |c| {
        vec!["taskset".to_owned(), "-c".to_owned(), c.to_owned()]
    })
}

fn shell_quote(a: &str) -> String {
    if !a.is_empty()
        && a.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./=:,+@".contains(&b))
    {
        a.to_owned()
    } else {
        format!("'{}'", a.replace('\'', "'\\''"))
    }
}

/// Lines read from one of a child's streams (the last [`KEEP_LINES`]).
#[derive(Clone, Default)]
pub struct Lines(Arc<Mutex<Vec<String>>>);

impl Lines {
    fn push(&self, line: String) {
        let mut v = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if v.len() >= KEEP_LINES {
            v.remove(0);
        }
        v.push(line);
    }

    pub fn snapshot(&self) -> Vec<String> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub fn find(&self, pred: &dyn Fn(&str) -> bool) -> Option<String> {
        self.snapshot().into_iter().find(|l| pred(l))
    }

    pub fn tail(&self, n: usize) -> String {
        let v = self.snapshot();
        v[v.len().saturating_sub(n)..].join("\n")
    }
}

fn read_lines(stream: impl Read + Send + 'static, lines: Lines) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        let mut reader = BufReader::new(stream);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match reader.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => lines.push(String::from_utf8_lossy(&buf).trim_end().to_owned()),
            }
        }
    })
}

fn stdio_of(out: &Output) -> Result<Stdio> {
    Ok(match out {
        Output::Capture => Stdio::piped(),
        Output::Null => Stdio::null(),
        Output::AppendTo(path) => File::options()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("cannot open {}", path.display()))?
            .into(),
    })
}

/// A running child in its own process group; stopped on drop.
pub struct Proc {
    pub name: String,
    child: Child,
    pub stdin: Option<ChildStdin>,
    pub stdout: Lines,
    pub stderr: Lines,
    stderr_file: Option<PathBuf>,
    readers: Vec<thread::JoinHandle<()>>,
    status: Option<ExitStatus>,
    grace: Duration,
}

impl Proc {
    /// Starts `spec` in a new process group, with `cwd` as its directory.
    pub fn spawn(spec: &Spec, cwd: &Path) -> Result<Proc> {
        check_cancelled()?;
        let argv = spec.argv();
        let mut cmd = Command::new(&argv[0]);
        cmd.args(&argv[1..])
            .current_dir(cwd)
            .stdin(if spec.stdin_piped {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(stdio_of(&spec.stdout)?)
            .stderr(stdio_of(&spec.stderr)?)
            .process_group(0);
        for k in &spec.env_remove {
            cmd.env_remove(k);
        }
        for (k, v) in &spec.env {
            cmd.env(k, v);
        }
        let mut child = spawn_retrying_busy(&mut cmd)
            .with_context(|| format!("cannot start {}", spec.line()))?;
        live().insert(child.id() as i32);
        let stdout = Lines::default();
        let stderr = Lines::default();
        let mut readers = Vec::new();
        if let Some(out) = child.stdout.take() {
            readers.push(read_lines(out, stdout.clone()));
        }
        if let Some(err) = child.stderr.take() {
            readers.push(read_lines(err, stderr.clone()));
        }
        let stdin = child.stdin.take();
        Ok(Proc {
            name: spec.name.clone(),
            child,
            stdin,
            stdout,
            stderr,
            stderr_file: match &spec.stderr {
                Output::AppendTo(p) => Some(p.clone()),
                _ => None,
            },
            readers,
            status: None,
            grace: spec.grace,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The last `n` lines of its stderr (captured or in its file).
    pub fn stderr_tail(&self, n: usize) -> String {
        match &self.stderr_file {
            Some(path) => {
                let text = std::fs::read_to_string(path).unwrap_or_default();
                let lines: Vec<&str> = text.lines().collect();
                lines[lines.len().saturating_sub(n)..].join("\n")
            }
            None => self.stderr.tail(n),
        }
    }

    /// The exit status, if it has exited.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        if self.status.is_none()
            && let Ok(Some(s)) = self.child.try_wait()
        {
            self.status = Some(s);
            live().remove(&(self.child.id() as i32));
        }
        self.status
    }

    /// Waits until a captured line of stdout (or stderr) matches, the child
    /// exits, or `limit` passes.
    pub fn wait_line(
        &mut self,
        on_stderr: bool,
        limit: Duration,
        pred: &dyn Fn(&str) -> bool,
    ) -> Result<String> {
        let deadline = Instant::now() + limit;
        loop {
            let lines = if on_stderr {
                &self.stderr
            } else {
                &self.stdout
            };
            if let Some(l) = lines.find(pred) {
                return Ok(l);
            }
            if let Some(s) = self.exited() {
                // The readers may still hold the last lines.
                thread::sleep(Duration::from_millis(50));
                let lines = if on_stderr {
                    &self.stderr
                } else {
                    &self.stdout
                };
                if let Some(l) = lines.find(pred) {
                    return Ok(l);
                }
                bail!(
                    "{} exited ({s}) before it was ready: {}",
                    self.name,
                    self.stderr_tail(8)
                );
            }
            check_cancelled()?;
            if Instant::now() >= deadline {
                bail!(
                    "{} not ready after {limit:?}: {}",
                    self.name,
                    self.stderr_tail(8)
                );
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits up to `limit` for the child to exit by itself (then stops it
    /// and fails) and returns its exit status.
    pub fn wait_exit(&mut self, limit: Duration) -> Result<ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(s) = self.exited() {
                return Ok(s);
            }
            if cancelled() || Instant::now() >= deadline {
                let was_cancelled = cancelled();
                self.stop(self.grace);
                if was_cancelled {
                    bail!("interrupted");
                }
                bail!(
                    "{} still running after {limit:?}: {}",
                    self.name,
                    self.stderr_tail(8)
                );
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// [`wait_exit`](Self::wait_exit), then its whole captured stdout.
    pub fn wait_output(mut self, limit: Duration) -> Result<(ExitStatus, String)> {
        let status = self.wait_exit(limit)?;
        for r in self.readers.drain(..) {
            let _ = r.join();
        }
        Ok((status, self.stdout.snapshot().join("\n")))
    }

    /// Sends `signal` to its process group (SIGSTOP / SIGCONT a server).
    pub fn signal(&self, signal: Signal) -> Result<()> {
        if self.status.is_some() {
            bail!("{} is not running", self.name);
        }
        killpg(Pid::from_raw(self.child.id() as i32), signal)
            .with_context(|| format!("cannot send {signal} to {}", self.name))
    }

    /// SIGTERM to the group, SIGKILL after `grace` (at once when zero);
    /// waits for the leader.
    pub fn stop(&mut self, grace: Duration) {
        let pgid = self.child.id() as i32;
        self.stdin = None;
        if self.exited().is_none() && !grace.is_zero() {
            signal_group(pgid, Signal::SIGTERM);
            // A stopped (SIGSTOP) process acts on SIGTERM only once resumed.
            signal_group(pgid, Signal::SIGCONT);
            let deadline = Instant::now() + grace;
            while self.exited().is_none() && Instant::now() < deadline {
                thread::sleep(Duration::from_millis(10));
            }
        }
        // Whatever is left of the group (a launcher's helper) goes too.
        signal_group(pgid, Signal::SIGKILL);
        if self.status.is_none() {
            self.status = self.child.wait().ok();
        }
        live().remove(&pgid);
    }

    /// SIGKILL to the group at once, and reap it.
    pub fn kill(&mut self) {
        self.stop(Duration::ZERO);
    }

    /// Closes stdin (some children stop at its EOF).
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.stop(self.grace);
    }
}

/// Stops several children at once: SIGTERM to all, then each is waited for
/// (SIGKILL after `grace`).
pub fn stop_all(procs: &mut [Proc], grace: Duration) {
    if !grace.is_zero() {
        for p in procs.iter_mut() {
            if p.exited().is_none() {
                signal_group(p.pid() as i32, Signal::SIGTERM);
            }
        }
    }
    for p in procs.iter_mut() {
        p.stop(grace);
    }
}

/// Spawns `cmd`, trying again a few times on "text file busy" (ETXTBSY):
/// an executable just written (a test's script) is busy while any process
/// forked meanwhile, by another thread, still holds the writing descriptor
/// between its fork and its exec. The window is short, so a few retries
/// with a short pause end it.
fn spawn_retrying_busy(cmd: &mut Command) -> std::io::Result<Child> {
    const ETXTBSY: i32 = 26;
    let mut tries = 0;
    loop {
        match cmd.spawn() {
            Err(e) if e.raw_os_error() == Some(ETXTBSY) && tries < 20 => {
                tries += 1;
                thread::sleep(Duration::from_millis(10));
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_child_is_started_read_and_stopped() {
        let spec = Spec::new("sh", "sh").args(["-c", "echo ready; sleep 30"]);
        let dir = std::env::temp_dir();
        let mut p = Proc::spawn(&spec, &dir).expect("spawn sh");
        let line = p
            .wait_line(false, Duration::from_secs(5), &|l| l == "ready")
            .expect("ready line");
        assert_eq!(line, "ready");
        let pid = p.pid() as i32;
        p.stop(Duration::from_secs(2));
        assert!(p.exited().is_some());
        assert!(!live().contains(&pid));
        assert_eq!(spec.line(), "sh -c 'echo ready; sleep 30'");
    }

    #[test]
    fn pinned_specs_run_behind_taskset() {
        let spec = Spec::new("x", "/bin/true").pinned(Some("0"));
        assert_eq!(spec.argv(), ["taskset", "-c", "0", "/bin/true"]);
        assert_eq!(spec.clone().pinned(None).argv(), ["/bin/true"]);
    }

    /// Whether a process `pid` still exists (a zombie counts as gone).
    fn running(pid: u32) -> bool {
        std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
            !s.rsplit(')')
                .next()
                .unwrap_or("")
                .trim_start()
                .starts_with('Z')
        })
    }

    #[test]
    fn dropping_a_proc_kills_its_whole_group() {
        // A shell that started a grandchild: both must go.
        let spec = Spec::new("sh", "sh").args(["-c", "sleep 30 & echo $!; wait"]);
        let mut p = Proc::spawn(&spec, &std::env::temp_dir()).expect("spawn sh");
        let line = p
            .wait_line(false, Duration::from_secs(5), &|l| !l.is_empty())
            .expect("grandchild pid");
        let grandchild: u32 = line.trim().parse().expect("a pid");
        assert!(running(grandchild));
        drop(p);
        let gone = (0..200).any(|_| {
            thread::sleep(Duration::from_millis(10));
            !running(grandchild)
        });
        assert!(gone, "grandchild {grandchild} survived its group");
    }

    #[test]
    fn stderr_to_a_file_is_read_back_and_environment_is_set() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("x.stderr");
        let mut spec =
            Spec::new("sh", "sh").args(["-c", "echo \"v=$HL_X${HOME:-nohome}\" >&2; exit 3"]);
        spec.stderr = Output::AppendTo(file.clone());
        spec.env.push(("HL_X".into(), "1".into()));
        spec.env_remove.push("HOME".into());
        let mut p = Proc::spawn(&spec, dir.path()).expect("spawn");
        let status = p.wait_exit(Duration::from_secs(5)).expect("exits");
        assert_eq!(status.code(), Some(3));
        assert_eq!(p.stderr_tail(5), "v=1nohome");
        assert!(
            p.signal(Signal::SIGCONT).is_err(),
            "signal to an exited child"
        );
    }
}
