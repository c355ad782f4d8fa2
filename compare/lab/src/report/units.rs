//! How the report writes a figure: thousands separators, requests per
//! second, latencies in the unit that reads best, MiB, ratios, "–" for a
//! figure a run did not measure, and a figure over repeats as "median
//! (min–max)" with no more significant digits than its spread supports.
//! Every section uses these, so the same quantity reads the same
//! everywhere.

use crate::report::query::Spread;

pub fn thousands(n: f64) -> String {
    let s = format!("{:.0}", n.round());
    let (sign, digits) = s.strip_prefix('-').map_or(("", s.as_str()), |d| ("-", d));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    format!("{sign}{out}")
}

/// Requests per second: one decimal below 100, thousands above.
pub fn rps(v: Option<f64>) -> String {
    v.map_or("–".into(), |x| {
        if x < 100.0 {
            format!("{x:.1}")
        } else {
            thousands(x)
        }
    })
}

/// A latency in µs, shown in the unit that reads best.
pub fn lat(us: Option<f64>) -> String {
    match us {
        None => "–".into(),
        Some(u) if u < 1000.0 => format!("{u:.0} µs"),
        Some(u) if u < 10_000.0 => format!("{:.2} ms", u / 1000.0),
        Some(u) if u < 1_000_000.0 => format!("{:.0} ms", u / 1000.0),
        Some(u) => format!("{:.2} s", u / 1e6),
    }
}

pub fn num(v: Option<f64>, digits: usize) -> String {
    v.map_or("–".into(), |x| format!("{x:.digits$}"))
}

pub fn ratio(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => Some(a / b),
        _ => None,
    }
}

/// KiB (as /proc counts memory) as MiB with one decimal.
pub fn mb(kb: Option<u64>) -> String {
    kb.map_or("–".into(), |k| format!("{:.1}", k as f64 / 1024.0))
}

/// A figure over repeats: "median (min–max)" in `fmt`'s unit, or the
/// median alone for one repeat; "–" for none. Each part is rounded to the
/// significant digits the spread supports ([`digits`]) and then written by
/// `fmt`, so figures read as elsewhere on the page.
pub fn spread(s: Option<Spread>, fmt: impl Fn(Option<f64>) -> String) -> String {
    spread_in(s, |x, d| fmt(Some(round_sig(x, d))))
}

/// Significant digits a figure over repeats supports: 2 when its range is
/// wider than [`NOISY`] of its median (the third digit would be noise), 3
/// otherwise (and for a single measurement, whose spread is unknown).
pub fn digits(s: &Spread) -> usize {
    let width = (s.max - s.min) / s.median.abs();
    if s.n >= 2 && ((s.median == 0.0 && s.max > s.min) || width > NOISY) {
        2
    } else {
        3
    }
}

/// A range wider than this share of its median is noisy (see [`digits`]).
pub const NOISY: f64 = 0.10;

/// `x` rounded to `d` significant digits.
pub fn round_sig(x: f64, d: usize) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    let magnitude = x.abs().log10().floor() as i32;
    let scale = 10f64.powi(d as i32 - 1 - magnitude);
    (x * scale).round() / scale
}

/// `x` written with `d` significant digits: whole numbers with thousands
/// separators, smaller ones with just enough decimals ("12", "1.5",
/// "0.054").
pub fn sig(x: f64, d: usize) -> String {
    let r = round_sig(x, d);
    if r == 0.0 {
        return "0".into();
    }
    let magnitude = r.abs().log10().floor() as i32;
    let decimals = (d as i32 - 1 - magnitude).max(0) as usize;
    if decimals == 0 {
        thousands(r)
    } else {
        format!("{r:.decimals$}")
    }
}

/// A figure over repeats, each part written by `unit(value, digits)` with
/// the digits the spread supports: "median (min–max)", the median alone
/// for one repeat (or repeats that agree to the digits shown), "–" for
/// none.
pub fn spread_in(s: Option<Spread>, unit: impl Fn(f64, usize) -> String) -> String {
    match s {
        None => "–".into(),
        Some(s) => {
            let d = digits(&s);
            let (median, min, max) = (unit(s.median, d), unit(s.min, d), unit(s.max, d));
            if s.n < 2 || min == max {
                median
            } else {
                format!("{median} ({min}–{max})")
            }
        }
    }
}

/// Requests per second over repeats, e.g. "12,000 (11,000–14,000)".
pub fn rps_s(s: Option<Spread>) -> String {
    spread_in(s, sig)
}

