//! Child processes of the lab: every server, stand-in and load generator is
//! started here in a process group of its own, its output collected by
//! reader threads, and stopped with SIGTERM then SIGKILL after a deadline.
//! A registry of live groups lets Ctrl-C (or an error, through `Drop`)
//! stop everything, so a run never leaves processes behind. Also raises
//! RLIMIT_NOFILE, which the children inherit (10,000 held connections).

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

/// Set by SIGINT/SIGTERM: every wait of the lab gives up when it is.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);
/// Process groups (= leader pids) of the children still running.
static LIVE: Mutex<BTreeSet<i32>> = Mutex::new(BTreeSet::new());

/// Lines of a child's stdout or stderr kept (the last ones).
const KEEP_LINES: usize = 400;

pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// Fails with "interrupted" once Ctrl-C was pressed.
pub fn check_interrupted() -> Result<()> {
    if interrupted() {
        bail!("interrupted");
    }
    Ok(())
}

fn live() -> std::sync::MutexGuard<'static, BTreeSet<i32>> {
    LIVE.lock().unwrap_or_else(PoisonError::into_inner)
}

fn signal_group(pgid: i32, signal: Signal) {
    // ESRCH (already gone) is fine.
    let _ = killpg(Pid::from_raw(pgid), signal);
}

/// On SIGINT/SIGTERM: flag the lab as interrupted and SIGTERM every live
/// child group at once; if the lab has not exited 5 s later, SIGKILL them
/// and exit 130.
pub fn install_signal_handler() -> Result<()> {
    let mut signals = signal_hook::iterator::Signals::new([
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
    ])
    .context("cannot install the signal handler")?;
    thread::spawn(move || {
        if signals.forever().next().is_some() {
            INTERRUPTED.store(true, Ordering::SeqCst);
            eprintln!("herd-lab: interrupted, stopping every child");
            let groups: Vec<i32> = live().iter().copied().collect();
            for g in &groups {
                signal_group(*g, Signal::SIGTERM);
            }
            thread::sleep(Duration::from_secs(5));
            for g in live().iter() {
                signal_group(*g, Signal::SIGKILL);
            }
            std::process::exit(130);
        }
    });
    Ok(())
}

/// Raises the soft open-files limit to the hard one; children inherit it.
pub fn raise_nofile() -> Result<u64> {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let (_, hard) = getrlimit(Resource::RLIMIT_NOFILE).context("getrlimit")?;
    setrlimit(Resource::RLIMIT_NOFILE, hard, hard).context("setrlimit")?;
    Ok(hard)
}

/// A command line as run: program and arguments, possibly behind taskset.
#[derive(Debug, Clone)]
pub struct Spec {
    pub name: String,
    pub program: String,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub cpus: Option<String>,
}

