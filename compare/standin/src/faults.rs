//! Seeded draws: how long each request waits and which fault, if any, it
//! gets, so that a run with the same seed and the same request order is
//! the same run.
//!
//! Input: the seed, the request's arrival number (0 for the first request
//! the stand-in receives), the latency, the jitter and the [`FaultRates`].
//! Output: a [`Draw`]. Each request gets two independent uniform numbers in
//! [0, 1) from splitmix64: `u(stream) = top 53 bits of
//! splitmix64(splitmix64(seed ^ arrival * 0x9E3779B97F4A7C15) + stream) / 2^53`,
//! stream 1 for the jitter and 2 for the fault. The delay is
//! `latency + floor(jitter_ns * u(1))` ns; the fault is the first kind, in
//! the order of [`FaultRates`]' fields, whose running sum of rates exceeds
//! `u(2)`, or none.

use std::time::Duration;

/// The share of requests (each 0.0 to 1.0, together at most 1.0) that get
/// each kind of fault instead of their answer. See "Knobs" in this crate's
/// `README.md` (compare/standin) for what each looks like on either API.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct FaultRates {
    /// Legacy: HTTP 500 with an HTML page; New: 500 `INTERNAL`.
    pub http_500: f64,
    /// Legacy: 200 `UNKNOWN_ERROR`; New: 503 `UNAVAILABLE`.
    pub unknown_error: f64,
    /// Legacy: 200 `OVER_QUERY_LIMIT`; New: 429 `RESOURCE_EXHAUSTED`.
    pub over_query_limit: f64,
    /// A 200 whose body is the real answer cut in half (complete as HTTP).
    pub broken_json: f64,
    /// Status line, headers (full `Content-Length`) and half the body, then
    /// the connection is closed.
    pub drop_connection: f64,
    /// No answer at all until the client gives up or the stand-in stops.
    pub never_answer: f64,
}

/// The kinds of fault, in the order their rates are summed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    Http500,
    UnknownError,
    OverQueryLimit,
    BrokenJson,
    DropConnection,
    NeverAnswer,
}

/// Rounding slack allowed when rates add up to 1 (0.1 + 0.2 + 0.7).
const SUM_SLACK: f64 = 1e-9;

impl FaultRates {
    /// Each rate with its kind, in summing order.
    fn each(&self) -> [(f64, Fault, &'static str); 6] {
        [
            (self.http_500, Fault::Http500, "http_500"),
            (self.unknown_error, Fault::UnknownError, "unknown_error"),
            (
                self.over_query_limit,
                Fault::OverQueryLimit,
                "over_query_limit",
            ),
            (self.broken_json, Fault::BrokenJson, "broken_json"),
            (
                self.drop_connection,
                Fault::DropConnection,
                "drop_connection",
            ),
            (self.never_answer, Fault::NeverAnswer, "never_answer"),
        ]
    }

    /// Each rate in [0, 1] and the sum at most 1.
    pub fn validate(&self) -> Result<(), String> {
        let mut sum = 0.0;
        for (rate, _, name) in self.each() {
            if !(0.0..=1.0).contains(&rate) {
                return Err(format!("fault rate {name} = {rate} is not within 0..=1"));
            }
            sum += rate;
        }
        if sum > 1.0 + SUM_SLACK {
            return Err(format!("fault rates add up to {sum}, more than 1"));
        }
        Ok(())
    }
}

/// What one request gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Draw {
    /// Wait this long before answering (or faulting).
    pub delay: Duration,
    /// Answer with this fault instead of the real answer.
    pub fault: Option<Fault>,
}

