//! What a server costs, read from /proc: resident memory, CPU time
//! (utime + stime), threads and open file descriptors of one pid, sampled
//! every 100 ms by a background thread while a point runs, so the CPU
//! time of exactly the measured window can be interpolated afterwards.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

/// One reading of /proc/<pid>.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct Sample {
    /// Seconds since the sampler's epoch.
    pub t: f64,
    /// utime + stime, seconds.
    pub cpu_s: f64,
    pub rss_kb: u64,
    pub threads: u64,
    pub fds: u64,
}

/// Clock ticks per second of /proc/<pid>/stat's times.
pub fn clk_tck() -> f64 {
    match nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK) {
        Ok(Some(t)) if t > 0 => t as f64,
        _ => 100.0,
    }
}

/// utime + stime of /proc/<pid>/stat, in ticks.
fn cpu_ticks(stat: &str) -> Result<u64> {
    // The command name (field 2) may hold spaces and parentheses: the
    // fields after it start past the last ')'.
    let rest = stat
        .rfind(')')
        .map(|i| &stat[i + 1..])
        .context("no ')' in stat")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // rest[0] is field 3 (state); utime is field 14, stime field 15.
    if fields.len() < 13 {
        bail!("short /proc stat line");
    }
    let utime: u64 = fields[11].parse().context("utime")?;
    let stime: u64 = fields[12].parse().context("stime")?;
    Ok(utime + stime)
}

fn status_field(status: &str, key: &str) -> Result<u64> {
    let line = status
        .lines()
        .find(|l| l.starts_with(key))
        .with_context(|| format!("no {key} in status"))?;
    line[key.len()..]
        .split_whitespace()
        .next()
        .and_then(|v| v.parse().ok())
        .with_context(|| format!("bad {key} line {line:?}"))
}

/// Reads /proc/<pid>/{stat,status,fd} once.
pub fn sample(pid: u32, t: f64, tck: f64) -> Result<Sample> {
    let base = format!("/proc/{pid}");
    let stat =
        std::fs::read_to_string(format!("{base}/stat")).with_context(|| format!("{base}/stat"))?;
    let status = std::fs::read_to_string(format!("{base}/status"))
        .with_context(|| format!("{base}/status"))?;
    let fds = std::fs::read_dir(format!("{base}/fd"))
        .with_context(|| format!("{base}/fd"))?
        .count() as u64;
    Ok(Sample {
        t,
        cpu_s: cpu_ticks(&stat)? as f64 / tck,
        rss_kb: status_field(&status, "VmRSS:")?,
        threads: status_field(&status, "Threads:")?,
        fds,
    })
}

/// Samples a set of pids every `every` until stopped.
pub struct Sampler {
    pub epoch: Instant,
    stop: Arc<AtomicBool>,
    handle: Option<thread::JoinHandle<Vec<Vec<Sample>>>>,
}

impl Sampler {
    pub fn start(pids: Vec<u32>, every: Duration) -> Sampler {
        let epoch = Instant::now();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = thread::spawn(move || {
            let tck = clk_tck();
            let mut all: Vec<Vec<Sample>> = vec![Vec::new(); pids.len()];
            loop {
                let t = epoch.elapsed().as_secs_f64();
                for (i, pid) in pids.iter().enumerate() {
                    if let Ok(s) = sample(*pid, t, tck) {
                        all[i].push(s);
                    }
                }
                if flag.load(Ordering::SeqCst) {
                    break;
                }
                thread::sleep(every);
            }
            all
        });
        Sampler {
            epoch,
            stop,
            handle: Some(handle),
        }
    }

    /// Seconds since the epoch, on the samples' clock.
    pub fn now(&self) -> f64 {
        self.epoch.elapsed().as_secs_f64()
    }

    /// Takes a last sample and returns every pid's samples.
    pub fn finish(mut self) -> Vec<Vec<Sample>> {
        self.stop.store(true, Ordering::SeqCst);
        self.handle
            .take()
            .and_then(|h| h.join().ok())
            .unwrap_or_default()
    }
}

impl Drop for Sampler {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// A process's figures over a window [t0, t1] of its samples.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Window {
    /// CPU seconds spent in the window (interpolated at its ends).
    pub cpu_seconds: Option<f64>,
    pub rss_kb_start: Option<u64>,
    pub rss_kb_end: Option<u64>,
    pub rss_kb_max: Option<u64>,
    pub threads_max: Option<u64>,
    pub threads_end: Option<u64>,
    pub fds_max: Option<u64>,
    pub fds_end: Option<u64>,
    pub samples: usize,
}

