//! `herd-lab soak`: one build at a time, the five-server herd runs for a
//! bounded time under everything at once: steady open-loop IAMAT/WHATSAT
//! load on persistent connections to all five, connection churn (one
//! request per fresh connection), a hoard of idle connections re-opened
//! whenever the idle limit closes them, and slowloris tricklers. The
//! servers' RSS, fds and threads are sampled throughout; at the end every
//! server must still run and answer an IAMAT. The figures go to
//! soak.jsonl; the verdicts are `soak_check`'s.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow, bail};
use serde_json::{Value, json};

use crate::builds::{self, HERD};
use crate::procs::{self, Proc, Spec};
use crate::sample::{Sample, Sampler};
use crate::scenarios::{self, MAX_CLIENTS, Settings, Started};
use crate::soak_check::{self, Check, check};

/// The server that carries the hoarders and the tricklers (it also gets
/// its share of the steady load and the churn, like the other four).
pub const HOARDED: &str = "Clark";
/// `--threads` of the blocking build's other four servers.
pub const BLOCKING_THREADS: u32 = 64;
/// The part of the run left out of the flatness verdicts.
pub const WARMUP_FRACTION: f64 = 0.2;
/// Distinct client ids of each load generator (the cache reaches its
/// steady state).
pub const CLIENT_IDS: u32 = 1000;
/// Request slots of the churn (one-shot connections in flight at most).
pub const CHURN_SLOTS: usize = 4;

/// What one soak does to each build.
#[derive(Debug, Clone)]
pub struct SoakConfig {
    pub seconds: f64,
    pub idle_ms: u64,
    pub hoarders: usize,
    pub tricklers: usize,
    /// Connections to churn over the run (the rate follows from it).
    pub churn_total: u64,
    /// Steady requests per second over all five servers.
    pub rate: f64,
    /// Steady persistent connections (round-robin over the five).
    pub connections: usize,
    /// The blocking build's `--threads` on the hoarded server.
    pub hoard_threads: u32,
    /// How late after the idle limit a trickler may be closed.
    pub slack_ms: f64,
}

impl SoakConfig {
    /// Churn rate: 10 % above what the total needs.
    pub fn churn_rate(&self) -> f64 {
        (self.churn_total as f64 / self.seconds.max(1.0) * 1.1).max(1.0)
    }

    /// The hoard's first opens are spread over most of an idle period, so
    /// its idle-limit closes (and re-opens) are spread too and the
    /// server's fd count does not dip all at once; the ramp ends inside
    /// the warm-up.
    pub fn ramp_s(&self) -> f64 {
        (0.9 * self.idle_ms as f64 / 1000.0).min(0.8 * WARMUP_FRACTION * self.seconds)
    }

    /// Sampling period: about 200 samples a run, 1-5 s apart.
    pub fn sample_every(&self) -> Duration {
        Duration::from_secs_f64((self.seconds / 200.0).clamp(1.0, 5.0))
    }

    /// `--threads` of `server` for `build`. The blocking build serves one
    /// connection per pool worker, so the hoarded server needs a worker
    /// for every hoarder plus the active clients.
    pub fn threads(&self, build: &str, server: &str) -> u32 {
        match build {
            "blocking" if server == HOARDED => self.hoard_threads,
            "blocking" => BLOCKING_THREADS,
            other => builds::threads_for(other, 1, None),
        }
    }

