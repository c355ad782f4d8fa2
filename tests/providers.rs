//! Both Google providers, end to end, against the Places stand-in.
//!
//! A real node whose Places is `google` (legacy Nearby Search) or
//! `google-new` (Places API (New)), built by `places::from_config` as
//! `herd node` builds it, pointed at the stand-in (`herd_standin`, a
//! dev-dependency) serving on port 0, and asked IAMAT then WHATSAT by a
//! real client. The stand-in answers from the same data set as the offline
//! provider, so all three providers must name the same places in the same
//! order; and whatever the stand-in does wrong (each fault kind at rate 1),
//! the client gets an AT line and a legacy error object within the Places
//! timeout plus a second, on a connection that stays usable, with the key
//! nowhere in sight.

use std::time::{Duration, Instant};

use herd::client::Client;
use herd_standin::{FaultRates, Standin, StandinOptions};
use serde_json::Value;

use crate::support::{DEADLINE, HerdSpec, TestHerd, now_text};

const KEY: &str = "standin-key-5f2c9e";
const UCLA: &str = "+34.068930-118.445127";
const PACIFIC: &str = "+0.0-140.0";
const TIMEOUT_MS: u64 = 600;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Api {
    Legacy,
    New,
}

const BOTH: [Api; 2] = [Api::Legacy, Api::New];

fn standin(options: StandinOptions) -> Standin {
    herd_standin::start(StandinOptions {
        keys: vec![KEY.into()],
        ..options
    })
    .expect("the stand-in starts")
}

/// Clark alone, with the `api` provider at `standin`, sending `key`; the
/// provider is built from the config by `places::from_config`, as
/// `herd node` builds it.
fn herd_for(api: Api, standin: &Standin, key: &str) -> TestHerd {
    let (provider, url) = match api {
        Api::Legacy => ("google", standin.legacy_url()),
        Api::New => ("google-new", standin.new_url()),
    };
    let extra = format!(
        "[places]\nprovider = \"{provider}\"\nurl = \"{url}\"\ntimeout_ms = {TIMEOUT_MS}\n\
         [limits]\nthreads = 8\n"
    );
    TestHerd::start(HerdSpec {
        topology: &[("Clark", &[])],
        extra: &extra,
        api_key: Some(key),
        ..HerdSpec::default()
    })
}

/// The WHATSAT answer as (AT line, JSON), after checking its framing.
fn whatsat(client: &mut Client, id: &str, radius: &str, bound: usize) -> (String, Value, Duration) {
    let started = Instant::now();
    let line = format!("WHATSAT {id} {radius} {bound}");
    let answer = client
        .request(line.as_bytes())
        .expect("an answer")
        .expect("not blank");
    let took = started.elapsed();
    let text = String::from_utf8(answer).expect("UTF-8 answer");
    let (at, json) = text.split_once('\n').expect("AT line, then JSON");
    assert!(at.starts_with("AT Clark "), "{text}");
    let json = json
        .strip_suffix("\n\n")
        .unwrap_or_else(|| panic!("no blank line at the end: {text:?}"));
    assert!(
        !json.contains("\n\n"),
        "a blank line inside the JSON: {json}"
    );
    assert!(!text.contains(KEY), "the key in an answer: {text}");
    let value: Value = serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {json}"));
    (at.to_owned(), value, took)
}

fn iamat(client: &mut Client, id: &str, location: &str) -> String {
    let line = format!("IAMAT {id} {location} {}", now_text());
    let answer = client
        .request(line.as_bytes())
        .expect("answer")
        .expect("not blank");
    let answer = String::from_utf8(answer).expect("UTF-8");
    assert!(answer.starts_with("AT Clark "), "{answer}");
    answer.trim_end().to_owned()
}