/// CPU seconds at time `t`, interpolated between the samples around it.
fn cpu_at(samples: &[Sample], t: f64) -> Option<f64> {
    let first = samples.first()?;
    if t <= first.t {
        return Some(first.cpu_s);
    }
    for w in samples.windows(2) {
        let (a, b) = (w[0], w[1]);
        if t <= b.t {
            let span = b.t - a.t;
            let f = if span > 0.0 { (t - a.t) / span } else { 1.0 };
            return Some(a.cpu_s + f * (b.cpu_s - a.cpu_s));
        }
    }
    samples.last().map(|s| s.cpu_s)
}

pub fn window(samples: &[Sample], t0: f64, t1: f64) -> Window {
    let inside: Vec<&Sample> = samples.iter().filter(|s| s.t >= t0 && s.t <= t1).collect();
    // With no sample inside, the nearest before the end stands for it.
    let pool: Vec<&Sample> = if inside.is_empty() {
        samples.iter().rfind(|s| s.t <= t1).into_iter().collect()
    } else {
        inside
    };
    let cpu = match (cpu_at(samples, t0), cpu_at(samples, t1)) {
        (Some(a), Some(b)) => Some(((b - a).max(0.0) * 1e4).round() / 1e4),
        _ => None,
    };
    Window {
        cpu_seconds: cpu,
        rss_kb_start: pool.first().map(|s| s.rss_kb),
        rss_kb_end: pool.last().map(|s| s.rss_kb),
        rss_kb_max: pool.iter().map(|s| s.rss_kb).max(),
        threads_max: pool.iter().map(|s| s.threads).max(),
        threads_end: pool.last().map(|s| s.threads),
        fds_max: pool.iter().map(|s| s.fds).max(),
        fds_end: pool.last().map(|s| s.fds),
        samples: pool.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_this_test_process() {
        let pid = std::process::id();
        let tck = clk_tck();
        let a = sample(pid, 0.0, tck).expect("sample self");
        assert!(a.rss_kb > 1000, "rss {} kB", a.rss_kb);
        assert!(a.threads >= 1);
        assert!(a.fds >= 3);
        // Burn some CPU and see the time grow.
        let start = Instant::now();
        let mut x = 0u64;
        while start.elapsed() < Duration::from_millis(300) {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
        }
        std::hint::black_box(x);
        let b = sample(pid, 1.0, tck).expect("sample self again");
        assert!(b.cpu_s > a.cpu_s, "{} -> {}", a.cpu_s, b.cpu_s);
        // Open files show up in the fd count.
        let files: Vec<std::fs::File> = (0..5)
            .map(|_| std::fs::File::open("/proc/self/stat").expect("open"))
            .collect();
        let c = sample(pid, 2.0, tck).expect("sample with files");
        assert!(
            c.fds >= a.fds + 5 || c.fds >= 8,
            "fds {} -> {}",
            a.fds,
            c.fds
        );
        drop(files);
    }

    #[test]
    fn the_sampler_thread_collects_and_windows_interpolate() {
        let s = Sampler::start(vec![std::process::id()], Duration::from_millis(20));
        thread::sleep(Duration::from_millis(120));
        let all = s.finish();
        assert_eq!(all.len(), 1);
        assert!(all[0].len() >= 3, "{} samples", all[0].len());
        let fake = [
            Sample {
                t: 0.0,
                cpu_s: 1.0,
                rss_kb: 10,
                threads: 2,
                fds: 4,
            },
            Sample {
                t: 1.0,
                cpu_s: 2.0,
                rss_kb: 30,
                threads: 5,
                fds: 9,
            },
            Sample {
                t: 2.0,
                cpu_s: 4.0,
                rss_kb: 20,
                threads: 3,
                fds: 6,
            },
        ];
        let w = window(&fake, 0.5, 1.5);
        assert_eq!(w.cpu_seconds, Some(1.5));
        assert_eq!(w.rss_kb_max, Some(30));
        assert_eq!(w.threads_max, Some(5));
        assert_eq!(w.samples, 1);
    }

    #[test]
    fn stat_lines_with_odd_names_parse() {
        let stat = "123 (a (b) c) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0 3 0";
        assert_eq!(cpu_ticks(stat).expect("parse"), 300);
    }
}
