//! The `google` provider against a deliberately misbehaving HTTP server
//! (tests/support/places_stub.rs), for what the Places stand-in, which
//! behaves like Google, never does: answers with odd number text and key
//! orders to keep as written, an `INVALID_REQUEST` the node's own requests
//! cannot provoke, redirects (never followed: they would carry the key),
//! other HTTP statuses, bodies over 4 MiB or not an object, a body stalling
//! mid-way, a hang-up before answering, an unknown host, a kept-alive
//! connection after failures. Also: the request's exact query (location,
//! radius in metres, the key percent-encoded), a pool that overlaps Places
//! latency, and an API key that never shows in an answer, the node's log or
//! any `log` record (PROTOCOL §4). What Google itself does (statuses,
//! faults, timeouts, equivalence with `google-new` and `offline`) is tested
//! against the stand-in in `providers.rs`.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier, Mutex, Once, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use herd::client::Client;
use herd::config::{Config, Overrides, Provider};
use herd::places::{
    self, Google, NearbyQuery, Places, PlacesError, PlacesHandle, answer_json, error_object,
    squeeze_newlines, to_google_json,
};
use serde_json::Value;

use crate::support::places_stub::{
    Behaviour, NEARBY_PATH, PlacesStub, legacy_ok_body, legacy_status_body,
};
use crate::support::{DEADLINE, HerdSpec, TestHerd, config_text, now_text};

/// A key with characters that must be percent-encoded on the wire.
const KEY: &str = "AIzaSyStub+Key/With=Odd&Chars~_-.";
const KEY_ENCODED: &str = "AIzaSyStub%2BKey%2FWith%3DOdd%26Chars~_-.";

const UCLA: &str = "kiwi.cs.ucla.edu";
const UCLA_AT: &str = "+34.068930-118.445127";

const CLARK: &[(&str, &[&str])] = &[("Clark", &[])];

// ---- one log capture for the whole test binary ----

/// Every `log` record of the process (all targets, up to debug), as
/// `LEVEL target: message`. Never trace: when trace is enabled, ureq writes
/// the full request URL, key included (at debug it writes `/******`).
static RECORDS: Mutex<Vec<String>> = Mutex::new(Vec::new());
static INSTALL: Once = Once::new();
static INSTALLED: AtomicBool = AtomicBool::new(false);

struct Capture;

impl log::Log for Capture {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::Level::Debug
    }

    fn log(&self, record: &log::Record<'_>) {
        if self.enabled(record.metadata()) {
            let line = format!("{} {}: {}", record.level(), record.target(), record.args());
            RECORDS
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(line);
        }
    }

    fn flush(&self) {}
}

static CAPTURE: Capture = Capture;

/// Installs the capture, once per test binary. (If another module ever
/// installs a logger first, [`log_records`] fails rather than pass on
/// nothing: move this capture to tests/support then.)
fn capture_logs() {
    INSTALL.call_once(|| {
        if log::set_logger(&CAPTURE).is_ok() {
            log::set_max_level(log::LevelFilter::Debug);
            INSTALLED.store(true, Ordering::SeqCst);
        }
    });
}

/// The records captured so far, from every test of the binary.
fn log_records() -> Vec<String> {
    capture_logs();
    assert!(
        INSTALLED.load(Ordering::SeqCst),
        "another logger was installed first: the capture sees nothing"
    );
    RECORDS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone()
}

// ---- the key ----

/// Asserts that `text` shows no trace of the key, raw or encoded.
fn assert_no_key(text: &str, what: &str) {
    for secret in [KEY, KEY_ENCODED, "AIzaSyStub", "key="] {
        assert!(!text.contains(secret), "{what} shows {secret:?}: {text}");
    }
}

/// Asserts that a client-visible text shows neither the key nor where
/// Places is (the request URL or the stub's address).
fn assert_safe(text: &str) {
    assert_no_key(text, "answer");
    assert!(!text.contains(NEARBY_PATH), "answer shows the URL: {text}");
    assert!(
        !text.contains("127.0.0.1"),
        "answer shows an address: {text}"
    );
}