impl Spec {
    pub fn new(name: &str, program: impl Into<String>) -> Spec {
        Spec {
            name: name.to_owned(),
            program: program.into(),
            args: Vec::new(),
            env: Vec::new(),
            cpus: None,
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

    pub fn pinned(mut self, cpus: Option<&str>) -> Spec {
        self.cpus = cpus.map(str::to_owned);
        self
    }

    /// The argv actually executed (taskset first when pinned).
    pub fn argv(&self) -> Vec<String> {
        let mut v = Vec::new();
        if let Some(c) = &self.cpus {
            v.extend(["taskset".to_owned(), "-c".to_owned(), c.clone()]);
        }
        v.push(self.program.clone());
        v.extend(self.args.iter().cloned());
        v
    }

    /// The command as one shell-like line, for the rows.
    pub fn line(&self) -> String {
        let mut parts: Vec<String> = self.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        parts.extend(self.argv().iter().map(|a| shell_quote(a)));
        parts.join(" ")
    }
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

/// Lines read from one of a child's streams.
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

/// A running child in its own process group; stopped on drop.
pub struct Proc {
    pub name: String,
    child: Child,
    pub stdin: Option<ChildStdin>,
    pub stdout: Lines,
    pub stderr: Lines,
    readers: Vec<thread::JoinHandle<()>>,
    status: Option<ExitStatus>,
}

impl Proc {
    /// Starts `spec` in a new process group, with `cwd` as its directory.
    pub fn spawn(spec: &Spec, cwd: &Path, keep_stdin: bool) -> Result<Proc> {
        check_interrupted()?;
        let argv = spec.argv();
        let mut cmd = Command::new(&argv[0]);
        cmd.args(&argv[1..])
            .current_dir(cwd)
            .stdin(if keep_stdin {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        for (k, v) in &spec.env {
            cmd.env(k, v);
        }
        let mut child = cmd
            .spawn()
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
            readers,
            status: None,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
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

    /// Waits until a line of stdout (or stderr) matches, the child exits,
    /// or `limit` passes.
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
                    self.stderr.tail(8)
                );
            }
            check_interrupted()?;
            if Instant::now() >= deadline {
                bail!(
                    "{} not ready after {limit:?}: {}",
                    self.name,
                    self.stderr.tail(8)
                );
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits for the child to exit by itself (up to `limit`, then stops it)
    /// and returns its whole stdout.
    pub fn wait_output(mut self, limit: Duration) -> Result<(ExitStatus, String)> {
        let deadline = Instant::now() + limit;
        let status = loop {
            if let Some(s) = self.exited() {
                break s;
            }
            if interrupted() || Instant::now() >= deadline {
                let was_interrupted = interrupted();
                self.stop(Duration::from_secs(3));
                if was_interrupted {
                    bail!("interrupted");
                }
                bail!(
                    "{} still running after {limit:?}: {}",
                    self.name,
                    self.stderr.tail(8)
                );
            }
            thread::sleep(Duration::from_millis(10));
        };
        for r in self.readers.drain(..) {
            let _ = r.join();
        }
        Ok((status, self.stdout.snapshot().join("\n")))
    }

    /// SIGTERM to the group, SIGKILL after `grace`; waits for the leader.
    pub fn stop(&mut self, grace: Duration) {
        let pgid = self.child.id() as i32;
        self.stdin = None;
        if self.exited().is_none() {
            signal_group(pgid, Signal::SIGTERM);
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

    /// Closes stdin (the `hold` subcommand stops at its EOF).
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.stop(Duration::from_secs(3));
    }
}

/// Stops several children at once: SIGTERM to all, then waits for each.
pub fn stop_all(procs: &mut [Proc], grace: Duration) {
    for p in procs.iter_mut() {
        if p.exited().is_none() {
            signal_group(p.pid() as i32, Signal::SIGTERM);
        }
    }
    for p in procs.iter_mut() {
        p.stop(grace);
    }
}

/// `n` distinct free loopback ports: bind port 0 `n` times, holding every
/// listener until all are chosen, then let them go (the caller retries
/// when another process takes one in between).
pub fn free_ports(n: usize) -> Result<Vec<u16>> {
    let mut held = Vec::new();
    for _ in 0..n {
        held.push(std::net::TcpListener::bind("127.0.0.1:0").context("bind 127.0.0.1:0")?);
    }
    held.iter().map(|l| Ok(l.local_addr()?.port())).collect()
}

/// Waits until `addr` accepts a TCP connection, while `proc` still runs.
pub fn wait_accepting(proc: &mut Proc, addr: &str, limit: Duration) -> Result<()> {
    let deadline = Instant::now() + limit;
    let sock: std::net::SocketAddr = addr
        .parse()
        .with_context(|| format!("bad address {addr}"))?;
    loop {
        if std::net::TcpStream::connect_timeout(&sock, Duration::from_millis(200)).is_ok() {
            return Ok(());
        }
        if let Some(s) = proc.exited() {
            thread::sleep(Duration::from_millis(50));
            bail!(
                "{} exited ({s}) before accepting on {addr}: {}",
                proc.name,
                proc.stderr.tail(8)
            );
        }
        check_interrupted()?;
        if Instant::now() >= deadline {
            bail!(
                "{} not accepting on {addr} after {limit:?}: {}",
                proc.name,
                proc.stderr.tail(8)
            );
        }
        thread::sleep(Duration::from_millis(20));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_child_is_started_read_and_stopped() {
        let spec = Spec::new("sh", "sh").args(["-c", "echo ready; sleep 30"]);
        let dir = std::env::temp_dir();
        let mut p = Proc::spawn(&spec, &dir, false).expect("spawn sh");
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
    }
}