    pub fn to_json(&self) -> Value {
        json!({
            "seconds": self.seconds,
            "idle_timeout_ms": self.idle_ms,
            "hoarders": self.hoarders,
            "hoarded_server": HOARDED,
            "tricklers": self.tricklers,
            "trickle_interval_ms": 1000,
            "churn_total": self.churn_total,
            "churn_rate": (self.churn_rate() * 100.0).round() / 100.0,
            "churn_slots": CHURN_SLOTS,
            "steady_rate": self.rate,
            "steady_connections": self.connections,
            "steady_mix": "iamat=9,whatsat=1",
            "churn_mix": "iamat=1,whatsat=0",
            "client_ids_per_generator": CLIENT_IDS,
            "blocking_threads_hoarded": self.hoard_threads,
            "blocking_threads_others": BLOCKING_THREADS,
            "max_clients": MAX_CLIENTS,
            "sample_every_s": self.sample_every().as_secs_f64(),
            "warmup_fraction": WARMUP_FRACTION,
            "flat_spread": soak_check::FLAT_SPREAD,
            "trickle_slack_ms": self.slack_ms,
        })
    }
}

/// One build's soak: the summary line and every server's samples.
pub struct BuildSoak {
    pub summary: Value,
    pub samples: Vec<(String, Vec<Sample>)>,
    pub pass: bool,
}

fn loadgen(s: &Settings, name: &str) -> Spec {
    Spec::new(name, s.paths.loadgen()).args(["--workers", "1"])
}

fn now_text() -> String {
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    format!("{}.{:09}", t.as_secs(), t.subsec_nanos())
}

/// Sends one IAMAT to `addr` and checks that `name` answers it with a
/// well-formed AT line (PROTOCOL §2) within 5 s.
pub fn probe(addr: &str, name: &str, id: &str) -> Result<String> {
    let limit = Duration::from_secs(5);
    let sock: SocketAddr = addr
        .parse()
        .with_context(|| format!("bad address {addr}"))?;
    let mut stream = TcpStream::connect_timeout(&sock, limit).context("connect")?;
    stream.set_read_timeout(Some(limit))?;
    stream.set_write_timeout(Some(limit))?;
    let location = "+34.068930-118.445127";
    let time = now_text();
    stream
        .write_all(format!("IAMAT {id} {location} {time}\n").as_bytes())
        .context("write")?;
    let mut line = String::new();
    BufReader::new(stream.try_clone()?.take(4096))
        .read_line(&mut line)
        .context("read")?;
    let f: Vec<&str> = line.split_whitespace().collect();
    let good = line.ends_with('\n')
        && f.len() == 6
        && f[0] == "AT"
        && f[1] == name
        && f[2].parse::<f64>().is_ok()
        && f[3] == id
        && f[4] == location
        && f[5] == time;
    if !good {
        bail!("unexpected answer {:?}", line.trim_end());
    }
    Ok(line.trim_end().to_owned())
}

/// The loadgen's JSON object: the last stdout line that parses as one.
fn last_json(stdout: &str) -> Option<Value> {
    stdout
        .lines()
        .rev()
        .filter(|l| l.trim_start().starts_with('{'))
        .find_map(|l| serde_json::from_str::<Value>(l).ok())
}

