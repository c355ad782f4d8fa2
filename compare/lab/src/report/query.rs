//! Questions the report asks of the rows: the rows of a scenario, the good
//! row of a build at given parameters, a figure over the repeats of a point
//! ([`Spread`]: median, min, max), a figure of two points taken repeat by
//! repeat ([`paired`]: a ratio, a difference), the distinct values of a
//! parameter, and which builds a scenario measured, in report order.

use std::collections::BTreeSet;

use crate::builds::{BUILDS, ECHOES};
use crate::report::units;
use crate::rows::Row;

/// Every row of a run.
pub struct Rows<'a> {
    pub all: &'a [Row],
}

impl<'a> Rows<'a> {
    pub fn of(&self, scenario: &str) -> Vec<&'a Row> {
        self.all.iter().filter(|r| r.scenario == scenario).collect()
    }

    /// The good row of `build` in `scenario` whose params match `want`.
    pub fn find(&self, build: &str, scenario: &str, want: &[(&str, f64)]) -> Option<&'a Row> {
        self.all.iter().find(|r| {
            r.ok()
                && r.build == build
                && r.scenario == scenario
                && want.iter().all(|(k, v)| r.param(k) == Some(*v))
        })
    }

    /// Every good row of `build` in `scenario` whose params match `want`:
    /// the repeats of one point.
    pub fn repeats(&self, build: &str, scenario: &str, want: &[(&str, f64)]) -> Vec<&'a Row> {
        self.all
            .iter()
            .filter(|r| {
                r.ok()
                    && r.build == build
                    && r.scenario == scenario
                    && want.iter().all(|(k, v)| r.param(k) == Some(*v))
            })
            .collect()
    }

    /// A figure of one point over its repeats (`figure` of each good row
    /// that has it); None when no repeat has it.
    pub fn spread(
        &self,
        build: &str,
        scenario: &str,
        want: &[(&str, f64)],
        figure: impl Fn(&Row) -> Option<f64>,
    ) -> Option<Spread> {
        Spread::of(
            self.repeats(build, scenario, want)
                .into_iter()
                .filter_map(figure),
        )
    }

    /// `figure(a, b)` of build `a` against build `b` at the same point,
    /// repeat by repeat (see [`paired`]): e.g. a build's throughput as a
    /// share of its echo ceiling's.
    pub fn ratio(
        &self,
        (a, b): (&str, &str),
        scenario: &str,
        want: &[(&str, f64)],
        figure: impl Fn(&Row) -> Option<f64>,
    ) -> Option<Spread> {
        paired(
            &self.repeats(a, scenario, want),
            &self.repeats(b, scenario, want),
            |x, y| units::ratio(figure(x), figure(y)),
        )
    }

    /// " (medians of N repeats, ranges in brackets)" for a sentence of
    /// `scenario`'s figures when its points were repeated; "" when each was
    /// measured once.
    pub fn medians_note(&self, scenario: &str) -> String {
        match self.of(scenario).iter().map(|r| r.repeat).max() {
            Some(n) if n > 1 => format!(" (medians of {n} repeats, ranges in brackets)"),
            _ => String::new(),
        }
    }

    /// Sorted distinct values of a parameter in a scenario.
    pub fn values(&self, scenario: &str, key: &str) -> Vec<f64> {
        let set: BTreeSet<u64> = self
            .of(scenario)
            .iter()
            .filter_map(|r| r.param(key))
            .map(|v| v as u64)
            .collect();
        set.into_iter().map(|v| v as f64).collect()
    }

    /// Builds (then echo servers) present in a scenario, in report order.
    pub fn builds(&self, scenario: &str) -> Vec<&'static str> {
        BUILDS
            .iter()
            .chain(ECHOES.iter())
            .copied()
            .filter(|b| self.of(scenario).iter().any(|r| r.build == *b))
            .collect()
    }

    /// The build (not echo server) with the most median throughput in
    /// `scenario` at `want`, with its throughput over the repeats (the last
    /// of a tie).
    pub fn fastest(&self, scenario: &str, want: &[(&str, f64)]) -> Option<(&'static str, Spread)> {
        BUILDS
            .iter()
            .filter_map(|b| Some((*b, self.spread(b, scenario, want, Row::throughput)?)))
            .max_by(|a, b| a.1.median.total_cmp(&b.1.median))
    }

    /// The good rows of a scenario grouped by point (build and label), a
    /// group per point with its repeats, in the order the points first ran.
    pub fn points(&self, scenario: &str) -> Vec<Vec<&'a Row>> {
        let mut groups: Vec<Vec<&'a Row>> = Vec::new();
        for r in self.of(scenario).into_iter().filter(|r| r.ok()) {
            match groups
                .iter_mut()
                .find(|g| g[0].build == r.build && g[0].point == r.point)
            {
                Some(g) => g.push(r),
                None => groups.push(vec![r]),
            }
        }
        groups
    }
}

