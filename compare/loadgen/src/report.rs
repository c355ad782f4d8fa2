//! The figures: a latency histogram, good-answer and error counts with a
//! few example answers, merged across connections, and turned into the one
//! JSON object each subcommand prints on stdout.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde_json::{Value, json};

use crate::requests::ErrorKind;

/// Error examples kept per run.
const MAX_EXAMPLES: usize = 3;
/// Bytes of an example answer kept.
const EXAMPLE_BYTES: usize = 200;

/// Samples a connection keeps before adding them to the shared histograms.
const BATCH: usize = 512;

/// The histograms of a run, shared by all its connections: one pair per
/// run, not per connection (a 3-figure histogram to an hour is ~360 KiB,
/// which 10,000 connections could not each afford).
pub struct Histograms {
    /// Latency of good answers, in microseconds.
    pub latency: Histogram<u64>,
    /// Open loop: how late each request was sent after its due time.
    pub send_lag: Histogram<u64>,
    /// Latency of good answers per second of the run, by when the answer
    /// came: shows a stall that the run's percentiles hide.
    pub series: Series,
}

/// Good-answer latencies in one-second buckets from the sink's creation
/// (the run's start), each a coarse histogram (1 significant figure, to
/// 60 s) so that a 10-minute soak keeps a few MiB.
pub struct Series {
    origin: Instant,
    buckets: Vec<Histogram<u64>>,
}

/// Bucket width of [`Series`].
pub const SERIES_BUCKET: Duration = Duration::from_secs(1);

impl Series {
    fn new() -> Series {
        Series {
            origin: Instant::now(),
            buckets: Vec::new(),
        }
    }

    fn record(&mut self, at: Instant, latency: Duration) {
        let i = (at.saturating_duration_since(self.origin).as_secs_f64()
            / SERIES_BUCKET.as_secs_f64()) as usize;
        while self.buckets.len() <= i {
            let h = Histogram::new_with_bounds(1, 60_000_000, 1).expect("constant, valid bounds");
            self.buckets.push(h);
        }
        let us = u64::try_from(latency.as_micros())
            .unwrap_or(u64::MAX)
            .clamp(1, 60_000_000);
        let _ = self.buckets[i].record(us);
    }

    /// `{"bucket_s", "t_s": [bucket starts], "count", "p50", "p99", "max"}`
    /// (latencies in µs, each to about 10 %; null for an empty second).
    pub fn to_json(&self) -> Value {
        let q = |h: &Histogram<u64>, f: &dyn Fn(&Histogram<u64>) -> u64| {
            if h.is_empty() {
                Value::Null
            } else {
                json!(f(h))
            }
        };
        let b = &self.buckets;
        json!({
            "bucket_s": SERIES_BUCKET.as_secs_f64(),
            "t_s": (0..b.len()).map(|i| i as f64 * SERIES_BUCKET.as_secs_f64()).collect::<Vec<_>>(),
            "count": b.iter().map(Histogram::len).collect::<Vec<_>>(),
            "p50": b.iter().map(|h| q(h, &|h| h.value_at_quantile(0.5))).collect::<Vec<_>>(),
            "p99": b.iter().map(|h| q(h, &|h| h.value_at_quantile(0.99))).collect::<Vec<_>>(),
            "max": b.iter().map(|h| q(h, &|h| h.max())).collect::<Vec<_>>(),
        })
    }
}

pub type Sink = Arc<Mutex<Histograms>>;

pub fn new_sink() -> Sink {
    Arc::new(Mutex::new(Histograms {
        latency: new_histogram(),
        send_lag: new_histogram(),
        series: Series::new(),
    }))
}

fn lock(sink: &Sink) -> MutexGuard<'_, Histograms> {
    sink.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What one connection (or a whole run, once merged) has seen. Latencies