/// (name, lat, lng) of each result, numbers as written.
fn places_of(json: &Value) -> Vec<(String, String, String)> {
    json["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| {
            let location = &r["geometry"]["location"];
            (
                r["name"].as_str().unwrap_or("").to_owned(),
                location["lat"].to_string(),
                location["lng"].to_string(),
            )
        })
        .collect()
}

fn status(json: &Value) -> &str {
    json["status"].as_str().unwrap_or("<none>")
}

/// Stops the herd and checks its log never held the key.
fn finish(mut herd: TestHerd) {
    herd.stop_all();
    let log = herd.log("Clark");
    assert!(log.contains("WHATSAT"), "the log records requests");
    assert!(!log.contains(KEY), "the key in the node's log");
}

#[test]
fn both_google_providers_name_the_offline_places_in_the_same_order() {
    let offline = TestHerd::single("");
    let mut client = offline.client("Clark");
    let at = iamat(&mut client, "same.example", UCLA);
    let (_, expected_5, _) = whatsat(&mut client, "same.example", "10", 5);
    let (_, expected_20, _) = whatsat(&mut client, "same.example", "50", 20);
    assert_eq!(places_of(&expected_5)[0].0, "Westwood, Los Angeles");
    assert_eq!(places_of(&expected_20).len(), 20);
    let standin = standin(StandinOptions::default());
    for api in BOTH {
        let herd = herd_for(api, &standin, KEY);
        let mut client = herd.client("Clark");
        iamat(&mut client, "same.example", UCLA);
        let (kept, got_5, _) = whatsat(&mut client, "same.example", "10", 5);
        assert_eq!(status(&got_5), "OK", "{api:?}: {got_5}");
        assert_eq!(
            places_of(&got_5),
            places_of(&expected_5),
            "{api:?}, 10 km, 5"
        );
        let (_, got_20, _) = whatsat(&mut client, "same.example", "50", 20);
        assert_eq!(
            places_of(&got_20),
            places_of(&expected_20),
            "{api:?}, 50 km, 20"
        );
        assert_ne!(kept, at, "each herd made its own AT line");
        finish(herd);
    }
}

#[test]
fn an_empty_area_is_zero_results_through_both_providers() {
    let standin = standin(StandinOptions::default());
    for api in BOTH {
        let herd = herd_for(api, &standin, KEY);
        let mut client = herd.client("Clark");
        iamat(&mut client, "empty.example", PACIFIC);
        let (_, json, _) = whatsat(&mut client, "empty.example", "50", 20);
        assert_eq!(status(&json), "ZERO_RESULTS", "{api:?}: {json}");
        assert_eq!(json["results"], Value::Array(Vec::new()));
        finish(herd);
    }
}

#[test]
fn an_unknown_key_is_request_denied_through_both_providers() {
    let standin = standin(StandinOptions::default());
    for (api, message) in [
        (Api::Legacy, "The provided API key is invalid."),
        (Api::New, "API key not valid"),
    ] {
        let herd = herd_for(api, &standin, "not-the-key");
        let mut client = herd.client("Clark");
        iamat(&mut client, "denied.example", UCLA);
        let (_, json, _) = whatsat(&mut client, "denied.example", "10", 5);
        assert_eq!(status(&json), "REQUEST_DENIED", "{api:?}: {json}");
        let said = json["error_message"].as_str().unwrap_or("");
        assert!(said.contains(message), "{api:?}: {said:?}");
        assert!(
            !said.contains("not-the-key"),
            "{api:?}: the key in {said:?}"
        );
        assert_eq!(json["results"], Value::Array(Vec::new()));
    }
}

