//! How one point runs, whatever its scenario: start the servers (the Places
//! stand-in, then the nodes or an echo server) on free ports and wait until
//! they answer; for a herd, one warm-up propagation round; sample /proc;
//! let the scenario run its load ([`Scenario::load`]); stop everything; and
//! turn it all into one [`Row`]. A point that fails still gives a row, with
//! `error`. The scenario-specific parts are in `scenario/`.

use std::path::Path;
use std::thread;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use herd_launch::{Proc, Spec, stop_all};
use serde_json::{Map, Value, json};

use crate::builds::{self, Programs};
use crate::point::{Point, Settings};
use crate::rows::{self, Row, ServerSample};
use crate::sample::{self, Sampler};
use crate::scenario::{self, Scenario};
use crate::servers::{self, Nodes, Started};

/// Client connections allowed per node in every point (PROTOCOL §5's
/// default is 1024; the memory scenario holds 10,000).
pub const MAX_CLIENTS: u32 = 12_000;

/// What a scenario's load measured: the window (sampler seconds) and
/// herd-loadgen's JSON object.
pub struct Load {
    pub window: (f64, f64),
    pub loadgen: Value,
}

/// A point in the middle of its run, as a scenario's load sees it.
pub struct Ctx<'a> {
    pub s: &'a Settings,
    pub point: &'a Point,
    /// The point's scratch directory (config, `logs/`).
    pub dir: &'a Path,
    pub row: &'a mut Row,
    /// The nodes' (or the echo server's) addresses.
    pub addrs: Vec<String>,
    /// The pids of every server started (the stand-in first when there is
    /// one).
    pub pids: Vec<u32>,
    pub sampler: &'a Sampler,
    pub commands: &'a mut Vec<String>,
}

impl Ctx<'_> {
    /// Records a parameter of the point in its row.
    pub fn param(&mut self, key: &str, value: Value) {
        self.row.params.insert(key.into(), value);
    }

    /// A herd-loadgen command line (workers and pinning set).
    pub fn loadgen(&self, name: &str) -> Spec {
        loadgen_spec(self.s, name)
    }

    /// How long a load may run before it counts as hung.
    pub fn long(&self) -> Duration {
        Duration::from_secs_f64(self.s.warmup_s() + self.s.duration_s() + 120.0)
    }

    /// `herd-loadgen run` against every node.
    pub fn run_spec(&self, mix: &str, conns: u64, warmup: f64, duration: f64) -> Spec {
        self.loadgen("loadgen")
            .args([
                "run",
                "--target",
                &self.addrs.join(","),
                "--connections",
                &conns.to_string(),
            ])
            .args([
                "--mix",
                mix,
                "--warmup-s",
                &warmup.to_string(),
                "--duration-s",
                &duration.to_string(),
            ])
    }

    /// Runs a herd-loadgen that prints `marker` on stderr when its measured
    /// part starts; returns its JSON and the sampler time of the marker.
    pub fn run_loadgen(
        &mut self,
        spec: Spec,
        marker: &str,
        limit: Duration,
    ) -> Result<(Value, f64)> {
        self.commands.push(spec.line());
        let mut p = Proc::spawn(&spec, &self.s.paths.root)?;
        let t_spawn = self.sampler.now();
        let m = marker.to_owned();
        // A loadgen that never prints the marker (it failed) is judged below.
        let t_marker = match p.wait_line(true, limit, &move |l| l.starts_with(&m)) {
            Ok(_) => self.sampler.now(),
            Err(_) => t_spawn,
        };
        let stderr = p.stderr.clone();
        let (status, out) = p.wait_output(limit)?;
        let v = parse_json(&out).with_context(|| format!("{status}: {}", stderr.tail(6)))?;
        if !status.success() {
            bail!("herd-loadgen exited {status}: {}", stderr.tail(6));
        }
        Ok((v, t_marker))
    }

    /// A closed loop of `mix` on the point's `connections` (plus `extra`
    /// flags), measured for the run's duration after its warm-up.
    pub fn closed_loop(&mut self, mix: &str, extra: &[&str]) -> Result<Load> {
        let (warmup, duration) = (self.s.warmup_s(), self.s.duration_s());
        let c = self.point.u("connections");
        let spec = self
            .run_spec(mix, c, warmup, duration)
            .args(extra.iter().copied());
        self.param("mix", json!(mix));
        let (v, t) = self.run_loadgen(spec, "closed loop", self.long())?;
        Ok(Load {
            window: (t + warmup, t + warmup + duration),
            loadgen: v,
        })
    }
}

