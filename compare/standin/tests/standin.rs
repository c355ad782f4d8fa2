//! The local Places stand-in (`herd_standin`), over real HTTP: each test
//! starts it in-process on port 0 and talks to it with `ureq` (or, for a
//! dropped answer, a plain socket), as a provider would.
//!
//! Why it exists: the unit tests check each rule on its own; only a real
//! exchange shows the status lines, headers and bodies a client gets, the
//! faults as they look on the wire, latency, paging across requests, that
//! both endpoints and the offline provider agree, and that the binary
//! (`herd-standin`) starts, answers, refuses bad options and stops.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use herd::places::{Google, GoogleNew, NearbyQuery, Offline, Places};
use herd_standin::{FaultRates, Standin, StandinOptions};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::Value;

/// How long any single wait in a test may take before it fails.
const DEADLINE: Duration = Duration::from_secs(10);

/// The `herd-standin` binary Cargo built for these tests.
fn standin_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_herd-standin"))
}

/// A child process that is killed (and reaped) when dropped.
struct Process {
    child: Child,
}

impl Process {
    fn spawn(command: &mut Command) -> Process {
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn process");
        Process { child }
    }

    fn pid(&self) -> i32 {
        self.child.id() as i32
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const UCLA: &str = "location=34.068930,-118.445127";

const MISSING_KEY: &str = "You must use an API key to authenticate each request to Google Maps \
    Platform APIs. For additional information, please refer to http://g.co/dev/maps-no-account";

const MISSING_MASK: &str = "FieldMask is a required parameter. See \
    https://cloud.google.com/apis/docs/system-parameters on how to provide it. As an example, you \
    can set the header 'X-Goog-FieldMask' to value 'displayName', 'id' to ask for the display \
    name and the place id of a place. You can also set the value to '*' in manual testing to get \
    all the available response fields.";

/// A circle for the New API.
fn circle(lat: f64, lng: f64, radius: f64) -> String {
    format!(
        r#"{{"locationRestriction": {{"circle": {{"center": {{"latitude": {lat}, "longitude": {lng}}}, "radius": {radius}}}}}}}"#
    )
}

fn start(options: StandinOptions) -> Standin {
    herd_standin::start(options).expect("the stand-in starts")
}

fn start_default() -> Standin {
    start(StandinOptions::default())
}

fn agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(timeout))
        .build()
        .into()
}

/// What a client got.
#[derive(Debug)]
struct Got {
    status: u16,
    content_type: String,
    content_length: Option<usize>,
    body: String,
}

