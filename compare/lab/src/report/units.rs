//! How the report writes a figure: thousands separators, requests per
//! second, latencies in the unit that reads best, megabytes, ratios, and
//! "–" for a figure a run did not measure. Every section uses these, so
//! the same quantity reads the same everywhere.

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

/// kB as MB with one decimal.
pub fn mb(kb: Option<u64>) -> String {
    kb.map_or("–".into(), |k| format!("{:.1}", k as f64 / 1024.0))
}

/// A figure over repeats: "median (min–max)" in `fmt`'s unit, or the
/// median alone for one repeat; "–" for none. Each part is written by
/// `fmt`, so figures read as elsewhere on the page.
pub fn spread(
    s: Option<crate::report::query::Spread>,
    fmt: impl Fn(Option<f64>) -> String,
) -> String {
    match s {
        None => "–".into(),
        Some(s) if s.n < 2 => fmt(Some(s.median)),
        Some(s) => format!(
            "{} ({}–{})",
            fmt(Some(s.median)),
            fmt(Some(s.min)),
            fmt(Some(s.max))
        ),
    }
}

/// A target's verdict.
pub fn met(ok: Option<bool>) -> &'static str {
    match ok {
        Some(true) => "**met**",
        Some(false) => "**not met**",
        None => "not measured",
    }
}

/// A whole count, or "–".
pub fn count(v: Option<u64>) -> String {
    v.map_or("–".into(), |t| t.to_string())
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
        assert_eq!(count(Some(7)), "7");
        assert_eq!(met(None), "not measured");
        let three = crate::report::query::Spread::of([1500.0, 900.0, 2000.0]);
        assert_eq!(spread(three, lat), "1.50 ms (900 µs–2.00 ms)");
        assert_eq!(
            spread(crate::report::query::Spread::of([70_000.0]), rps),
            "70,000"
        );
        assert_eq!(spread(None, rps), "–");
    }
}
