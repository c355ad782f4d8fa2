//! How the lab gets each build ready and which programs it runs: the
//! release binaries (herd, herd-tokio, herd-loadgen, herd-standin), the asyncio venv and
//! node_modules; the program that runs `node NAME ...` for a build
//! (herd-launch starts it, PROTOCOL §6); the config's `[places]` table (the
//! offline provider, or the Places stand-in); and each build's worker
//! threads at a point.

use std::process::Command;

use anyhow::{Context, Result, bail};
use herd_launch::{Build, Paths};

/// The four builds of the herd, in report order.
pub const BUILDS: [&str; 4] = ["blocking", "tokio", "asyncio", "node"];
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
        match Build::parse(build) {
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
/// asks; tokio 1 runtime worker when pinned to one core, else 2; the event
/// loops take the flag and ignore it.
pub fn threads_for(build: &str, blocking_threads: u32, server_cpus: Option<&str>) -> u32 {
    match build {
        "blocking" => blocking_threads,
        "tokio" | "echo_tokio" => tokio_workers(server_cpus),
        _ => 1,
    }
}

pub fn tokio_workers(server_cpus: Option<&str>) -> u32 {
    match server_cpus {
        Some(list) if cpu_count(list) == 1 => 1,
        _ => 2,
    }
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