/// are batched locally and added to the shared [`Sink`].
pub struct Stats {
    sink: Sink,
    /// Latencies not yet in the sink, with when each answer came.
    pending_latency: Vec<(Instant, Duration)>,
    pending_lag: Vec<Duration>,
    pub ok: u64,
    /// Good answers that arrived inside the measured window, whenever their
    /// request was sent: what throughput is computed from. (`ok` counts
    /// requests sent inside the window, whose latencies are recorded; with
    /// more connections than a server serves at once, answers to requests
    /// starved until the load stops arrive after the window, and counting
    /// them would overstate throughput.)
    pub answered_in_window: u64,
    pub errors: BTreeMap<String, u64>,
    pub examples: Vec<Value>,
    /// Errors during warmup: not in `errors`, reported apart.
    pub warmup_errors: u64,
    pub ok_by_command: BTreeMap<&'static str, u64>,
}

impl Default for Stats {
    fn default() -> Self {
        Stats::new()
    }
}

impl Stats {
    /// Stats with histograms of their own.
    pub fn new() -> Stats {
        Stats::with_sink(new_sink())
    }

    /// Stats whose latencies go to `sink`.
    pub fn with_sink(sink: Sink) -> Stats {
        Stats {
            sink,
            pending_latency: Vec::new(),
            pending_lag: Vec::new(),
            ok: 0,
            answered_in_window: 0,
            errors: BTreeMap::new(),
            examples: Vec::new(),
            warmup_errors: 0,
            ok_by_command: BTreeMap::new(),
        }
    }

    pub fn record_ok(&mut self, command: &'static str, latency: Duration) {
        self.ok += 1;
        *self.ok_by_command.entry(command).or_default() += 1;
        self.pending_latency.push((Instant::now(), latency));
        if self.pending_latency.len() >= BATCH {
            self.flush();
        }
    }

    pub fn record_send_lag(&mut self, lag: Duration) {
        self.pending_lag.push(lag);
        if self.pending_lag.len() >= BATCH {
            self.flush();
        }
    }

    /// Adds the batched samples to the shared histograms.
    pub fn flush(&mut self) {
        if self.pending_latency.is_empty() && self.pending_lag.is_empty() {
            return;
        }
        let mut h = lock(&self.sink);
        for (at, latency) in self.pending_latency.drain(..) {
            record(&mut h.latency, latency);
            h.series.record(at, latency);
        }
        for lag in self.pending_lag.drain(..) {
            record(&mut h.send_lag, lag);
        }
    }

    /// Counts an error of `kind` (prefixed, e.g. `prime_`), keeping the
    /// request and answer as an example while there is room.
    pub fn record_error(&mut self, prefix: &str, kind: ErrorKind, request: &str, answer: &[u8]) {
        let name = format!("{prefix}{}", kind.name());
        if self.examples.len() < MAX_EXAMPLES {
            self.examples.push(json!({
                "kind": name,
                "request": request.trim_end(),
                "answer": cut(answer),
            }));
        }
        *self.errors.entry(name).or_default() += 1;
    }

    pub fn merge(&mut self, mut other: Stats) {
        other.flush();
        if !Arc::ptr_eq(&self.sink, &other.sink) {
            let theirs = lock(&other.sink);
            let mut ours = lock(&self.sink);
            let _ = ours.latency.add(&theirs.latency);
            let _ = ours.send_lag.add(&theirs.send_lag);
        }
        self.ok += other.ok;
        self.answered_in_window += other.answered_in_window;
        for (kind, n) in std::mem::take(&mut other.errors) {
            *self.errors.entry(kind).or_default() += n;
        }
        for example in other.examples.drain(..) {
            if self.examples.len() < MAX_EXAMPLES {
                self.examples.push(example);
            }
        }
        self.warmup_errors += other.warmup_errors;
        for (command, n) in std::mem::take(&mut other.ok_by_command) {
            *self.ok_by_command.entry(command).or_default() += n;
        }
    }

    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }

    /// The latency percentiles of good answers (see [`latency_json`]).
    pub fn latency_json(&mut self) -> Value {
        self.flush();
        latency_json(&lock(&self.sink).latency)
    }

    /// The per-second latency series of this run's sink (see [`Series`]);
    /// stats merged in from another sink add to the percentiles only.
    pub fn series_json(&mut self) -> Value {
        self.flush();
        lock(&self.sink).series.to_json()
    }

    /// The send-lag percentiles (open loop).
    pub fn send_lag_json(&mut self) -> Value {
        self.flush();
        latency_json(&lock(&self.sink).send_lag)
    }
}

