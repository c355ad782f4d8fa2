//! A herd of real server processes: [`Launch`] says what to start (each
//! server's program, flags, environment, command prefix, address or a free
//! port), [`Launch::start`] writes the config, starts every server and
//! waits until each answers, and the running [`Herd`] kills, restarts,
//! pauses and stops them, and stops them all when dropped.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};

use crate::config::{config_toml, free_ports, offline_places};
use crate::proc::{Output, Proc, Spec, stop_all};
use crate::ready::wait_answers;
use nix::sys::signal::Signal;

/// One server of a herd to start:
/// `[prefix...] program node NAME --config F [--threads N] --log-dir D [args...]`.
#[derive(Debug, Clone)]
pub struct Node {
    pub name: String,
    pub peers: Vec<String>,
    /// Its address; `None`: a free loopback port, chosen at each attempt.
    pub addr: Option<SocketAddr>,
    /// A PROTOCOL §6 launcher, or a build's binary.
    pub program: PathBuf,
    pub threads: Option<u32>,
    /// Flags after `--log-dir` (limits, `--max-clients`, ...).
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub env_remove: Vec<String>,
    /// Words before the program: `taskset -c 0`, `ip netns exec NS`.
    pub prefix: Vec<String>,
    pub stdout: Output,
    pub stderr: Output,
}

/// What to start; every field may be changed before [`start`](Self::start)
/// (`nodes[i]` for one server, the builder methods for all).
#[derive(Debug, Clone)]
pub struct Launch {
    /// Where `herd.toml` is written.
    pub dir: PathBuf,
    /// The servers' `--log-dir` (default: `dir`).
    pub log_dir: PathBuf,
    /// The config's tables before the servers (default: offline Places).
    pub tables: String,
    pub nodes: Vec<Node>,
    /// How long each server may take to answer once started (default 60 s:
    /// a launcher may build or install on first use).
    pub ready_within: Duration,
    /// Starts tried when a free port was taken meanwhile (default 3).
    pub attempts: u32,
    /// SIGTERM to SIGKILL when stopping (default 3 s; zero: SIGKILL).
    pub grace: Duration,
    /// The servers' working directory (default: `dir`).
    pub cwd: PathBuf,
}

impl Launch {
    /// The servers of `topology` (name, neighbours), each run by `program`
    /// on a free loopback port, offline Places, stdout dropped, stderr kept.
    pub fn new(dir: &Path, program: impl Into<PathBuf>, topology: &[(&str, &[&str])]) -> Launch {
        let program = program.into();
        Launch {
            dir: dir.to_path_buf(),
            log_dir: dir.to_path_buf(),
            tables: offline_places(),
            nodes: topology
                .iter()
                .map(|(name, peers)| Node {
                    name: (*name).to_owned(),
                    peers: peers.iter().map(|p| (*p).to_owned()).collect(),
                    addr: None,
                    program: program.clone(),
                    threads: None,
                    args: Vec::new(),
                    env: Vec::new(),
                    env_remove: Vec::new(),
                    prefix: Vec::new(),
                    stdout: Output::Null,
                    stderr: Output::Capture,
                })
                .collect(),
            ready_within: Duration::from_secs(60),
            attempts: 3,
            grace: Duration::from_secs(3),
            cwd: dir.to_path_buf(),
        }
    }

    pub fn log_dir(mut self, dir: &Path) -> Launch {
        self.log_dir = dir.to_path_buf();
        self
    }

    pub fn tables(mut self, text: &str) -> Launch {
        self.tables = text.to_owned();
        self
    }

    /// `--threads N` for every server.
    pub fn threads(mut self, n: u32) -> Launch {
        self.nodes.iter_mut().for_each(|s| s.threads = Some(n));
        self
    }