/// The loadgen's JSON object: the last stdout line that parses as one.
pub fn parse_json(stdout: &str) -> Result<Value> {
    stdout
        .lines()
        .rev()
        .filter(|l| l.trim_start().starts_with('{'))
        .find_map(|l| serde_json::from_str::<Value>(l).ok())
        .ok_or_else(|| anyhow!("herd-loadgen printed no JSON object"))
}

fn loadgen_spec(s: &Settings, name: &str) -> Spec {
    Spec::new(name, s.paths.loadgen())
        .arg("--workers")
        .arg(s.loadgen_workers().to_string())
        .pinned(s.loadgen_cpus.as_deref())
}

pub fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Where the point whose scratch directory is `dir` (`pNNN`) may keep a
/// durable store: `stores/pNNN` under the run's output directory (see
/// [`Settings::out`]).
pub fn store_dir(s: &Settings, dir: &Path) -> std::path::PathBuf {
    s.out
        .join("stores")
        .join(dir.file_name().unwrap_or_default())
}

/// Disk space the files under `dir` take, in bytes, as `du` counts it
/// (allocated blocks: a preallocated, still sparse journal counts only
/// what was written); 0 when it does not exist.
pub fn dir_bytes(dir: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::read_dir(dir).map_or(0, |entries| {
        entries
            .flatten()
            .map(|e| match e.file_type() {
                Ok(t) if t.is_dir() => dir_bytes(&e.path()),
                Ok(_) => e.metadata().map_or(0, |m| m.blocks() * 512),
                Err(_) => 0,
            })
            .sum()
    })
}

/// The parameters by which a point pins itself (the cores sweep), over the
/// run's `--server-cpus` / `--loadgen-cpus`.
pub const POINT_SERVER_CPUS: &str = "server_cpus";
pub const POINT_LOADGEN_CPUS: &str = "loadgen_cpus";

/// The CPU list a point names for `key`, if any.
fn point_cpus<'a>(point: &'a Point, key: &str) -> Option<&'a str> {
    point.params.get(key).and_then(Value::as_str)
}

/// True for a point pinned by its own parameters: its servers (a herd's
/// too, however few CPUs) run on exactly its list.
pub fn pins_itself(point: &Point) -> bool {
    point_cpus(point, POINT_SERVER_CPUS).is_some()
}

/// The run's settings as `point` runs: its own `server_cpus` and
/// `loadgen_cpus` parameters, where it names them, in place of the run's.
pub fn point_settings(s: &Settings, point: &Point) -> Settings {
    let own = |key: &str, run: &Option<String>| {
        point_cpus(point, key).map_or_else(|| run.clone(), |l| Some(l.to_owned()))
    };
    Settings {
        server_cpus: own(POINT_SERVER_CPUS, &s.server_cpus),
        loadgen_cpus: own(POINT_LOADGEN_CPUS, &s.loadgen_cpus),
        ..s.clone()
    }
}

/// Runs one point; any failure is recorded in the row's `error`.
pub fn run_point(s: &Settings, point: &Point, index: usize) -> Row {
    let s = &point_settings(s, point);
    let dir = s.scratch.join(format!("p{index:03}"));
    let store = store_dir(s, &dir);
    let mut row = Row {
        schema: rows::SCHEMA,
        build: point.build.clone(),
        scenario: point.scenario.to_owned(),
        point: point.label.clone(),
        params: point.params.clone(),
        repeat: point.repeat,
        settings: Map::new(),
        loadgen: Value::Null,
        servers: Vec::new(),
        cpu_seconds: None,
        cpu_ms_per_1000_requests: None,
        derived: Map::new(),
        commands: Vec::new(),
        pinning: s.pinning(),
        started_at: rows::now_utc(),
        finished_at: String::new(),
        window_s: None,
        error: None,
    };
    let mut started = Started::new();
    let result = std::fs::create_dir_all(&dir)
        .with_context(|| format!("cannot create {}", dir.display()))
        .and_then(|()| measure(s, point, &dir, &mut row, &mut started));
    stop_all(&mut started.procs, Duration::from_secs(3));
    if store.exists() {
        row.derived
            .insert("store_bytes".into(), json!(dir_bytes(&store)));
        let _ = std::fs::remove_dir_all(&store);
        let _ = std::fs::remove_dir(s.out.join("stores")); // when empty
    }
    if let Err(e) = result {
        let mut msg = format!("{e:#}");
        for p in &started.procs {
            let tail = p.stderr.tail(5);
            if !tail.is_empty() {
                msg.push_str(&format!("\n[{} stderr] {tail}", p.name));
            }
        }
        row.error = Some(msg);
    }
    let _ = std::fs::remove_dir_all(&dir);
    row.finished_at = rows::now_utc();
    row
}