fn assert_log_records_safe() {
    for record in log_records() {
        assert_no_key(&record, "log record");
    }
}

// ---- herds ----

/// A single Clark (or the herd `topology`) whose Places is `Google` at `url`.
fn google_herd(topology: &[(&str, &[&str])], url: &str, timeout: Duration) -> TestHerd {
    capture_logs();
    let google: PlacesHandle = Arc::new(Google::new(url, KEY.into(), timeout));
    TestHerd::start(HerdSpec {
        topology,
        extra: "[limits]\nthreads = 8\n",
        places: Some(google),
        ..HerdSpec::default()
    })
}

/// The production path: a config with `[places] provider = "google"`,
/// `url` and `timeout_ms`, and the key as `PLACES_API_KEY` would give it.
fn google_extra(url: &str, timeout_ms: u64) -> String {
    format!(
        "[places]\nprovider = \"google\"\nurl = \"{url}\"\ntimeout_ms = {timeout_ms}\n\n\
         [limits]\nthreads = 8\n"
    )
}

fn parse_config(extra: &str) -> Config {
    let addr: SocketAddr = "127.0.0.1:1".parse().expect("an address");
    let text = config_text(&[("Clark", addr, &[])], extra);
    Config::parse(&text, &Overrides::default()).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

fn herd_from_config(url: &str, timeout_ms: u64) -> TestHerd {
    capture_logs();
    let extra = google_extra(url, timeout_ms);
    let config = parse_config(&extra);
    assert_eq!(config.places.provider, Provider::Google);
    assert_eq!(config.places.timeout, Duration::from_millis(timeout_ms));
    let places = places::from_config(&config.places, Some(KEY.to_owned()))
        .unwrap_or_else(|e| panic!("google provider from config: {e}"));
    TestHerd::start(HerdSpec {
        topology: CLARK,
        extra: &extra,
        places: Some(places),
        ..HerdSpec::default()
    })
}

/// Stops every node (failing on a panic or an unclean stop), then checks
/// that the log files, now flushed, show traffic but not the key, and that
/// no `log` record does either.
fn finish(mut herd: TestHerd) {
    herd.stop_all();
    let logs: String = herd.names().iter().map(|name| herd.log(name)).collect();
    assert!(
        logs.contains("WHATSAT"),
        "the node logs what it received: {logs}"
    );
    assert_no_key(&logs, "node log");
    assert_log_records_safe();
}

// ---- a client's view ----

/// Sends IAMAT for `id` at `location` and returns the AT line (no newline),
/// after checking its shape (PROTOCOL §2).
fn iamat(client: &mut Client, server: &str, id: &str, location: &str) -> String {
    let time = now_text();
    let line = format!("IAMAT {id} {location} {time}");
    let answer = client.request(line.as_bytes()).expect("IAMAT answered");
    let answer = String::from_utf8(answer.expect("an answer")).expect("UTF-8");
    let at = answer.strip_suffix('\n').expect("one line");
    let fields: Vec<&str> = at.split(' ').collect();
    assert_eq!(fields.len(), 6, "{at:?}");
    assert_eq!(fields[..2], ["AT", server], "{at:?}");
    assert_eq!(fields[3..], [id, location, time.as_str()], "{at:?}");
    let (whole, fraction) = fields[2].split_once('.').expect("a fraction");
    assert!(whole.starts_with(['+', '-']) && whole.len() > 1, "{at:?}");
    assert!(fraction.len() == 9 && fraction.bytes().all(|b| b.is_ascii_digit()));
    at.to_owned()
}

/// A WHATSAT answer taken apart, its framing checked.
struct Answer {
    at: String,
    json_text: String,
    json: Value,
}

/// Sends a WHATSAT, checks the framing (an AT line, JSON, one blank line at
/// the end and none inside) and that nothing shows the key or the URL.
fn whatsat(client: &mut Client, line: &str) -> (Answer, Duration) {
    let started = Instant::now();
    let answer = client.request(line.as_bytes()).expect("WHATSAT answered");
    let took = started.elapsed();
    let text = String::from_utf8(answer.expect("an answer")).expect("UTF-8");
    assert_safe(&text);
    assert!(
        text.ends_with("}\n\n"),
        "ends with JSON, blank line: {text:?}"
    );
    assert_eq!(
        text.find("\n\n"),
        Some(text.len() - 2),
        "blank line inside: {text:?}"
    );
    let (at, json_text) = text[..text.len() - 2]
        .split_once('\n')
        .expect("AT line, JSON");
    assert!(at.starts_with("AT "), "{at:?}");
    let json: Value = serde_json::from_str(json_text)
        .unwrap_or_else(|e| panic!("the answer's JSON does not parse ({e}): {json_text}"));
    assert!(json.is_object(), "{json_text}");
    let answer = Answer {
        at: at.to_owned(),
        json_text: json_text.to_owned(),
        json,
    };
    (answer, took)
}

/// The object's keys, in order.
fn keys(value: &Value) -> Vec<&str> {
    value
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect()
}

fn results(answer: &Value) -> &Vec<Value> {
    answer["results"].as_array().expect("a results list")
}

/// The exact WHATSAT JSON for a provider error.
fn error_text(error: &PlacesError) -> String {
    squeeze_newlines(&to_google_json(&error_object(error)))
}

fn unknown(message: &str) -> PlacesError {
    PlacesError::new("UNKNOWN_ERROR", message)
}

/// Asserts that `answer` is exactly the error object for `expected`.
fn assert_error_answer(answer: &Answer, expected: &PlacesError) {
    assert_eq!(answer.json_text, error_text(expected));
    assert_eq!(
        keys(&answer.json),
        ["error_message", "html_attributions", "results", "status"]
    );
    assert_eq!(answer.json["status"], expected.status.as_str());
    assert_eq!(answer.json["error_message"], expected.message.as_str());
    assert!(results(&answer.json).is_empty());
}

// ---- the request the stub received ----

/// A request target's path and its query parameters decoded as a form
/// (`+` is a space, as a server reads it), sorted.
fn split_target(target: &str) -> (String, Vec<(String, String)>) {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut params: Vec<(String, String)> = query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (form_decode(name), form_decode(value))
        })
        .collect();
    params.sort();
    (path.to_owned(), params)
}

