//! The herd's line protocol as pure text: no sockets, no clocks, no locks.
//!
//! Input is one line as `&str` (the connection has already checked that it
//! is UTF-8 and stripped its line ending); output is a [`Request`] holding
//! borrowed, validated operands, or text such as an AT line or a time
//! difference. Everything here is exact: times are integer nanoseconds,
//! degrees and radii are compared as decimal text, and operands are copied
//! byte for byte as the client wrote them.

use std::fmt;

use crate::limits::{MAX_BOUND, MAX_RADIUS_KM, MAX_TIME_INTEGER_DIGITS};

/// The six white-space bytes that separate fields (PROTOCOL §2): space, TAB,
/// LF, VT, FF, CR. Not `u8::is_ascii_whitespace`, which leaves out VT, and not
/// `char::is_whitespace`, which adds NBSP and other Unicode spaces.
pub fn is_separator(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\x0b' | '\x0c' | '\r')
}

/// The fields of a line: maximal runs of bytes other than the six separators.
pub fn fields(line: &str) -> impl Iterator<Item = &str> {
    line.split(is_separator).filter(|field| !field.is_empty())
}

/// True for an empty or all-white-space line, which gets no answer.
pub fn is_blank(line: &str) -> bool {
    line.chars().all(is_separator)
}

/// A point in time as signed integer nanoseconds since the POSIX epoch.
///
/// A 64-bit float has 53 bits of mantissa: a 2020s POSIX time in seconds
/// needs 31 bits before the point, leaving about 0.2 µs of resolution, so
/// floats get the last digits of a nanosecond difference wrong. `i128`
/// nanoseconds hold any time the protocol accepts exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Nanos(pub i128);

impl Nanos {
    /// Parses a client time: an optional sign, one or more digits, and
    /// optionally a point followed by one to nine digits. No exponent, no
    /// `inf`/`nan`, no more than nine fractional digits.
    pub fn parse(text: &str) -> Option<Nanos> {
        let (negative, unsigned) = split_sign(text);
        let (int_part, frac_part) = match unsigned.split_once('.') {
            Some((int_part, frac_part)) => (int_part, Some(frac_part)),
            None => (unsigned, None),
        };
        if !is_digits(int_part) {
            return None;
        }
        let int_part = int_part.trim_start_matches('0');
        if int_part.len() > MAX_TIME_INTEGER_DIGITS {
            return None;
        }
        let mut nanos: i128 = 0;
        for digit in int_part.bytes() {
            nanos = nanos * 10 + i128::from(digit - b'0');
        }
        nanos *= 1_000_000_000;
        if let Some(frac) = frac_part {
            if frac.is_empty() || frac.len() > 9 || !is_digits(frac) {
                return None;
            }
            let mut frac_nanos: i128 = 0;
            for digit in frac.bytes() {
                frac_nanos = frac_nanos * 10 + i128::from(digit - b'0');
            }
            nanos += frac_nanos * 10_i128.pow(9 - frac.len() as u32);
        }
        Some(Nanos(if negative { -nanos } else { nanos }))
    }

    /// The difference `self - earlier`, exact.
    pub fn minus(self, earlier: Nanos) -> Nanos {
        Nanos(self.0 - earlier.0)
    }

    /// The longest text [`Nanos::write_to`] makes: a sign, 39 digits of an
    /// `i128` and a point.
    pub const MAX_TEXT: usize = 41;

    /// Writes the signed decimal (see `Display`) into `buf` without
    /// allocating; returns the text.
    pub fn write_to(self, buf: &mut [u8; Nanos::MAX_TEXT]) -> &str {
        let mut magnitude = self.0.unsigned_abs();
        let mut at = buf.len();
        for place in 0.. {
            if place == 9 {
                at -= 1;
                buf[at] = b'.';
            }
            at -= 1;
            buf[at] = b'0' + (magnitude % 10) as u8;
            magnitude /= 10;
            if magnitude == 0 && place >= 9 {
                break;
            }
        }
        at -= 1;
        buf[at] = if self.0 < 0 { b'-' } else { b'+' };
        // Only ASCII digits, a point and a sign were written.
        std::str::from_utf8(&buf[at..]).unwrap_or_default()
    }
}

