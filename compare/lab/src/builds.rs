//! How the lab gets each build ready and which programs it runs: the
//! release binaries (herd, herd-tokio, herd-loadgen, herd-standin), the asyncio venv and
//! node_modules; the program that runs `node NAME ...` for a build
//! (herd-launch starts it, PROTOCOL §6); the config's `[places]` table (the
//! offline provider, or the Places stand-in); and each build's worker
//! threads at a point.

use std::process::Command;

use anyhow::{Context, Result, bail};
use herd_launch::{Build, Paths};

/// The builds of the herd, in report order: the blocking node twice, as the
/// plain pool (`--park-idle-ms 0`: a worker serves a connection from first
/// byte to close) and as the parked pool (`blocking-parked`: quiet clients
/// wait on one poller thread, Tomcat-NIO style), then the event loops.
pub const BUILDS: [&str; 5] = ["blocking", "blocking-parked", "tokio", "asyncio", "node"];

/// True for the builds that run the blocking node (a fixed pool).
pub fn is_pool(build: &str) -> bool {
    matches!(build, "blocking" | "blocking-parked")
}

/// The flags that make a build a variant of its program: the plain pool
/// and the parked pool of the blocking node (its default `park_idle_ms`,
/// written out so that a row says which it measured).
pub fn build_args(build: &str) -> Vec<String> {
    match build {
        "blocking" => vec!["--park-idle-ms".into(), "0".into()],
        "blocking-parked" => vec!["--park-idle-ms".into(), PARK_IDLE_MS.to_string()],
        _ => Vec::new(),
    }
}

/// `blocking-parked`'s `--park-idle-ms`: the node's default.
pub const PARK_IDLE_MS: u64 = 100;
/// The loadgen echo servers, the loopback ceiling of each I/O model.
pub const ECHOES: [&str; 2] = ["echo_threads", "echo_tokio"];

/// The programs the lab runs, as strings for its command lines.
pub trait Programs {
    fn loadgen(&self) -> String;
    /// The Places stand-in (compare/standin).
    fn standin(&self) -> String;
    /// The program that runs `node NAME ...` for `build`: the release
    /// binary of tokio itself, so that no cargo runs (or waits on a lock)
    /// mid-point; the launchers of the others.
    fn node_program(&self, build: &str) -> Result<String>;
}

impl Programs for Paths {
    fn loadgen(&self) -> String {
        self.release("herd-loadgen").display().to_string()
    }

    fn standin(&self) -> String {
        self.release("herd-standin").display().to_string()
    }

    fn node_program(&self, build: &str) -> Result<String> {
        let program = if is_pool(build) { "blocking" } else { build };
        match Build::parse(program) {
            Some(b) => Ok(self.release_program(b).display().to_string()),
            None => bail!("unknown build {build:?} (blocking, tokio, asyncio, node)"),
        }
    }
}

/// Builds what the chosen builds need: the release binaries (herd,
/// herd-tokio, herd-loadgen, herd-standin), the asyncio venv, node_modules.
/// Returns the commands run.
pub fn prepare(paths: &Paths, builds: &[String]) -> Result<Vec<String>> {
    let mut ran = Vec::new();
    let mut cargo = Command::new("cargo");
    cargo.current_dir(&paths.root).args([
        "build",
        "--release",
        "-p",
        "herd",
        "-p",
        "herd-tokio",
        "-p",
        "herd-loadgen",
        "-p",
        "herd-standin",
    ]);
    ran.push(
        "cargo build --release -p herd -p herd-tokio -p herd-loadgen -p herd-standin".to_owned(),
    );
    let status = cargo.status().context("cannot run cargo")?;
    if !status.success() {
        bail!("cargo build failed ({status})");
    }
    if builds.iter().any(|b| b == "asyncio") {
        let dir = paths.root.join("compare/asyncio");
        if !dir.join(".venv/.herd-ready").exists() {
            ran.push("bash compare/asyncio/setup.sh".to_owned());
            let status = Command::new("bash")
                .arg(dir.join("setup.sh"))
                .status()
                .context("cannot run setup.sh")?;
            if !status.success() {
                bail!("compare/asyncio/setup.sh failed ({status})");
            }
        }
    }
    if builds.iter().any(|b| b == "node") {
        let dir = paths.root.join("compare/node");
        if !dir.join("node_modules/smol-toml").exists() {
            ran.push("(cd compare/node && npm ci)".to_owned());
            let status = Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
                .current_dir(&dir)
                .status()
                .context("cannot run npm")?;
            if !status.success() {
                bail!("npm ci in compare/node failed ({status})");
            }
        }
    }
    Ok(ran)
}