impl Got {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

fn got(response: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Result<Got, String> {
    let mut response = response.map_err(|e| format!("request: {e}"))?;
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let content_type = header("content-type").unwrap_or_default();
    let content_length = header("content-length").and_then(|v| v.parse().ok());
    let status = response.status().as_u16();
    let body = response
        .body_mut()
        .read_to_string()
        .map_err(|e| format!("body: {e}"))?;
    Ok(Got {
        status,
        content_type,
        content_length,
        body,
    })
}

fn try_legacy(standin: &Standin, query: &str) -> Result<Got, String> {
    let url = format!("{}?{query}", standin.legacy_url());
    got(agent(DEADLINE).get(&url).call())
}

fn legacy(standin: &Standin, query: &str) -> Got {
    try_legacy(standin, query).expect("a legacy answer")
}

fn try_new(standin: &Standin, headers: &[(&str, &str)], body: &str) -> Result<Got, String> {
    let mut request = agent(DEADLINE)
        .post(standin.new_url())
        .header("Content-Type", "application/json");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    got(request.send(body))
}

fn new(standin: &Standin, headers: &[(&str, &str)], body: &str) -> Got {
    try_new(standin, headers, body).expect("a New answer")
}

const ALL: &[(&str, &str)] = &[("X-Goog-Api-Key", "k"), ("X-Goog-FieldMask", "*")];

fn names(legacy_answer: &Value) -> Vec<String> {
    legacy_answer["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| r["name"].as_str().expect("name").to_owned())
        .collect()
}

// ------------------------------------------------------------ documented answers

#[test]
fn missing_key_on_both_apis() {
    let standin = start_default();
    let answer = legacy(&standin, &format!("{UCLA}&radius=1000"));
    assert_eq!(answer.status, 200);
    assert_eq!(answer.content_type, "application/json; charset=UTF-8");
    assert_eq!(
        answer.body,
        format!(
            "{{\n   \"error_message\" : \"{MISSING_KEY}\",\n   \"html_attributions\" : [],\n   \
             \"results\" : [],\n   \"status\" : \"REQUEST_DENIED\"\n}}"
        )
    );
    let answer = new(
        &standin,
        &[("X-Goog-FieldMask", "*")],
        &circle(34.0, -118.0, 1000.0),
    );
    assert_eq!(answer.status, 403);
    assert_eq!(answer.content_type, "application/json; charset=UTF-8");
    let error = &answer.json()["error"];
    assert_eq!(error["code"], 403);
    assert_eq!(error["status"], "PERMISSION_DENIED");
    assert!(error["details"].is_array());
    standin.stop();
}

#[test]
fn unknown_key_on_both_apis() {
    let standin = start(StandinOptions {
        keys: vec!["right".to_owned()],
        ..StandinOptions::default()
    });
    let answer = legacy(&standin, &format!("{UCLA}&radius=1000&key=wrong")).json();
    assert_eq!(answer["status"], "REQUEST_DENIED");
    assert_eq!(answer["error_message"], "The provided API key is invalid.");
    let answer = legacy(&standin, &format!("{UCLA}&radius=3000&key=right")).json();
    assert_eq!(answer["status"], "OK");
    let wrong = [("X-Goog-Api-Key", "wrong"), ("X-Goog-FieldMask", "*")];
    let answer = new(&standin, &wrong, &circle(34.0, -118.0, 1000.0));
    assert_eq!(answer.status, 400);
    let error = &answer.json()["error"];
    assert_eq!(error["status"], "INVALID_ARGUMENT");
    assert_eq!(
        error["message"],
        "API key not valid. Please pass a valid API key."
    );
    assert_eq!(error["details"][0]["reason"], "API_KEY_INVALID");
}

#[test]
fn bad_radius_on_both_apis() {
    let standin = start_default();
    for radius in ["abc", "-5", ""] {
        let answer = legacy(&standin, &format!("{UCLA}&radius={radius}&key=k"));
        assert_eq!(answer.status, 200);
        assert_eq!(
            answer.body,
            "{\n   \"html_attributions\" : [],\n   \"results\" : [],\n   \
             \"status\" : \"INVALID_REQUEST\"\n}",
            "radius {radius:?}"
        );
    }
    let missing = legacy(&standin, &format!("{UCLA}&key=k")).json();
    assert_eq!(missing["status"], "INVALID_REQUEST");
    assert!(missing.get("error_message").is_none());
    let with_distance = legacy(&standin, &format!("{UCLA}&rankby=distance&radius=10&key=k"));
    assert_eq!(with_distance.json()["status"], "INVALID_REQUEST");
    for radius in [50_000.5, -1.0] {
        let answer = new(&standin, ALL, &circle(34.0, -118.0, radius));
        assert_eq!(answer.status, 400, "{}", answer.body);
        assert_eq!(answer.json()["error"]["status"], "INVALID_ARGUMENT");
    }
}

#[test]
fn missing_field_mask() {
    let standin = start_default();
    let answer = new(
        &standin,
        &[("X-Goog-Api-Key", "k")],
        &circle(34.0, -118.0, 1000.0),
    );
    assert_eq!(answer.status, 400);
    let error = &answer.json()["error"];
    assert_eq!(error["code"], 400);
    assert_eq!(error["status"], "INVALID_ARGUMENT");
    assert_eq!(error["message"], MISSING_MASK);
    let unknown = [("X-Goog-Api-Key", "k"), ("X-Goog-FieldMask", "places.nope")];
    let answer = new(&standin, &unknown, &circle(34.0, -118.0, 1000.0));
    assert_eq!(answer.status, 400);
}

#[test]
fn empty_area_on_both_apis() {
    let standin = start_default();
    let answer = legacy(&standin, "location=0,-140&radius=50000&key=k");
    assert_eq!(
        answer.body,
        "{\n   \"html_attributions\" : [],\n   \"results\" : [],\n   \"status\" : \"ZERO_RESULTS\"\n}"
    );
    let answer = new(&standin, ALL, &circle(0.0, -140.0, 50_000.0));
    assert_eq!((answer.status, answer.body.as_str()), (200, "{}"));
}

#[test]
fn other_paths_methods_and_sizes() {
    let standin = start_default();
    let agent = agent(DEADLINE);
    let base = format!("http://{}", standin.addr());
    let not_found = got(agent
        .get(format!("{base}/maps/api/place/nearbysearch/xml"))
        .call());
    assert_eq!(not_found.unwrap().status, 404);
    let wrong_method = got(agent.get(standin.new_url()).call()).unwrap();
    assert_eq!(wrong_method.status, 405);
    let big = "x".repeat(herd_standin::MAX_BODY_BYTES + 1);
    let too_big = try_new(&standin, ALL, &big).unwrap();
    assert_eq!(too_big.status, 413);
    let just_fits = " ".repeat(herd_standin::MAX_BODY_BYTES - 200) + &circle(34.0, -118.0, 10.0);
    assert_eq!(new(&standin, ALL, &just_fits).status, 200);
    assert_eq!(standin.requests(), 4);
}

// ------------------------------------------------------------ paging

#[test]
fn paging_with_the_token_delay() {
    let delay = Duration::from_millis(50);
    let standin = start(StandinOptions {
        page_token_delay: delay,
        ..StandinOptions::default()
    });
    let first = legacy(&standin, &format!("{UCLA}&radius=50000&key=k")).json();
    assert_eq!(first["status"], "OK");
    assert_eq!(names(&first).len(), 20);
    let token = first["next_page_token"]
        .as_str()
        .expect("a token")
        .to_owned();
    let issued = Instant::now();
    let early = legacy(&standin, &format!("pagetoken={token}&key=k")).json();
    if issued.elapsed() < delay {
        assert_eq!(early["status"], "INVALID_REQUEST");
    }
    std::thread::sleep(delay);
    // With a token, every other parameter is ignored.
    let second = legacy(&standin, &format!("key=k&pagetoken={token}&radius=oops")).json();
    assert_eq!(second["status"], "OK");
    assert_eq!(names(&second).len(), 20);
    let token = second["next_page_token"]
        .as_str()
        .expect("a second token")
        .to_owned();
    std::thread::sleep(delay);
    let third = legacy(&standin, &format!("key=k&pagetoken={token}")).json();
    assert_eq!(names(&third).len(), 20);
    assert!(third.get("next_page_token").is_none(), "60 results at most");
    let mut all = names(&first);
    all.extend(names(&second));
    all.extend(names(&third));
    let offline = herd::places::OfflineIndex::shared().unwrap();
    let nearest: Vec<String> = offline
        .within(34.068930, -118.445127, 50_000.0, 60)
        .iter()
        .map(|(p, _)| p.name().to_owned())
        .collect();
    assert_eq!(all, nearest);
    let unknown = legacy(&standin, "pagetoken=ffff&key=k").json();
    assert_eq!(unknown["status"], "INVALID_REQUEST");
}

#[test]
fn a_token_too_early_is_refused_then_accepted() {
    let standin = start(StandinOptions {
        page_token_delay: Duration::from_secs(2),
        ..StandinOptions::default()
    });
    let first = legacy(&standin, &format!("{UCLA}&radius=50000&key=k")).json();
    let token = first["next_page_token"].as_str().unwrap().to_owned();
    let early = legacy(&standin, &format!("pagetoken={token}&key=k"));
    assert_eq!(
        early.body,
        "{\n   \"html_attributions\" : [],\n   \"results\" : [],\n   \"status\" : \"INVALID_REQUEST\"\n}"
    );
}

// ------------------------------------------------------------ faults

fn faulty(rates: FaultRates) -> Standin {
    start(StandinOptions {
        faults: rates,
        ..StandinOptions::default()
    })
}

const GOOD_LEGACY: &str = "location=34.068930,-118.445127&radius=3000&key=k";

#[test]
fn fault_http_500() {
    let standin = faulty(FaultRates {
        http_500: 1.0,
        ..FaultRates::default()
    });
    let answer = legacy(&standin, GOOD_LEGACY);
    assert_eq!(answer.status, 500);
    assert!(answer.content_type.starts_with("text/html"), "{answer:?}");
    let answer = new(&standin, ALL, &circle(34.0, -118.0, 1000.0));
    assert_eq!(answer.status, 500);
    assert_eq!(answer.json()["error"]["status"], "INTERNAL");
}

#[test]
fn fault_unknown_error() {
    let standin = faulty(FaultRates {
        unknown_error: 1.0,
        ..FaultRates::default()
    });
    let answer = legacy(&standin, GOOD_LEGACY);
    assert_eq!(answer.status, 200);
    assert_eq!(answer.json()["status"], "UNKNOWN_ERROR");
    let answer = new(&standin, ALL, &circle(34.0, -118.0, 1000.0));
    assert_eq!(answer.status, 503);
    assert_eq!(answer.json()["error"]["status"], "UNAVAILABLE");
}

#[test]
fn fault_over_query_limit() {
    let standin = faulty(FaultRates {
        over_query_limit: 1.0,
        ..FaultRates::default()
    });
    let answer = legacy(&standin, GOOD_LEGACY).json();
    assert_eq!(answer["status"], "OVER_QUERY_LIMIT");
    assert!(answer["error_message"].is_string());
    let answer = new(&standin, ALL, &circle(34.0, -118.0, 1000.0));
    assert_eq!(answer.status, 429);
    assert_eq!(answer.json()["error"]["status"], "RESOURCE_EXHAUSTED");
}

#[test]
fn fault_broken_json() {
    let clean = start_default();
    let whole = legacy(&clean, GOOD_LEGACY).body;
    let whole_new = new(&clean, ALL, &circle(34.0, -118.0, 1000.0)).body;
    let standin = faulty(FaultRates {
        broken_json: 1.0,
        ..FaultRates::default()
    });
    let answer = legacy(&standin, GOOD_LEGACY);
    assert_eq!(answer.status, 200);
    assert_eq!(
        answer.content_length,
        Some(answer.body.len()),
        "complete as HTTP"
    );
    assert!(serde_json::from_str::<Value>(&answer.body).is_err());
    assert!(!answer.body.is_empty() && whole.starts_with(&answer.body));
    assert_eq!(answer.body.len(), whole.len() / 2);
    let answer = new(&standin, ALL, &circle(34.0, -118.0, 1000.0));
    assert_eq!(answer.status, 200);
    assert!(serde_json::from_str::<Value>(&answer.body).is_err());
    assert!(whole_new.starts_with(&answer.body));
}

/// Sends `request` on a plain socket and reads until the server closes.
fn raw_exchange(addr: SocketAddr, request: &str) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(DEADLINE)).unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut got = Vec::new();
    let _ = stream.read_to_end(&mut got);
    got
}

#[test]
fn fault_drop_connection() {
    let standin = faulty(FaultRates {
        drop_connection: 1.0,
        ..FaultRates::default()
    });
    let request =
        format!("GET /maps/api/place/nearbysearch/json?{GOOD_LEGACY} HTTP/1.1\r\nHost: x\r\n\r\n");
    let got = raw_exchange(standin.addr(), &request);
    let text = String::from_utf8_lossy(&got);
    let (head, body) = text.split_once("\r\n\r\n").expect("headers came");
    assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
    let length: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length: ")
                .map(str::to_owned)
        })
        .expect("a Content-Length")
        .parse()
        .unwrap();
    assert!(
        !body.is_empty() && body.len() < length,
        "{} of {length}",
        body.len()
    );
    // ureq sees the answer start and then fail.
    assert!(try_legacy(&standin, GOOD_LEGACY).is_err());
    assert!(try_new(&standin, ALL, &circle(34.0, -118.0, 1000.0)).is_err());
}