/// One figure over the repeats of a point: the median (of an even count,
/// the mean of the middle two), the smallest and largest, and how many.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spread {
    pub median: f64,
    pub min: f64,
    pub max: f64,
    pub n: usize,
}

impl Spread {
    /// None for no values (NaNs are left out).
    pub fn of(values: impl IntoIterator<Item = f64>) -> Option<Spread> {
        let mut v: Vec<f64> = values.into_iter().filter(|x| !x.is_nan()).collect();
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let (first, last) = (*v.first()?, *v.last()?);
        let median = if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        };
        Some(Spread {
            median,
            min: first,
            max: last,
            n,
        })
    }
}

/// A figure over some rows (the repeats of a point found another way).
pub fn spread_of<'a>(
    rows: impl IntoIterator<Item = &'a Row>,
    figure: impl Fn(&Row) -> Option<f64>,
) -> Option<Spread> {
    Spread::of(rows.into_iter().filter_map(figure))
}

/// `figure(a, b)` over the repeats of two points, each repeat of `a` with
/// the repeat of `b` of the same number (measured in the same round, see
/// `point::interleave`); None when no repeat number has both.
pub fn paired(
    a: &[&Row],
    b: &[&Row],
    figure: impl Fn(&Row, &Row) -> Option<f64>,
) -> Option<Spread> {
    Spread::of(a.iter().filter_map(|x| {
        let y = b.iter().find(|y| y.repeat == x.repeat)?;
        figure(x, y)
    }))
}

/// Errors herd-loadgen counted in a row's measured part.
pub fn errors_of(r: &Row) -> f64 {
    r.lg("/error_count").unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spreads_take_the_median_and_the_range() {
        let s = Spread::of([3.0, 1.0, 2.0]).expect("three");
        assert_eq!((s.median, s.min, s.max, s.n), (2.0, 1.0, 3.0, 3));
        let even = Spread::of([4.0, 1.0, 2.0, 3.0]).expect("four");
        assert_eq!(even.median, 2.5);
        assert!(Spread::of([f64::NAN]).is_none());
        assert!(Spread::of(std::iter::empty()).is_none());
    }

    fn row(build: &str, repeat: u32, rps: f64) -> Row {
        let line = serde_json::json!({
            "schema": 2, "build": build, "scenario": "iamat_conns",
            "point": "connections=64", "params": {"connections": 64},
            "repeat": repeat, "loadgen": {"throughput_rps": rps},
            "servers": [], "cpu_seconds": null, "cpu_ms_per_1000_requests": null,
            "derived": {}, "commands": [], "pinning": null,
            "started_at": "", "finished_at": "", "window_s": null, "error": null,
        });
        serde_json::from_value(line).expect("row")
    }

    #[test]
    fn ratios_pair_the_repeats_of_one_round() {
        let all = vec![
            row("blocking", 1, 80.0),
            row("echo_threads", 1, 100.0),
            row("blocking", 2, 90.0),
            row("echo_threads", 2, 200.0),
            row("blocking", 3, 70.0),
        ];
        let rows = Rows { all: &all };
        let r = rows
            .ratio(
                ("blocking", "echo_threads"),
                "iamat_conns",
                &[("connections", 64.0)],
                Row::throughput,
            )
            .expect("ratio");
        // Rounds 1 and 2 only (round 3 has no echo): 0.8 and 0.45.
        assert_eq!((r.n, r.min, r.max), (2, 0.45, 0.8));
        let s = rows
            .spread("blocking", "iamat_conns", &[], Row::throughput)
            .expect("spread");
        assert_eq!((s.median, s.n), (80.0, 3));
        assert!(
            rows.ratio(("blocking", "node"), "iamat_conns", &[], Row::throughput)
                .is_none()
        );
    }
}