/// The config's tables before the servers: the Places stand-in's legacy
/// URL as the Google provider, or the offline provider.
pub fn places_tables(places_url: Option<&str>) -> String {
    let mut s = String::from("# Written by herd-lab for one measured point.\n[places]\n");
    match places_url {
        Some(url) => {
            s.push_str("provider = \"google\"\n");
            s.push_str(&format!("url = \"{url}\"\n"));
        }
        None => s.push_str("provider = \"offline\"\n"),
    }
    s.push_str("timeout_ms = 5000\n");
    s
}

/// Worker threads of a build at a point: the blocking pool as the scenario
/// asks; tokio one runtime worker per server CPU; the event loops take the
/// flag and ignore it.
pub fn threads_for(build: &str, blocking_threads: u32, server_cpus: Option<&str>) -> u32 {
    match build {
        "blocking" | "blocking-parked" => blocking_threads,
        "tokio" | "echo_tokio" => tokio_workers(server_cpus),
        _ => 1,
    }
}

/// tokio's runtime workers: one per CPU its servers may use (the pinned
/// list, else every CPU), as tokio itself would choose.
pub fn tokio_workers(server_cpus: Option<&str>) -> u32 {
    let cpus = match server_cpus {
        Some(list) => cpu_count(list),
        None => std::thread::available_parallelism().map_or(1, usize::from),
    };
    u32::try_from(cpus.max(1)).unwrap_or(u32::MAX)
}

/// How many CPUs a taskset list ("0", "0-1", "0,2-3") names.
pub fn cpu_count(list: &str) -> usize {
    list.split(',')
        .map(|part| match part.split_once('-') {
            Some((a, b)) => match (a.trim().parse::<usize>(), b.trim().parse::<usize>()) {
                (Ok(a), Ok(b)) if b >= a => b - a + 1,
                _ => 1,
            },
            None => 1,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configs_name_every_server_and_the_standin() {
        let tables = places_tables(Some("http://127.0.0.1:9/maps/api/place/nearbysearch/json"));
        let addr = "127.0.0.1:5000".parse().expect("addr");
        let toml = herd_launch::config_toml(&tables, &[("Clark", addr, &[])]);
        assert!(toml.starts_with("# Written by herd-lab"));
        assert!(toml.contains("provider = \"google\""));
        assert!(toml.contains("addr = \"127.0.0.1:5000\""));
        assert!(toml.contains("peers = []"));
        assert!(places_tables(None).contains("provider = \"offline\""));
    }

    #[test]
    fn node_programs_skip_the_tokio_launcher() {
        let paths = Paths::new(std::path::Path::new("/r"));
        let tokio = paths.node_program("tokio").expect("tokio");
        assert!(tokio.ends_with("release/herd-tokio"), "{tokio}");
        assert_eq!(
            paths.node_program("node").expect("node"),
            "/r/compare/node/herd-node"
        );
        assert!(paths.node_program("echo_tokio").is_err());
    }

    #[test]
    fn cpu_lists_count() {
        assert_eq!(cpu_count("0"), 1);
        assert_eq!(cpu_count("0-1"), 2);
        assert_eq!(cpu_count("0,2-3"), 3);
        assert_eq!(tokio_workers(Some("1")), 1);
        assert_eq!(tokio_workers(None), 2);
    }
}