/// A latency in µs with `d` significant digits, in the unit that reads
/// best ("850 µs", "2.5 ms", "153 ms", "3.2 s"); whole µs at most (what
/// herd-loadgen resolves).
pub fn lat_sig(us: f64, d: usize) -> String {
    let us = round_sig(us, d);
    if us < 1000.0 {
        format!("{} µs", thousands(us))
    } else if us < 1_000_000.0 {
        format!("{} ms", sig(us / 1000.0, d))
    } else {
        format!("{} s", sig(us / 1e6, d))
    }
}

/// A latency (µs) over repeats, e.g. "2.5 ms (2.1 ms–3.9 ms)".
pub fn lat_s(s: Option<Spread>) -> String {
    spread_in(s, lat_sig)
}

/// A number of things over repeats (requests answered): rounded like any
/// figure, never with decimals.
pub fn whole_s(s: Option<Spread>) -> String {
    spread_in(s, |x, d| thousands(round_sig(x, d)))
}

/// A plain number over repeats (ratios, CPU ms, KiB per connection).
pub fn num_s(s: Option<Spread>) -> String {
    spread_in(s, sig)
}

/// KiB (as /proc counts memory) over repeats, written in MiB.
pub fn mib_s(kib: Option<Spread>) -> String {
    spread_in(kib, |k, d| sig(k / 1024.0, d))
}

/// A whole count over repeats (threads, descriptors): no rounding, the
/// median and the range as counted.
pub fn count_s(s: Option<Spread>) -> String {
    match s {
        None => "–".into(),
        Some(s) if s.n < 2 || s.min == s.max => thousands(s.median),
        Some(s) => format!(
            "{} ({}–{})",
            thousands(s.median),
            thousands(s.min),
            thousands(s.max)
        ),
    }
}

/// How a target fares against a figure measured over repeats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Every repeat clears it (the whole range).
    Met,
    /// No repeat clears it.
    NotMet,
    /// Some repeats clear it and some do not.
    Mixed,
    NotMeasured,
}

impl Verdict {
    /// `figure ≥ target`, judged on the whole range: met when its minimum
    /// clears it, not met when its maximum misses it.
    pub fn at_least(s: Option<Spread>, target: f64) -> Verdict {
        match s {
            None => Verdict::NotMeasured,
            Some(s) if s.min >= target => Verdict::Met,
            Some(s) if s.max < target => Verdict::NotMet,
            Some(_) => Verdict::Mixed,
        }
    }

    /// `figure ≤ target`, judged on the whole range: met when its maximum
    /// clears it, not met when its minimum misses it.
    pub fn at_most(s: Option<Spread>, target: f64) -> Verdict {
        match s {
            None => Verdict::NotMeasured,
            Some(s) if s.max <= target => Verdict::Met,
            Some(s) if s.min > target => Verdict::NotMet,
            Some(_) => Verdict::Mixed,
        }
    }

    /// Every repeat passed a yes/no check (`passed` of `n` did).
    pub fn all_of(passed: usize, n: usize) -> Verdict {
        match (passed, n) {
            (_, 0) => Verdict::NotMeasured,
            (p, n) if p == n => Verdict::Met,
            (0, _) => Verdict::NotMet,
            _ => Verdict::Mixed,
        }
    }

