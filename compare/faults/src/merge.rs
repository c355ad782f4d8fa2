//! PROTOCOL §3's merge order on AT lines: the newer client time wins; on
//! equal times the byte-wise larger line. Client times are compared exactly
//! (integer nanoseconds), never as floats.

use std::cmp::Ordering;

/// One AT line as a server holds it, with its parsed client time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Update {
    pub line: String,
    pub time_ns: i128,
}

impl Update {
    /// Parses `AT <server> <diff> <id> <location> <time>`; `None` if it is
    /// not such a line.
    pub fn parse(line: &str) -> Option<Update> {
        let line = line.trim_end_matches(['\r', '\n']);
        let fields: Vec<&str> = line.split_ascii_whitespace().collect();
        if fields.len() != 6 || fields[0] != "AT" {
            return None;
        }
        Some(Update {
            line: line.to_string(),
            time_ns: parse_time(fields[5])?,
        })
    }

    /// The client's part of the line: `<id> <location> <time>`, the IAMAT
    /// operands as the client sent them.
    pub fn client_part(&self) -> String {
        self.line
            .split_ascii_whitespace()
            .skip(3)
            .collect::<Vec<_>>()
            .join(" ")
    }
}

impl Ord for Update {
    fn cmp(&self, other: &Self) -> Ordering {
        self.time_ns
            .cmp(&other.time_ns)
            .then_with(|| self.line.as_bytes().cmp(other.line.as_bytes()))
    }
}

impl PartialOrd for Update {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// A client time (`[+-]digits[.1-9 digits]`) in nanoseconds.
pub fn parse_time(s: &str) -> Option<i128> {
    let (neg, rest) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let (int, frac) = match rest.split_once('.') {
        Some((i, f)) => (i, f),
        None => (rest, ""),
    };
    let digits = |d: &str| d.bytes().all(|b| b.is_ascii_digit());
    if int.is_empty() || !digits(int) || !digits(frac) || frac.len() > 9 || int.len() > 20 {
        return None;
    }
    if rest.contains('.') && frac.is_empty() {
        return None;
    }
    let secs: i128 = int.parse().ok()?;
    let mut nanos: i128 = if frac.is_empty() {
        0
    } else {
        frac.parse().ok()?
    };
    for _ in frac.len()..9 {
        nanos *= 10;
    }
    let v = secs * 1_000_000_000 + nanos;
    Some(if neg { -v } else { v })
}

/// Formats nanoseconds as a client time with nine fractional digits.
pub fn format_time(ns: i128) -> String {
    let sign = if ns < 0 { "-" } else { "" };
    let a = ns.abs();
    format!("{sign}{}.{:09}", a / 1_000_000_000, a % 1_000_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(server: &str, time: &str) -> Update {
        Update::parse(&format!("AT {server} +0.000000001 kiwi +34.0-118.0 {time}")).unwrap()
    }

    #[test]
    fn times_parse_exactly() {
        assert_eq!(
            parse_time("1621464827.959498503"),
            Some(1_621_464_827_959_498_503)
        );
        assert_eq!(parse_time("1.5"), Some(1_500_000_000));
        assert_eq!(parse_time("-2"), Some(-2_000_000_000));
        assert_eq!(parse_time("+0.000000001"), Some(1));
        for bad in ["", "1.", ".5", "1e9", "nan", "1.0000000001", "+", "1.2.3"] {
            assert_eq!(parse_time(bad), None, "{bad}");
        }
    }

    #[test]
    fn format_round_trips() {
        for ns in [0, 1, -1, 1_621_464_827_959_498_503, -1_500_000_000] {
            assert_eq!(parse_time(&format_time(ns)), Some(ns));
        }
        assert_eq!(format_time(1_500_000_000), "1.500000000");
    }

    #[test]
    fn newer_time_wins_even_when_its_line_is_smaller() {
        // 1621464827.959498504 is newer than ...503, though the float is equal.
        assert!(at("Bernard", "1621464827.959498504") > at("Johnson", "1621464827.959498503"));
        assert!(at("Bernard", "10.0") > at("Zed", "9.999999999"));
    }

    #[test]
    fn equal_times_are_settled_by_the_larger_line() {
        let a = at("Clark", "5.0");
        let b = at("Juzang", "5.0");
        assert!(b > a);
        // The same instant written differently is still the same time.
        assert_eq!(at("Clark", "5").time_ns, at("Clark", "5.000").time_ns);
        assert!(at("Clark", "5.000") > at("Clark", "5"));
    }

    #[test]
    fn parse_rejects_other_lines() {
        assert_eq!(Update::parse("? WHATSAT x 1 1"), None);
        assert_eq!(Update::parse("AT Clark +0.1 kiwi +1+2"), None);
        assert_eq!(Update::parse("AT Clark +0.1 kiwi +1+2 abc"), None);
        let u = Update::parse("AT Clark +0.1 kiwi +1+2 7.25\n").unwrap();
        assert_eq!(u.client_part(), "kiwi +1+2 7.25");
        assert_eq!(u.line, "AT Clark +0.1 kiwi +1+2 7.25");
    }
}
