//! The measured points of every scenario, and how one point runs: start
//! the servers (a node, a five-server herd, an echo server, the Places
//! stand-in) on free ports, wait until they accept, run herd-loadgen
//! against them while /proc is sampled, stop everything, and turn it all
//! into one [`Row`]. A point that fails still gives a row, with `error`.

use std::path::{Path, PathBuf};
use std::thread;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use serde_json::{Map, Value, json};

use crate::builds::{self, BUILDS, ECHOES, HERD, Paths, ServerConf};
use crate::procs::{self, Proc, Spec};
use crate::rows::{self, Row, ServerSample};
use crate::sample::{self, Sampler};

/// Every scenario, in report order (`cpu` is derived from all rows).
pub const SCENARIOS: [&str; 8] = [
    "iamat_conns",
    "iamat_herd",
    "whatsat_latency",
    "idle_hoarders",
    "memory",
    "cpu",
    "threads_sweep",
    "propagation",
];

/// The blocking pool of the hoarders scenario and its idle timeout.
pub const HOARD_POOL: u32 = 16;
pub const HOARD_IDLE_MS: u64 = 3000;
/// The blocking pool of the WHATSAT scenario.
pub const WHATSAT_POOL: u32 = 32;
/// Client connections allowed per node in every point (PROTOCOL §5's
/// default is 1024; the memory scenario holds 10,000).
pub const MAX_CLIENTS: u32 = 12_000;

/// Run-wide settings.
pub struct Settings {
    pub paths: Paths,
    pub quick: bool,
    pub server_cpus: Option<String>,
    pub loadgen_cpus: Option<String>,
    /// Configs and protocol logs of the point being run (removed after).
    pub scratch: PathBuf,
}

impl Settings {
    fn warmup_s(&self) -> f64 {
        if self.quick { 0.5 } else { 1.0 }
    }
    fn duration_s(&self) -> f64 {
        if self.quick { 1.5 } else { 5.0 }
    }
    /// Long enough for 3 s idle timeouts to pass (twice, above the pool).
    fn hoard_s(&self) -> f64 {
        if self.quick { 5.0 } else { 7.0 }
    }
    /// Probes per propagation point: on an idle herd enough for a p99
    /// that is not just the slowest probe; under load fewer, since each
    /// may wait up to the probe timeout.
    fn probes(&self, loaded: bool) -> usize {
        match (self.quick, loaded) {
            (true, _) => 10,
            (false, false) => 200,
            (false, true) => 40,
        }
    }
    /// Longest wait for one probe: an overloaded herd's backlog would
    /// otherwise make a point last probes x 5 s.
    fn probe_timeout_ms(&self) -> u64 {
        if self.quick { 2000 } else { 5000 }
    }
    fn loadgen_workers(&self) -> usize {
        self.loadgen_cpus
            .as_deref()
            .map_or(1, builds::cpu_count)
            .max(1)
    }
    fn server_cpus(&self) -> Option<&str> {
        self.server_cpus.as_deref()
    }
    fn pinning(&self) -> Value {
        json!({"server_cpus": self.server_cpus, "loadgen_cpus": self.loadgen_cpus})
    }
}

/// One measured point.
#[derive(Debug, Clone)]
pub struct Point {
    pub build: String,
    pub scenario: &'static str,
    pub label: String,
    pub params: Map<String, Value>,
}

