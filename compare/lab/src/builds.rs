//! How to build and launch each herd build (PROTOCOL §6: every build starts
//! as `<launcher> node NAME --config F --threads N --log-dir D ...`), the
//! herd-loadgen binary, the Places stand-in, and the TOML configs the lab
//! writes for one node or a five-server herd on free ports.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::procs::Spec;

/// The four builds of the herd, in report order.
pub const BUILDS: [&str; 4] = ["blocking", "tokio", "asyncio", "node"];
/// The loadgen echo servers, the loopback ceiling of each I/O model.
pub const ECHOES: [&str; 2] = ["echo_threads", "echo_tokio"];

/// The default herd's topology (PROTOCOL §1).
pub const HERD: [(&str, &[&str]); 5] = [
    ("Bernard", &["Jaquez", "Johnson", "Juzang"]),
    ("Clark", &["Jaquez", "Juzang"]),
    ("Jaquez", &["Bernard", "Clark"]),
    ("Johnson", &["Bernard", "Juzang"]),
    ("Juzang", &["Bernard", "Clark", "Johnson"]),
];

/// Where the repository and its release binaries are.
#[derive(Debug, Clone)]
pub struct Paths {
    pub root: PathBuf,
    pub target: PathBuf,
}

impl Paths {
    pub fn new(root: &Path) -> Paths {
        let target = match std::env::var_os("CARGO_TARGET_DIR") {
            Some(t) if Path::new(&t).is_absolute() => PathBuf::from(t),
            Some(t) => root.join(t),
            None => root.join("target"),
        };
        Paths {
            root: root.to_path_buf(),
            target,
        }
    }

    pub fn release(&self, bin: &str) -> PathBuf {
        self.target.join("release").join(bin)
    }

    pub fn herd(&self) -> String {
        self.release("herd").display().to_string()
    }

    pub fn loadgen(&self) -> String {
        self.release("herd-loadgen").display().to_string()
    }

    /// The Places stand-in (compare/standin).
    pub fn standin(&self) -> String {
        self.release("herd-standin").display().to_string()
    }

    /// The program that runs `node NAME ...` for `build`. The tokio
    /// launcher `exec`s target/release/herd-tokio after checking that it
    /// is fresh (running cargo if not); the lab builds it first and runs the
    /// binary itself, so that no cargo runs (or waits on a lock) mid-point.
    pub fn launcher(&self, build: &str) -> Result<String> {
        Ok(match build {
            "blocking" => self.herd(),
            "tokio" => self.release("herd-tokio").display().to_string(),
            "asyncio" => self
                .root
                .join("compare/asyncio/herd-asyncio")
                .display()
                .to_string(),
            "node" => self
                .root
                .join("compare/node/herd-node")
                .display()
                .to_string(),
            other => bail!("unknown build {other:?} (blocking, tokio, asyncio, node)"),
        })
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

/// One server of a config the lab writes.
#[derive(Debug, Clone)]
pub struct ServerConf {
    pub name: String,
    pub addr: String,
    pub peers: Vec<String>,
}

/// A herd config: servers, and optionally the stand-in's legacy URL.
pub fn config_toml(servers: &[ServerConf], places_url: Option<&str>) -> String {
    let mut s = String::from("# Written by herd-lab for one measured point.\n[places]\n");
    match places_url {
        Some(url) => {
            s.push_str("provider = \"google\"\n");
            s.push_str(&format!("url = \"{url}\"\n"));
        }
        None => s.push_str("provider = \"offline\"\n"),
    }
    s.push_str("timeout_ms = 5000\n");
    for srv in servers {
        let peers: Vec<String> = srv.peers.iter().map(|p| format!("\"{p}\"")).collect();
        s.push_str(&format!(
            "\n[[server]]\nname = \"{}\"\naddr = \"{}\"\npeers = [{}]\n",
            srv.name,
            srv.addr,
            peers.join(", ")
        ));
    }
    s
}

/// The node command of `build` for server `name`.
#[allow(clippy::too_many_arguments)]
pub fn node_spec(
    paths: &Paths,
    build: &str,
    name: &str,
    config: &Path,
    log_dir: &Path,
    threads: u32,
    extra: &[String],
    cpus: Option<&str>,
) -> Result<Spec> {
    Ok(Spec::new(name, paths.launcher(build)?)
        .args(["node", name, "--config"])
        .arg(config.display().to_string())
        .arg("--threads")
        .arg(threads.to_string())
        .arg("--log-dir")
        .arg(log_dir.display().to_string())
        .args(extra.iter().cloned())
        .env("PLACES_API_KEY", "herd-lab")
        .pinned(cpus))
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
        let servers = vec![ServerConf {
            name: "Clark".into(),
            addr: "127.0.0.1:5000".into(),
            peers: vec![],
        }];
        let toml = config_toml(
            &servers,
            Some("http://127.0.0.1:9/maps/api/place/nearbysearch/json"),
        );
        assert!(toml.contains("provider = \"google\""));
        assert!(toml.contains("addr = \"127.0.0.1:5000\""));
        assert!(toml.contains("peers = []"));
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
