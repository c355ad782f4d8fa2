//! The servers a point or a soak starts, each in a process group of its own
//! (herd-launch): the nodes of one build (one, or the five-server herd) on
//! free ports, waited for until each answers; a loadgen echo server; and
//! the Places stand-in (one function, [`start_standin`], so the program
//! that serves it is named in one place).

use std::path::Path;
use std::time::Duration;

use anyhow::{Result, anyhow};
use herd_launch::{FIVE, Launch, Output, Proc, Spec, taskset};

use crate::builds::{self, Programs};
use crate::point::Settings;

/// Servers started for a point, with their sampling roles.
pub struct Started {
    pub procs: Vec<Proc>,
    pub roles: Vec<&'static str>,
    /// The nodes' (or the echo server's) addresses, in start order.
    pub addrs: Vec<String>,
}

impl Started {
    pub fn new() -> Started {
        Started {
            procs: Vec::new(),
            roles: Vec::new(),
            addrs: Vec::new(),
        }
    }

    fn push(&mut self, p: Proc, role: &'static str) {
        self.procs.push(p);
        self.roles.push(role);
    }

    pub fn pids(&self) -> Vec<u32> {
        self.procs.iter().map(Proc::pid).collect()
    }
}

/// The Places stand-in with a fixed latency; returns its legacy URL.
pub fn start_standin(
    s: &Settings,
    latency_ms: u64,
    started: &mut Started,
    commands: &mut Vec<String>,
) -> Result<String> {
    let spec = Spec::new("standin", s.paths.standin())
        .args(["--addr", "127.0.0.1:0", "--latency-ms"])
        .arg(latency_ms.to_string())
        .pinned(s.loadgen_cpus.as_deref());
    commands.push(spec.line());
    let mut p = Proc::spawn(&spec, &s.paths.root)?;
    let line = p.wait_line(false, Duration::from_secs(20), &|l| {
        l.starts_with("places stand-in on")
    })?;
    let url = line
        .split_whitespace()
        .skip_while(|w| *w != "legacy")
        .nth(1)
        .map(str::to_owned)
        .ok_or_else(|| anyhow!("no legacy URL in the stand-in's line {line:?}"))?;
    started.push(p, "standin");
    Ok(url)
}

/// The loadgen echo server `build` (echo_threads, echo_tokio), its tokio
/// runtime with `workers` workers; returns its address.
pub fn start_echo(
    s: &Settings,
    build: &str,
    workers: u32,
    started: &mut Started,
    commands: &mut Vec<String>,
) -> Result<String> {
    let model = if build == "echo_tokio" {
        "tokio"
    } else {
        "threads"
    };
    let spec = Spec::new(build, s.paths.loadgen())
        .arg("--workers")
        .arg(workers.max(1).to_string())
        .args(["echo", "--addr", "127.0.0.1:0", "--model", model])
        .pinned(s.server_cpus());
    commands.push(spec.line());
    let mut p = Proc::spawn(&spec, &s.paths.root)?;
    let line = p.wait_line(false, Duration::from_secs(20), &|l| {
        l.starts_with("echo listening on")
    })?;
    let addr = line
        .rsplit(' ')
        .next()
        .map(str::to_owned)
        .ok_or_else(|| anyhow!("no address in {line:?}"))?;
    started.push(p, "echo");
    started.addrs.push(addr.clone());
    Ok(addr)
}

/// How a point's (or a soak's) nodes run.
pub struct Nodes<'a> {
    pub build: &'a str,
    /// The five-server herd (unpinned), or Clark alone.
    pub herd: bool,
    /// Each server's `--threads`, by name.
    pub threads: &'a dyn Fn(&str) -> u32,
    /// Flags after `--log-dir`.
    pub extra: &'a [String],
    /// The Places stand-in's URL (else offline Places).
    pub places_url: Option<&'a str>,
}

/// Starts the nodes of `n.build` on free ports (config and logs in `dir`)
/// and waits until each answers; herd-launch retries with new ports when
/// one was taken meanwhile.
pub fn start_nodes(
    s: &Settings,
    n: &Nodes<'_>,
    dir: &Path,
    started: &mut Started,
    commands: &mut Vec<String>,
) -> Result<()> {
    // A herd of five on one CPU measures the scheduler, not the herd: herd
    // scenarios leave their servers unpinned.
    let cpus = if n.herd {
        s.herd_cpus()
    } else {
        s.server_cpus()
    };
    start_nodes_on(s, n, cpus, dir, started, commands)
}

/// [`start_nodes`] with the servers pinned to `cpus` (`taskset -c`), or
/// unpinned for None, whatever the settings say: a point that pins itself
/// (the cores sweep) pins its herd too.
pub fn start_nodes_on(
    s: &Settings,
    n: &Nodes<'_>,
    cpus: Option<&str>,
    dir: &Path,
    started: &mut Started,
    commands: &mut Vec<String>,
) -> Result<()> {
    let topology: &[(&str, &[&str])] = if n.herd { &FIVE } else { &[("Clark", &[])] };
    let mut launch = Launch::new(dir, s.paths.node_program(n.build)?, topology)
        .log_dir(&dir.join("logs"))
        .tables(&builds::places_tables(n.places_url))
        .args(n.extra.iter().cloned())
        .args(builds::build_args(n.build))
        .env("PLACES_API_KEY", "herd-lab")
        .prefix(&taskset(cpus))
        .cwd(&s.paths.root);
    for node in &mut launch.nodes {
        node.threads = Some((n.threads)(&node.name));
        node.stdout = Output::Capture;
    }
    let herd = launch.start()?;
    commands.extend(herd.command_lines().iter().cloned());
    let addrs: Vec<String> = herd.addrs().iter().map(ToString::to_string).collect();
    for (p, addr) in herd.into_procs().into_iter().zip(addrs) {
        started.push(p, "node");
        started.addrs.push(addr);
    }
    Ok(())
}
