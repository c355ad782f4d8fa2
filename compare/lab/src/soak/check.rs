//! The verdicts of a soak, as pure functions of its figures: whether a
//! sampled series (RSS, fds, threads) stayed flat after the warm-up,
//! whether every trickler was closed at the idle limit, and the list of
//! named checks a build passes or fails.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Largest (max - min) / mean of a flat series after the warm-up.
pub const FLAT_SPREAD: f64 = 0.05;

/// How one series behaved after the warm-up.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Flatness {
    pub samples: usize,
    pub first: f64,
    pub last: f64,
    pub min: f64,
    pub max: f64,
    pub mean: f64,
    /// (max - min) / mean.
    pub spread: f64,
    /// (median of the last quarter - median of the first quarter) / mean:
    /// a leak shows as a steady positive drift.
    pub drift: f64,
    /// The absolute spread allowed whatever the mean (see [`flatness`]).
    pub floor: f64,
    pub flat: bool,
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    match s.len() {
        0 => 0.0,
        n if n % 2 == 1 => s[n / 2],
        n => (s[n / 2 - 1] + s[n / 2]) / 2.0,
    }
}

/// Flatness of `values` (in time order, warm-up already cut). Flat when
/// (max - min) / mean <= [`FLAT_SPREAD`], or when max - min <= `floor`:
/// on a small count (a server with 15 fds) one connection in flight is
/// already 7 %, so an absolute floor the load itself explains keeps noise
/// from passing for a leak; a leak still fails once it outgrows the floor.
/// No samples is not flat.
pub fn flatness(values: &[f64], floor: f64) -> Flatness {
    let n = values.len();
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mean = if n > 0 {
        values.iter().sum::<f64>() / n as f64
    } else {
        0.0
    };
    let spread = if mean > 0.0 { (max - min) / mean } else { 0.0 };
    let q = (n / 4).max(1).min(n);
    let drift = if mean > 0.0 && n > 0 {
        (median(&values[n - q..]) - median(&values[..q])) / mean
    } else {
        0.0
    };
    let round = |x: f64| (x * 1e4).round() / 1e4;
    Flatness {
        samples: n,
        first: values.first().copied().unwrap_or(0.0),
        last: values.last().copied().unwrap_or(0.0),
        min: if n > 0 { min } else { 0.0 },
        max: if n > 0 { max } else { 0.0 },
        mean: round(mean),
        spread: round(spread),
        drift: round(drift),
        floor,
        flat: n > 0 && (spread <= FLAT_SPREAD || max - min <= floor),
    }
}

/// One named check of a build.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Check {
    pub name: String,
    pub pass: bool,
    pub detail: String,
}

pub fn check(name: &str, pass: bool, detail: impl Into<String>) -> Check {
    Check {
        name: name.to_owned(),
        pass,
        detail: detail.into(),
    }
}

fn u(v: &Value, key: &str) -> u64 {
    v.get(key).and_then(Value::as_u64).unwrap_or(0)
}

/// A load run (steady or churn): answers came, none was wrong or late.
pub fn load_check(name: &str, run: &Value, at_least: u64) -> Check {
    let ok = u(run, "requests_ok");
    let errors = u(run, "error_count") + u(run, "warmup_errors");
    let invalid = run
        .pointer("/errors/invalid_answer")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    check(
        name,
        ok >= at_least.max(1) && errors == 0,
        format!("{ok} answered (need >= {at_least}), {errors} errors, {invalid} invalid answers"),
    )
}

/// The hoard: every hoarder opened, no re-open failed, and at least 98 %
/// held at the end (a few may be between a close and their re-open).
pub fn hoard_check(hoard: &Value, wanted: u64) -> Check {
    let requested = u(hoard, "requested");
    let closed = u(hoard, "closed_by_server");
    let errors = u(hoard, "connect_errors");
    let at_end = u(hoard, "still_open_at_end");
    check(
        "hoarders held",
        requested == wanted && wanted > 0 && errors == 0 && at_end * 100 >= wanted * 98,
        format!(
            "{requested} hoarders, {closed} closed by the server and re-opened, \
             {errors} failed connects, {at_end} open at the end (fewest after the ramp: {})",
            u(hoard, "min_held_after_ramp")
        ),
    )
}