    /// As the Targets table writes it.
    pub fn text(self) -> &'static str {
        match self {
            Verdict::Met => "**met**",
            Verdict::NotMet => "**not met**",
            Verdict::Mixed => "**mixed** (range straddles the target)",
            Verdict::NotMeasured => "not measured",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_well() {
        assert_eq!(thousands(1234567.4), "1,234,567");
        assert_eq!(thousands(-1234.0), "-1,234");
        assert_eq!(lat(Some(850.0)), "850 µs");
        assert_eq!(lat(Some(2500.0)), "2.50 ms");
        assert_eq!(lat(Some(3_200_000.0)), "3.20 s");
        assert_eq!(rps(Some(12.34)), "12.3");
        assert_eq!(rps(None), "–");
        assert_eq!(mb(Some(2048)), "2.0");
        let three = crate::report::query::Spread::of([1500.0, 900.0, 2000.0]);
        assert_eq!(spread(three, lat), "1.50 ms (900 µs–2.00 ms)");
        assert_eq!(
            spread(crate::report::query::Spread::of([70_000.0]), rps),
            "70,000"
        );
        assert_eq!(spread(None, rps), "–");
    }

    fn spread_of(v: &[f64]) -> Option<Spread> {
        Spread::of(v.iter().copied())
    }

    #[test]
    fn a_noisy_spread_shows_two_significant_digits_a_tight_one_three() {
        // 11,000-14,000 around 12,345: 24 % wide.
        let noisy = spread_of(&[12_345.0, 11_020.0, 14_110.0]).expect("noisy");
        assert_eq!(digits(&noisy), 2);
        assert_eq!(rps_s(Some(noisy)), "12,000 (11,000–14,000)");
        // 12,100-12,700: 5 % wide.
        let tight = spread_of(&[12_345.0, 12_110.0, 12_710.0]).expect("tight");
        assert_eq!(digits(&tight), 3);
        assert_eq!(rps_s(Some(tight)), "12,300 (12,100–12,700)");
        // One measurement: its spread unknown, three digits, no range.
        assert_eq!(rps_s(spread_of(&[12_345.0])), "12,300");
        // Exactly 10 % is not noisy; just over is.
        assert_eq!(digits(&spread_of(&[100.0, 95.0, 105.0]).expect("10 %")), 3);
        assert_eq!(
            digits(&spread_of(&[100.0, 95.0, 105.1]).expect("10.1 %")),
            2
        );
        // The general `spread` rounds too.
        assert_eq!(spread(Some(noisy), rps), "12,000 (11,000–14,000)");
        assert_eq!(rps_s(None), "–");
    }

    #[test]
    fn no_five_digit_figure_comes_from_a_noisy_point() {
        for v in [
            [98_765.0, 80_000.0, 120_000.0],
            [54_321.0, 49_000.0, 61_000.0],
        ] {
            let text = rps_s(spread_of(&v));
            let median = text.split(' ').next().expect("median");
            let significant = median.trim_end_matches(['0', ',']).replace(',', "");
            assert!(significant.len() <= 2, "{text}");
        }
    }

    #[test]
    fn small_figures_and_latencies_keep_their_significant_digits() {
        assert_eq!(sig(12.34, 2), "12");
        assert_eq!(sig(12.34, 3), "12.3");
        assert_eq!(sig(0.05432, 2), "0.054");
        assert_eq!(sig(0.0, 3), "0");
        assert_eq!(sig(1_234_567.0, 3), "1,230,000");
        assert_eq!(round_sig(0.996, 2), 1.0);
        assert_eq!(lat_sig(850.0, 3), "850 µs");
        assert_eq!(lat_sig(88.0, 3), "88 µs");
        assert_eq!(lat_sig(2_534.0, 2), "2.5 ms");
        assert_eq!(lat_sig(2_534.0, 3), "2.53 ms");
        assert_eq!(lat_sig(153_400.0, 2), "150 ms");
        assert_eq!(lat_sig(999_700.0, 3), "1.00 s");
        assert_eq!(lat_sig(3_210_000.0, 2), "3.2 s");
        assert_eq!(
            lat_s(spread_of(&[2_534.0, 2_100.0, 3_900.0])),
            "2.5 ms (2.1 ms–3.9 ms)"
        );
        assert_eq!(mib_s(spread_of(&[30_720.0, 30_800.0])), "30.0 (30.0–30.1)");
        assert_eq!(count_s(spread_of(&[68.0, 68.0, 68.0])), "68");
        // Repeats that agree to the digits shown read as one figure.
        assert_eq!(rps_s(spread_of(&[54_910.0, 54_880.0])), "54,900");
        assert_eq!(whole_s(spread_of(&[1.0])), "1");
        assert_eq!(
            whole_s(spread_of(&[12_345.0, 11_020.0, 14_110.0])),
            "12,000 (11,000–14,000)"
        );
        assert_eq!(
            count_s(spread_of(&[10_011.0, 9_000.0])),
            "9,506 (9,000–10,011)"
        );
    }

    #[test]
    fn a_target_is_met_only_when_the_whole_range_clears_it() {
        let range = spread_of(&[0.85, 0.78, 0.92]);
        // ≥ 0.8: the range straddles it.
        assert_eq!(Verdict::at_least(range, 0.8), Verdict::Mixed);
        assert_eq!(Verdict::at_least(range, 0.75), Verdict::Met);
        assert_eq!(Verdict::at_least(range, 0.95), Verdict::NotMet);
        // ≤ 2.0 on a p99 ratio.
        let p99 = spread_of(&[1.5, 1.2, 2.4]);
        assert_eq!(Verdict::at_most(p99, 2.0), Verdict::Mixed);
        assert_eq!(Verdict::at_most(p99, 2.5), Verdict::Met);
        assert_eq!(Verdict::at_most(p99, 1.0), Verdict::NotMet);
        assert_eq!(Verdict::at_most(None, 1.0), Verdict::NotMeasured);
        // Yes/no checks over repeats.
        assert_eq!(Verdict::all_of(3, 3), Verdict::Met);
        assert_eq!(Verdict::all_of(0, 3), Verdict::NotMet);
        assert_eq!(Verdict::all_of(2, 3), Verdict::Mixed);
        assert_eq!(Verdict::all_of(0, 0), Verdict::NotMeasured);
        assert!(Verdict::Mixed.text().contains("straddles"));
    }
}
