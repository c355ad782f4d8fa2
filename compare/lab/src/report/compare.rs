//! Which of two measured figures leads, honestly: one leads only when the
//! ranges of their repeats do not overlap; otherwise they are level. The
//! summary's sentences and the claims' verdicts are computed with it, so
//! a noisy point never decides a verdict on its median alone.

use crate::report::query::Spread;

/// The outcome of comparing `a` with `b`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lead {
    A,
    B,
    /// The ranges overlap: no winner at this spread.
    Level,
}

/// Which is better, when higher is better (throughput).
pub fn higher(a: Spread, b: Spread) -> Lead {
    if a.min > b.max {
        Lead::A
    } else if b.min > a.max {
        Lead::B
    } else {
        Lead::Level
    }
}

/// Which is better, when lower is better (latency, memory, CPU).
pub fn lower(a: Spread, b: Spread) -> Lead {
    match higher(a, b) {
        Lead::A => Lead::B,
        Lead::B => Lead::A,
        Lead::Level => Lead::Level,
    }
}

/// How much larger `a`'s median is than `b`'s, in per cent (negative when
/// smaller); None when `b`'s median is not positive.
pub fn percent_above(a: Spread, b: Spread) -> Option<f64> {
    (b.median > 0.0 && a.median.is_finite()).then(|| (a.median / b.median - 1.0) * 100.0)
}

/// The ratio of the medians, `a / b`, when `b` is positive.
pub fn times(a: Spread, b: Spread) -> Option<f64> {
    (b.median > 0.0 && a.median.is_finite()).then(|| a.median / b.median)
}

/// The best of several builds' spreads by median (`higher_better`), with
/// the build's name.
pub fn best<'a>(
    items: impl IntoIterator<Item = (&'a str, Spread)>,
    higher_better: bool,
) -> Option<(&'a str, Spread)> {
    items.into_iter().max_by(|a, b| {
        let o = a.1.median.total_cmp(&b.1.median);
        if higher_better { o } else { o.reverse() }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[f64]) -> Spread {
        Spread::of(v.iter().copied()).expect("values")
    }

    #[test]
    fn a_lead_needs_ranges_apart() {
        assert_eq!(higher(s(&[10.0, 12.0]), s(&[8.0, 9.0])), Lead::A);
        assert_eq!(higher(s(&[10.0, 12.0]), s(&[11.0, 13.0])), Lead::Level);
        assert_eq!(higher(s(&[1.0]), s(&[2.0])), Lead::B);
        assert_eq!(lower(s(&[1.0]), s(&[2.0])), Lead::A);
        assert_eq!(lower(s(&[1.0, 3.0]), s(&[2.0])), Lead::Level);
        assert_eq!(percent_above(s(&[125.0]), s(&[100.0])), Some(25.0));
        assert_eq!(percent_above(s(&[1.0]), s(&[0.0])), None);
        assert_eq!(times(s(&[300.0]), s(&[100.0])), Some(3.0));
        let b = best([("a", s(&[1.0])), ("b", s(&[3.0]))], true).expect("best");
        assert_eq!(b.0, "b");
        let b = best([("a", s(&[1.0])), ("b", s(&[3.0]))], false).expect("best");
        assert_eq!(b.0, "a");
    }
}
