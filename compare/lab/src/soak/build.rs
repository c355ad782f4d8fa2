//! One build's soak: the five-server herd runs for a bounded time under
//! everything at once: steady open-loop IAMAT/WHATSAT load on persistent
//! connections to all five, connection churn (one request per fresh
//! connection), a hoard of idle connections re-opened whenever the idle
//! limit closes them, and slowloris tricklers. The servers' RSS, fds and
//! threads are sampled throughout; at the end every server must still run
//! and answer an IAMAT. The figures go to soak.jsonl; the verdicts are
//! `check`'s.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow, bail};
use herd_launch::{FIVE, Proc, Spec, stop_all};
use serde_json::{Value, json};

use crate::builds::Programs;
use crate::measure::MAX_CLIENTS;
use crate::point::Settings;
use crate::procs;
use crate::sample::{Sample, Sampler};
use crate::servers::{self, Nodes, Started};
use crate::soak::check::{self, Check, check};
use crate::soak::config::{CHURN_SLOTS, CLIENT_IDS, HOARDED, SoakConfig, WARMUP_FRACTION};

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

/// The four load generators: steady, churn (started first), then the
/// hoard and the tricklers on the hoarded server.
fn generators(s: &Settings, cfg: &SoakConfig, addrs: &[String], hoarded: usize) -> [Spec; 4] {
    let targets = addrs.join(",");
    let secs = format!("{:.3}", cfg.seconds);
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
    [steady, churn, hoard, trickle]
}

/// Starts the generators. The steady load primes its client ids first (a
/// burst of IAMATs): the hoard and the tricklers start once both loads
/// are running, so the soak's clock (returned) starts with everything on.
fn start_loads(
    s: &Settings,
    specs: [Spec; 4],
    sampler: &Sampler,
    commands: &mut Vec<String>,
) -> Result<(Vec<Proc>, f64)> {
    let [steady, churn, hoard, trickle] = specs;
    let mut gens = Vec::new();
    for spec in [steady, churn] {
        commands.push(spec.line());
        gens.push(Proc::spawn(&spec, &s.paths.root)?);
    }
    for g in &mut gens {
        g.wait_line(true, Duration::from_secs(120), &|l| {
            l.starts_with("open loop")
        })?;
    }
    let t_load = sampler.now();
    for spec in [hoard, trickle] {
        commands.push(spec.line());
        gens.push(Proc::spawn(&spec, &s.paths.root)?);
    }
    Ok((gens, t_load))
}