/// Tricklers: at least one close each, every close inside
/// [idle - 0.5 s, idle + slack], none left open longer than idle + slack.
pub fn trickle_check(trickle: &Value, tricklers: u64, idle_ms: f64, slack_ms: f64) -> Check {
    let closes: Vec<f64> = trickle
        .get("close_ms")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_f64).collect())
        .unwrap_or_default();
    let lo = idle_ms - 500.0;
    let hi = idle_ms + slack_ms;
    let outside = closes.iter().filter(|c| **c < lo || **c > hi).count();
    let oldest_open = trickle
        .get("open_at_end_max_age_ms")
        .and_then(Value::as_f64)
        .unwrap_or(0.0);
    let errors = u(trickle, "connect_errors");
    let pass = closes.len() as u64 >= tricklers && outside == 0 && oldest_open <= hi && errors == 0;
    let range = match (closes.first(), closes.last()) {
        (Some(a), Some(b)) => format!("{:.1}-{:.1} s", a / 1000.0, b / 1000.0),
        _ => "none".to_owned(),
    };
    check(
        "tricklers closed at the idle limit",
        pass,
        format!(
            "{} closes in {range} (allowed {:.1}-{:.1} s), {outside} outside, \
             oldest still open {:.1} s, {errors} failed connects",
            closes.len(),
            lo / 1000.0,
            hi / 1000.0,
            oldest_open / 1000.0
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn flat_noisy_and_leaking_series() {
        let flat = flatness(&[100.0, 101.0, 99.0, 100.0, 102.0], 0.0);
        assert!(flat.flat, "{flat:?}");
        assert!(flat.spread <= 0.05);
        // A leak: +2 % a sample.
        let leak: Vec<f64> = (0..20)
            .map(|i| 100.0 * (1.0 + 0.02 * f64::from(i)))
            .collect();
        let l = flatness(&leak, 0.0);
        assert!(!l.flat, "{l:?}");
        assert!(l.drift > 0.2, "{l:?}");
        // A small count that wobbles by 2 is flat within a floor of 4 ...
        let small = flatness(&[15.0, 17.0, 15.0, 16.0], 4.0);
        assert!(small.flat && small.spread > 0.05, "{small:?}");
        // ... but not by 12.
        assert!(!flatness(&[15.0, 21.0, 27.0], 4.0).flat);
        assert!(!flatness(&[], 4.0).flat);
    }

    #[test]
    fn load_hoard_and_trickle_checks() {
        let good = json!({"requests_ok": 500, "error_count": 0, "warmup_errors": 0});
        assert!(load_check("steady", &good, 100).pass);
        assert!(!load_check("churn", &good, 10_000).pass);
        let bad = json!({"requests_ok": 500, "error_count": 1, "errors": {"invalid_answer": 1}});
        let c = load_check("steady", &bad, 1);
        assert!(!c.pass && c.detail.contains("1 invalid"), "{c:?}");

        let hoard = json!({"requested": 1000, "opened": 3000, "closed_by_server": 2000,
            "connect_errors": 0, "still_open_at_end": 1000});
        assert!(hoard_check(&hoard, 1000).pass);
        let lost = json!({"requested": 1000, "opened": 2990, "closed_by_server": 2000,
            "connect_errors": 10, "still_open_at_end": 1000});
        assert!(!hoard_check(&lost, 1000).pass);
        let lost = json!({"requested": 1000, "opened": 2990, "closed_by_server": 2000,
            "connect_errors": 0, "still_open_at_end": 900});
        assert!(!hoard_check(&lost, 1000).pass);

        let t = json!({"close_ms": [60010.0, 60900.0], "open_at_end_max_age_ms": 30000.0,
            "connect_errors": 0});
        assert!(trickle_check(&t, 2, 60_000.0, 2000.0).pass);
        // Too few closes, a close far too late, one never closed.
        assert!(!trickle_check(&t, 3, 60_000.0, 2000.0).pass);
        let late = json!({"close_ms": [60010.0, 65000.0], "connect_errors": 0});
        assert!(!trickle_check(&late, 2, 60_000.0, 2000.0).pass);
        let pinned = json!({"close_ms": [60010.0, 60100.0], "open_at_end_max_age_ms": 90000.0,
            "connect_errors": 0});
        assert!(!trickle_check(&pinned, 2, 60_000.0, 2000.0).pass);
    }
}