impl Drop for Stats {
    fn drop(&mut self) {
        self.flush();
    }
}

/// 3 significant figures, 1 µs to 1 hour; grows past that itself.
pub fn new_histogram() -> Histogram<u64> {
    let mut h = Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("constant, valid bounds");
    h.auto(true);
    h
}

/// Records a duration in microseconds (at least 1).
pub fn record(h: &mut Histogram<u64>, latency: Duration) {
    let us = u64::try_from(latency.as_micros())
        .unwrap_or(u64::MAX)
        .max(1);
    let _ = h.record(us);
}

/// `{"p50", "p90", "p99", "p999", "max", "mean"}` in microseconds; all null
/// for an empty histogram.
pub fn latency_json(h: &Histogram<u64>) -> Value {
    if h.is_empty() {
        return json!({"p50": null, "p90": null, "p99": null, "p999": null, "max": null, "mean": null});
    }
    json!({
        "p50": h.value_at_quantile(0.50),
        "p90": h.value_at_quantile(0.90),
        "p99": h.value_at_quantile(0.99),
        "p999": h.value_at_quantile(0.999),
        "max": h.max(),
        "mean": (h.mean() * 10.0).round() / 10.0,
    })
}

/// The first [`EXAMPLE_BYTES`] of an answer, as text.
pub fn cut(answer: &[u8]) -> String {
    let end = answer.len().min(EXAMPLE_BYTES);
    String::from_utf8_lossy(&answer[..end]).into_owned()
}

/// The command line as run, for the report's `command`.
pub fn command_line() -> String {
    std::env::args().collect::<Vec<_>>().join(" ")
}

/// Prints the one JSON object on stdout.
pub fn emit(report: &Value) {
    println!("{report}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_merge_and_keep_three_examples() {
        let mut a = Stats::new();
        a.record_ok("iamat", Duration::from_micros(100));
        a.record_error("", ErrorKind::InvalidAnswer, "IAMAT x\n", &[b'x'; 500]);
        let mut b = Stats::new();
        b.record_ok("whatsat", Duration::from_micros(300));
        for _ in 0..4 {
            b.record_error("", ErrorKind::Timeout, "WHATSAT x 1 1\n", b"");
        }
        a.merge(b);
        assert_eq!(a.ok, 2);
        assert_eq!(a.errors["invalid_answer"], 1);
        assert_eq!(a.errors["timeout"], 4);
        assert_eq!(a.error_count(), 5);
        assert_eq!(a.examples.len(), 3);
        assert_eq!(a.examples[0]["answer"].as_str().map(str::len), Some(200));
        let l = a.latency_json();
        assert!(l["p50"].as_u64().is_some_and(|v| (99..=101).contains(&v)));
        assert!(l["max"].as_u64().is_some_and(|v| (299..=301).contains(&v)));
        assert!(latency_json(&new_histogram())["p50"].is_null());
    }

    #[test]
    fn the_series_puts_each_answer_in_the_second_it_came() {
        let mut series = Series::new();
        let t0 = series.origin;
        series.record(t0 + Duration::from_millis(100), Duration::from_micros(200));
        series.record(t0 + Duration::from_millis(2500), Duration::from_millis(150));
        series.record(t0 + Duration::from_millis(2600), Duration::from_secs(600));
        let j = series.to_json();
        assert_eq!(j["count"], json!([1, 0, 2]));
        assert_eq!(j["t_s"], json!([0.0, 1.0, 2.0]));
        assert!(j["p50"][1].is_null());
        // One significant figure: within 10 % of what was recorded.
        let p50 = j["p50"][0].as_u64().expect("p50");
        assert!((180..=220).contains(&p50), "{p50}");
        // Clamped at 60 s rather than lost.
        let max = j["max"][2].as_u64().expect("max");
        assert!(max >= 54_000_000, "{max}");
    }
}