    /// Flags after `--log-dir` for every server.
    pub fn args<I, S>(mut self, items: I) -> Launch
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let items: Vec<String> = items.into_iter().map(Into::into).collect();
        self.nodes
            .iter_mut()
            .for_each(|s| s.args.extend(items.iter().cloned()));
        self
    }

    pub fn env(mut self, key: &str, value: &str) -> Launch {
        self.nodes
            .iter_mut()
            .for_each(|s| s.env.push((key.to_owned(), value.to_owned())));
        self
    }

    /// Words before every server's program.
    pub fn prefix(mut self, words: &[String]) -> Launch {
        self.nodes
            .iter_mut()
            .for_each(|s| s.prefix = words.to_vec());
        self
    }

    pub fn ready_within(mut self, limit: Duration) -> Launch {
        self.ready_within = limit;
        self
    }

    pub fn grace(mut self, grace: Duration) -> Launch {
        self.grace = grace;
        self
    }

    pub fn cwd(mut self, dir: &Path) -> Launch {
        self.cwd = dir.to_path_buf();
        self
    }

    /// The server called `name`.
    pub fn node_mut(&mut self, name: &str) -> Option<&mut Node> {
        self.nodes.iter_mut().find(|n| n.name == name)
    }

    /// Writes the config and starts every server, then waits until each
    /// answers (at most [`ready_within`](Self::ready_within) each). When a
    /// free port was taken before its server bound it, starts again on
    /// fresh ports, up to [`attempts`](Self::attempts) times. A failed start
    /// leaves nothing running.
    pub fn start(&self) -> Result<Herd> {
        for d in [&self.dir, &self.log_dir] {
            std::fs::create_dir_all(d).with_context(|| format!("cannot create {}", d.display()))?;
        }
        let free = self.nodes.iter().any(|n| n.addr.is_none());
        let attempts = if free { self.attempts.max(1) } else { 1 };
        let mut last = None;
        for _ in 0..attempts {
            let addrs = self.addrs()?;
            match self.try_start(addrs) {
                Ok(herd) => return Ok(herd),
                Err(e) if free && port_clash(&e) => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| anyhow!("cannot start the herd")))
    }

    /// Each server's address: its own, or a free loopback port.
    fn addrs(&self) -> Result<Vec<SocketAddr>> {
        let wanted = self.nodes.iter().filter(|n| n.addr.is_none()).count();
        let mut ports = free_ports(wanted)?.into_iter();
        self.nodes
            .iter()
            .map(|n| match n.addr {
                Some(a) => Ok(a),
                None => ports
                    .next()
                    .map(|p| SocketAddr::from(([127, 0, 0, 1], p)))
                    .context("a free port"),
            })
            .collect()
    }

    fn try_start(&self, addrs: Vec<SocketAddr>) -> Result<Herd> {
        let config = self.dir.join("herd.toml");
        let servers: Vec<(&str, SocketAddr, &[String])> = self
            .nodes
            .iter()
            .zip(&addrs)
            .map(|(n, a)| (n.name.as_str(), *a, n.peers.as_slice()))
            .collect();
        std::fs::write(&config, config_toml(&self.tables, &servers))
            .with_context(|| format!("cannot write {}", config.display()))?;
        let mut herd = Herd {
            launch: self.clone(),
            config,
            addrs,
            procs: Vec::new(),
            lines: Vec::new(),
        };
        for i in 0..self.nodes.len() {
            let spec = herd.spec(i);
            herd.lines.push(spec.line());
            herd.procs.push(Some(Proc::spawn(&spec, &self.cwd)?));
        }
        for i in 0..self.nodes.len() {
            herd.wait_ready(i)?;
        }
        Ok(herd)
    }
}

/// Whether a failed start looks like a port taken between its choice and
/// the server's bind.
fn port_clash(e: &anyhow::Error) -> bool {
    let t = format!("{e:#}").to_ascii_lowercase();
    t.contains("in use") || t.contains("eaddrinuse") || t.contains("used twice")
}

/// A running herd; every server is stopped when it is dropped.
pub struct Herd {
    launch: Launch,
    config: PathBuf,
    addrs: Vec<SocketAddr>,
    procs: Vec<Option<Proc>>,
    lines: Vec<String>,
}

impl Herd {
    fn spec(&self, i: usize) -> Spec {
        let n = &self.launch.nodes[i];
        let mut spec = Spec::new(&n.name, n.program.display().to_string())
            .args(["node", n.name.as_str(), "--config"])
            .arg(self.config.display().to_string());
        if let Some(t) = n.threads {
            spec = spec.arg("--threads").arg(t.to_string());
        }
        spec = spec
            .arg("--log-dir")
            .arg(self.launch.log_dir.display().to_string())
            .args(n.args.iter().cloned());
        spec.env = n.env.clone();
        spec.env_remove = n.env_remove.clone();
        spec.prefix = n.prefix.clone();
        spec.stdout = n.stdout.clone();
        spec.stderr = n.stderr.clone();
        spec.grace = self.launch.grace;
        spec
    }

    fn wait_ready(&mut self, i: usize) -> Result<()> {
        let addr = self.addrs[i];
        let limit = self.launch.ready_within;
        let proc = self.procs[i].as_mut().context("server is not running")?;
        wait_answers(proc, addr, limit)
    }

    /// Every server's address, in the order of [`Launch::nodes`].
    pub fn addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    pub fn addr(&self, i: usize) -> SocketAddr {
        self.addrs[i]
    }