/// Formats as a signed decimal with exactly nine fractional digits:
/// `+0.263873386`, `-12.000000001`, and `+0.000000000` for zero.
impl fmt::Display for Nanos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = [0u8; Nanos::MAX_TEXT];
        f.write_str(self.write_to(&mut buf))
    }
}

/// A location in ISO 6709 form, `+34.068930-118.445127`, checked exactly.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Location {
    pub lat: f64,
    pub lng: f64,
}

impl Location {
    /// Parses `[+-]D+[.D+][+-]D+[.D+]`: latitude then longitude, each with
    /// its own sign. Latitude must lie within [-90, 90] and longitude within
    /// [-180, 180], compared on the decimal text so that `+90.0000000000000001`
    /// is refused even though it rounds to 90.0 as a float.
    pub fn parse(text: &str) -> Option<Location> {
        let bytes = text.as_bytes();
        if !matches!(bytes.first(), Some(b'+' | b'-')) {
            return None;
        }
        let second_sign = 1 + bytes[1..].iter().position(|b| matches!(b, b'+' | b'-'))?;
        let (lat_text, lng_text) = text.split_at(second_sign);
        if !decimal_within(lat_text, 90) || !decimal_within(lng_text, 180) {
            return None;
        }
        Some(Location {
            lat: lat_text.parse().ok()?,
            lng: lng_text.parse().ok()?,
        })
    }
}

/// A WHATSAT radius: kilometres as written, and metres as exact text.
#[derive(Debug, Clone, PartialEq)]
pub struct Radius {
    /// Metres as exact decimal text, without a sign, leading zeros or
    /// trailing fractional zeros: `10` -> `10000`, `1.2345` -> `1234.5`.
    pub metres_text: String,
    pub metres: f64,
}

impl Radius {
    /// Parses `D+[.D+]` kilometres, more than 0 and at most 50.
    pub fn parse(text: &str) -> Option<Radius> {
        let (int_part, frac_part) = text.split_once('.').unwrap_or((text, ""));
        if !is_digits(int_part) || (text.contains('.') && !is_digits(frac_part)) {
            return None;
        }
        if !decimal_within(text, MAX_RADIUS_KM) || text.bytes().all(|b| b == b'0' || b == b'.') {
            return None;
        }
        // Kilometres to metres: move the point three places to the right.
        let mut frac_padded = frac_part.to_owned();
        while frac_padded.len() < 3 {
            frac_padded.push('0');
        }
        let (frac_head, frac_tail) = frac_padded.split_at(3);
        let whole = format!("{int_part}{frac_head}");
        let whole = whole.trim_start_matches('0');
        let whole = if whole.is_empty() { "0" } else { whole };
        let tail = frac_tail.trim_end_matches('0');
        let metres_text = if tail.is_empty() {
            whole.to_owned()
        } else {
            format!("{whole}.{tail}")
        };
        let metres = metres_text.parse().ok()?;
        Some(Radius {
            metres_text,
            metres,
        })
    }
}

/// Parses a WHATSAT bound: a whole number from 1 to 20 (digits only).
pub fn parse_bound(text: &str) -> Option<usize> {
    if !is_digits(text) {
        return None;
    }
    let significant = text.trim_start_matches('0');
    if significant.len() > 2 {
        return None;
    }
    let bound: usize = significant.parse().unwrap_or(0);
    (1..=MAX_BOUND).contains(&bound).then_some(bound)
}

/// A valid IAMAT: operands borrowed from the line, exactly as written.
#[derive(Debug, Clone, PartialEq)]
pub struct IAmAt<'a> {
    pub client: &'a str,
    pub location_text: &'a str,
    pub location: Location,
    pub time_text: &'a str,
    pub time: Nanos,
}

/// A valid WHATSAT.
#[derive(Debug, Clone, PartialEq)]
pub struct WhatsAt<'a> {
    pub client: &'a str,
    pub radius: Radius,
    pub bound: usize,
}

/// A valid AT line, as a server answers an IAMAT and as peers flood it.
#[derive(Debug, Clone, PartialEq)]
pub struct AtLine<'a> {
    pub server: &'a str,
    pub diff: &'a str,
    pub client: &'a str,
    pub location_text: &'a str,
    pub location: Location,
    pub time_text: &'a str,
    pub time: Nanos,
}