#[test]
fn fault_never_answer_until_the_client_gives_up_or_the_stand_in_stops() {
    let standin = faulty(FaultRates {
        never_answer: 1.0,
        ..FaultRates::default()
    });
    let url = format!("{}?{GOOD_LEGACY}", standin.legacy_url());
    let asked = Instant::now();
    let outcome = agent(Duration::from_millis(300)).get(&url).call();
    assert!(outcome.is_err());
    assert!(asked.elapsed() >= Duration::from_millis(300));
    // A held request is dropped at the stop, promptly.
    let addr = standin.addr();
    let held = std::thread::spawn(move || {
        raw_exchange(
            addr,
            "GET /maps/api/place/nearbysearch/json?key=k HTTP/1.1\r\nHost: x\r\n\r\n",
        )
    });
    let wait_for = Instant::now() + DEADLINE;
    while standin.requests() < 2 && Instant::now() < wait_for {
        std::thread::sleep(Duration::from_millis(5));
    }
    let stopping = Instant::now();
    standin.stop();
    assert!(
        stopping.elapsed() < Duration::from_secs(2),
        "{:?}",
        stopping.elapsed()
    );
    assert!(held.join().unwrap().is_empty(), "nothing was answered");
}

#[test]
fn faults_and_jitter_are_reproducible_with_a_seed() {
    let run = |seed| {
        let standin = start(StandinOptions {
            seed,
            faults: FaultRates {
                unknown_error: 0.3,
                over_query_limit: 0.3,
                ..FaultRates::default()
            },
            ..StandinOptions::default()
        });
        (0..30)
            .map(|_| {
                legacy(&standin, GOOD_LEGACY).json()["status"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect::<Vec<_>>()
    };
    let first = run(42);
    assert_eq!(first, run(42));
    assert_ne!(first, run(43));
    for status in ["OK", "UNKNOWN_ERROR", "OVER_QUERY_LIMIT"] {
        assert!(first.iter().any(|s| s == status), "{first:?}");
    }
}

// ------------------------------------------------------------ latency

#[test]
fn latency_and_jitter_are_honoured() {
    let latency = Duration::from_millis(150);
    let jitter = Duration::from_millis(50);
    let standin = start(StandinOptions {
        latency,
        jitter,
        ..StandinOptions::default()
    });
    for i in 0..4 {
        let started = Instant::now();
        let answer = if i % 2 == 0 {
            legacy(&standin, GOOD_LEGACY)
        } else {
            new(&standin, ALL, &circle(34.0, -118.0, 1000.0))
        };
        let took = started.elapsed();
        assert_eq!(answer.status, 200);
        assert!(took >= latency, "{took:?}");
        assert!(took < latency + jitter + Duration::from_secs(1), "{took:?}");
    }
    // Latency applies before a fault too.
    let slow_fault = start(StandinOptions {
        latency,
        faults: FaultRates {
            http_500: 1.0,
            ..FaultRates::default()
        },
        ..StandinOptions::default()
    });
    let started = Instant::now();
    assert_eq!(legacy(&slow_fault, GOOD_LEGACY).status, 500);
    assert!(started.elapsed() >= latency);
}

#[test]
fn slow_requests_overlap() {
    let latency = Duration::from_millis(300);
    let standin = start(StandinOptions {
        latency,
        ..StandinOptions::default()
    });
    let url = format!("{}?{GOOD_LEGACY}", standin.legacy_url());
    let started = Instant::now();
    let clients: Vec<_> = (0..50)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || got(agent(DEADLINE).get(&url).call()).map(|g| g.status))
        })
        .collect();
    for client in clients {
        assert_eq!(client.join().unwrap(), Ok(200));
    }
    assert!(started.elapsed() < latency * 4, "{:?}", started.elapsed());
}