    /// The index of server `name`.
    pub fn index(&self, name: &str) -> Option<usize> {
        self.launch.nodes.iter().position(|n| n.name == name)
    }

    pub fn config(&self) -> &Path {
        &self.config
    }

    pub fn log_dir(&self) -> &Path {
        &self.launch.log_dir
    }

    /// Every server's command line as first started (`K=V ... argv`).
    pub fn command_lines(&self) -> &[String] {
        &self.lines
    }

    /// Server `i`'s process, while it runs.
    pub fn proc(&self, i: usize) -> Option<&Proc> {
        self.procs.get(i).and_then(Option::as_ref)
    }

    pub fn proc_mut(&mut self, i: usize) -> Option<&mut Proc> {
        self.procs.get_mut(i).and_then(Option::as_mut)
    }

    /// SIGKILL to server `i`'s group, and reap it.
    pub fn kill(&mut self, i: usize) -> Result<()> {
        let mut proc = self
            .procs
            .get_mut(i)
            .and_then(Option::take)
            .with_context(|| format!("server {i} is not running"))?;
        proc.kill();
        Ok(())
    }

    /// Starts server `i` again (after [`kill`](Self::kill)) on its address
    /// and waits until it answers.
    pub fn restart(&mut self, i: usize) -> Result<()> {
        if self.proc(i).is_some() {
            bail!("server {i} is still running");
        }
        let spec = self.spec(i);
        self.procs[i] = Some(Proc::spawn(&spec, &self.launch.cwd)?);
        self.wait_ready(i)
    }

    /// Sends `signal` to server `i`'s group (SIGSTOP, SIGCONT).
    pub fn signal(&self, i: usize, signal: Signal) -> Result<()> {
        self.proc(i)
            .with_context(|| format!("server {i} is not running"))?
            .signal(signal)
    }

    /// Stops every server: SIGTERM to all at once, SIGKILL after the grace.
    pub fn stop(&mut self) {
        let mut procs = self.take_procs();
        stop_all(&mut procs, self.launch.grace);
    }

    /// Hands the running servers over (in server order); the caller stops
    /// them (dropping a [`Proc`] does).
    pub fn into_procs(mut self) -> Vec<Proc> {
        self.take_procs()
    }

    fn take_procs(&mut self) -> Vec<Proc> {
        self.procs.iter_mut().filter_map(Option::take).collect()
    }
}

impl Drop for Herd {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// An executable shell script in `dir`.
    fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).expect("write script");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        path
    }

    #[test]
    fn a_taken_port_is_retried_and_then_reported() {
        let dir = tempfile::tempdir().expect("tempdir");
        let tries = dir.path().join("tries");
        let program = script(
            dir.path(),
            "clash",
            &format!(
                "echo \"$@\" >> {}\necho 'bind: Address already in use' >&2\nexit 2",
                tries.display()
            ),
        );
        let e = Launch::new(dir.path(), &program, &[("Clark", &[])])
            .threads(4)
            .args(["--max-clients", "9"])
            .start()
            .err()
            .expect("never starts");
        assert!(format!("{e:#}").contains("already in use"), "{e:#}");
        let text = std::fs::read_to_string(&tries).expect("tries");
        assert_eq!(text.lines().count(), 3, "three attempts: {text}");
        let config = dir.path().join("herd.toml");
        let first = text.lines().next().expect("a line");
        assert_eq!(
            first,
            format!(
                "node Clark --config {} --threads 4 --log-dir {} --max-clients 9",
                config.display(),
                dir.path().display()
            )
        );
    }

    #[test]
    fn a_server_that_never_answers_fails_within_the_limit_and_is_stopped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let pid_file = dir.path().join("pid");
        let program = script(
            dir.path(),
            "mute",
            &format!("echo $$ > {}\nexec sleep 30", pid_file.display()),
        );
        let begun = std::time::Instant::now();
        let e = Launch::new(dir.path(), &program, &[("Clark", &[])])
            .ready_within(Duration::from_millis(600))
            .grace(Duration::ZERO)
            .start()
            .err()
            .expect("never answers");
        assert!(begun.elapsed() < Duration::from_secs(10), "{e:#}");
        assert!(format!("{e:#}").contains("did not answer"), "{e:#}");
        let pid = std::fs::read_to_string(&pid_file).expect("pid");
        let stat = format!("/proc/{}/stat", pid.trim());
        let gone = std::fs::read_to_string(stat).map_or(true, |s| {
            s.rsplit(')')
                .next()
                .is_some_and(|r| r.trim_start().starts_with('Z'))
        });
        assert!(gone, "the mute server still runs");
    }
}
