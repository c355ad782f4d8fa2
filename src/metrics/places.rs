//! Places calls as metrics: a latency histogram and errors by status.
//!
//! `cmd/whatsat.rs` times each provider call and hands the time and the
//! provider's answer to [`PlacesMetrics::observe`]. The histogram's buckets
//! are fixed atomics (cumulated only when rendered); the error status is
//! the one the WHATSAT answer carries, mapped onto a fixed set of labels so
//! that a provider cannot grow the label set (or put text of its choosing
//! into the scrape).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde_json::Value;

use crate::places::PlacesError;

/// Upper bounds of the latency buckets, in seconds (`+Inf` is implied).
pub const LATENCY_BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The `status` labels of `herd_places_errors_total`: the legacy API's
/// error statuses, and `other` for anything else a provider says.
pub const ERROR_STATUSES: [&str; 6] = [
    "INVALID_REQUEST",
    "NOT_FOUND",
    "OVER_QUERY_LIMIT",
    "REQUEST_DENIED",
    "UNKNOWN_ERROR",
    "other",
];

#[derive(Debug, Default)]
pub struct PlacesMetrics {
    /// Calls that took at most `LATENCY_BUCKETS[i]` (and more than the
    /// bound before); the last slot holds the calls above every bound.
    buckets: [AtomicU64; LATENCY_BUCKETS.len() + 1],
    sum_nanos: AtomicU64,
    count: AtomicU64,
    errors: [AtomicU64; ERROR_STATUSES.len()],
}

/// A snapshot of the histogram, for rendering.
#[derive(Debug, Clone, PartialEq)]
pub struct LatencySnapshot {
    /// Cumulative counts, one per bound of [`LATENCY_BUCKETS`], then `+Inf`.
    pub cumulative: Vec<u64>,
    pub sum_seconds: f64,
    pub count: u64,
}

impl PlacesMetrics {
    /// One provider call that took `took` and answered `answer`.
    pub fn observe(&self, took: Duration, answer: &Result<Value, PlacesError>) {
        let seconds = took.as_secs_f64();
        let slot = LATENCY_BUCKETS
            .iter()
            .position(|bound| seconds <= *bound)
            .unwrap_or(LATENCY_BUCKETS.len());
        self.buckets[slot].fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
        if let Some(status) = error_status(answer) {
            self.errors[error_label(status)].fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn latency(&self) -> LatencySnapshot {
        let mut running = 0;
        let cumulative = self
            .buckets
            .iter()
            .map(|b| {
                running += b.load(Ordering::Relaxed);
                running
            })
            .collect();
        LatencySnapshot {
            cumulative,
            sum_seconds: self.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9,
            // The +Inf bucket, so that count and buckets always agree even
            // while a call is being recorded.
            count: running,
        }
    }

    /// Errors by the labels of [`ERROR_STATUSES`], in that order.
    pub fn errors(&self) -> Vec<u64> {
        self.errors
            .iter()
            .map(|e| e.load(Ordering::Relaxed))
            .collect()
    }
}

/// The non-OK status the WHATSAT answer will carry for `answer`, or `None`
/// for `OK` / `ZERO_RESULTS` (the same rule as `places::answer_json`).
fn error_status(answer: &Result<Value, PlacesError>) -> Option<&str> {
    let object = match answer {
        Err(error) => return Some(&error.status),
        Ok(Value::Object(object)) => object,
        Ok(_) => return Some("UNKNOWN_ERROR"),
    };
    match object.get("status").and_then(Value::as_str) {
        Some("OK" | "ZERO_RESULTS") if object.get("results").is_some_and(Value::is_array) => None,
        Some("OK" | "ZERO_RESULTS") | None => Some("UNKNOWN_ERROR"),
        Some(other) => Some(other),
    }
}

fn error_label(status: &str) -> usize {
    ERROR_STATUSES
        .iter()
        .position(|known| *known == status)
        .unwrap_or(ERROR_STATUSES.len() - 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn statuses_are_those_the_answer_carries_and_unknown_ones_are_other() {
        let ok = Ok(json!({"results": [], "status": "OK"}));
        let zero = Ok(json!({"results": [], "status": "ZERO_RESULTS"}));
        let denied = Ok(json!({"results": [], "status": "REQUEST_DENIED"}));
        let no_results = Ok(json!({"status": "OK"}));
        let weird = Ok(json!({"status": "x\n# TYPE evil counter"}));
        let error = Err(PlacesError::new("OVER_QUERY_LIMIT", "slow down"));
        assert_eq!(error_status(&ok), None);
        assert_eq!(error_status(&zero), None);
        assert_eq!(error_status(&denied), Some("REQUEST_DENIED"));
        assert_eq!(error_status(&no_results), Some("UNKNOWN_ERROR"));
        assert_eq!(error_status(&Ok(json!([1]))), Some("UNKNOWN_ERROR"));
        let metrics = PlacesMetrics::default();
        for answer in [&ok, &denied, &weird, &error, &error] {
            metrics.observe(Duration::from_millis(30), answer);
        }
        assert_eq!(metrics.errors(), vec![0, 0, 2, 1, 0, 1]);
    }

    #[test]
    fn buckets_are_cumulative_and_end_at_the_count() {
        let metrics = PlacesMetrics::default();
        let ok = Ok(json!({"results": [], "status": "OK"}));
        metrics.observe(Duration::from_millis(5), &ok); // on a bound: in it
        metrics.observe(Duration::from_millis(70), &ok);
        metrics.observe(Duration::from_secs(60), &ok); // above every bound
        let snapshot = metrics.latency();
        assert_eq!(snapshot.cumulative[0], 1);
        assert_eq!(snapshot.cumulative[3], 1);
        assert_eq!(snapshot.cumulative[4], 2);
        assert_eq!(snapshot.cumulative[LATENCY_BUCKETS.len() - 1], 2);
        assert_eq!(snapshot.cumulative[LATENCY_BUCKETS.len()], 3);
        assert_eq!(snapshot.count, 3);
        assert!((snapshot.sum_seconds - 60.075).abs() < 1e-9);
    }
}