fn form_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let byte = text
                    .get(i + 1..i + 3)
                    .and_then(|hex| u8::from_str_radix(hex, 16).ok())
                    .unwrap_or_else(|| panic!("bad escape in {text:?}"));
                out.push(byte);
                i += 2;
            }
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8(out).expect("UTF-8 after decoding")
}

/// Asserts that the stub received exactly one request, for `location` and
/// `radius` (metres) with the key.
fn assert_one_request(stub: &PlacesStub, location: &str, radius: &str) {
    let requests = stub.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    let (path, params) = split_target(&requests[0]);
    assert_eq!(path, NEARBY_PATH);
    let mut expected = vec![
        ("location".to_owned(), location.to_owned()),
        ("radius".to_owned(), radius.to_owned()),
        ("key".to_owned(), KEY.to_owned()),
    ];
    expected.sort();
    assert_eq!(params, expected, "{}", requests[0]);
    assert!(requests[0].contains(&format!("key={KEY_ENCODED}")));
}

// ---- WHATSAT end to end: success ----

#[test]
fn whatsat_cuts_results_to_the_bound_keeping_order_keys_and_numbers() {
    let body = legacy_ok_body(20);
    let stub = PlacesStub::start(Behaviour::Json(body.clone()));
    let herd = herd_from_config(&stub.url(), 5000);
    let mut client = herd.client("Clark");
    let at = iamat(&mut client, "Clark", UCLA, UCLA_AT);

    let (answer, _) = whatsat(&mut client, &format!("WHATSAT {UCLA} 10 5"));

    assert_eq!(answer.at, at);
    let mut expected: Value = serde_json::from_str(&body).expect("the stub's JSON");
    expected["results"]
        .as_array_mut()
        .expect("results")
        .truncate(5);
    assert_eq!(answer.json, expected);
    // Key order at every level and numbers as written (arbitrary_precision).
    assert_eq!(
        serde_json::to_string(&answer.json).expect("serialize"),
        serde_json::to_string(&expected).expect("serialize")
    );
    assert_eq!(
        keys(&answer.json),
        ["html_attributions", "next_page_token", "results", "status"]
    );
    assert_eq!(answer.json["status"], "OK");
    let ids: Vec<&str> = results(&answer.json)
        .iter()
        .map(|r| r["place_id"].as_str().expect("a place_id"))
        .collect();
    assert_eq!(
        ids,
        [
            "ChIJstubPlace000",
            "ChIJstubPlace001",
            "ChIJstubPlace002",
            "ChIJstubPlace003",
            "ChIJstubPlace004"
        ]
    );
    assert_eq!(
        results(&answer.json)[1]["name"],
        "Café \"Chez Nous\" <Westwood> & Bar"
    );
    let text = &answer.json_text;
    assert_eq!(
        *text,
        squeeze_newlines(&to_google_json(&expected)),
        "Google's layout"
    );
    assert!(text.contains("\"lat\" : 34.0736204,"), "{text}");
    assert!(text.contains("\"lat\" : 34.0740204,"), "{text}");
    assert!(text.contains("\"lng\" : -118.3990071197085"), "{text}");
    assert!(
        text.contains("\"rating\" : 4,"),
        "an integer stays one: {text}"
    );
    assert!(text.contains("\"rating\" : 4.2,"), "{text}");

    assert_one_request(&stub, "34.06893,-118.445127", "10000");
    drop(client);
    finish(herd);
}