fn measure(
    s: &Settings,
    point: &Point,
    dir: &Path,
    row: &mut Row,
    started: &mut Started,
) -> Result<()> {
    let sc = scenario::find(point.scenario)
        .ok_or_else(|| anyhow!("unknown scenario {:?}", point.scenario))?;
    let mut commands = Vec::new();
    let threads = start_servers(s, sc, point, dir, row, started, &mut commands)?;
    let sampler = Sampler::start(started.pids(), Duration::from_millis(100));
    row.params
        .insert("loadgen_workers".into(), json!(s.loadgen_workers()));
    let load = sc.load(&mut Ctx {
        s,
        point,
        dir,
        row,
        addrs: started.addrs.clone(),
        pids: started.pids(),
        sampler: &sampler,
        commands: &mut commands,
    })?;
    // One more sample after the window, then stop sampling.
    thread::sleep(Duration::from_millis(120));
    let samples = sampler.finish();
    record(started, &samples, &load, row);
    row.commands = commands;
    sc.derive(point, threads, &load.loadgen, row);
    row.loadgen = load.loadgen;
    Ok(())
}

/// Starts the stand-in (when the point has a Places latency) and the
/// point's nodes or echo server (the point's own flags, `point_args`,
/// last); for a herd, runs one warm-up propagation round. Returns the
/// servers' `--threads`.
fn start_servers(
    s: &Settings,
    sc: &dyn Scenario,
    point: &Point,
    dir: &Path,
    row: &mut Row,
    started: &mut Started,
    commands: &mut Vec<String>,
) -> Result<u32> {
    let build = point.build.as_str();
    let herd = sc.herd_at(point);
    let server_cpus = if herd && !pins_itself(point) {
        s.herd_cpus()
    } else {
        s.server_cpus()
    };
    if herd && s.server_cpus().is_some() && server_cpus.is_none() {
        row.pinning = json!({
            "server_cpus": null,
            "loadgen_cpus": s.loadgen_cpus,
            "note": "herd scenarios run their five servers unpinned on fewer than 4 server CPUs",
        });
    }
    let asked = point.params.get("threads").and_then(Value::as_u64);
    let asked = asked.map(|t| u32::try_from(t).unwrap_or(u32::MAX));
    let threads = builds::threads_at(build, asked, server_cpus);
    row.params
        .insert("server_threads_flag".into(), json!(threads));
    if builds::is_tokio(build) {
        // What ran: the runtime's workers (asked, or one per server CPU).
        row.params.insert("workers".into(), json!(threads));
    }
    row.params.insert("max_clients".into(), json!(MAX_CLIENTS));
    let mut extra = vec!["--max-clients".to_owned(), MAX_CLIENTS.to_string()];
    extra.extend(sc.node_args());
    extra.extend(sc.point_args(point, &store_dir(s, dir)));
    // Stand-in first (the nodes' config names its URL).
    let places_url = match point.params.get("latency_ms").and_then(Value::as_u64) {
        Some(l) => Some(servers::start_standin(s, l, started, commands)?),
        None => None,
    };
    if build.starts_with("echo_") {
        // herd-loadgen's runtime: the tokio echo's workers; the thread
        // echo's connections are OS threads of their own.
        let workers = builds::threads_at("echo_tokio", asked, server_cpus);
        servers::start_echo(s, build, workers, started, commands)?;
        return Ok(threads);
    }
    let nodes = Nodes {
        build,
        herd,
        threads: &|_| threads,
        extra: &extra,
        places_url: places_url.as_deref(),
    };
    servers::start_nodes_on(s, &nodes, server_cpus, dir, started, commands)?;
    if herd {
        warm_up(s, &started.addrs, commands)?;
    }
    Ok(threads)
}