// ------------------------------------------------------------ agreement

#[test]
fn legacy_and_new_agree_on_places_and_order() {
    let standin = start_default();
    for (lat, lng, radius) in [
        (34.068930, -118.445127, 30_000.0),
        (48.8566, 2.3522, 5_000.0),
    ] {
        let query = format!("location={lat},{lng}&radius={radius}&key=k");
        let old = legacy(&standin, &query).json();
        let new_answer = new(&standin, ALL, &circle(lat, lng, radius)).json();
        let old_results = old["results"].as_array().unwrap();
        let new_places = new_answer["places"].as_array().unwrap();
        assert!(!old_results.is_empty());
        assert_eq!(old_results.len(), new_places.len());
        for (o, n) in old_results.iter().zip(new_places) {
            assert_eq!(o["place_id"], n["id"]);
            assert_eq!(
                n["name"],
                format!("places/{}", o["place_id"].as_str().unwrap())
            );
            assert_eq!(o["name"], n["displayName"]["text"]);
            assert_eq!(o["vicinity"], n["shortFormattedAddress"]);
            assert_eq!(o["types"], n["types"]);
            // The same number text on both sides.
            assert_eq!(
                o["geometry"]["location"]["lat"].to_string(),
                n["location"]["latitude"].to_string()
            );
            assert_eq!(
                o["geometry"]["location"]["lng"].to_string(),
                n["location"]["longitude"].to_string()
            );
        }
    }
}

