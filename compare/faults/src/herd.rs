//! The herd under test: the generated config (the namespaces' addresses,
//! PROTOCOL §1's neighbour table, the offline Places provider) and the five
//! server processes, each started as `ip netns exec <ns> <launcher> node
//! NAME ...` in a process group of its own. `ip netns exec` and every
//! launcher `exec` the server, so the group's leader is the server itself and
//! SIGKILL / SIGSTOP / SIGCONT to the group reach it and nothing else.

use std::fs::{self, File};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

use crate::interrupt;
use crate::netns::Net;
use crate::topology::{BASE_PORT, SERVERS, neighbours};

/// How long a (re)started server may take to accept connections.
const READY_WITHIN: Duration = Duration::from_secs(60);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Build {
    Blocking,
    Tokio,
    Asyncio,
    Node,
}

impl Build {
    pub const ALL: [Build; 4] = [Build::Blocking, Build::Tokio, Build::Asyncio, Build::Node];

    pub fn name(self) -> &'static str {
        match self {
            Build::Blocking => "blocking",
            Build::Tokio => "tokio",
            Build::Asyncio => "asyncio",
            Build::Node => "node",
        }
    }

    pub fn parse(s: &str) -> Option<Build> {
        Build::ALL.into_iter().find(|b| b.name() == s)
    }

    /// The launcher of PROTOCOL §6 for this build.
    pub fn launcher(self, root: &Path) -> PathBuf {
        match self {
            Build::Blocking => {
                let target = std::env::var_os("CARGO_TARGET_DIR")
                    .map(PathBuf::from)
                    .map(|t| if t.is_absolute() { t } else { root.join(t) })
                    .unwrap_or_else(|| root.join("target"));
                target.join("release/herd")
            }
            Build::Tokio => root.join("compare/tokio/herd-tokio"),
            Build::Asyncio => root.join("compare/asyncio/herd-asyncio"),
            Build::Node => root.join("compare/node/herd-node"),
        }
    }

    /// Makes sure the build can start without a long first-start delay: the
    /// launchers build (tokio), make a venv (asyncio) or `npm ci` (node) on
    /// first use, which `--help` triggers here with no deadline.
    pub fn prepare(self, root: &Path) -> Result<()> {
        let launcher = self.launcher(root);
        if !launcher.exists() {
            bail!(
                "{} is missing: build it first (cargo build --release -p herd)",
                launcher.display()
            );
        }
        let status = Command::new(&launcher)
            .arg("--help")
            .stdout(Stdio::null())
            .status()
            .with_context(|| format!("cannot run {}", launcher.display()))?;
        if !status.success() {
            bail!(
                "{} --help failed ({status}): the build is not ready",
                launcher.display()
            );
        }
        Ok(())
    }
}

/// The herd's TOML config with the namespaces' addresses.
pub fn config_text(net: &Net) -> String {
    let mut s = String::from("[places]\nprovider = \"offline\"\n");
    for (i, name) in SERVERS.iter().enumerate() {
        let peers: Vec<String> = neighbours(i)
            .into_iter()
            .map(|j| format!("\"{}\"", SERVERS[j]))
            .collect();
        s += &format!(
            "\n[[server]]\nname = \"{name}\"\naddr = \"{}:{}\"\npeers = [{}]\n",
            net.addr(i),
            BASE_PORT + i as u16,
            peers.join(", ")
        );
    }
    s
}

pub struct Herd {
    launcher: PathBuf,
    config: PathBuf,
    log_dir: PathBuf,
    namespaces: Vec<String>,
    pub addrs: Vec<SocketAddr>,
    procs: Vec<Option<Child>>,
}

impl Herd {
    /// Writes the config into `log_dir` and starts all five servers.
    pub fn start(build: Build, root: &Path, net: &Net, log_dir: &Path) -> Result<Herd> {
        fs::create_dir_all(log_dir)
            .with_context(|| format!("cannot create {}", log_dir.display()))?;
        let config = log_dir.join("herd.toml");
        fs::write(&config, config_text(net))?;
        let n = SERVERS.len();
        let mut herd = Herd {
            launcher: build.launcher(root),
            config,
            log_dir: log_dir.to_path_buf(),
            namespaces: (0..n).map(|i| net.ns(i)).collect(),
            addrs: (0..n)
                .map(|i| SocketAddr::new(net.addr(i).into(), BASE_PORT + i as u16))
                .collect(),
            procs: (0..n).map(|_| None).collect(),
        };
        for i in 0..n {
            herd.spawn(i)?;
        }
        for i in 0..n {
            herd.wait_ready(i)?;
        }
        Ok(herd)
    }

    fn spawn(&mut self, i: usize) -> Result<()> {
        let stderr = File::options()
            .create(true)
            .append(true)
            .open(self.log_dir.join(format!("{}.stderr", SERVERS[i])))?;
        let child = Command::new("ip")
            .args(["netns", "exec", &self.namespaces[i]])
            .arg(&self.launcher)
            .args(["node", SERVERS[i], "--config"])
            .arg(&self.config)
            .arg("--log-dir")
            .arg(&self.log_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .process_group(0)
            .spawn()
            .with_context(|| format!("cannot start {}", SERVERS[i]))?;
        self.procs[i] = Some(child);
        Ok(())
    }

    /// Waits until server i accepts connections (it may have just started).
    fn wait_ready(&mut self, i: usize) -> Result<()> {
        let deadline = Instant::now() + READY_WITHIN;
        loop {
            interrupt::check()?;
            if TcpStream::connect_timeout(&self.addrs[i], Duration::from_millis(200)).is_ok() {
                return Ok(());
            }
            if let Some(child) = self.procs[i].as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                let err = fs::read_to_string(self.log_dir.join(format!("{}.stderr", SERVERS[i])))
                    .unwrap_or_default();
                bail!("{} exited at start ({status}): {}", SERVERS[i], err.trim());
            }
            if Instant::now() > deadline {
                bail!(
                    "{} did not accept connections within {READY_WITHIN:?}",
                    SERVERS[i]
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn signal(&self, i: usize, sig: Signal) -> Result<()> {
        let child = self.procs[i].as_ref().context("server is not running")?;
        killpg(Pid::from_raw(child.id() as i32), sig)
            .with_context(|| format!("cannot send {sig} to {}", SERVERS[i]))?;
        Ok(())
    }

    /// SIGKILL, and reap it.
    pub fn kill(&mut self, i: usize) -> Result<()> {
        self.signal(i, Signal::SIGKILL)?;
        if let Some(mut child) = self.procs[i].take() {
            child.wait()?;
        }
        Ok(())
    }

    /// Starts server i again (after `kill`) and waits until it accepts.
    pub fn restart(&mut self, i: usize) -> Result<()> {
        self.spawn(i)?;
        self.wait_ready(i)
    }

    pub fn pause(&self, i: usize) -> Result<()> {
        self.signal(i, Signal::SIGSTOP)
    }

    pub fn resume(&self, i: usize) -> Result<()> {
        self.signal(i, Signal::SIGCONT)
    }
}

impl Drop for Herd {
    fn drop(&mut self) {
        for child in self.procs.iter_mut().filter_map(Option::take) {
            let mut child = child;
            let _ = killpg(Pid::from_raw(child.id() as i32), Signal::SIGKILL);
            let _ = child.wait();
        }
    }
}