/// Soaks `build` (scratch files in `dir`).
pub fn soak_build(s: &Settings, cfg: &SoakConfig, build: &str, dir: &Path) -> Result<BuildSoak> {
    let mut started = Started::new();
    let mut commands = Vec::new();
    let extra = vec![
        "--max-clients".to_owned(),
        MAX_CLIENTS.to_string(),
        "--idle-timeout-ms".to_owned(),
        cfg.idle_ms.to_string(),
    ];
    let threads = |name: &str| cfg.threads(build, name);
    scenarios::start_nodes(
        s,
        build,
        dir,
        true,
        &threads,
        &extra,
        None,
        &mut started,
        &mut commands,
    )?;
    let names: Vec<&str> = HERD.iter().map(|(n, _)| *n).collect();
    let hoarded = names
        .iter()
        .position(|n| *n == HOARDED)
        .ok_or_else(|| anyhow!("no {HOARDED} in the herd"))?;
    let addrs = started.addrs.clone();
    let targets = addrs.join(",");
    let secs = format!("{:.3}", cfg.seconds);
    let pids: Vec<u32> = started.procs.iter().map(Proc::pid).collect();
    let sampler = Sampler::start(pids, cfg.sample_every());
    let t_begin = sampler.now();

    let steady = loadgen(s, "steady")
        .args(["run", "--target", &targets, "--mode", "open"])
        .args(["--rate", &cfg.rate.to_string()])
        .args(["--connections", &cfg.connections.to_string()])
        .args(["--mix", "iamat=9,whatsat=1", "--warmup-s", "0"])
        .args(["--duration-s", &secs, "--clients", &CLIENT_IDS.to_string()]);
    let churn = loadgen(s, "churn")
        .args(["run", "--target", &targets, "--mode", "open", "--one-shot"])
        .args(["--rate", &format!("{:.3}", cfg.churn_rate())])
        .args(["--connections", &CHURN_SLOTS.to_string()])
        .args(["--mix", "iamat=1,whatsat=0", "--warmup-s", "0"])
        .args(["--duration-s", &secs, "--clients", &CLIENT_IDS.to_string()]);
    let hoard = loadgen(s, "hoard")
        .args(["hold", "--target", &addrs[hoarded], "--reopen"])
        .args(["--connections", &cfg.hoarders.to_string()])
        .args(["--ramp-s", &format!("{:.3}", cfg.ramp_s())])
        .args(["--for-s", &secs, "--ignore-stdin"]);
    let trickle = loadgen(s, "trickle")
        .args([
            "trickle",
            "--target",
            &addrs[hoarded],
            "--interval-ms",
            "1000",
        ])
        .args(["--connections", &cfg.tricklers.to_string()])
        .args(["--for-s", &secs]);
    // The steady load primes its client ids first (a burst of IAMATs):
    // the hoard and the tricklers start once both loads are running, so
    // the soak's clock starts with everything on.
    let mut gens = Vec::new();
    for spec in [steady, churn] {
        commands.push(spec.line());
        gens.push(Proc::spawn(&spec, &s.paths.root, false)?);
    }
    for g in &mut gens {
        g.wait_line(true, Duration::from_secs(120), &|l| {
            l.starts_with("open loop")
        })?;
    }
    let t_load = sampler.now();
    for spec in [hoard, trickle] {
        commands.push(spec.line());
        gens.push(Proc::spawn(&spec, &s.paths.root, false)?);
    }

    // Watch for crashes while the load runs.
    let mut crashes: Vec<Value> = Vec::new();
    let end = Instant::now() + Duration::from_secs_f64(cfg.seconds);
    while Instant::now() < end {
        procs::check_interrupted()?;
        for (p, name) in started.procs.iter_mut().zip(&names) {
            if crashes.iter().any(|c| c["server"] == *name) {
                continue;
            }
            if let Some(status) = p.exited() {
                crashes.push(json!({"server": name, "t_s": sampler.now() - t_begin,
                    "status": status.to_string(), "stderr": p.stderr.tail(10)}));
            }
        }
        thread::sleep(Duration::from_millis(500));
    }
    // The steady load started first and ends first: the window of the
    // flatness verdicts ends with it.
    let t_end = (t_load + cfg.seconds).min(sampler.now());
    let mut reports = Vec::new();
    for g in gens {
        let name = g.name.clone();
        let stderr = g.stderr.clone();
        let (status, out) = g.wait_output(Duration::from_secs(180))?;
        let mut v = last_json(&out).unwrap_or_else(|| json!({}));
        if !status.success() {
            v["exit"] = json!(status.to_string());
            v["stderr"] = json!(stderr.tail(6));
        }
        reports.push((name, v));
    }
    // Every server must still run and answer.
    let mut probes = Vec::new();
    for (i, (p, name)) in started.procs.iter_mut().zip(&names).enumerate() {
        let alive = p.exited().is_none();
        let answer = probe(&addrs[i], name, &format!("soak-probe-{build}-{name}"));
        probes.push(json!({
            "server": name,
            "running": alive,
            "answered": answer.is_ok(),
            "detail": match &answer { Ok(a) => a.clone(), Err(e) => format!("{e:#}") },
        }));
    }
    thread::sleep(Duration::from_millis(100));
    let all = sampler.finish();
    procs::stop_all(&mut started.procs, Duration::from_secs(5));

    let get = |k: &str| {
        reports
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or(Value::Null)
    };
    let (steady, churn, hoard, trickle) =
        (get("steady"), get("churn"), get("hoard"), get("trickle"));
    let warm_from = t_load + WARMUP_FRACTION * cfg.seconds;
    let mut servers = Vec::new();
    let mut checks: Vec<Check> = Vec::new();
    let mut samples = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let series = all.get(i).cloned().unwrap_or_default();
        let after: Vec<&Sample> = series
            .iter()
            .filter(|x| x.t >= warm_from && x.t <= t_end)
            .collect();
        let col = |f: &dyn Fn(&Sample) -> f64| after.iter().map(|x| f(x)).collect::<Vec<f64>>();
        let rss = soak_check::flatness(&col(&|x| x.rss_kb as f64), 0.0);
        // fds: one churned or trickling connection in flight is one fd.
        let fd_floor = (CHURN_SLOTS + cfg.tricklers + 2) as f64;
        let fds = soak_check::flatness(&col(&|x| x.fds as f64), fd_floor);
        // threads: runtimes may start and reap a helper thread or two.
        let threads = soak_check::flatness(&col(&|x| x.threads as f64), 2.0);
        for (metric, f) in [("RSS", &rss), ("fds", &fds), ("threads", &threads)] {
            checks.push(check(
                &format!("{name} {metric} flat"),
                f.flat,
                format!(
                    "{} samples, {:.0}-{:.0}, spread {:.1} %, drift {:+.1} %",
                    f.samples,
                    f.min,
                    f.max,
                    f.spread * 100.0,
                    f.drift * 100.0
                ),
            ));
        }
        servers.push(json!({
            "server": name,
            "role": if i == hoarded { "hoarded" } else { "loaded" },
            "threads_flag": cfg.threads(build, name),
            "rss_kb": rss, "fds": fds, "threads": threads,
            "cpu_s": series.last().map(|x| x.cpu_s),
        }));
        samples.push(((*name).to_owned(), series));
    }
    let crashed = probes
        .iter()
        .filter(|p| !(p["running"] == true && p["answered"] == true))
        .count()
        + crashes.len();
    checks.insert(
        0,
        check(
            "0 crashes, every server answers at the end",
            crashed == 0,
            format!(
                "{} of 5 running and answering; {} exits seen during the run",
                probes
                    .iter()
                    .filter(|p| p["running"] == true && p["answered"] == true)
                    .count(),
                crashes.len()
            ),
        ),
    );
    let steady_min = (cfg.rate * cfg.seconds * 0.9) as u64;
    checks.insert(
        1,
        soak_check::load_check("steady load answered, all valid", &steady, steady_min),
    );
    checks.insert(
        2,
        soak_check::load_check(
            "churn: connections opened, answered, closed",
            &churn,
            cfg.churn_total,
        ),
    );
    checks.insert(3, soak_check::hoard_check(&hoard, cfg.hoarders as u64));
    checks.insert(
        4,
        soak_check::trickle_check(
            &trickle,
            cfg.tricklers as u64,
            cfg.idle_ms as f64,
            cfg.slack_ms,
        ),
    );
    let pass = checks.iter().all(|c| c.pass);
    let summary = json!({
        "type": "summary",
        "build": build,
        "window_s": [warm_from, t_end],
        "load_started_s": t_load,
        "config": cfg.to_json(),
        "pass": pass,
        "checks": checks,
        "servers": servers,
        "steady": steady,
        "churn": churn,
        "hoard": hoard,
        "trickle": trickle,
        "probes": probes,
        "crashes": crashes,
        "commands": commands,
    });
    Ok(BuildSoak {
        summary,
        samples,
        pass,
    })
}
