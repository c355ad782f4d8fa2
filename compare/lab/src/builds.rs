//! How the lab gets each build ready and which programs it runs: the
//! release binaries (herd, herd-tokio, herd-loadgen, herd-standin), the asyncio venv and
//! node_modules; the program that runs `node NAME ...` for a build
//! (herd-launch starts it, PROTOCOL §6); the config's `[places]` table (the
//! offline provider, or the Places stand-in); and each build's worker
//! threads at a point.

use std::process::Command;

use anyhow::{Context, Result, bail};
use herd_launch::{Build, Paths};
use serde_json::{Value, json};

/// The builds of the herd, in report order: the blocking node three times,
/// as the plain pool (`--park-idle-ms 0`: a worker serves a connection from
/// first byte to close), as the parked pool (`blocking-parked`: quiet
/// clients wait on one poller thread, Tomcat-NIO style) and as a thread per
/// connection (`blocking-tpc`: the plain pool sized to the point's
/// connections, the design the classic papers argue about), then the event
/// loops.
pub const BUILDS: [&str; 6] = [
    "blocking",
    "blocking-parked",
    "blocking-tpc",
    "tokio",
    "asyncio",
    "node",
];

/// The thread-per-connection variant of the blocking node.
pub const TPC: &str = "blocking-tpc";

/// The most `--threads` the blocking node takes (`MAX_THREADS` in
/// src/limits.rs): a `blocking-tpc` point with more connections runs this
/// many threads and says so in its row (`tpc_unserved`).
pub const TPC_MAX_THREADS: u64 = 4096;

/// True for the builds that run the blocking node (a fixed pool).
pub fn is_pool(build: &str) -> bool {
    matches!(build, "blocking" | "blocking-parked" | TPC)
}

/// `params` with the blocking node's `"threads"` for a point whose clients
/// hold `connections` connections at once: `blocking-tpc` one thread per
/// connection (at least 1, at most [`TPC_MAX_THREADS`]; past it the row
/// records `tpc_unserved`, the connections left without a thread), the
/// other pools `pool`; the other builds get no `threads`.
pub fn with_pool(build: &str, params: Value, connections: u64, pool: u64) -> Value {
    if build != TPC {
        return crate::point::with_threads(build, params, pool);
    }
    let threads = connections.clamp(1, TPC_MAX_THREADS);
    let mut params = crate::point::with_threads(build, params, threads);
    if connections > threads {
        params["tpc_unserved"] = json!(connections - threads);
    }
    params
}

/// The flags that make a build a variant of its program: the plain pool
/// (also under `blocking-tpc`, whose pool is as large as its connections)
/// and the parked pool of the blocking node (its default `park_idle_ms`,
/// written out so that a row says which it measured).
pub fn build_args(build: &str) -> Vec<String> {
    match build {
        "blocking" | TPC => vec!["--park-idle-ms".into(), "0".into()],
        "blocking-parked" => vec!["--park-idle-ms".into(), PARK_IDLE_MS.to_string()],
        _ => Vec::new(),
    }
}

/// `blocking-parked`'s `--park-idle-ms`: the node's default.
pub const PARK_IDLE_MS: u64 = 100;
/// The loadgen echo servers, the loopback ceiling of each I/O model.
pub const ECHOES: [&str; 2] = ["echo_threads", "echo_tokio"];

/// Where the lab finds the repository and its release binaries: in
/// `target_dir`/release when given (binaries carried to a machine without
/// a toolchain, say), else as cargo puts them.
pub fn paths(root: &std::path::Path, target_dir: Option<&std::path::Path>) -> Paths {
    let mut paths = Paths::new(root);
    if let Some(dir) = target_dir {
        paths.target = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    }
    paths
}

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
    // Into the target directory the lab will run from (`--target-dir`).
    cargo.env("CARGO_TARGET_DIR", &paths.target);
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
    let asked = is_pool(build).then_some(blocking_threads);
    threads_at(build, asked, server_cpus)
}

/// Worker threads of a build at a point that asks for `asked` (its
/// `threads` parameter, if any): the blocking pool as asked (1 if not);
/// tokio as asked, else one runtime worker per server CPU; the event loops
/// take the flag and ignore it (1).
pub fn threads_at(build: &str, asked: Option<u32>, server_cpus: Option<&str>) -> u32 {
    let asked = asked.filter(|t| *t > 0);
    match build {
        b if is_pool(b) => asked.unwrap_or(1),
        "tokio" | "echo_tokio" => asked.unwrap_or_else(|| tokio_workers(server_cpus)),
        _ => 1,
    }
}

/// True for the builds whose `--threads` is a tokio runtime's workers.
pub fn is_tokio(build: &str) -> bool {
    matches!(build, "tokio" | "echo_tokio")
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
    fn a_target_dir_moves_every_release_binary() {
        let root = std::path::Path::new("/r");
        let carried = paths(root, Some(std::path::Path::new("/carried")));
        assert_eq!(carried.loadgen(), "/carried/release/herd-loadgen");
        assert_eq!(carried.standin(), "/carried/release/herd-standin");
        assert_eq!(
            carried.node_program("blocking-tpc").expect("tpc"),
            "/carried/release/herd"
        );
        assert_eq!(
            carried.node_program("tokio").expect("tokio"),
            "/carried/release/herd-tokio"
        );
        assert_eq!(paths(root, None).target, Paths::new(root).target);
    }

    #[test]
    fn cpu_lists_count() {
        assert_eq!(cpu_count("0"), 1);
        assert_eq!(cpu_count("0-1"), 2);
        assert_eq!(cpu_count("0,2-3"), 3);
        assert_eq!(tokio_workers(Some("1")), 1);
        assert_eq!(tokio_workers(Some("0-7")), 8);
        let here = std::thread::available_parallelism().map_or(1, usize::from);
        assert_eq!(tokio_workers(None) as usize, here);
    }

    #[test]
    fn tokio_takes_the_threads_a_point_asks_for_else_one_per_server_cpu() {
        assert_eq!(threads_at("tokio", Some(3), Some("0-7")), 3);
        assert_eq!(threads_at("tokio", None, Some("0-7")), 8);
        assert_eq!(threads_at("tokio", Some(0), Some("0-3")), 4);
        assert_eq!(threads_at("blocking", Some(64), Some("0")), 64);
        assert_eq!(threads_at("blocking-tpc", None, None), 1);
        assert_eq!(threads_at("node", Some(64), None), 1);
        assert_eq!(threads_for("tokio", 64, Some("0-1")), 2);
        assert_eq!(threads_for("blocking-parked", 16, Some("0-1")), 16);
    }

    #[test]
    fn thread_per_connection_sizes_its_pool_to_the_connections() {
        let p = with_pool(TPC, json!({"idle": 1000}), 1000, 128);
        assert_eq!(p["threads"], 1000);
        assert!(p.get("tpc_unserved").is_none());
        let p = with_pool(TPC, json!({"idle": 10_000}), 10_000, 128);
        assert_eq!(p["threads"], TPC_MAX_THREADS);
        assert_eq!(p["tpc_unserved"], 10_000 - TPC_MAX_THREADS);
        assert_eq!(with_pool(TPC, json!({"idle": 0}), 0, 128)["threads"], 1);
        assert_eq!(
            with_pool("blocking", json!({}), 10_000, 128)["threads"],
            128
        );
        assert!(
            with_pool("tokio", json!({}), 64, 64)
                .get("threads")
                .is_none()
        );
        assert!(is_pool(TPC));
        assert_eq!(build_args(TPC), build_args("blocking"));
    }
}