#[test]
fn legacy_answers_equal_the_offline_provider() {
    let standin = start_default();
    let offline = Offline::new().unwrap();
    let google = Google::new(&standin.legacy_url(), "k".to_owned(), DEADLINE);
    for (lat, lng, radius) in [
        (34.068930, -118.445127, "10000"),
        (34.068930, -118.445127, "50000"),
        (51.5072, -0.1276, "2500.5"),
        (0.0, -140.0, "50000"),
    ] {
        let query = NearbyQuery {
            lat,
            lng,
            radius_m_text: radius.to_owned(),
            radius_m: radius.parse().unwrap(),
            bound: 20,
        };
        let expected = offline.nearby(&query).unwrap();
        let through_provider = google.nearby(&query).expect("the google provider answers");
        assert_eq!(
            through_provider["results"], expected["results"],
            "{lat} {lng} {radius}"
        );
        assert_eq!(through_provider["status"], expected["status"]);
        let raw = legacy(
            &standin,
            &format!("location={lat},{lng}&radius={radius}&key=k"),
        )
        .json();
        assert_eq!(raw["results"], expected["results"]);
    }
}

#[test]
fn the_google_new_provider_gets_the_offline_places() {
    let standin = start_default();
    let offline = Offline::new().unwrap();
    let google_new = GoogleNew::new(&standin.new_url(), "k".to_owned(), DEADLINE);
    for (lat, lng, radius, bound) in [
        (34.068930, -118.445127, "10000", 20),
        (34.068930, -118.445127, "50000", 5),
        (51.5072, -0.1276, "2500.5", 20),
        (0.0, -140.0, "50000", 20),
    ] {
        let query = NearbyQuery {
            lat,
            lng,
            radius_m_text: radius.to_owned(),
            radius_m: radius.parse().unwrap(),
            bound,
        };
        let expected = offline.nearby(&query).unwrap();
        let mapped = google_new
            .nearby(&query)
            .expect("the google-new provider answers");
        assert_eq!(mapped["status"], expected["status"], "{lat} {lng} {radius}");
        let got = mapped["results"].as_array().unwrap();
        let want = expected["results"].as_array().unwrap();
        let want = &want[..want.len().min(bound)];
        assert_eq!(got.len(), want.len(), "{lat} {lng} {radius}");
        for (got, want) in got.iter().zip(want) {
            for field in ["place_id", "name", "vicinity", "types"] {
                assert_eq!(got[field], want[field], "{field}");
            }
            assert_eq!(got["geometry"]["location"], want["geometry"]["location"]);
            assert!(got["geometry"]["viewport"]["northeast"].is_object());
        }
    }
    // Its errors, through the stand-in's envelopes.
    let strict = start(StandinOptions {
        keys: vec!["right".to_owned()],
        ..StandinOptions::default()
    });
    let denied = GoogleNew::new(&strict.new_url(), "wrong".to_owned(), DEADLINE);
    let query = NearbyQuery {
        lat: 34.0,
        lng: -118.0,
        radius_m_text: "1000".to_owned(),
        radius_m: 1000.0,
        bound: 5,
    };
    assert_eq!(denied.nearby(&query).unwrap_err().status, "REQUEST_DENIED");
    let limited = start(StandinOptions {
        faults: FaultRates {
            over_query_limit: 1.0,
            ..FaultRates::default()
        },
        ..StandinOptions::default()
    });
    let limited = GoogleNew::new(&limited.new_url(), "k".to_owned(), DEADLINE);
    assert_eq!(
        limited.nearby(&query).unwrap_err().status,
        "OVER_QUERY_LIMIT"
    );
}