/// Until every link is up, a probe waits for the catch-up: one warm probe
/// round makes sure the herd is connected before measuring.
fn warm_up(s: &Settings, addrs: &[String], commands: &mut Vec<String>) -> Result<()> {
    let spec = loadgen_spec(s, "warm")
        .args([
            "propagate",
            "--at",
            &addrs[0],
            "--others",
            &addrs[1..].join(","),
        ])
        .args([
            "--probes",
            "3",
            "--interval-ms",
            "20",
            "--timeout-ms",
            "10000",
        ]);
    commands.push(spec.line());
    let (status, _) = Proc::spawn(&spec, &s.paths.root)?.wait_output(Duration::from_secs(60))?;
    if !status.success() {
        bail!("the warm-up propagate failed ({status})");
    }
    Ok(())
}

/// Each server's figures over the window, and the servers' CPU time
/// (stand-in apart) per 1,000 good answers.
fn record(started: &Started, samples: &[Vec<sample::Sample>], load: &Load, row: &mut Row) {
    let window = load.window;
    row.window_s = Some([round3(window.0), round3(window.1)]);
    let mut cpu = 0.0;
    let mut any_cpu = false;
    for (i, p) in started.procs.iter().enumerate() {
        let w = sample::window(
            samples.get(i).map_or(&[][..], Vec::as_slice),
            window.0,
            window.1,
        );
        if started.roles[i] != "standin"
            && let Some(c) = w.cpu_seconds
        {
            cpu += c;
            any_cpu = true;
        }
        row.servers.push(ServerSample {
            name: p.name.clone(),
            role: started.roles[i].to_owned(),
            pid: p.pid(),
            window: w,
        });
    }
    if any_cpu {
        row.cpu_seconds = Some(round3(cpu));
        let ok = load
            .loadgen
            .get("requests_ok")
            .or_else(|| load.loadgen.pointer("/load/requests_ok"))
            .and_then(Value::as_f64);
        if let Some(ok) = ok.filter(|n| *n > 0.0) {
            row.cpu_ms_per_1000_requests = Some(round3(cpu * 1e6 / ok));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(out: &Path) -> Settings {
        Settings {
            paths: herd_launch::Paths::new(Path::new("/r")),
            quick: true,
            server_cpus: Some("1".into()),
            loadgen_cpus: Some("0".into()),
            scratch: std::path::PathBuf::from("/tmp/herd-lab-1"),
            out: out.to_path_buf(),
        }
    }

    #[test]
    fn a_point_that_pins_itself_runs_on_its_own_cpus() {
        let s = settings(Path::new("/o"));
        let plain = Point::new("tokio", "iamat_conns", json!({"connections": 64}));
        assert!(!pins_itself(&plain));
        let same = point_settings(&s, &plain);
        assert_eq!(same.pinning(), s.pinning());
        let swept = Point::new(
            "tokio",
            "cores_sweep",
            json!({"cores": 4, POINT_SERVER_CPUS: "0-3", POINT_LOADGEN_CPUS: "4-15"}),
        );
        assert!(pins_itself(&swept));
        let own = point_settings(&s, &swept);
        assert_eq!(own.server_cpus(), Some("0-3"));
        assert_eq!(own.loadgen_workers(), 12);
        assert_eq!(own.out, s.out);
        // Four CPUs are enough for the herd's own rule, too.
        assert_eq!(own.herd_cpus(), Some("0-3"));
        assert_eq!(builds::threads_at("tokio", None, own.server_cpus()), 4);
    }

    #[test]
    fn a_points_store_lies_under_the_run_and_its_disk_use_is_counted() {
        let out = tempfile::tempdir().expect("tempdir");
        let s = Settings {
            paths: herd_launch::Paths::new(Path::new("/r")),
            quick: true,
            server_cpus: None,
            loadgen_cpus: None,
            scratch: std::path::PathBuf::from("/tmp/herd-lab-1"),
            out: out.path().to_path_buf(),
        };
        let store = store_dir(&s, &s.scratch.join("p007"));
        assert_eq!(store, out.path().join("stores/p007"));
        assert_eq!(dir_bytes(&store), 0, "no store yet");
        std::fs::create_dir_all(store.join("journals")).expect("mkdir");
        std::fs::write(store.join("journals/0"), vec![7u8; 10_000]).expect("write");
        std::fs::write(store.join("version"), b"1").expect("write");
        // Whole blocks, at least what was written.
        assert!(dir_bytes(&store) >= 10_001, "{}", dir_bytes(&store));
    }
}