#[test]
fn whatsat_radius_goes_to_places_in_metres_and_fewer_results_are_all_kept() {
    let stub = PlacesStub::start(Behaviour::Json(legacy_ok_body(3)));
    let herd = google_herd(CLARK, &stub.url(), Duration::from_secs(5));
    let mut client = herd.client("Clark");
    let at = iamat(
        &mut client,
        "Clark",
        "sydney.example",
        "-33.8670522+151.1957362",
    );

    let (answer, _) = whatsat(&mut client, "WHATSAT sydney.example 2.5005 20");

    assert_eq!(answer.at, at);
    assert_eq!(answer.json["status"], "OK");
    assert_eq!(results(&answer.json).len(), 3);
    assert_eq!(
        keys(&answer.json),
        ["html_attributions", "results", "status"]
    );
    assert_one_request(&stub, "-33.8670522,151.1957362", "2500.5");
    drop(client);
    finish(herd);
}

#[test]
fn whatsat_at_a_server_that_learned_the_client_by_flooding() {
    let stub = PlacesStub::start(Behaviour::Json(legacy_ok_body(7)));
    let topology: &[(&str, &[&str])] = &[("Clark", &["Jaquez"]), ("Jaquez", &["Clark"])];
    let herd = google_herd(topology, &stub.url(), Duration::from_secs(5));
    let at = iamat(&mut herd.client("Clark"), "Clark", UCLA, UCLA_AT);
    assert!(
        herd.converges(&["Jaquez"], UCLA, &at),
        "Jaquez learns {at:?}"
    );

    let mut client = herd.client("Jaquez");
    let (answer, _) = whatsat(&mut client, &format!("WHATSAT {UCLA} 10 4"));

    assert_eq!(answer.at, at, "the AT line as Clark made it");
    assert_eq!(answer.json["status"], "OK");
    assert_eq!(results(&answer.json).len(), 4);
    assert_one_request(&stub, "34.06893,-118.445127", "10000");
    drop(client);
    finish(herd);
}

// ---- WHATSAT end to end: Google's own error statuses (HTTP 200) ----