// ------------------------------------------------------------ the binary

/// Starts `herd-standin` with `args`; its child and the ready line.
fn serve(args: &[&str], env_keys: Option<&str>) -> (Process, String) {
    let mut command = Command::new(standin_bin());
    command.args(args);
    match env_keys {
        Some(keys) => command.env("PLACES_STANDIN_KEYS", keys),
        None => command.env_remove("PLACES_STANDIN_KEYS"),
    };
    let mut process = Process::spawn(&mut command);
    let stdout = process.child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    // A debug build loads the data set before binding: allow for it.
    let line = rx.recv_timeout(DEADLINE * 3).expect("a ready line");
    (process, line)
}

#[test]
fn the_binary_serves_until_sigterm() {
    let (mut process, line) = serve(
        &["--addr", "127.0.0.1:0", "--key", "SECRET-1"],
        Some("SECRET-2, "),
    );
    let words: Vec<&str> = line.split_whitespace().collect();
    let legacy_url = words
        .iter()
        .find(|w| w.ends_with("/nearbysearch/json"))
        .expect(&line);
    let new_url = words
        .iter()
        .find(|w| w.ends_with("/v1/places:searchNearby"))
        .expect(&line);
    assert!(!line.contains("SECRET"), "{line}");
    assert!(!line.contains(":0 "), "the bound port is shown: {line}");
    let agent = agent(DEADLINE);
    let ask = |key: &str| {
        let url = format!("{legacy_url}?{UCLA}&radius=3000&key={key}");
        got(agent.get(&url).call()).unwrap().json()["status"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(ask("SECRET-1"), "OK");
    assert_eq!(ask("SECRET-2"), "OK");
    assert_eq!(ask("other"), "REQUEST_DENIED");
    let posted = agent
        .post(*new_url)
        .header("X-Goog-Api-Key", "SECRET-2")
        .header("X-Goog-FieldMask", "places.id")
        .send(circle(34.0689, -118.4451, 3000.0));
    assert_eq!(got(posted).unwrap().status, 200);
    kill(Pid::from_raw(process.pid()), Signal::SIGTERM).unwrap();
    let until = Instant::now() + DEADLINE;
    let status = loop {
        if let Some(status) = process.child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < until, "still running after SIGTERM");
        std::thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(status.code(), Some(0));
    let mut stderr = String::new();
    process
        .child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(!stderr.contains("SECRET"), "{stderr}");
}

#[test]
fn the_binary_refuses_bad_options_in_one_line() {
    for args in [
        &["--fault-http500", "1.5"][..],
        &["--fault-hang", "-0.1"],
        &["--fault-drop", "lots"],
        &["--fault-http500", "0.6", "--fault-broken-json", "0.6"],
        &["--addr", "not an address"],
        &["--addr", "127.0.0.1"],
        &["--key", ""],
    ] {
        let output = Command::new(standin_bin())
            .args(args)
            .env_remove("PLACES_STANDIN_KEYS")
            .stdin(Stdio::null())
            .output()
            .expect("run herd-standin");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.starts_with("herd-standin: "), "{args:?}: {stderr}");
        assert!(output.stdout.is_empty(), "{args:?}");
    }
}