/// The draw of request number `arrival` (see the module documentation).
pub fn draw(
    seed: u64,
    arrival: u64,
    latency: Duration,
    jitter: Duration,
    rates: &FaultRates,
) -> Draw {
    let base = splitmix64(seed ^ arrival.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let jitter_ns = u64::try_from(jitter.as_nanos()).unwrap_or(u64::MAX);
    let extra = (jitter_ns as f64 * unit(splitmix64(base.wrapping_add(1)))) as u64;
    let delay = latency.saturating_add(Duration::from_nanos(extra.min(jitter_ns)));
    let u = unit(splitmix64(base.wrapping_add(2)));
    let mut sum = 0.0;
    let mut fault = None;
    for (rate, kind, _) in rates.each() {
        sum += rate;
        if rate > 0.0 && u < sum {
            fault = Some(kind);
            break;
        }
    }
    Draw { delay, fault }
}

/// Sebastiano Vigna's splitmix64 finaliser (public domain).
pub fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The top 53 bits of `x` as a number in [0, 1).
fn unit(x: u64) -> f64 {
    (x >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn rates(each: [f64; 6]) -> FaultRates {
        FaultRates {
            http_500: each[0],
            unknown_error: each[1],
            over_query_limit: each[2],
            broken_json: each[3],
            drop_connection: each[4],
            never_answer: each[5],
        }
    }

    #[test]
    fn draws_are_reproducible_and_depend_on_the_seed() {
        let r = rates([0.1, 0.1, 0.1, 0.1, 0.1, 0.1]);
        let run = |seed| -> Vec<Draw> {
            (0..200)
                .map(|n| draw(seed, n, 100 * MS, 50 * MS, &r))
                .collect()
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
    }

    #[test]
    fn delay_is_latency_plus_bounded_jitter() {
        let none = FaultRates::default();
        let draws: Vec<Draw> = (0..2000)
            .map(|n| draw(3, n, 100 * MS, 20 * MS, &none))
            .collect();
        assert!(draws.iter().all(|d| d.fault.is_none()));
        assert!(
            draws
                .iter()
                .all(|d| d.delay >= 100 * MS && d.delay <= 120 * MS)
        );
        let mean = draws.iter().map(|d| d.delay.as_secs_f64()).sum::<f64>() / 2000.0;
        assert!((mean - 0.110).abs() < 0.001, "mean {mean}");
        assert_eq!(draw(3, 5, 100 * MS, Duration::ZERO, &none).delay, 100 * MS);
    }

    #[test]
    fn fault_shares_follow_the_rates() {
        let r = rates([0.1, 0.2, 0.0, 0.3, 0.05, 0.05]);
        let mut counts = [0usize; 7];
        for n in 0..20_000 {
            let slot = match draw(11, n, Duration::ZERO, Duration::ZERO, &r).fault {
                Some(Fault::Http500) => 0,
                Some(Fault::UnknownError) => 1,
                Some(Fault::OverQueryLimit) => 2,
                Some(Fault::BrokenJson) => 3,
                Some(Fault::DropConnection) => 4,
                Some(Fault::NeverAnswer) => 5,
                None => 6,
            };
            counts[slot] += 1;
        }
        let expected = [0.1, 0.2, 0.0, 0.3, 0.05, 0.05, 0.3];
        for (count, want) in counts.iter().zip(expected) {
            let share = *count as f64 / 20_000.0;
            assert!((share - want).abs() < 0.015, "{counts:?}");
        }
    }

    #[test]
    fn rate_one_always_faults() {
        for (i, kind) in [
            Fault::Http500,
            Fault::UnknownError,
            Fault::OverQueryLimit,
            Fault::BrokenJson,
            Fault::DropConnection,
            Fault::NeverAnswer,
        ]
        .into_iter()
        .enumerate()
        {
            let mut each = [0.0; 6];
            each[i] = 1.0;
            let r = rates(each);
            assert!((0..500).all(|n| draw(1, n, MS, MS, &r).fault == Some(kind)));
        }
    }

    #[test]
    fn validation() {
        assert!(FaultRates::default().validate().is_ok());
        assert!(rates([0.1, 0.2, 0.7, 0.0, 0.0, 0.0]).validate().is_ok());
        assert!(rates([1.0, 0.0, 0.0, 0.0, 0.0, 0.0]).validate().is_ok());
        let over = rates([0.5, 0.6, 0.0, 0.0, 0.0, 0.0])
            .validate()
            .unwrap_err();
        assert!(over.contains("more than 1"), "{over}");
        let negative = rates([0.0, 0.0, -0.1, 0.0, 0.0, 0.0])
            .validate()
            .unwrap_err();
        assert!(negative.contains("over_query_limit"), "{negative}");
        assert!(rates([0.0, 0.0, 0.0, 1.5, 0.0, 0.0]).validate().is_err());
        assert!(
            rates([0.0, 0.0, 0.0, 0.0, f64::NAN, 0.0])
                .validate()
                .is_err()
        );
    }

    #[test]
    fn splitmix_known_values() {
        // First outputs of splitmix64 seeded with 0 (Vigna's reference code).
        assert_eq!(splitmix64(0), 0xE220_A839_7B1D_CDAF);
        assert_eq!(splitmix64(0x9E37_79B9_7F4A_7C15), 0x6E78_9E6A_A1B9_65F4);
    }
}