/// IAMAT then WHATSAT at a Clark whose stub answers `body`; the answer must
/// be the error object for `expected`.
fn whatsat_gets_error_status(body: String, expected: PlacesError) {
    let stub = PlacesStub::start(Behaviour::Json(body));
    let herd = google_herd(CLARK, &stub.url(), Duration::from_secs(5));
    let mut client = herd.client("Clark");
    let at = iamat(&mut client, "Clark", UCLA, UCLA_AT);

    let (answer, _) = whatsat(&mut client, &format!("WHATSAT {UCLA} 10 5"));

    assert_eq!(answer.at, at);
    assert_error_answer(&answer, &expected);
    assert_one_request(&stub, "34.06893,-118.445127", "10000");
    drop(client);
    finish(herd);
}

#[test]
fn whatsat_invalid_request_without_a_message_gets_one() {
    whatsat_gets_error_status(
        legacy_status_body("INVALID_REQUEST", None),
        PlacesError::new("INVALID_REQUEST", "Places answered INVALID_REQUEST"),
    );
}

// ---- WHATSAT end to end: Places fails ----

/// IAMAT then WHATSAT at a Clark whose Places is at `url` with `timeout`:
/// the answer must be the AT line and `UNKNOWN_ERROR` with `message`, and
/// the connection must still answer an IAMAT. Returns how long the WHATSAT
/// took; the caller's stub (if any) must outlive this call.
fn whatsat_fails_with(url: &str, timeout: Duration, message: &str) -> Duration {
    let herd = google_herd(CLARK, url, timeout);
    let mut client = herd.client("Clark");
    let at = iamat(&mut client, "Clark", UCLA, UCLA_AT);

    let (answer, took) = whatsat(&mut client, &format!("WHATSAT {UCLA} 10 5"));

    assert_eq!(answer.at, at);
    assert_error_answer(&answer, &unknown(message));
    assert!(took < timeout + Duration::from_secs(1), "took {took:?}");
    // The same connection goes on.
    iamat(&mut client, "Clark", UCLA, "+34.068931-118.445127");
    drop(client);
    finish(herd);
    took
}

#[test]
fn whatsat_connection_refused_is_unknown_error() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    };
    let url = format!("http://127.0.0.1:{port}{NEARBY_PATH}");
    let took = whatsat_fails_with(
        &url,
        Duration::from_secs(5),
        "Places could not be reached (connection refused)",
    );
    assert!(
        took < Duration::from_secs(2),
        "refused, not timed out: {took:?}"
    );
}

// ---- the key ----

#[test]
fn the_key_never_shows_in_answers_the_node_log_or_log_records() {
    let stub = PlacesStub::start(Behaviour::Status(500));
    let herd = google_herd(CLARK, &stub.url(), Duration::from_secs(2));
    let mut client = herd.client("Clark");
    iamat(&mut client, "Clark", UCLA, UCLA_AT);
    let behaviours = [
        (Behaviour::Json(legacy_ok_body(2)), "OK"),
        (Behaviour::Status(400), "UNKNOWN_ERROR"),
        (Behaviour::Status(403), "UNKNOWN_ERROR"),
        (Behaviour::Status(500), "UNKNOWN_ERROR"),
        (Behaviour::BrokenJson, "UNKNOWN_ERROR"),
        (Behaviour::DropConnection, "UNKNOWN_ERROR"),
        (Behaviour::Hangup, "UNKNOWN_ERROR"),
        (Behaviour::Json("not json".to_owned()), "UNKNOWN_ERROR"),
        (Behaviour::Json(String::new()), "UNKNOWN_ERROR"),
        (
            Behaviour::Json(legacy_status_body(
                "REQUEST_DENIED",
                Some("The provided API key is invalid."),
            )),
            "REQUEST_DENIED",
        ),
    ];
    for (behaviour, status) in behaviours {
        stub.set_behaviour(behaviour.clone());
        // `whatsat` checks the answer shows neither key nor URL.
        let (answer, _) = whatsat(&mut client, &format!("WHATSAT {UCLA} 10 5"));
        assert_eq!(answer.json["status"], status, "{behaviour:?}");
        if status != "OK" {
            let message = answer.json["error_message"].as_str().unwrap_or_default();
            assert!(!message.is_empty(), "{behaviour:?}");
        }
    }
    assert_eq!(stub.requests().len(), 10);
    drop(client);
    // The log file, flushed by the stop, and every log record.
    finish(herd);
    let records = log_records();
    assert!(
        records
            .iter()
            .any(|r| r.starts_with("WARN herd::places") && r.contains("Places answered HTTP 403")),
        "failures are logged, under herd::places"
    );
}