/// Watches for crashes while the load runs (`seconds`).
fn watch(
    seconds: f64,
    started: &mut Started,
    names: &[&str],
    sampler: &Sampler,
    t_begin: f64,
) -> Result<Vec<Value>> {
    let mut crashes: Vec<Value> = Vec::new();
    let end = Instant::now() + Duration::from_secs_f64(seconds);
    while Instant::now() < end {
        procs::check_interrupted()?;
        for (p, name) in started.procs.iter_mut().zip(names) {
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
    Ok(crashes)
}

/// Each generator's JSON (with its exit and stderr when it failed), by
/// name.
fn reports(gens: Vec<Proc>) -> Result<Vec<(String, Value)>> {
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
    Ok(reports)
}

/// Whether every server still runs and answers an IAMAT.
fn probe_all(started: &mut Started, names: &[&str], build: &str) -> Vec<Value> {
    let mut probes = Vec::new();
    for (i, (p, name)) in started.procs.iter_mut().zip(names).enumerate() {
        let alive = p.exited().is_none();
        let answer = probe(
            &started.addrs[i],
            name,
            &format!("soak-probe-{build}-{name}"),
        );
        probes.push(json!({
            "server": name,
            "running": alive,
            "answered": answer.is_ok(),
            "detail": match &answer { Ok(a) => a.clone(), Err(e) => format!("{e:#}") },
        }));
    }
    probes
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
    let nodes = Nodes {
        build,
        herd: true,
        threads: &|name| cfg.threads(build, name),
        extra: &extra,
        places_url: None,
    };
    servers::start_nodes(s, &nodes, dir, &mut started, &mut commands)?;
    let names: Vec<&str> = FIVE.iter().map(|(n, _)| *n).collect();
    let hoarded = names
        .iter()
        .position(|n| *n == HOARDED)
        .ok_or_else(|| anyhow!("no {HOARDED} in the herd"))?;
    let sampler = Sampler::start(started.pids(), cfg.sample_every());
    let t_begin = sampler.now();
    let specs = generators(s, cfg, &started.addrs, hoarded);
    let (gens, t_load) = start_loads(s, specs, &sampler, &mut commands)?;
    let crashes = watch(cfg.seconds, &mut started, &names, &sampler, t_begin)?;
    // The steady load started first and ends first: the window of the
    // flatness verdicts ends with it.
    let t_end = (t_load + cfg.seconds).min(sampler.now());
    let reports = reports(gens)?;
    let probes = probe_all(&mut started, &names, build);
    thread::sleep(Duration::from_millis(100));
    let all = sampler.finish();
    stop_all(&mut started.procs, Duration::from_secs(5));
    let get = |k: &str| {
        reports
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or(Value::Null)
    };
    let warm_from = t_load + WARMUP_FRACTION * cfg.seconds;
    let flat = flatness(cfg, build, &names, hoarded, &all, (warm_from, t_end));
    let loads = [get("steady"), get("churn"), get("hoard"), get("trickle")];
    let mut checks = run_checks(cfg, &probes, &crashes, &loads);
    checks.extend(flat.checks);
    let pass = checks.iter().all(|c| c.pass);
    let [steady, churn, hoard, trickle] = loads;
    let summary = json!({
        "type": "summary",
        "build": build,
        "window_s": [warm_from, t_end],
        "load_started_s": t_load,
        "config": cfg.to_json(),
        "pass": pass,
        "checks": checks,
        "servers": flat.servers,
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
        samples: flat.samples,
        pass,
    })
}

/// Every server's flatness after the warm-up, as JSON and as checks.
struct Flat {
    servers: Vec<Value>,
    checks: Vec<Check>,
    samples: Vec<(String, Vec<Sample>)>,
}

fn flatness(
    cfg: &SoakConfig,
    build: &str,
    names: &[&str],
    hoarded: usize,
    all: &[Vec<Sample>],
    (warm_from, t_end): (f64, f64),
) -> Flat {
    let mut flat = Flat {
        servers: Vec::new(),
        checks: Vec::new(),
        samples: Vec::new(),
    };
    for (i, name) in names.iter().enumerate() {
        let series = all.get(i).cloned().unwrap_or_default();
        let after: Vec<&Sample> = series
            .iter()
            .filter(|x| x.t >= warm_from && x.t <= t_end)
            .collect();
        let col = |f: &dyn Fn(&Sample) -> f64| after.iter().map(|x| f(x)).collect::<Vec<f64>>();
        let rss = check::flatness(&col(&|x| x.rss_kb as f64), 0.0);
        // fds: one churned or trickling connection in flight is one fd.
        let fd_floor = (CHURN_SLOTS + cfg.tricklers + 2) as f64;
        let fds = check::flatness(&col(&|x| x.fds as f64), fd_floor);
        // threads: runtimes may start and reap a helper thread or two.
        let threads = check::flatness(&col(&|x| x.threads as f64), 2.0);
        for (metric, f) in [("RSS", &rss), ("fds", &fds), ("threads", &threads)] {
            flat.checks.push(check(
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
        flat.servers.push(json!({
            "server": name,
            "role": if i == hoarded { "hoarded" } else { "loaded" },
            "threads_flag": cfg.threads(build, name),
            "rss_kb": rss, "fds": fds, "threads": threads,
            "cpu_s": series.last().map(|x| x.cpu_s),
        }));
        flat.samples.push(((*name).to_owned(), series));
    }
    flat
}

/// The checks of the run itself, in report order: no crash, the steady
/// load and the churn answered, the hoard held, the tricklers closed.
fn run_checks(
    cfg: &SoakConfig,
    probes: &[Value],
    crashes: &[Value],
    [steady, churn, hoard, trickle]: &[Value; 4],
) -> Vec<Check> {
    let answering = probes
        .iter()
        .filter(|p| p["running"] == true && p["answered"] == true)
        .count();
    let crashed = probes.len() - answering + crashes.len();
    let steady_min = (cfg.rate * cfg.seconds * 0.9) as u64;
    vec![
        check(
            "0 crashes, every server answers at the end",
            crashed == 0,
            format!(
                "{answering} of 5 running and answering; {} exits seen during the run",
                crashes.len()
            ),
        ),
        check::load_check("steady load answered, all valid", steady, steady_min),
        check::load_check(
            "churn: connections opened, answered, closed",
            churn,
            cfg.churn_total,
        ),
        check::hoard_check(hoard, cfg.hoarders as u64),
        check::trickle_check(
            trickle,
            cfg.tricklers as u64,
            cfg.idle_ms as f64,
            cfg.slack_ms,
        ),
    ]
}