impl AtLine<'_> {
    /// The canonical text of the line: fields joined by one space. Every
    /// server stores and floods this form, so the byte-wise tie rule of
    /// PROTOCOL §3 compares the same bytes everywhere.
    pub fn canonical(&self) -> String {
        format_at(
            self.server,
            self.diff,
            self.client,
            self.location_text,
            self.time_text,
        )
    }
}

/// `AT <server> <diff> <client> <location> <time>`, in one allocation of
/// the exact size.
pub fn format_at(server: &str, diff: &str, client: &str, location: &str, time: &str) -> String {
    let fields = [server, diff, client, location, time];
    let mut line = String::with_capacity(2 + fields.iter().map(|f| f.len() + 1).sum::<usize>());
    line.push_str("AT");
    for field in fields {
        line.push(' ');
        line.push_str(field);
    }
    line
}

/// What a line asks for. Anything not valid is [`Request::Invalid`], which
/// is a normal answer (`? line`), not an error.
#[derive(Debug, Clone, PartialEq)]
pub enum Request<'a> {
    /// Empty or all white space: no answer.
    Blank,
    IAmAt(IAmAt<'a>),
    WhatsAt(WhatsAt<'a>),
    At(AtLine<'a>),
    /// `PEER <name>`, or `PEER <name> <nonce>` where the herd has a secret
    /// (PROTOCOL §7): a neighbour opening its link.
    Peer(&'a str, Option<&'a str>),
    Invalid,
}

/// Parses one line (already UTF-8, line ending stripped).
pub fn parse(line: &str) -> Request<'_> {
    let mut words = fields(line);
    let Some(command) = words.next() else {
        return Request::Blank;
    };
    // At most six operands matter (AT has five): one more is "too many".
    let mut slots = [""; 6];
    let mut count = 0;
    for (slot, word) in slots.iter_mut().zip(words) {
        *slot = word;
        count += 1;
    }
    let parsed = match (command, &slots[..count]) {
        ("IAMAT", [client, location, time]) => parse_iamat(client, location, time),
        ("WHATSAT", [client, radius, bound]) => parse_whatsat(client, radius, bound),
        ("AT", [server, diff, client, location, time]) => {
            parse_at(server, diff, client, location, time)
        }
        ("PEER", [name]) => Some(Request::Peer(name, None)),
        ("PEER", [name, nonce]) => Some(Request::Peer(name, Some(nonce))),
        _ => None,
    };
    parsed.unwrap_or(Request::Invalid)
}

fn parse_iamat<'a>(client: &'a str, location: &'a str, time: &'a str) -> Option<Request<'a>> {
    Some(Request::IAmAt(IAmAt {
        client,
        location_text: location,
        location: Location::parse(location)?,
        time_text: time,
        time: Nanos::parse(time)?,
    }))
}

fn parse_whatsat<'a>(client: &'a str, radius: &str, bound: &str) -> Option<Request<'a>> {
    Some(Request::WhatsAt(WhatsAt {
        client,
        radius: Radius::parse(radius)?,
        bound: parse_bound(bound)?,
    }))
}

fn parse_at<'a>(
    server: &'a str,
    diff: &'a str,
    client: &'a str,
    location: &'a str,
    time: &'a str,
) -> Option<Request<'a>> {
    if !is_diff(diff) {
        return None;
    }
    Some(Request::At(AtLine {
        server,
        diff,
        client,
        location_text: location,
        location: Location::parse(location)?,
        time_text: time,
        time: Nanos::parse(time)?,
    }))
}

/// A time difference as servers write it: a sign, digits, a point and
/// exactly nine digits.
fn is_diff(text: &str) -> bool {
    let Some(unsigned) = text.strip_prefix('+').or_else(|| text.strip_prefix('-')) else {
        return false;
    };
    match unsigned.split_once('.') {
        Some((int_part, frac)) => is_digits(int_part) && frac.len() == 9 && is_digits(frac),
        None => false,
    }
}

fn split_sign(text: &str) -> (bool, &str) {
    match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    }
}

