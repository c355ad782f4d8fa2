//! Properties of the pure core, checked on generated input (proptest):
//! formatting then parsing a line gives back every field exactly (for
//! IAMAT, AT and time differences, to the nanosecond), and the merge rule
//! makes every order of delivery end in the same cache, with a repeated
//! update changing nothing. These are what let a herd converge whatever
//! path and order its floods take.

use herd::answer;
use herd::cache::Cache;
use herd::protocol::{self, Location, Nanos, Request};
use herd::record::{AtRecord, newer};
use proptest::prelude::*;

/// A client id: 1 to 40 printable ASCII characters, no white space.
fn client_id() -> impl Strategy<Value = String> {
    proptest::string::string_regex("[!-~]{1,40}").expect("regex")
}

/// A location as ISO 6709 text with 0 to 6 decimals, within range.
fn location_text() -> impl Strategy<Value = String> {
    (
        -90_000_000i64..=90_000_000,
        -180_000_000i64..=180_000_000,
        0usize..=6,
    )
        .prop_map(|(lat, lng, decimals)| {
            format!("{}{}", degrees(lat, decimals), degrees(lng, decimals))
        })
}

/// Micro-degrees as signed decimal text with `decimals` decimals (cut).
fn degrees(micro: i64, decimals: usize) -> String {
    let sign = if micro < 0 { '-' } else { '+' };
    let magnitude = micro.unsigned_abs();
    let whole = magnitude / 1_000_000;
    let fraction = format!("{:06}", magnitude % 1_000_000);
    if decimals == 0 {
        format!("{sign}{whole}")
    } else {
        format!("{sign}{whole}.{}", &fraction[..decimals])
    }
}

/// A client time: seconds and nanoseconds, as `S.NNNNNNNNN` text.
fn time_nanos() -> impl Strategy<Value = i128> {
    0i128..=10_000_000_000_000_000_000
}

fn time_text(nanos: i128) -> String {
    format!("{}.{:09}", nanos / 1_000_000_000, nanos % 1_000_000_000)
}

/// An AT record made by `server` of an IAMAT from `client` at `time`.
fn record(server: &str, client: &str, location: &str, time: i128, now: i128) -> AtRecord {
    let line = format!("IAMAT {client} {location} {}", time_text(time));
    let Request::IAmAt(request) = protocol::parse(&line) else {
        panic!("generated IAMAT does not parse: {line}");
    };
    answer::iamat_record(server, Nanos(now), &request)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn time_differences_format_and_parse_back_exactly(n in -(10i128.pow(29))..10i128.pow(29)) {
        let text = Nanos(n).to_string();
        prop_assert_eq!(Nanos::parse(&text), Some(Nanos(n)));
    }

    #[test]
    fn an_iamat_and_its_at_line_parse_back_to_the_same_fields(
        client in client_id(),
        location in location_text(),
        time in time_nanos(),
        now in time_nanos(),
    ) {
        let record = record("Clark", &client, &location, time, now);
        let Request::At(at) = protocol::parse(&record.line) else {
            return Err(TestCaseError::fail(format!("AT does not parse: {}", record.line)));
        };
        prop_assert_eq!(at.server, "Clark");
        prop_assert_eq!(at.client, client.as_str());
        prop_assert_eq!(at.location_text, location.as_str());
        prop_assert_eq!(at.location, Location::parse(&location).expect("location"));
        prop_assert_eq!(at.time, Nanos(time));
        prop_assert_eq!(Nanos::parse(at.diff), Some(Nanos(now - time)));
        // Formatting the parsed line again gives the same bytes.
        let again = at.canonical();
        prop_assert_eq!(again, record.line.clone());
        prop_assert_eq!(record.client(), client.as_str());
    }

    #[test]
    fn every_order_of_delivery_ends_in_the_same_cache(
        updates in proptest::collection::vec(
            (0usize..4, 0usize..3, 0i128..5, 0i128..3),
            1..24,
        ),
        seed in any::<u64>(),
    ) {
        // Few clients, servers and times, so that ties and repeats are common.
        let records: Vec<AtRecord> = updates
            .iter()
            .map(|&(client, server, time, now)| {
                let server = ["Bernard", "Clark", "Jaquez"][server];
                record(server, &format!("c{client}"), "+1+2", time, time + now)
            })
            .collect();
        let in_order = Cache::new();
        for r in &records {
            in_order.offer(r.clone());
        }
        // Another order: a seeded shuffle, each update delivered twice.
        let mut shuffled: Vec<&AtRecord> = records.iter().chain(records.iter()).collect();
        let mut state = seed | 1;
        for i in (1..shuffled.len()).rev() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            shuffled.swap(i, (state % (i as u64 + 1)) as usize);
        }
        let other = Cache::new();
        for r in shuffled {
            other.offer(r.clone());
        }
        let lines = |cache: &Cache| {
            let mut lines: Vec<String> = cache.snapshot().iter().map(|r| r.line.clone()).collect();
            lines.sort();
            lines
        };
        prop_assert_eq!(lines(&in_order), lines(&other));
        // Idempotent: offering what is kept again changes nothing.
        for kept in in_order.snapshot() {
            prop_assert!(in_order.offer((*kept).clone()).is_none());
        }
    }

    #[test]
    fn the_merge_rule_is_a_strict_order(
        a in (0usize..3, 0i128..4, 0i128..3),
        b in (0usize..3, 0i128..4, 0i128..3),
    ) {
        let make = |(server, time, now): (usize, i128, i128)| {
            record(["Bernard", "Clark", "Jaquez"][server], "c", "+1+2", time, time + now)
        };
        let (a, b) = (make(a), make(b));
        prop_assert!(!(newer(&a, &b) && newer(&b, &a)));
        prop_assert!(!newer(&a, &a));
        if a.line != b.line {
            prop_assert!(newer(&a, &b) || newer(&b, &a));
        }
    }
}
