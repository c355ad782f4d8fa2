//! Request lines and answer checks: what the load generator sends (client
//! ids, locations, times, the IAMAT/WHATSAT mix) and whether an answer is
//! right by PROTOCOL.md §2. A wrong answer is an error kind, never a latency
//! data point, so every check here returns the kind it failed with.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;

/// Why a request did not count as a good answer. The names are the keys of
/// the report's `errors` object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Could not open the TCP connection (refused, reset, connect timeout).
    Connect,
    /// No complete answer within `--timeout-ms`.
    Timeout,
    /// The server closed the connection before the answer was complete.
    Closed,
    /// A read or write failed (reset, broken pipe, ...).
    Io,
    /// The answer does not have the shape PROTOCOL §2 gives it.
    InvalidAnswer,
    /// The server answered `? <line>` (bad line or unknown client).
    Rejected,
    /// WHATSAT JSON carried a status other than OK / ZERO_RESULTS.
    PlacesStatus,
    /// An answer longer than [`MAX_ANSWER_BYTES`].
    AnswerTooLong,
    /// Open loop: a request whose intended time came but that could not be
    /// sent before the run's drain deadline (the connection was too far
    /// behind).
    Backlog,
}

impl ErrorKind {
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::Connect => "connect",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Closed => "closed",
            ErrorKind::Io => "io",
            ErrorKind::InvalidAnswer => "invalid_answer",
            ErrorKind::Rejected => "rejected",
            ErrorKind::PlacesStatus => "places_status",
            ErrorKind::AnswerTooLong => "answer_too_long",
            ErrorKind::Backlog => "backlog",
        }
    }

    /// Whether the connection can carry the next request after this error
    /// (the answer was read whole, so the stream is still in step).
    pub fn keeps_connection(self) -> bool {
        matches!(self, ErrorKind::PlacesStatus | ErrorKind::Rejected)
    }
}

/// Longest answer read before giving up on it (a WHATSAT with 20 results
/// is a few KiB).
pub const MAX_ANSWER_BYTES: usize = 1 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    Iamat,
    Whatsat,
}

/// One request: its line (with the newline) and what its answer must echo.
#[derive(Debug, Clone)]
pub struct Request {
    pub command: Command,
    pub line: String,
    pub client: String,
    /// IAMAT only: the location and time text the AT line must copy.
    pub location: String,
    pub time: String,
    /// WHATSAT only: the most results the JSON may hold.
    pub bound: u32,
}

impl Request {
    pub fn iamat(client: &str, location: &str, time: &str) -> Request {
        Request {
            command: Command::Iamat,
            line: format!("IAMAT {client} {location} {time}\n"),
            client: client.to_owned(),
            location: location.to_owned(),
            time: time.to_owned(),
            bound: 0,
        }
    }

    pub fn whatsat(client: &str, radius_km: f64, bound: u32) -> Request {
        Request {
            command: Command::Whatsat,
            line: format!("WHATSAT {client} {radius_km} {bound}\n"),
            client: client.to_owned(),
            location: String::new(),
            time: String::new(),
            bound,
        }
    }
}

/// `--mix iamat=9,whatsat=1`: relative weights of the two commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mix {
    pub iamat: u32,
    pub whatsat: u32,
}

impl std::str::FromStr for Mix {
    type Err = String;

    fn from_str(text: &str) -> Result<Mix, String> {
        let mut mix = Mix {
            iamat: 0,
            whatsat: 0,
        };
        for part in text.split(',').filter(|p| !p.trim().is_empty()) {
            let (name, weight) = part
                .split_once('=')
                .ok_or_else(|| format!("mix item {part:?} is not NAME=WEIGHT"))?;
            let weight: u32 = weight
                .trim()
                .parse()
                .map_err(|_| format!("mix weight {weight:?} is not a whole number"))?;
            match name.trim().to_ascii_lowercase().as_str() {
                "iamat" => mix.iamat = weight,
                "whatsat" => mix.whatsat = weight,
                other => return Err(format!("unknown command {other:?} in mix")),
            }
        }
        if mix.iamat == 0 && mix.whatsat == 0 {
            return Err("the mix must give IAMAT or WHATSAT a weight above 0".into());
        }
        Ok(mix)
    }
}

impl std::fmt::Display for Mix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "iamat={},whatsat={}", self.iamat, self.whatsat)
    }
}

/// What every connection's generator shares: the id prefix, how many ids,
/// the mix and the WHATSAT operands.
#[derive(Debug, Clone)]
pub struct Plan {
    pub prefix: String,
    pub clients: u32,
    pub mix: Mix,
    pub radius_km: f64,
    pub bound: u32,
}