impl Point {
    fn new(build: &str, scenario: &'static str, params: Value) -> Point {
        let params = match params {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        let label = params
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(",");
        Point {
            build: build.to_owned(),
            scenario,
            label,
            params,
        }
    }

    fn u(&self, key: &str) -> u64 {
        self.params.get(key).and_then(Value::as_u64).unwrap_or(0)
    }

    pub fn title(&self) -> String {
        format!("{} {} {}", self.scenario, self.build, self.label)
    }
}

fn pick(quick: bool, q: &[u64], full: &[u64]) -> Vec<u64> {
    if quick { q.to_vec() } else { full.to_vec() }
}

/// Every point of the chosen builds and scenarios, in run order.
pub fn plan(builds: &[String], scenarios: &[String], quick: bool) -> Vec<Point> {
    let has = |s: &str| scenarios.iter().any(|x| x == s);
    let chosen: Vec<&str> = BUILDS
        .iter()
        .copied()
        .filter(|b| builds.iter().any(|x| x == b))
        .collect();
    let mut points = Vec::new();
    if has("iamat_conns") {
        for c in pick(quick, &[1, 64], &[1, 4, 16, 64, 256, 1024]) {
            for b in chosen.iter().chain(ECHOES.iter()) {
                let threads = c.clamp(64, 1024);
                let mut p = json!({"connections": c});
                if *b == "blocking" {
                    p["threads"] = json!(threads);
                }
                points.push(Point::new(b, "iamat_conns", p));
            }
        }
    }
    if has("iamat_herd") {
        for b in &chosen {
            let mut p = json!({"connections": 64, "servers": 5});
            if *b == "blocking" {
                p["threads"] = json!(64);
            }
            points.push(Point::new(b, "iamat_herd", p));
        }
    }
    if has("whatsat_latency") {
        for l in pick(quick, &[100], &[0, 50, 100, 200]) {
            for c in pick(quick, &[64], &[16, 64, 256]) {
                for b in &chosen {
                    let mut p = json!({"latency_ms": l, "connections": c});
                    if *b == "blocking" {
                        p["threads"] = json!(WHATSAT_POOL);
                    }
                    points.push(Point::new(b, "whatsat_latency", p));
                }
            }
        }
    }
    if has("idle_hoarders") {
        for k in pick(quick, &[0, 32], &[0, 8, 16, 32]) {
            for b in &chosen {
                let mut p = json!({"idle": k, "idle_timeout_ms": HOARD_IDLE_MS});
                if *b == "blocking" {
                    p["threads"] = json!(HOARD_POOL);
                }
                points.push(Point::new(b, "idle_hoarders", p));
            }
        }
    }
    if has("memory") {
        for k in pick(quick, &[0, 1000], &[0, 100, 1000, 10_000]) {
            for b in &chosen {
                let mut p = json!({"idle": k});
                if *b == "blocking" {
                    p["threads"] = json!(128);
                }
                points.push(Point::new(b, "memory", p));
            }
        }
    }
    if has("threads_sweep") && chosen.contains(&"blocking") {
        for t in pick(quick, &[4, 64], &[1, 4, 16, 64, 256]) {
            points.push(Point::new(
                "blocking",
                "threads_sweep",
                json!({"threads": t, "connections": 64, "latency_ms": 50}),
            ));
        }
    }
    if has("propagation") {
        for load in [0u64, 32] {
            for b in &chosen {
                let mut p = json!({"load_connections": load, "servers": 5});
                if *b == "blocking" {
                    p["threads"] = json!(64);
                }
                points.push(Point::new(b, "propagation", p));
            }
        }
    }
    points
}

/// Servers started for a point, with their sampling roles.
pub(crate) struct Started {
    pub(crate) procs: Vec<Proc>,
    pub(crate) roles: Vec<&'static str>,
    pub(crate) addrs: Vec<String>,
}

impl Started {
    pub(crate) fn new() -> Started {
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
}

/// The Places stand-in with a fixed latency; returns its legacy URL.
fn start_standin(
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
    let mut p = Proc::spawn(&spec, &s.paths.root, false)?;
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

/// The loadgen echo server of `model`; returns its address.
fn start_echo(
    s: &Settings,
    build: &str,
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
        .arg(builds::tokio_workers(s.server_cpus()).to_string())
        .args(["echo", "--addr", "127.0.0.1:0", "--model", model])
        .pinned(s.server_cpus());
    commands.push(spec.line());
    let mut p = Proc::spawn(&spec, &s.paths.root, false)?;
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

fn port_clash(e: &anyhow::Error) -> bool {
    let t = format!("{e:#}").to_ascii_lowercase();
    t.contains("in use") || t.contains("eaddrinuse") || t.contains("used twice")
}

/// Starts `names` (one server, or the five of the default herd) of
/// `build` on free ports and waits until each accepts; retries with new
/// ports when one was taken meanwhile. `threads` gives each server's
/// `--threads` by name.
#[allow(clippy::too_many_arguments)]
pub(crate) fn start_nodes(
    s: &Settings,
    build: &str,
    dir: &Path,
    herd: bool,
    threads: &dyn Fn(&str) -> u32,
    extra: &[String],
    places_url: Option<&str>,
    started: &mut Started,
    commands: &mut Vec<String>,
) -> Result<()> {
    let topology: Vec<(&str, Vec<&str>)> = if herd {
        HERD.iter().map(|(n, p)| (*n, p.to_vec())).collect()
    } else {
        vec![("Clark", Vec::new())]
    };
    let mut last_err = None;
    for _attempt in 0..3 {
        let ports = procs::free_ports(topology.len())?;
        let servers: Vec<ServerConf> = topology
            .iter()
            .zip(ports)
            .map(|((name, peers), port)| ServerConf {
                name: (*name).to_owned(),
                addr: format!("127.0.0.1:{port}"),
                peers: peers.iter().map(|p| (*p).to_owned()).collect(),
            })
            .collect();
        let config = dir.join("herd.toml");
        std::fs::write(&config, builds::config_toml(&servers, places_url))
            .with_context(|| format!("cannot write {}", config.display()))?;
        let log_dir = dir.join("logs");
        let mut procs_now = Vec::new();
        let mut cmds = Vec::new();
        let result: Result<()> = (|| {
            for srv in &servers {
                let spec = builds::node_spec(
                    &s.paths,
                    build,
                    &srv.name,
                    &config,
                    &log_dir,
                    threads(&srv.name),
                    extra,
                    // A herd of five on one CPU measures the scheduler, not
                    // the herd: herd scenarios leave their servers unpinned.
                    if herd { None } else { s.server_cpus() },
                )?;
                cmds.push(spec.line());
                procs_now.push(Proc::spawn(&spec, &s.paths.root, false)?);
            }
            for (p, srv) in procs_now.iter_mut().zip(&servers) {
                procs::wait_accepting(p, &srv.addr, Duration::from_secs(60))?;
            }
            Ok(())
        })();
        match result {
            Ok(()) => {
                commands.extend(cmds);
                for (p, srv) in procs_now.into_iter().zip(&servers) {
                    started.push(p, "node");
                    started.addrs.push(srv.addr.clone());
                }
                return Ok(());
            }
            Err(e) => {
                procs::stop_all(&mut procs_now, Duration::from_secs(3));
                if !port_clash(&e) {
                    return Err(e);
                }
                last_err = Some(e);
            }
        }
    }
    Err(last_err.unwrap_or_else(|| anyhow!("cannot start the nodes")))
}

/// The loadgen's JSON object: the last stdout line that parses as one.
fn parse_json(stdout: &str) -> Result<Value> {
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

/// Runs a herd-loadgen that prints `marker` on stderr when its measured
/// part starts; returns its JSON and the sampler time of the marker.
fn run_loadgen(
    s: &Settings,
    spec: Spec,
    marker: &str,
    limit: Duration,
    sampler: &Sampler,
    commands: &mut Vec<String>,
) -> Result<(Value, f64, f64)> {
    commands.push(spec.line());
    let mut p = Proc::spawn(&spec, &s.paths.root, false)?;
    let t_spawn = sampler.now();
    let m = marker.to_owned();
    // A loadgen that never prints the marker (it failed) is judged below.
    let t_marker = match p.wait_line(true, limit, &move |l| l.starts_with(&m)) {
        Ok(_) => sampler.now(),
        Err(_) => t_spawn,
    };
    let stderr = p.stderr.clone();
    let (status, out) = p.wait_output(limit)?;
    let t_end = sampler.now();
    let v = parse_json(&out).with_context(|| format!("{status}: {}", stderr.tail(6)))?;
    if !status.success() {
        bail!("herd-loadgen exited {status}: {}", stderr.tail(6));
    }
    Ok((v, t_marker, t_end))
}

/// Runs one point; any failure is recorded in the row's `error`.
pub fn run_point(s: &Settings, point: &Point, index: usize) -> Row {
    let started_at = rows::now_utc();
    let dir = s.scratch.join(format!("p{index:03}"));
    let mut row = Row {
        schema: rows::SCHEMA,
        build: point.build.clone(),
        scenario: point.scenario.to_owned(),
        point: point.label.clone(),
        params: point.params.clone(),
        loadgen: Value::Null,
        servers: Vec::new(),
        cpu_seconds: None,
        cpu_ms_per_1000_requests: None,
        derived: Map::new(),
        commands: Vec::new(),
        pinning: s.pinning(),
        started_at,
        finished_at: String::new(),
        window_s: None,
        error: None,
    };
    let mut started = Started::new();
    let result = std::fs::create_dir_all(&dir)
        .with_context(|| format!("cannot create {}", dir.display()))
        .and_then(|()| measure(s, point, &dir, &mut row, &mut started));
    procs::stop_all(&mut started.procs, Duration::from_secs(3));
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
    let build = point.build.as_str();
    let sc = point.scenario;
    let blocking_threads = point.u("threads") as u32;
    let herd = matches!(sc, "iamat_herd" | "propagation");
    let server_cpus = if herd { None } else { s.server_cpus() };
    if herd && s.server_cpus().is_some() {
        row.pinning = json!({
            "server_cpus": null,
            "loadgen_cpus": s.loadgen_cpus,
            "note": "herd scenarios run their five servers unpinned",
        });
    }
    let threads = builds::threads_for(build, blocking_threads.max(1), server_cpus);
    row.params
        .insert("server_threads_flag".into(), json!(threads));
    row.params.insert("max_clients".into(), json!(MAX_CLIENTS));
    let mut extra = vec!["--max-clients".to_owned(), MAX_CLIENTS.to_string()];
    let mut commands = Vec::new();
    // Stand-in first (the nodes' config names its URL).
    let latency = point.params.get("latency_ms").and_then(Value::as_u64);
    let places_url = match latency {
        Some(l) => Some(start_standin(s, l, started, &mut commands)?),
        None => None,
    };
    match sc {
        "idle_hoarders" => {
            extra.extend(["--idle-timeout-ms".to_owned(), HOARD_IDLE_MS.to_string()])
        }
        "memory" => extra.extend(["--idle-timeout-ms".to_owned(), "3600000".to_owned()]),
        _ => {}
    }
    if build.starts_with("echo_") {
        start_echo(s, build, started, &mut commands)?;
    } else {
        start_nodes(
            s,
            build,
            dir,
            herd,
            &|_| threads,
            &extra,
            places_url.as_deref(),
            started,
            &mut commands,
        )?;
    }
    let node_addrs = started.addrs.clone();
    if herd {
        // Until every link is up, a probe waits for the catch-up: one warm
        // probe round makes sure the herd is connected before measuring.
        let spec = loadgen_spec(s, "warm")
            .args([
                "propagate",
                "--at",
                &node_addrs[0],
                "--others",
                &node_addrs[1..].join(","),
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
        let (status, _) =
            Proc::spawn(&spec, &s.paths.root, false)?.wait_output(Duration::from_secs(60))?;
        if !status.success() {
            bail!("the warm-up propagate failed ({status})");
        }
    }
    let pids: Vec<u32> = started.procs.iter().map(Proc::pid).collect();
    let sampler = Sampler::start(pids, Duration::from_millis(100));
    let warmup = s.warmup_s();
    let duration = s.duration_s();
    let workers = s.loadgen_workers();
    row.params.insert("loadgen_workers".into(), json!(workers));
    let targets = node_addrs.join(",");
    let run_base = |mix: &str, conns: u64, warmup: f64, duration: f64| {
        loadgen_spec(s, "loadgen")
            .args([
                "run",
                "--target",
                &targets,
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
    };
    let long = Duration::from_secs_f64(warmup + duration + 120.0);
    let (window, loadgen) = match sc {
        "iamat_conns" | "iamat_herd" => {
            let c = point.u("connections");
            let spec = run_base("iamat=1,whatsat=0", c, warmup, duration);
            row.params.insert("mix".into(), json!("iamat=1,whatsat=0"));
            let (v, t, _) = run_loadgen(s, spec, "closed loop", long, &sampler, &mut commands)?;
            ((t + warmup, t + warmup + duration), v)
        }
        "whatsat_latency" | "threads_sweep" => {
            let c = point.u("connections");
            let mix = if sc == "whatsat_latency" {
                "iamat=0,whatsat=1"
            } else {
                "iamat=1,whatsat=1"
            };
            row.params.insert("mix".into(), json!(mix));
            let spec = run_base(mix, c, warmup, duration).args(["--clients", "200"]);
            let (v, t, _) = run_loadgen(s, spec, "closed loop", long, &sampler, &mut commands)?;
            ((t + warmup, t + warmup + duration), v)
        }
        "idle_hoarders" => {
            let k = point.u("idle");
            let hoard = s.hoard_s();
            row.params.insert("mix".into(), json!("iamat=1,whatsat=0"));
            row.params.insert("active_connections".into(), json!(1));
            let spec = run_base("iamat=1,whatsat=0", 1, 0.0, hoard).args([
                "--idle",
                &k.to_string(),
                "--timeout-ms",
                "20000",
            ]);
            let (v, t, _) = run_loadgen(s, spec, "closed loop", long, &sampler, &mut commands)?;
            ((t, t + hoard), v)
        }
        "memory" => {
            let k = point.u("idle");
            let settle = 1.0;
            if k == 0 {
                thread::sleep(Duration::from_secs_f64(settle * 2.0));
                let t = sampler.now();
                (
                    (t - settle, t),
                    json!({"requested": 0, "opened": 0, "still_open_at_end": 0}),
                )
            } else {
                let spec = loadgen_spec(s, "hold").args([
                    "hold",
                    "--target",
                    &node_addrs[0],
                    "--connections",
                    &k.to_string(),
                ]);
                commands.push(spec.line());
                let mut hold = Proc::spawn(&spec, &s.paths.root, true)?;
                hold.wait_line(true, Duration::from_secs(120), &|l| {
                    l.starts_with("holding")
                })?;
                // The kernel completes connections before the server
                // accepts them: wait until the node holds them all (its
                // open descriptors), at most 15 s.
                let pid = started.procs[0].pid();
                let tck = sample::clk_tck();
                // A build that stops accepting short of K (its count stays
                // put for 1.5 s) is measured as it is.
                let deadline = std::time::Instant::now() + Duration::from_secs(15);
                let (mut last, mut same) = (0, 0);
                while std::time::Instant::now() < deadline {
                    let fds = sample::sample(pid, 0.0, tck).map_or(0, |x| x.fds);
                    if fds >= k {
                        break;
                    }
                    same = if fds == last { same + 1 } else { 0 };
                    last = fds;
                    if same >= 15 {
                        break;
                    }
                    procs::check_interrupted()?;
                    thread::sleep(Duration::from_millis(100));
                }
                let t0 = sampler.now() + settle;
                thread::sleep(Duration::from_secs_f64(settle * 2.0));
                let t1 = sampler.now();
                hold.close_stdin();
                let (_, out) = hold.wait_output(Duration::from_secs(30))?;
                ((t0, t1), parse_json(&out)?)
            }
        }
        "propagation" => {
            let load = point.u("load_connections");
            let probes = s.probes(load > 0);
            row.params.insert("probes".into(), json!(probes));
            row.params
                .insert("probe_timeout_ms".into(), json!(s.probe_timeout_ms()));
            let mut spec = loadgen_spec(s, "propagate")
                .args([
                    "propagate",
                    "--at",
                    &node_addrs[0],
                    "--others",
                    &node_addrs[1..].join(","),
                ])
                .args(["--probes", &probes.to_string(), "--interval-ms", "50"])
                .args(["--timeout-ms", &s.probe_timeout_ms().to_string()]);
            if load > 0 {
                spec = spec.args([
                    "--load-target",
                    &targets,
                    "--load-connections",
                    &load.to_string(),
                ]);
            }
            let t0 = sampler.now();
            commands.push(spec.line());
            let p = Proc::spawn(&spec, &s.paths.root, false)?;
            let prefix = format!("lgp{}-", p.pid());
            // Every probe may wait its whole timeout on an overloaded herd.
            let worst = Duration::from_millis(probes as u64 * (s.probe_timeout_ms() + 50));
            let (status, out) = p.wait_output(long + worst)?;
            if !status.success() {
                bail!("herd-loadgen propagate exited {status}");
            }
            let t1 = sampler.now();
            // The nodes' log writers flush within a few ms of a line.
            thread::sleep(Duration::from_millis(100));
            if let Some(from_logs) = crate::log_propagation::measure(&dir.join("logs"), &prefix) {
                row.derived
                    .insert("server_log_propagation".into(), from_logs);
            }
            ((t0, t1), parse_json(&out)?)
        }
        other => bail!("scenario {other:?} has no points of its own"),
    };
    // One more sample after the window, then stop sampling.
    thread::sleep(Duration::from_millis(120));
    let samples = sampler.finish();
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
    row.commands = commands;
    if any_cpu {
        row.cpu_seconds = Some(round3(cpu));
        let ok = loadgen
            .get("requests_ok")
            .or_else(|| loadgen.pointer("/load/requests_ok"))
            .and_then(Value::as_f64);
        if let Some(ok) = ok.filter(|n| *n > 0.0) {
            row.cpu_ms_per_1000_requests = Some(round3(cpu * 1e6 / ok));
        }
    }
    derive(point, threads, &loadgen, row);
    row.loadgen = loadgen;
    Ok(())
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Figures of the scenario computed from the row: bounds and verdicts.
fn derive(point: &Point, threads: u32, lg: &Value, row: &mut Row) {
    let d = &mut row.derived;
    match point.scenario {
        "whatsat_latency" | "threads_sweep" => {
            let latency = point.u("latency_ms");
            if point.build == "blocking" && latency > 0 {
                let bound = f64::from(threads) * 1000.0 / latency as f64;
                d.insert(
                    "bound_rps_threads_over_latency".into(),
                    json!(round3(bound)),
                );
                d.insert("target_rps_0_9_bound".into(), json!(round3(0.9 * bound)));
            }
        }
        "idle_hoarders" => {
            let ok = lg.get("requests_ok").and_then(Value::as_u64).unwrap_or(0);
            let max = lg.pointer("/latency_us/max").and_then(Value::as_f64);
            let answered = ok > 0 && max.is_some_and(|m| m < (HOARD_IDLE_MS * 1000) as f64);
            d.insert("answered_before_idle_timeout".into(), json!(answered));
            d.insert("first_wait_us_upper_bound".into(), json!(max));
            if point.build == "blocking" {
                d.insert("pool_size".into(), json!(threads));
            }
        }
        "memory" => {
            if let Some(rss) = row.servers.first().and_then(|s| s.window.rss_kb_max) {
                d.insert("rss_kb".into(), json!(rss));
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quick_plans_are_small_and_full_plans_cover_every_point() {
        let builds: Vec<String> = BUILDS.iter().map(|s| (*s).to_owned()).collect();
        let scen: Vec<String> = SCENARIOS.iter().map(|s| (*s).to_owned()).collect();
        let quick = plan(&builds, &scen, true);
        let full = plan(&builds, &scen, false);
        assert!(quick.len() < 60, "{} quick points", quick.len());
        assert!(full.len() > quick.len());
        // Echo ceilings at every connection count of iamat_conns.
        assert_eq!(full.iter().filter(|p| p.build == "echo_threads").count(), 6);
        // threads_sweep is the blocking node's alone.
        assert!(
            full.iter()
                .filter(|p| p.scenario == "threads_sweep")
                .all(|p| p.build == "blocking")
        );
        let p = full
            .iter()
            .find(|p| {
                p.scenario == "iamat_conns" && p.build == "blocking" && p.u("connections") == 1024
            })
            .expect("1024 point");
        assert_eq!(p.u("threads"), 1024);
    }
}