/// Each fault kind at rate 1: the status the client sees through each API.
#[test]
fn every_fault_kind_gives_an_error_object_in_time_and_the_connection_goes_on() {
    type Set = fn(&mut FaultRates);
    let kinds: [(&str, Set, &str, &str); 6] = [
        (
            "HTTP 500",
            |f| f.http_500 = 1.0,
            "UNKNOWN_ERROR",
            "UNKNOWN_ERROR",
        ),
        (
            "unknown error",
            |f| f.unknown_error = 1.0,
            "UNKNOWN_ERROR",
            "UNKNOWN_ERROR",
        ),
        (
            "over query limit",
            |f| f.over_query_limit = 1.0,
            "OVER_QUERY_LIMIT",
            "OVER_QUERY_LIMIT",
        ),
        (
            "broken JSON",
            |f| f.broken_json = 1.0,
            "UNKNOWN_ERROR",
            "UNKNOWN_ERROR",
        ),
        (
            "dropped connection",
            |f| f.drop_connection = 1.0,
            "UNKNOWN_ERROR",
            "UNKNOWN_ERROR",
        ),
        (
            "never answering",
            |f| f.never_answer = 1.0,
            "UNKNOWN_ERROR",
            "UNKNOWN_ERROR",
        ),
    ];
    let limit = Duration::from_millis(TIMEOUT_MS) + Duration::from_secs(1);
    for (what, set, legacy_status, new_status) in kinds {
        let mut faults = FaultRates::default();
        set(&mut faults);
        let standin = standin(StandinOptions {
            faults,
            ..StandinOptions::default()
        });
        for (api, expected) in [(Api::Legacy, legacy_status), (Api::New, new_status)] {
            let herd = herd_for(api, &standin, KEY);
            let mut client = herd.client("Clark");
            let id = format!("fault-{}.example", what.replace(' ', "-"));
            iamat(&mut client, &id, UCLA);
            let (_, json, took) = whatsat(&mut client, &id, "10", 5);
            assert_eq!(status(&json), expected, "{what}, {api:?}: {json}");
            assert!(
                json["error_message"]
                    .as_str()
                    .is_some_and(|m| !m.is_empty()),
                "{json}"
            );
            assert_eq!(json["results"], Value::Array(Vec::new()), "{what}, {api:?}");
            assert!(took <= limit, "{what}, {api:?}: answered after {took:?}");
            // The connection is still good.
            iamat(&mut client, &id, PACIFIC);
            finish(herd);
        }
    }
}

#[test]
fn places_slower_than_the_timeout_is_cut_off_at_the_timeout() {
    let standin = standin(StandinOptions {
        latency: Duration::from_millis(TIMEOUT_MS * 3),
        ..StandinOptions::default()
    });
    for api in BOTH {
        let herd = herd_for(api, &standin, KEY);
        let mut client = herd.client("Clark");
        iamat(&mut client, "slow.example", UCLA);
        let (_, json, took) = whatsat(&mut client, "slow.example", "10", 5);
        assert_eq!(status(&json), "UNKNOWN_ERROR", "{api:?}: {json}");
        let said = json["error_message"].as_str().unwrap_or("");
        assert!(
            said.contains(&format!("{TIMEOUT_MS} ms")),
            "{api:?}: {said}"
        );
        assert!(
            took >= Duration::from_millis(TIMEOUT_MS - 50),
            "{api:?}: {took:?}"
        );
        assert!(took <= Duration::from_millis(TIMEOUT_MS) + Duration::from_secs(1));
        finish(herd);
    }
}

#[test]
fn latency_within_the_timeout_only_delays_the_answer() {
    let standin = standin(StandinOptions {
        latency: Duration::from_millis(150),
        jitter: Duration::from_millis(50),
        ..StandinOptions::default()
    });
    for api in BOTH {
        let herd = herd_for(api, &standin, KEY);
        let mut client = herd.client("Clark");
        iamat(&mut client, "latency.example", UCLA);
        let (_, json, took) = whatsat(&mut client, "latency.example", "10", 3);
        assert_eq!(status(&json), "OK", "{api:?}: {json}");
        assert!(
            took >= Duration::from_millis(150),
            "{api:?}: answered in {took:?}"
        );
        assert!(took < DEADLINE);
        finish(herd);
    }
}
