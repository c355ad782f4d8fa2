//! Questions the report asks of the rows: the rows of a scenario, the good
//! row of a build at given parameters, the distinct values of a parameter,
//! and which builds a scenario measured, in report order.

use std::collections::BTreeSet;

use crate::builds::{BUILDS, ECHOES};
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

    /// The build (not echo server) with the most throughput in `scenario`
    /// at `want`, with its row (the last of a tie).
    pub fn fastest(&self, scenario: &str, want: &[(&str, f64)]) -> Option<(&'static str, &'a Row)> {
        BUILDS
            .iter()
            .filter_map(|b| self.find(b, scenario, want).map(|r| (*b, r)))
            .max_by(|a, b| {
                a.1.throughput()
                    .unwrap_or(0.0)
                    .total_cmp(&b.1.throughput().unwrap_or(0.0))
            })
    }
}

/// Errors herd-loadgen counted in a row's measured part.
pub fn errors_of(r: &Row) -> f64 {
    r.lg("/error_count").unwrap_or(0.0)
}