impl Plan {
    pub fn client_id(&self, index: u32) -> String {
        format!("{}-{index}", self.prefix)
    }

    /// The ids a WHATSAT may ask about (all of them, when WHATSAT is used).
    pub fn whatsat_clients(&self) -> Vec<String> {
        if self.mix.whatsat == 0 {
            return Vec::new();
        }
        (0..self.clients).map(|i| self.client_id(i)).collect()
    }
}

/// A small fixed list of real places; locations are these plus a small
/// random offset, so the offline Places search sees varied but realistic
/// queries.
const PLACES: &[(f64, f64)] = &[
    (34.068930, -118.445127), // UCLA
    (40.712776, -74.005974),  // New York
    (51.507351, -0.127758),   // London
    (35.689487, 139.691711),  // Tokyo
    (-33.868820, 151.209290), // Sydney
    (48.856613, 2.352222),    // Paris
    (-23.550520, -46.633308), // Sao Paulo
    (19.432608, -99.133209),  // Mexico City
    (52.520008, 13.404954),   // Berlin
    (1.352083, 103.819839),   // Singapore
    (37.774929, -122.419418), // San Francisco
    (-1.292066, 36.821945),   // Nairobi
];

/// Makes the requests of one connection: a tiny xorshift generator (no
/// need for crypto-grade or even good randomness, only variety).
pub struct Generator {
    state: u64,
}

impl Generator {
    pub fn new(seed: u64) -> Generator {
        // splitmix64 of the seed, never zero.
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        Generator {
            state: (z ^ (z >> 31)) | 1,
        }
    }

    fn next_u64(&mut self) -> u64 {
        let mut x = self.state;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.state = x;
        x
    }

    fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next_u64() % n }
    }

    /// A location near one of [`PLACES`], 6 decimals: `+34.068930-118.445127`.
    pub fn location(&mut self) -> String {
        let (lat, lng) = PLACES[self.below(PLACES.len() as u64) as usize];
        let dlat = (self.below(100_001) as f64 - 50_000.0) / 1_000_000.0;
        let dlng = (self.below(100_001) as f64 - 50_000.0) / 1_000_000.0;
        format_location(
            (lat + dlat).clamp(-90.0, 90.0),
            (lng + dlng).clamp(-180.0, 180.0),
        )
    }

    /// The next request of the plan's mix, for a random client id.
    pub fn next_request(&mut self, plan: &Plan) -> Request {
        let client = plan.client_id(self.below(u64::from(plan.clients.max(1))) as u32);
        let total = u64::from(plan.mix.iamat) + u64::from(plan.mix.whatsat);
        if self.below(total) < u64::from(plan.mix.iamat) {
            let location = self.location();
            Request::iamat(&client, &location, &next_time_text())
        } else {
            Request::whatsat(&client, plan.radius_km, plan.bound)
        }
    }
}

pub fn format_location(lat: f64, lng: f64) -> String {
    format!("{lat:+.6}{lng:+.6}")
}

static LAST_TIME_NS: AtomicU64 = AtomicU64::new(0);

/// Now as `seconds.nanoseconds` (9 digits), strictly increasing across the
/// whole process, so every IAMAT of a client is newer than the last.
pub fn next_time_text() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let mut last = LAST_TIME_NS.load(Ordering::Relaxed);
    let chosen = loop {
        let candidate = now.max(last + 1);
        match LAST_TIME_NS.compare_exchange_weak(
            last,
            candidate,
            Ordering::Relaxed,
            Ordering::Relaxed,
        ) {
            Ok(_) => break candidate,
            Err(seen) => last = seen,
        }
    };
    format!("{}.{:09}", chosen / 1_000_000_000, chosen % 1_000_000_000)
}

/// `+0.263873386`: a sign, digits, a point and exactly nine digits.
fn is_time_diff(text: &str) -> bool {
    let Some(rest) = text.strip_prefix('+').or_else(|| text.strip_prefix('-')) else {
        return false;
    };
    let Some((whole, frac)) = rest.split_once('.') else {
        return false;
    };
    !whole.is_empty()
        && whole.bytes().all(|b| b.is_ascii_digit())
        && frac.len() == 9
        && frac.bytes().all(|b| b.is_ascii_digit())
}

/// The fields of an `AT` line, checked for shape; the client must be
/// `client`. The line is given without its newline.
pub struct AtLine<'a> {
    pub location: &'a str,
    pub time: &'a str,
}

