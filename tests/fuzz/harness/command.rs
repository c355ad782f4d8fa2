//! Fuzz harness for the request parser (`protocol::parse`) on arbitrary
//! lines, with format-then-parse round trips wherever the parser accepts.
//!
//! Shared by the `command` fuzz target and the corpus replay in the normal
//! test run (`tests/fuzz_corpus.rs`). The input is one line; bytes that are
//! not UTF-8 are replaced, as only UTF-8 lines reach the parser. Checked:
//! a line is `Blank` exactly when it is all separators; an accepted request
//! has the verb and field count PROTOCOL §2-§3 give it, operands copied as
//! written and values in range; its canonical text (and, for an IAMAT, the
//! AT line a server answers with) parses back to the same request; a time
//! written back as the protocol writes times parses to the same nanoseconds.

use herd::limits::MAX_BOUND;
use herd::protocol::{self, Nanos, Request, format_at};

/// A server clock for building AT lines: 2021-05-19T22:53:48.223371889Z.
const SERVER_NOW: Nanos = Nanos(1_621_464_828_223_371_889);

/// Runs one input; panics when an invariant fails.
pub fn run(data: &[u8]) {
    let line = String::from_utf8_lossy(data);
    check_line(&line);
}

fn check_line(line: &str) {
    let fields: Vec<&str> = protocol::fields(line).collect();
    let request = protocol::parse(line);
    assert_eq!(
        matches!(request, Request::Blank),
        protocol::is_blank(line),
        "Blank disagrees with is_blank"
    );
    assert_eq!(protocol::is_blank(line), fields.is_empty());
    match request {
        Request::Blank | Request::Invalid => {}
        Request::Peer(name, None) => assert_eq!(fields, ["PEER", name]),
        Request::Peer(name, Some(nonce)) => assert_eq!(fields, ["PEER", name, nonce]),
        Request::IAmAt(iamat) => {
            assert_eq!(
                fields,
                ["IAMAT", iamat.client, iamat.location_text, iamat.time_text]
            );
            assert!(in_range(iamat.location.lat, iamat.location.lng));
            check_time(iamat.time_text, iamat.time);
            let canonical = format!(
                "IAMAT {} {} {}",
                iamat.client, iamat.location_text, iamat.time_text
            );
            assert_eq!(protocol::parse(&canonical), Request::IAmAt(iamat.clone()));
            // The AT line a server answers with parses as the same update.
            let diff = SERVER_NOW.minus(iamat.time).to_string();
            let answer = format_at(
                "Clark",
                &diff,
                iamat.client,
                iamat.location_text,
                iamat.time_text,
            );
            let Request::At(at) = protocol::parse(&answer) else {
                panic!("the AT answer to an accepted IAMAT does not parse: {answer:?}");
            };
            assert_eq!(
                (at.server, at.diff, at.client, at.location_text, at.time),
                (
                    "Clark",
                    diff.as_str(),
                    iamat.client,
                    iamat.location_text,
                    iamat.time
                )
            );
            assert_eq!(at.canonical(), answer);
        }
        Request::WhatsAt(whatsat) => {
            let [_, _, radius, bound] = fields.as_slice() else {
                panic!("WHATSAT accepted with {} fields", fields.len());
            };
            assert_eq!((fields[0], fields[1]), ("WHATSAT", whatsat.client));
            assert!((1..=MAX_BOUND).contains(&whatsat.bound));
            let metres = whatsat.radius.metres;
            assert!(metres > 0.0 && metres <= 50_000.0, "radius {metres} m");
            assert_eq!(whatsat.radius.metres_text.parse::<f64>().ok(), Some(metres));
            let canonical = format!("WHATSAT {} {radius} {bound}", whatsat.client);
            assert_eq!(
                protocol::parse(&canonical),
                Request::WhatsAt(whatsat.clone())
            );
        }
        Request::At(at) => {
            assert_eq!(
                fields,
                [
                    "AT",
                    at.server,
                    at.diff,
                    at.client,
                    at.location_text,
                    at.time_text
                ]
            );
            assert!(in_range(at.location.lat, at.location.lng));
            check_time(at.time_text, at.time);
            assert_eq!(protocol::parse(&at.canonical()), Request::At(at.clone()));
        }
    }
}

fn in_range(lat: f64, lng: f64) -> bool {
    (-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lng)
}

/// A time as the protocol writes it parses back to the same nanoseconds.
fn check_time(text: &str, time: Nanos) {
    assert_eq!(Nanos::parse(text), Some(time));
    let written = time.to_string();
    assert_eq!(
        Nanos::parse(&written),
        Some(time),
        "{text:?} -> {written:?}"
    );
}