#[test]
fn from_config_google_without_a_key_is_a_config_error() {
    let config = parse_config(&google_extra("http://127.0.0.1:1/p", 500));
    for key in [None, Some(String::new())] {
        let shown = format!("{key:?}");
        let error = places::from_config(&config.places, key)
            .err()
            .unwrap_or_else(|| panic!("google with key {shown} is accepted"));
        assert!(error.0.contains("PLACES_API_KEY"), "{shown}: {error}");
    }
}

// ---- the pool overlaps provider latency ----

#[test]
fn concurrent_whatsats_overlap_places_latency() {
    const CLIENTS: usize = 8;
    let delay = Duration::from_millis(300);
    let stub = PlacesStub::start(Behaviour::Delay(
        delay,
        Box::new(Behaviour::Json(legacy_ok_body(4))),
    ));
    let herd = google_herd(CLARK, &stub.url(), Duration::from_secs(5));
    assert_eq!(herd.config.limits.threads, CLIENTS);
    let clients: Vec<(Client, String, String)> = (0..CLIENTS)
        .map(|i| {
            let mut client = herd.client("Clark");
            let id = format!("client-{i}.example");
            let at = iamat(&mut client, "Clark", &id, UCLA_AT);
            (client, id, at)
        })
        .collect();
    let barrier = Barrier::new(CLIENTS + 1);

    let took = thread::scope(|scope| {
        let workers: Vec<_> = clients
            .into_iter()
            .map(|(mut client, id, at)| {
                let barrier = &barrier;
                scope.spawn(move || {
                    barrier.wait();
                    let (answer, _) = whatsat(&mut client, &format!("WHATSAT {id} 10 3"));
                    assert_eq!(answer.at, at);
                    assert_eq!(answer.json["status"], "OK");
                    assert_eq!(results(&answer.json).len(), 3);
                })
            })
            .collect();
        barrier.wait();
        let started = Instant::now();
        for worker in workers {
            worker.join().expect("a WHATSAT client failed");
        }
        started.elapsed()
    });

    assert!(took >= delay, "faster than Places: {took:?}");
    assert!(
        took < Duration::from_millis(1500),
        "{CLIENTS} WHATSATs with a {delay:?} Places took {took:?}: not overlapped"
    );
    assert_eq!(stub.requests().len(), CLIENTS);
    finish(herd);
}

// ---- the provider alone ----

fn ucla(bound: usize) -> NearbyQuery {
    NearbyQuery {
        lat: 34.06893,
        lng: -118.445127,
        radius_m_text: "10000".to_owned(),
        radius_m: 10000.0,
        bound,
    }
}

fn google(url: &str, timeout: Duration) -> Google {
    capture_logs();
    Google::new(url, KEY.to_owned(), timeout)
}

fn google_at(url: &str) -> Google {
    google(url, DEADLINE)
}

/// `nearby` gives `expected`; `answer_json` gives its error object;
/// neither shows the key.
fn assert_fails(google: &Google, expected: PlacesError) {
    assert_eq!(google.nearby(&ucla(5)), Err(expected.clone()));
    assert_safe(&expected.message);
    let query = ucla(5);
    let text = answer_json(google.nearby(&query), query.bound);
    assert_eq!(text, error_text(&expected));
    assert_safe(&text);
    assert_log_records_safe();
}