fn is_digits(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

/// True when `text` (`[+-]D+[.D+]`) is a well-formed decimal whose
/// magnitude is at most `limit`, decided on the digits, not on a float.
fn decimal_within(text: &str, limit: u32) -> bool {
    let (_, unsigned) = split_sign(text);
    let (int_part, frac_part) = match unsigned.split_once('.') {
        Some((int_part, frac_part)) => (int_part, Some(frac_part)),
        None => (unsigned, None),
    };
    if !is_digits(int_part) || frac_part.is_some_and(|frac| !is_digits(frac)) {
        return false;
    }
    let significant = int_part.trim_start_matches('0');
    if significant.len() > 3 {
        return false;
    }
    let whole: u32 = significant.parse().unwrap_or(0);
    let frac_is_zero = frac_part.is_none_or(|frac| frac.bytes().all(|b| b == b'0'));
    whole < limit || (whole == limit && frac_is_zero)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nanos_text_is_the_signed_decimal_with_nine_digits_at_every_size() {
        let reference = |n: i128| {
            let sign = if n < 0 { '-' } else { '+' };
            let m = n.unsigned_abs();
            format!("{sign}{}.{:09}", m / 1_000_000_000, m % 1_000_000_000)
        };
        let mut cases = vec![0, 1, -1, 9, 10, 999_999_999, 1_000_000_000, -1_000_000_001];
        cases.extend([263_873_386, 1_621_464_827_959_498_503, i128::MAX, i128::MIN]);
        let mut n: i128 = 7;
        for _ in 0..120 {
            cases.extend([n, -n]);
            n = n.wrapping_mul(10).wrapping_add(3);
        }
        for n in cases {
            assert_eq!(Nanos(n).to_string(), reference(n), "{n}");
        }
        assert_eq!(Nanos(0).to_string(), "+0.000000000");
        assert_eq!(Nanos(-12_000_000_001).to_string(), "-12.000000001");
    }

    #[test]
    fn separators_are_exactly_the_six_bytes() {
        let line = "a\u{b}b\u{c}c\td\re\nf g\u{a0}h\u{1c}i\u{85}j";
        let got: Vec<&str> = fields(line).collect();
        assert_eq!(
            got,
            ["a", "b", "c", "d", "e", "f", "g\u{a0}h\u{1c}i\u{85}j"]
        );
        assert!(is_blank(" \t\r\n\u{b}\u{c}"));
        assert!(!is_blank(" \u{a0} "));
    }

    #[test]
    fn times_parse_to_exact_nanoseconds() {
        assert_eq!(
            Nanos::parse("1621464827.959498503"),
            Some(Nanos(1_621_464_827_959_498_503))
        );
        assert_eq!(Nanos::parse("-1.5"), Some(Nanos(-1_500_000_000)));
        assert_eq!(Nanos::parse("+7"), Some(Nanos(7_000_000_000)));
        assert_eq!(Nanos::parse("0.000000001"), Some(Nanos(1)));
        assert_eq!(
            Nanos::parse("00000000000000000000000001"),
            Some(Nanos(1_000_000_000))
        );
        for bad in [
            "",
            "+",
            ".5",
            "5.",
            "1e9",
            "inf",
            "nan",
            "1.0000000001",
            "--1",
            "1.2.3",
            "٣",
        ] {
            assert_eq!(Nanos::parse(bad), None, "{bad:?}");
        }
        assert!(Nanos::parse("99999999999999999999").is_some());
        assert_eq!(Nanos::parse("100000000000000000000"), None);
    }

    #[test]
    fn differences_are_exact_where_floats_are_not() {
        // As f64, 1621464827.959498503 is 1621464827.9594985 and the
        // difference below comes out as 0.2638733387 or similar.
        let client = Nanos::parse("1621464827.959498503").unwrap_or(Nanos(0));
        let server = Nanos(1_621_464_828_223_371_889);
        assert_eq!(server.minus(client).to_string(), "+0.263873386");
        assert_eq!(client.minus(server).to_string(), "-0.263873386");
        assert_eq!(Nanos(0).to_string(), "+0.000000000");
        assert_eq!(Nanos(-1).to_string(), "-0.000000001");
        let as_float = |text: &str| text.parse::<f64>().unwrap_or(0.0);
        let f = as_float("1621464828.223371889") - as_float("1621464827.959498503");
        assert_ne!(format!("{f:.9}"), "0.263873386");
    }

    #[test]
    fn locations_are_checked_on_their_digits() {
        let ucla = Location::parse("+34.068930-118.445127");
        assert_eq!(
            ucla,
            Some(Location {
                lat: 34.068930,
                lng: -118.445127
            })
        );
        assert!(Location::parse("+90-180").is_some());
        assert!(Location::parse("-90.000+180.0").is_some());
        assert!(Location::parse("+0+0").is_some());
        for bad in [
            "34.068930-118.445127",
            "+34.068930",
            "+90.0000000000000001+0",
            "+0+180.1",
            "+91+0",
            "+34.-118",
            "+.5-118",
            "+34.1-118.2+3",
            "+34,1-118",
            "+1e1+2",
            "++1+2",
        ] {
            assert_eq!(Location::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn radius_becomes_exact_metres() {
        let metres = |text: &str| Radius::parse(text).map(|r| r.metres_text);
        assert_eq!(metres("10").as_deref(), Some("10000"));
        assert_eq!(metres("1.2345").as_deref(), Some("1234.5"));
        assert_eq!(metres("0.0005").as_deref(), Some("0.5"));
        assert_eq!(metres("050.000").as_deref(), Some("50000"));
        assert_eq!(metres("0.001").as_deref(), Some("1"));
        for bad in [
            "0", "0.000", "50.0001", "51", "-1", "+1", "1e1", ".5", "5.", "",
        ] {
            assert_eq!(Radius::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn bounds_are_whole_numbers_from_1_to_20() {
        assert_eq!(parse_bound("1"), Some(1));
        assert_eq!(parse_bound("020"), Some(20));
        for bad in ["0", "21", "-1", "+5", "5.0", "", "100000000000000000000005"] {
            assert_eq!(parse_bound(bad), None, "{bad:?}");
        }
    }

    /// Random lines built from the protocol's own vocabulary never panic
    /// the parser, and whatever parses as a request formats back to itself.
    #[test]
    fn random_lines_never_panic() {
        const PIECES: [&str; 24] = [
            "IAMAT",
            "WHATSAT",
            "AT",
            "PEER",
            " ",
            "\u{b}",
            "\t",
            "+",
            "-",
            ".",
            "0",
            "1",
            "9",
            "34",
            "118",
            "90",
            "180",
            "50",
            "20",
            "1621464827",
            "e",
            "\u{a0}",
            "é",
            "x",
        ];
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        for _ in 0..50_000 {
            let mut line = String::new();
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            for _ in 0..(seed >> 60) + 1 {
                seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                line.push_str(PIECES[(seed >> 33) as usize % PIECES.len()]);
            }
            if let Request::At(at) = parse(&line) {
                assert!(matches!(parse(&at.canonical()), Request::At(_)), "{line:?}");
            }
        }
    }

    #[test]
    fn requests_parse_by_field_count() {
        let line = "IAMAT kiwi.cs.ucla.edu +34.068930-118.445127 1621464827.959498503";
        assert!(matches!(
            parse(line),
            Request::IAmAt(IAmAt {
                client: "kiwi.cs.ucla.edu",
                ..
            })
        ));
        assert!(matches!(
            parse("\u{b}WHATSAT\u{b}kiwi 10 5\r"),
            Request::WhatsAt(_)
        ));
        assert_eq!(parse("   "), Request::Blank);
        assert_eq!(parse("PEER Clark"), Request::Peer("Clark", None));
        assert_eq!(
            parse("PEER Clark ab12"),
            Request::Peer("Clark", Some("ab12"))
        );
        for bad in [
            "IAMAT a +1+1",
            "IAMAT a +1+1 1 extra",
            "iamat a +1+1 1",
            "WHATSAT a 10",
            "HELLO",
        ] {
            assert_eq!(parse(bad), Request::Invalid, "{bad:?}");
        }
        let at = "AT Clark +0.263873386 kiwi +34.068930-118.445127 1621464827.959498503";
        let spaced = at.replace(' ', "\t ");
        let Request::At(parsed) = parse(&spaced) else {
            panic!("AT line did not parse");
        };
        assert_eq!(parsed.canonical(), at);
        assert_eq!(parse("AT Clark +0.26 kiwi +1+1 1"), Request::Invalid);
    }
}
