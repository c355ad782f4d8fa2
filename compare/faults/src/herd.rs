//! The herd under test: the five servers of PROTOCOL §1, each at its
//! namespace's address (the offline Places provider), started through
//! herd-launch as `ip netns exec <ns> <launcher> node NAME ...` in a
//! process group of its own and waited for until it answers. `ip netns
//! exec` and every launcher `exec` the server, so the group's leader is the
//! server itself and SIGKILL / SIGSTOP / SIGCONT to the group reach it and
//! nothing else. A server's stderr goes to `<log dir>/<NAME>.stderr`.
//! With a store (the store scenario), server NAME keeps it in
//! `<log dir>/store-<NAME>` (PROTOCOL §8: `--store-dir`, `--store-sync`).

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail};
pub use herd_launch::Build;
use herd_launch::{Launch, Output, Paths, Signal};

use crate::checker::SyncMode;
use crate::netns::Net;
use crate::topology::{BASE_PORT, SERVERS, neighbours};

/// How long a (re)started server may take to answer.
const READY_WITHIN: Duration = Duration::from_secs(60);

/// Makes sure `build` can start without a long first-start delay: the
/// launchers build (tokio), make a venv (asyncio) or `npm ci` (node) on
/// first use, which `--help` triggers here with no deadline.
pub fn prepare(build: Build, root: &Path) -> Result<()> {
    let launcher = Paths::new(root).launcher(build);
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

/// Whether `build` keeps a durable store (PROTOCOL §8): the Rust builds;
/// asyncio and Node refuse one (exit 2).
pub fn keeps_stores(build: Build) -> bool {
    matches!(build, Build::Blocking | Build::Tokio)
}

/// Server `name`'s store directory under `log_dir`.
pub fn store_dir(log_dir: &Path, name: &str) -> std::path::PathBuf {
    log_dir.join(format!("store-{name}"))
}

/// What to start: server i at `net.addr(i):BASE_PORT+i` inside its
/// namespace, config and logs in `log_dir`; with `store`, each server
/// keeps a store of its own in `log_dir` with that sync mode.
fn launch(build: Build, root: &Path, net: &Net, log_dir: &Path, store: Option<SyncMode>) -> Launch {
    let peers: Vec<Vec<&str>> = (0..SERVERS.len())
        .map(|i| neighbours(i).into_iter().map(|j| SERVERS[j]).collect())
        .collect();
    let topology: Vec<(&str, &[&str])> = SERVERS
        .iter()
        .zip(&peers)
        .map(|(name, p)| (*name, p.as_slice()))
        .collect();
    let mut launch = Launch::new(log_dir, Paths::new(root).launcher(build), &topology)
        .ready_within(READY_WITHIN)
        // A paused server ignores SIGTERM: SIGKILL at once.
        .grace(Duration::ZERO);
    for (i, node) in launch.nodes.iter_mut().enumerate() {
        node.addr = Some(SocketAddr::new(net.addr(i).into(), BASE_PORT + i as u16));
        node.prefix = vec!["ip".into(), "netns".into(), "exec".into(), net.ns(i)];
        node.stderr = Output::AppendTo(log_dir.join(format!("{}.stderr", SERVERS[i])));
        if let Some(sync) = store {
            node.args.extend([
                "--store-dir".to_owned(),
                store_dir(log_dir, SERVERS[i]).display().to_string(),
                "--store-sync".to_owned(),
                sync.name().to_owned(),
            ]);
        }
    }
    launch
}

pub struct Herd {
    servers: herd_launch::Herd,
    pub addrs: Vec<SocketAddr>,
}

impl Herd {
    /// Writes the config into `log_dir` and starts all five servers (each
    /// with a store in `log_dir` when `store` says a sync mode).
    pub fn start(
        build: Build,
        root: &Path,
        net: &Net,
        log_dir: &Path,
        store: Option<SyncMode>,
    ) -> Result<Herd> {
        let servers = launch(build, root, net, log_dir, store).start()?;
        Ok(Herd {
            addrs: servers.addrs().to_vec(),
            servers,
        })
    }

    /// SIGKILL, and reap it.
    pub fn kill(&mut self, i: usize) -> Result<()> {
        self.servers.kill(i)
    }

    /// Starts server i again (after `kill`) and waits until it answers.
    pub fn restart(&mut self, i: usize) -> Result<()> {
        self.servers.restart(i)
    }

    /// SIGKILL to every server's group, all before any is reaped (so none
    /// outlives another by a reap); returns when the signals were sent,
    /// then reaps them all.
    pub fn kill_all(&mut self) -> Result<std::time::Instant> {
        let at = std::time::Instant::now();
        for i in 0..SERVERS.len() {
            self.servers.signal(i, Signal::SIGKILL)?;
        }
        for i in 0..SERVERS.len() {
            self.servers.kill(i)?;
        }
        Ok(at)
    }

    pub fn pause(&self, i: usize) -> Result<()> {
        self.servers.signal(i, Signal::SIGSTOP)
    }

    pub fn resume(&self, i: usize) -> Result<()> {
        self.servers.signal(i, Signal::SIGCONT)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_server_runs_in_its_namespace_at_its_address() {
        let dir = std::path::PathBuf::from("/tmp/hf-test");
        let net = Net::for_test(7);
        let l = launch(Build::Node, Path::new("/r"), &net, &dir, None);
        assert_eq!(l.nodes.len(), 5);
        let clark = &l.nodes[1];
        assert_eq!(clark.name, "Clark");
        assert_eq!(clark.peers, ["Jaquez", "Juzang"]);
        assert_eq!(clark.prefix[..3], ["ip", "netns", "exec"]);
        assert_eq!(clark.prefix[3], net.ns(1));
        assert_eq!(
            clark.addr,
            Some(SocketAddr::new(net.addr(1).into(), BASE_PORT + 1))
        );
        assert_eq!(
            clark.program,
            Path::new("/r/compare/node/herd-node"),
            "the PROTOCOL §6 launcher"
        );
        assert_eq!(clark.threads, None);
        assert!(clark.args.is_empty(), "no store unless asked");
        assert_eq!(l.grace, Duration::ZERO);
    }

    #[test]
    fn with_stores_each_server_has_a_directory_of_its_own() {
        let dir = std::path::PathBuf::from("/tmp/hf-test");
        let net = Net::for_test(7);
        let l = launch(
            Build::Tokio,
            Path::new("/r"),
            &net,
            &dir,
            Some(SyncMode::Everysec),
        );
        let mut stores = std::collections::HashSet::new();
        for (i, node) in l.nodes.iter().enumerate() {
            let want = format!("/tmp/hf-test/store-{}", SERVERS[i]);
            assert_eq!(
                node.args,
                ["--store-dir", want.as_str(), "--store-sync", "everysec"]
            );
            stores.insert(want);
        }
        assert_eq!(stores.len(), 5);
        assert!(keeps_stores(Build::Blocking) && keeps_stores(Build::Tokio));
        assert!(!keeps_stores(Build::Asyncio) && !keeps_stores(Build::Node));
    }
}