#[test]
fn other_http_statuses_and_redirects_are_unknown_error() {
    let stub = PlacesStub::start(Behaviour::Status(302));
    let google = google_at(&stub.url());
    assert_fails(&google, unknown("Places answered HTTP 302"));
    assert_eq!(stub.requests().len(), 2, "one per call: not followed");
    for status in [400, 403, 429, 503] {
        stub.set_behaviour(Behaviour::Status(status));
        assert_fails(&google, unknown(&format!("Places answered HTTP {status}")));
    }
    // A wrong path (the stub serves only Google's) is a 404.
    stub.set_behaviour(Behaviour::Json(legacy_ok_body(1)));
    let wrong_path = google_at(&stub.url().replace("/json", "/xml"));
    assert_fails(&wrong_path, unknown("Places answered HTTP 404"));
}

#[test]
fn json_that_is_not_an_object_is_unknown_error() {
    let stub = PlacesStub::start(Behaviour::Json("[1, 2, 3]".to_owned()));
    assert_fails(
        &google_at(&stub.url()),
        unknown("Places answered with JSON that is not an object"),
    );
}

#[test]
fn body_over_4_mib_is_unknown_error() {
    let big = format!(
        "{{\"status\" : \"OK\", \"results\" : [], \"x\" : \"{}\"}}",
        "a".repeat(5 << 20)
    );
    let stub = PlacesStub::start(Behaviour::Json(big));
    assert_fails(
        &google_at(&stub.url()),
        unknown("Places answered with more than 4 MiB"),
    );
}

#[test]
fn answer_stalling_mid_body_times_out() {
    let stub = PlacesStub::start(Behaviour::Stall);
    let timeout = Duration::from_millis(500);
    let google = google(&stub.url(), timeout);
    let started = Instant::now();
    assert_eq!(
        google.nearby(&ucla(5)),
        Err(unknown("Places did not answer within 500 ms"))
    );
    let took = started.elapsed();
    assert!(
        took >= timeout && took < timeout + Duration::from_secs(1),
        "took {took:?}"
    );
}

#[test]
fn hangup_before_answering_is_unknown_error() {
    let stub = PlacesStub::start(Behaviour::Hangup);
    let started = Instant::now();
    assert_fails(
        &google_at(&stub.url()),
        unknown("Places closed the connection without answering"),
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn unknown_host_is_unknown_error() {
    let timeout = Duration::from_secs(2);
    let google = google(
        "http://places.invalid/maps/api/place/nearbysearch/json",
        timeout,
    );
    let started = Instant::now();
    let error = google.nearby(&ucla(5)).expect_err("no such host");
    assert!(started.elapsed() < timeout + Duration::from_secs(1));
    assert_eq!(error.status, "UNKNOWN_ERROR");
    // "host not found" where DNS answers at once; a timeout where it is slow.
    assert!(
        error.message.starts_with("Places could not be reached (")
            || error.message == "Places did not answer within 2000 ms",
        "{error:?}"
    );
    assert_safe(&error.message);
}

#[test]
fn a_kept_alive_connection_serves_on_after_failed_answers() {
    let stub = PlacesStub::start(Behaviour::Json(legacy_ok_body(1)));
    let google = google_at(&stub.url());
    assert!(google.nearby(&ucla(5)).is_ok());
    stub.set_behaviour(Behaviour::Status(503));
    assert_eq!(
        google.nearby(&ucla(5)),
        Err(unknown("Places answered HTTP 503"))
    );
    stub.set_behaviour(Behaviour::Json(legacy_status_body("REQUEST_DENIED", None)));
    assert_eq!(
        google.nearby(&ucla(5)).expect("an object")["status"],
        "REQUEST_DENIED"
    );
    stub.set_behaviour(Behaviour::Json(legacy_ok_body(2)));
    assert_eq!(google.nearby(&ucla(5)).expect("an object")["status"], "OK");
    assert_eq!(stub.requests().len(), 4);
}