pub fn parse_at_line<'a>(line: &'a str, client: &str) -> Result<AtLine<'a>, ErrorKind> {
    if line.starts_with("? ") {
        return Err(ErrorKind::Rejected);
    }
    let fields: Vec<&str> = line.split(' ').collect();
    match fields.as_slice() {
        ["AT", server, diff, id, location, time]
            if !server.is_empty()
                && is_time_diff(diff)
                && *id == client
                && !location.is_empty()
                && !time.is_empty() =>
        {
            Ok(AtLine { location, time })
        }
        _ => Err(ErrorKind::InvalidAnswer),
    }
}

/// Strips one `\n` (and a `\r` before it) from the end of a line.
pub fn trim_newline(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// An IAMAT answer: exactly one line, `AT <server> <±diff> <client> <loc>
/// <time>` copying the request's operands.
pub fn check_iamat(request: &Request, answer: &[u8]) -> Result<(), ErrorKind> {
    let Some(body) = answer.strip_suffix(b"\n") else {
        return Err(ErrorKind::InvalidAnswer);
    };
    let Ok(line) = std::str::from_utf8(body) else {
        return Err(ErrorKind::InvalidAnswer);
    };
    if line.contains('\n') {
        return Err(ErrorKind::InvalidAnswer);
    }
    let at = parse_at_line(line, &request.client)?;
    if at.location == request.location && at.time == request.time {
        Ok(())
    } else {
        Err(ErrorKind::InvalidAnswer)
    }
}

/// A WHATSAT answer: the AT line (already split off, without its newline)
/// for this client, then the JSON text (every line up to the blank one).
/// The JSON must parse, its `status` be OK or ZERO_RESULTS, and `results`
/// an array of at most `bound` items.
pub fn check_whatsat(request: &Request, at_line: &[u8], json: &[u8]) -> Result<(), ErrorKind> {
    let Ok(line) = std::str::from_utf8(at_line) else {
        return Err(ErrorKind::InvalidAnswer);
    };
    parse_at_line(line, &request.client)?;
    let Ok(Value::Object(object)) = serde_json::from_slice::<Value>(json) else {
        return Err(ErrorKind::InvalidAnswer);
    };
    let results_ok = match object.get("results") {
        Some(Value::Array(results)) => results.len() <= request.bound as usize,
        _ => false,
    };
    match object.get("status").and_then(Value::as_str) {
        Some("OK") | Some("ZERO_RESULTS") if results_ok => Ok(()),
        Some("OK") | Some("ZERO_RESULTS") | None => Err(ErrorKind::InvalidAnswer),
        Some(_) => Err(ErrorKind::PlacesStatus),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iamat() -> Request {
        Request::iamat("lg1-0", "+34.068930-118.445127", "1621464827.959498503")
    }

    #[test]
    fn lines_have_the_protocol_shape() {
        let r = iamat();
        assert_eq!(
            r.line,
            "IAMAT lg1-0 +34.068930-118.445127 1621464827.959498503\n"
        );
        let w = Request::whatsat("lg1-0", 10.0, 5);
        assert_eq!(w.line, "WHATSAT lg1-0 10 5\n");
        let w = Request::whatsat("lg1-0", 0.001, 1);
        assert_eq!(w.line, "WHATSAT lg1-0 0.001 1\n");
    }

    #[test]
    fn locations_have_six_decimals_and_signs() {
        assert_eq!(
            format_location(34.06893, -118.445127),
            "+34.068930-118.445127"
        );
        assert_eq!(format_location(-1.5, 2.0), "-1.500000+2.000000");
        let mut g = Generator::new(7);
        for _ in 0..1000 {
            let loc = g.location();
            let (lat, lng) = loc[1..].split_at(loc[1..].find(['+', '-']).expect("two signs"));
            let lat: f64 = format!("{}{lat}", &loc[..1]).parse().expect("lat");
            let lng: f64 = lng.parse().expect("lng");
            assert!((-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lng));
            assert_eq!(loc.matches('.').count(), 2);
            assert!(loc.split('.').skip(1).all(|p| p.len() >= 6));
        }
    }

    #[test]
    fn times_increase_and_have_nine_digits() {
        let mut last = String::new();
        for _ in 0..1000 {
            let t = next_time_text();
            let (s, ns) = t.split_once('.').expect("point");
            assert_eq!(ns.len(), 9);
            assert!(s.len() >= 10);
            if !last.is_empty() {
                assert!(t.len() > last.len() || t > last, "{t} after {last}");
            }
            last = t;
        }
    }

    #[test]
    fn mix_parses_and_is_followed() {
        let mix: Mix = "iamat=9,whatsat=1".parse().expect("mix");
        assert_eq!(
            mix,
            Mix {
                iamat: 9,
                whatsat: 1
            }
        );
        assert!("iamat=0,whatsat=0".parse::<Mix>().is_err());
        assert!("foo=1".parse::<Mix>().is_err());
        assert!("iamat".parse::<Mix>().is_err());
        let plan = Plan {
            prefix: "lg1".into(),
            clients: 10,
            mix,
            radius_km: 10.0,
            bound: 5,
        };
        let mut g = Generator::new(1);
        let whatsats = (0..10_000)
            .filter(|_| g.next_request(&plan).command == Command::Whatsat)
            .count();
        assert!((700..1300).contains(&whatsats), "{whatsats}");
        assert_eq!(plan.whatsat_clients().len(), 10);
    }

    #[test]
    fn a_right_at_line_passes() {
        let r = iamat();
        let answer = b"AT Clark +0.263873386 lg1-0 +34.068930-118.445127 1621464827.959498503\n";
        assert_eq!(check_iamat(&r, answer), Ok(()));
        let answer = b"AT Echo -12.000000000 lg1-0 +34.068930-118.445127 1621464827.959498503\n";
        assert_eq!(check_iamat(&r, answer), Ok(()));
    }

    #[test]
    fn a_wrong_at_line_is_an_invalid_answer() {
        let r = iamat();
        let wrong: &[&[u8]] = &[
            // another client id
            b"AT Clark +0.263873386 lg1-1 +34.068930-118.445127 1621464827.959498503\n",
            // wrong time
            b"AT Clark +0.263873386 lg1-0 +34.068930-118.445127 1621464827.959498504\n",
            // wrong location
            b"AT Clark +0.263873386 lg1-0 +34.068931-118.445127 1621464827.959498503\n",
            // diff without sign, or with 6 digits
            b"AT Clark 0.263873386 lg1-0 +34.068930-118.445127 1621464827.959498503\n",
            b"AT Clark +0.263873 lg1-0 +34.068930-118.445127 1621464827.959498503\n",
            // no newline, two lines, missing field, not AT
            b"AT Clark +0.263873386 lg1-0 +34.068930-118.445127 1621464827.959498503",
            b"AT Clark +0.263873386 lg1-0 +34.068930-118.445127 1621464827.959498503\nx\n",
            b"AT Clark +0.263873386 lg1-0 +34.068930-118.445127\n",
            b"IAMAT lg1-0 +34.068930-118.445127 1621464827.959498503\n",
            b"\xff\n",
        ];
        for answer in wrong {
            assert_eq!(
                check_iamat(&r, answer),
                Err(ErrorKind::InvalidAnswer),
                "{}",
                String::from_utf8_lossy(answer)
            );
        }
        let rejected = b"? IAMAT lg1-0 +34.068930-118.445127 1621464827.959498503\n";
        assert_eq!(check_iamat(&r, rejected), Err(ErrorKind::Rejected));
    }

    #[test]
    fn whatsat_answers_are_checked() {
        let w = Request::whatsat("lg1-0", 10.0, 2);
        let at = b"AT Clark +0.263873386 lg1-0 +34.068930-118.445127 1621464827.959498503";
        let ok = br#"{
   "html_attributions": [],
   "results": [{"name": "a"}, {"name": "b"}],
   "status": "OK"
}"#;
        assert_eq!(check_whatsat(&w, at, ok), Ok(()));
        let zero = br#"{"html_attributions": [], "results": [], "status": "ZERO_RESULTS"}"#;
        assert_eq!(check_whatsat(&w, at, zero), Ok(()));
        let too_many = br#"{"results": [1, 2, 3], "status": "OK"}"#;
        assert_eq!(
            check_whatsat(&w, at, too_many),
            Err(ErrorKind::InvalidAnswer)
        );
        let failed = br#"{"results": [], "status": "UNKNOWN_ERROR", "error_message": "x"}"#;
        assert_eq!(check_whatsat(&w, at, failed), Err(ErrorKind::PlacesStatus));
        assert_eq!(
            check_whatsat(&w, at, b"{not json"),
            Err(ErrorKind::InvalidAnswer)
        );
        assert_eq!(check_whatsat(&w, at, b"[]"), Err(ErrorKind::InvalidAnswer));
        let other = b"AT Clark +0.263873386 lg1-9 +34.068930-118.445127 1621464827.959498503";
        assert_eq!(check_whatsat(&w, other, ok), Err(ErrorKind::InvalidAnswer));
        assert_eq!(
            check_whatsat(&w, b"? WHATSAT lg1-0 10 2", b""),
            Err(ErrorKind::Rejected)
        );
    }

    #[test]
    fn newline_trimming() {
        assert_eq!(trim_newline(b"abc\r\n"), b"abc");
        assert_eq!(trim_newline(b"abc\n"), b"abc");
        assert_eq!(trim_newline(b"abc"), b"abc");
    }
}
