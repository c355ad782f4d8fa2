//! What one soak does to each build ([`SoakConfig`]: how long, the idle
//! limit, how many hoarders, tricklers and churned connections, the steady
//! rate) and the constants every part of the soak shares.

use std::time::Duration;

use serde_json::{Value, json};

use crate::builds;
use crate::measure::MAX_CLIENTS;
use crate::soak::check;

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
            b if builds::is_pool(b) && server == HOARDED => self.hoard_threads,
            b if builds::is_pool(b) => BLOCKING_THREADS,
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
            "flat_spread": check::FLAT_SPREAD,
            "trickle_slack_ms": self.slack_ms,
        })
    }
}
