//! `--metrics-addr`: the Prometheus scrape of a blocking node, over real HTTP.
//!
//! In-process nodes on port 0 with the scrape endpoint on port 0 too, and
//! the real binary with the flag. Every scrape is parsed by a small checker
//! of the text exposition format (HELP and TYPE before each family, label
//! syntax, one value per series, cumulative histogram buckets), and the
//! counters are checked to move by exactly what the test did.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use herd::client::Client;
use herd::limits::{METRICS_PENDING, METRICS_READ_DEADLINE};
use herd::metrics::http::{self, MetricsServer};
use herd_standin::{FaultRates, StandinOptions};

use crate::support::{self, DEADLINE, HerdSpec, TestHerd, eventually, now_text};

const UCLA: &str = "+34.068930-118.445127";
const KEY: &str = "metrics-key-93be1d";

// ---------------------------------------------------------------- helpers

/// Serves `name`'s metrics on a loopback port the kernel picks.
fn serve(herd: &TestHerd, name: &str) -> MetricsServer {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind metrics port");
    http::serve(listener, herd.node(name).state().clone()).expect("metrics server")
}

/// Sends `request` as is and reads the whole response (the server closes).
fn exchange(addr: SocketAddr, request: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect_timeout(&addr, DEADLINE).expect("connect");
    stream.set_read_timeout(Some(DEADLINE)).expect("timeout");
    stream.set_write_timeout(Some(DEADLINE)).expect("timeout");
    stream.write_all(request).expect("send request");
    let mut response = Vec::new();
    // A reset after a complete answer still leaves what was read.
    let _ = stream.read_to_end(&mut response);
    response
}

/// (status code, headers in lower case, body) of an HTTP/1.1 response.
fn split_response(response: &[u8]) -> (u16, String, String) {
    let text = String::from_utf8_lossy(response).into_owned();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no end of head in {text:?}"));
    let status = head
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("bad status line: {head:?}"));
    (status, head.to_ascii_lowercase(), body.to_owned())
}

/// Scrapes `addr` and checks the answer's HTTP and exposition format.
fn scrape(addr: SocketAddr) -> Scrape {
    let response = exchange(
        addr,
        b"GET /metrics HTTP/1.1\r\nHost: herd\r\nAccept: text/plain\r\n\r\n",
    );
    let (status, head, body) = split_response(&response);
    assert_eq!(status, 200, "{head}");
    assert!(
        head.contains("\r\ncontent-type: text/plain; version=0.0.4"),
        "{head}"
    );
    assert!(
        head.contains(&format!("\r\ncontent-length: {}\r\n", body.len())),
        "{head}"
    );
    Scrape::parse(&body)
}

/// A parsed scrape: series (`name{k="v",...}` with labels sorted) -> value.
#[derive(Debug)]
struct Scrape {
    text: String,
    series: BTreeMap<String, f64>,
}

impl Scrape {
    /// Parses `text`, failing the test on anything the text exposition
    /// format (0.0.4) does not allow or that Prometheus would reject.
    fn parse(text: &str) -> Scrape {
        assert!(text.ends_with('\n'), "the text must end with a newline");
        let mut types: BTreeMap<String, String> = BTreeMap::new();
        let mut helps: BTreeSet<String> = BTreeSet::new();
        let mut finished: BTreeSet<String> = BTreeSet::new();
        let mut current: Option<String> = None;
        let mut series = BTreeMap::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# HELP ") {
                let (name, help) = rest.split_once(' ').expect("HELP name text");
                assert!(valid_name(name) && !help.is_empty(), "{line}");
                assert!(helps.insert(name.to_owned()), "second HELP: {line}");
                continue;
            }
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').expect("TYPE name type");
                assert!(valid_name(name), "{line}");
                assert!(
                    ["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind),
                    "{line}"
                );
                assert!(helps.contains(name), "TYPE before HELP: {line}");
                assert!(
                    types.insert(name.to_owned(), kind.to_owned()).is_none(),
                    "second TYPE: {line}"
                );
                if let Some(previous) = current.replace(name.to_owned()) {
                    finished.insert(previous);
                }
                continue;
            }
            assert!(!line.starts_with('#') && !line.is_empty(), "{line:?}");
            let (name, labels, value) = parse_sample(line);
            let family = family_of(&name, &types);
            assert_eq!(
                current.as_deref(),
                Some(family.as_str()),
                "sample outside its family's block: {line}"
            );
            assert!(!finished.contains(&family), "family split: {line}");
            if types[&family] == "counter" {
                assert!(name.ends_with("_total"), "counter without _total: {line}");
            }
            let key = series_key(&name, &labels);
            assert!(
                series.insert(key, value).is_none(),
                "duplicate series: {line}"
            );
        }
        let scrape = Scrape {
            text: text.to_owned(),
            series,
        };
        for (family, kind) in &types {
            if kind == "histogram" {
                scrape.check_histogram(family);
            }
        }
        scrape
    }

    fn check_histogram(&self, family: &str) {
        let prefix = format!("{family}_bucket{{le=\"");
        let mut buckets: Vec<(f64, f64)> = self
            .series
            .iter()
            .filter_map(|(key, value)| {
                let le = key.strip_prefix(&prefix)?.strip_suffix("\"}")?;
                let bound = if le == "+Inf" {
                    f64::INFINITY
                } else {
                    le.parse().expect("le is a number")
                };
                Some((bound, *value))
            })
            .collect();
        buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
        assert!(buckets.len() >= 2, "{family}: too few buckets");
        assert!(
            buckets.windows(2).all(|w| w[0].1 <= w[1].1),
            "{family}: buckets not cumulative: {buckets:?}"
        );
        let (last_bound, last) = buckets[buckets.len() - 1];
        assert!(last_bound.is_infinite(), "{family}: no +Inf bucket");
        assert_eq!(Some(last), self.get(&format!("{family}_count"), &[]));
        assert!(self.get(&format!("{family}_sum"), &[]).is_some());
    }

    fn get(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let labels: Vec<(String, String)> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.series.get(&series_key(name, &labels)).copied()
    }

    /// The value of a series that must be there.
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.get(name, labels)
            .unwrap_or_else(|| panic!("no {name} {labels:?} in\n{}", self.text))
    }
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// The family a sample belongs to: its name, or for a histogram's
/// `_bucket`, `_sum` and `_count` lines, the histogram's name.
fn family_of(name: &str, types: &BTreeMap<String, String>) -> String {
    for suffix in ["_bucket", "_sum", "_count"] {
        if let Some(base) = name.strip_suffix(suffix)
            && types.get(base).is_some_and(|t| t == "histogram")
        {
            return base.to_owned();
        }
    }
    assert!(types.contains_key(name), "sample before its TYPE: {name}");
    name.to_owned()
}

/// `name{label="value",...} value` -> parts, labels unescaped.
fn parse_sample(line: &str) -> (String, Vec<(String, String)>, f64) {
    let name_end = line
        .find(['{', ' '])
        .unwrap_or_else(|| panic!("no value: {line}"));
    let name = &line[..name_end];
    assert!(valid_name(name), "bad metric name: {line}");
    let mut labels = Vec::new();
    let mut rest = &line[name_end..];
    if let Some(inner) = rest.strip_prefix('{') {
        let mut chars = inner.char_indices().peekable();
        let mut key = String::new();
        loop {
            let Some((i, c)) = chars.next() else {
                panic!("unclosed labels: {line}")
            };
            match c {
                '}' if key.is_empty() => {
                    rest = &inner[i + 1..];
                    break;
                }
                '=' => {
                    assert!(valid_name(&key) && !key.contains(':'), "label: {line}");
                    assert_eq!(chars.next().map(|c| c.1), Some('"'), "{line}");
                    let mut value = String::new();
                    loop {
                        match chars.next().map(|c| c.1) {
                            Some('"') => break,
                            Some('\\') => match chars.next().map(|c| c.1) {
                                Some('\\') => value.push('\\'),
                                Some('"') => value.push('"'),
                                Some('n') => value.push('\n'),
                                other => panic!("bad escape {other:?}: {line}"),
                            },
                            Some('\n') | None => panic!("unclosed label value: {line}"),
                            Some(c) => value.push(c),
                        }
                    }
                    labels.push((std::mem::take(&mut key), value));
                    if chars.peek().map(|c| c.1) == Some(',') {
                        chars.next();
                    }
                }
                c => key.push(c),
            }
        }
    }
    let value_text = rest.strip_prefix(' ').expect("a space before the value");
    let value_text = value_text.split(' ').next().unwrap_or("");
    let value = match value_text {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        "NaN" => f64::NAN,
        text => text.parse().unwrap_or_else(|_| panic!("bad value: {line}")),
    };
    let names: BTreeSet<&String> = labels.iter().map(|(k, _)| k).collect();
    assert_eq!(names.len(), labels.len(), "a label twice: {line}");
    (name.to_owned(), labels, value)
}

fn series_key(name: &str, labels: &[(String, String)]) -> String {
    let mut labels = labels.to_vec();
    labels.sort();
    let inner: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    format!("{name}{{{}}}", inner.join(","))
}

/// `after - before` for one series.
fn moved(before: &Scrape, after: &Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    after.value(name, labels) - before.value(name, labels)
}

fn ask(client: &mut Client, line: &[u8]) -> String {
    let answer = client.request(line).expect("an answer").expect("not blank");
    String::from_utf8_lossy(&answer).into_owned()
}

/// Polls `addr`'s scrape until `condition` holds; the last scrape either way.
fn scrape_until(addr: SocketAddr, condition: impl Fn(&Scrape) -> bool) -> (bool, Scrape) {
    let mut last = scrape(addr);
    let held = eventually(DEADLINE, || {
        last = scrape(addr);
        condition(&last)
    });
    (held, last)
}

// ---------------------------------------------------------------- in-process

#[test]
fn each_client_line_moves_exactly_its_counters() {
    let herd = TestHerd::single("[limits]\nthreads = 3\n");
    let server = serve(&herd, "Clark");
    let before = scrape(server.addr());
    let mut client = herd.client("Clark");
    let time = now_text();
    assert!(ask(&mut client, format!("IAMAT kiwi {UCLA} {time}").as_bytes()).starts_with("AT "));
    // Older than the one kept: still answered with an AT line.
    assert!(ask(&mut client, format!("IAMAT kiwi {UCLA} 1").as_bytes()).starts_with("AT "));
    assert!(ask(&mut client, b"WHATSAT kiwi 10 2").starts_with("AT Clark "));
    assert!(ask(&mut client, b"WHATSAT nobody 10 2").starts_with("? "));
    assert!(ask(&mut client, b"HELLO there").starts_with("? "));
    assert!(ask(&mut client, b"\xff\xfe not UTF-8").starts_with("? "));
    assert!(ask(&mut client, b"AT Clark +0.1 x +0+0 1").starts_with("? "));
    assert_eq!(client.request(b"   ").expect("blank line"), None);
    let after = scrape(server.addr());

    let received = |command| {
        moved(
            &before,
            &after,
            "herd_lines_received_total",
            &[("command", command)],
        )
    };
    assert_eq!(received("IAMAT"), 2.0);
    assert_eq!(received("WHATSAT"), 1.0);
    assert_eq!(received("invalid"), 4.0);
    assert_eq!(received("AT"), 0.0);
    assert_eq!(received("PEER"), 0.0);
    let sent = |kind| moved(&before, &after, "herd_lines_sent_total", &[("kind", kind)]);
    assert_eq!(sent("AT"), 2.0);
    assert_eq!(sent("answer"), 1.0);
    assert_eq!(sent("error"), 4.0);
    assert_eq!(
        moved(
            &before,
            &after,
            "herd_invalid_lines_total",
            &[("from", "client")]
        ),
        4.0
    );
    assert_eq!(
        moved(
            &before,
            &after,
            "herd_invalid_lines_total",
            &[("from", "peer")]
        ),
        0.0
    );
    // One Places call (the unknown client's WHATSAT asks nothing), and the
    // offline provider answered OK.
    assert_eq!(
        moved(&before, &after, "herd_places_request_seconds_count", &[]),
        1.0
    );
    assert_eq!(
        after.value("herd_places_errors_total", &[("status", "UNKNOWN_ERROR")]),
        0.0
    );
    assert_eq!(after.value("herd_cache_clients", &[]), 1.0);
    // Our client is still connected: one connection, on one busy worker.
    assert_eq!(after.value("herd_client_connections_active", &[]), 1.0);
    assert_eq!(after.value("herd_pool_workers_busy", &[]), 1.0);
    assert_eq!(after.value("herd_client_connections_waiting", &[]), 0.0);
    assert_eq!(after.value("herd_pool_threads", &[]), 3.0);
    drop(client);
    let (idle, _) = scrape_until(server.addr(), |s| {
        s.value("herd_pool_workers_busy", &[]) == 0.0
            && s.value("herd_client_connections_active", &[]) == 0.0
    });
    assert!(idle, "the closed client still counts");
    server.stop();
}

#[test]
fn a_store_counts_its_writes_and_fsyncs() {
    let store = tempfile::tempdir().expect("store dir");
    let addr = support::free_addr();
    let text = format!(
        "[store]\nsync = \"always\"\n\n[[server]]\nname = \"Clark\"\naddr = \"{addr}\"\nstore_dir = \"{}\"\n",
        store.path().join("Clark").display()
    );
    let herd = TestHerd::from_config_text(&text, &["Clark"]);
    let server = serve(&herd, "Clark");
    let before = scrape(server.addr());
    assert_eq!(before.value("herd_store_durable", &[]), 1.0);
    let mut client = herd.client("Clark");
    for i in 0..20 {
        let line = format!("IAMAT stored{i}.example {UCLA} {}", now_text());
        assert!(ask(&mut client, line.as_bytes()).starts_with("AT Clark "));
    }
    // `always`: every answer above waited for its fsync, so the counters
    // moved before the last answer was read.
    let after = scrape(server.addr());
    assert_eq!(
        moved(&before, &after, "herd_store_written_total", &[]),
        20.0
    );
    let syncs = moved(&before, &after, "herd_store_fsyncs_total", &[]);
    assert!((1.0..=20.0).contains(&syncs), "{syncs} fsyncs");
    assert!(after.value("herd_store_fsync_seconds_total", &[]) > 0.0);
    assert_eq!(after.value("herd_store_failures_total", &[]), 0.0);
    assert_eq!(after.value("herd_store_pending_changes", &[]), 0.0);
    server.stop();
}

#[test]
fn a_node_without_a_store_has_no_store_metrics() {
    let herd = TestHerd::single("");
    let server = serve(&herd, "Clark");
    assert!(
        scrape(server.addr())
            .get("herd_store_durable", &[])
            .is_none()
    );
    server.stop();
}

#[test]
fn evictions_from_a_full_cache_are_counted() {
    let herd = TestHerd::single("[limits]\nmax_cached_clients = 2\n");
    let server = serve(&herd, "Clark");
    let mut client = herd.client("Clark");
    for (i, time) in [(1, 10), (2, 20), (3, 30), (4, 40)] {
        let line = format!("IAMAT evicted{i}.example {UCLA} {time}");
        assert!(ask(&mut client, line.as_bytes()).starts_with("AT Clark "));
    }
    // Older than both kept clients: dropped, not an eviction.
    assert!(
        ask(
            &mut client,
            format!("IAMAT old.example {UCLA} 5").as_bytes()
        )
        .starts_with("AT ")
    );
    let (counted, last) = scrape_until(server.addr(), |s| {
        s.value("herd_cache_evictions_total", &[]) == 2.0
    });
    assert!(counted, "{}", last.text);
    assert_eq!(last.value("herd_cache_clients", &[]), 2.0);
    server.stop();
}

#[test]
fn a_line_over_the_limit_counts_as_invalid() {
    let herd = TestHerd::single("[limits]\nmax_line_bytes = 64\n");
    let server = serve(&herd, "Clark");
    let mut client = herd.client("Clark");
    assert!(ask(&mut client, "x".repeat(100).as_bytes()).starts_with("? "));
    let (counted, last) = scrape_until(server.addr(), |s| {
        s.value("herd_lines_received_total", &[("command", "invalid")]) == 1.0
    });
    assert!(counted, "{}", last.text);
    assert_eq!(
        last.value("herd_lines_sent_total", &[("kind", "error")]),
        1.0
    );
    server.stop();
}

#[test]
fn lines_on_an_inbound_link_count_as_peer_and_at_lines() {
    let herd = TestHerd::single_with_peer();
    let server = serve(&herd, "Clark");
    let mut link = TcpStream::connect(herd.addr("Clark")).expect("connect");
    writeln!(link, "PEER Jaquez").expect("hello");
    let (up, _) = scrape_until(server.addr(), |s| {
        s.value(
            "herd_link_up",
            &[("neighbour", "Jaquez"), ("direction", "in")],
        ) == 1.0
    });
    assert!(up, "the inbound link is not shown up");
    let line = format!("AT Jaquez +0.000000000 peer.example +0-0 {}", now_text());
    writeln!(link, "{line}").expect("AT");
    writeln!(link, "{line}").expect("the same AT again: stale");
    writeln!(link, "GARBAGE on a link").expect("garbage");
    let (counted, s) = scrape_until(server.addr(), |s| {
        s.value("herd_invalid_lines_total", &[("from", "peer")]) == 1.0
    });
    assert!(counted, "{}", s.text);
    assert_eq!(
        s.value("herd_lines_received_total", &[("command", "PEER")]),
        1.0
    );
    assert_eq!(
        s.value("herd_lines_received_total", &[("command", "AT")]),
        2.0
    );
    assert_eq!(
        s.value("herd_lines_received_total", &[("command", "invalid")]),
        1.0
    );
    assert_eq!(
        s.value("herd_floods_received_total", &[("outcome", "applied")]),
        1.0
    );
    assert_eq!(
        s.value("herd_floods_received_total", &[("outcome", "stale")]),
        1.0
    );
    // Nothing is answered on a link: no line was sent.
    assert_eq!(s.value("herd_lines_sent_total", &[("kind", "error")]), 0.0);
    // Jaquez itself is not running: our own link to it is down.
    assert_eq!(
        s.value(
            "herd_link_up",
            &[("neighbour", "Jaquez"), ("direction", "out")]
        ),
        0.0
    );
    drop(link);
    let (down, _) = scrape_until(server.addr(), |s| {
        s.value(
            "herd_link_up",
            &[("neighbour", "Jaquez"), ("direction", "in")],
        ) == 0.0
    });
    assert!(down, "the closed inbound link is still shown up");
    server.stop();
}

#[test]
fn link_state_floods_and_catch_ups_follow_a_real_neighbour() {
    let mut herd = TestHerd::start(HerdSpec {
        topology: &[("Clark", &["Jaquez"]), ("Jaquez", &["Clark"])],
        ..HerdSpec::default()
    });
    let clark = serve(&herd, "Clark");
    let jaquez = serve(&herd, "Jaquez");
    let link = |direction| [("neighbour", "Jaquez"), ("direction", direction)];
    let (up, s) = scrape_until(clark.addr(), |s| {
        s.value("herd_link_up", &link("out")) == 1.0
            && s.value("herd_link_up", &link("in")) == 1.0
            && s.value("herd_catchup_dumps_total", &[("neighbour", "Jaquez")]) == 1.0
    });
    assert!(up, "{}", s.text);
    let at = ask(
        &mut herd.client("Clark"),
        format!("IAMAT flood.example {UCLA} {}", now_text()).as_bytes(),
    );
    assert!(herd.converges(&["Jaquez"], "flood.example", at.trim_end()));
    let (sent, s) = scrape_until(clark.addr(), |s| {
        s.value("herd_floods_sent_total", &[("neighbour", "Jaquez")]) == 1.0
    });
    assert!(sent, "{}", s.text);
    assert_eq!(
        s.value("herd_link_queue_depth", &[("neighbour", "Jaquez")]),
        0.0
    );
    assert_eq!(
        s.value("herd_floods_dropped_total", &[("neighbour", "Jaquez")]),
        0.0
    );
    assert_eq!(
        s.value("herd_catchup_lines_total", &[("neighbour", "Jaquez")]),
        0.0
    );
    let j = scrape(jaquez.addr());
    assert_eq!(
        j.value("herd_floods_received_total", &[("outcome", "applied")]),
        1.0
    );
    // Jaquez does not send the update back where it came from.
    assert_eq!(
        j.value("herd_floods_sent_total", &[("neighbour", "Clark")]),
        0.0
    );

    jaquez.stop();
    herd.stop("Jaquez");
    let (down, s) = scrape_until(clark.addr(), |s| {
        s.value("herd_link_up", &link("out")) == 0.0 && s.value("herd_link_up", &link("in")) == 0.0
    });
    assert!(down, "{}", s.text);
    // Back up: a new link and a catch-up dump carrying the one client.
    herd.restart("Jaquez");
    let (again, s) = scrape_until(clark.addr(), |s| {
        s.value("herd_link_up", &link("out")) == 1.0
            && s.value("herd_catchup_dumps_total", &[("neighbour", "Jaquez")]) == 2.0
    });
    assert!(again, "{}", s.text);
    assert_eq!(
        s.value("herd_catchup_lines_total", &[("neighbour", "Jaquez")]),
        1.0
    );
    clark.stop();
}

#[test]
fn dropped_floods_are_counted_per_neighbour() {
    // Clark's neighbour is never up and its queue holds 2 updates.
    let jaquez = support::free_addr();
    let clark = support::free_addr();
    let text = support::config_text(
        &[("Clark", clark, &["Jaquez"]), ("Jaquez", jaquez, &[])],
        "[limits]\npeer_queue = 2\n",
    );
    let herd = TestHerd::from_config_text(&text, &["Clark"]);
    let server = serve(&herd, "Clark");
    let mut client = herd.client("Clark");
    for i in 0..5 {
        let line = format!("IAMAT drop-{i}.example {UCLA} {}", now_text());
        assert!(ask(&mut client, line.as_bytes()).starts_with("AT "));
    }
    let s = scrape(server.addr());
    assert_eq!(
        s.value("herd_floods_dropped_total", &[("neighbour", "Jaquez")]),
        3.0
    );
    assert_eq!(
        s.value("herd_link_queue_depth", &[("neighbour", "Jaquez")]),
        2.0
    );
    server.stop();
}

#[test]
fn waiting_and_refused_connections_are_counted() {
    let herd = TestHerd::single("[limits]\nthreads = 1\nmax_clients = 2\npark_idle_ms = 0\n");
    let server = serve(&herd, "Clark");
    // The one worker serves the first client...
    let mut first = herd.client("Clark");
    assert!(ask(&mut first, format!("IAMAT a {UCLA} 1").as_bytes()).starts_with("AT "));
    // ...the second waits for it...
    let second = TcpStream::connect(herd.addr("Clark")).expect("connect");
    let (waits, s) = scrape_until(server.addr(), |s| {
        s.value("herd_client_connections_waiting", &[]) == 1.0
    });
    assert!(waits, "{}", s.text);
    assert_eq!(s.value("herd_client_connections_active", &[]), 2.0);
    assert_eq!(s.value("herd_pool_workers_busy", &[]), 1.0);
    assert_eq!(s.value("herd_client_connections_refused_total", &[]), 0.0);
    // ...and the third is over the cap: closed at once, and counted.
    let mut third = TcpStream::connect(herd.addr("Clark")).expect("connect");
    third.set_read_timeout(Some(DEADLINE)).expect("timeout");
    let mut byte = [0u8; 1];
    assert!(matches!(third.read(&mut byte), Ok(0) | Err(_)));
    let (refused, s) = scrape_until(server.addr(), |s| {
        s.value("herd_client_connections_refused_total", &[]) == 1.0
    });
    assert!(refused, "{}", s.text);
    // The first leaves; the worker takes the second.
    drop(first);
    let (taken, s) = scrape_until(server.addr(), |s| {
        s.value("herd_client_connections_waiting", &[]) == 0.0
            && s.value("herd_client_connections_active", &[]) == 1.0
    });
    assert!(taken, "{}", s.text);
    drop(second);
    server.stop();
}

#[test]
fn places_errors_are_counted_by_status_and_the_key_never_shows() {
    // (faults, the key Clark sends, the status every WHATSAT gets)
    let over_limit = FaultRates {
        over_query_limit: 1.0,
        ..FaultRates::default()
    };
    let cases = [
        (over_limit, KEY, "OVER_QUERY_LIMIT"),
        (FaultRates::default(), "not-the-key-4471", "REQUEST_DENIED"),
    ];
    for (faults, key, status) in cases {
        let standin = herd_standin::start(StandinOptions {
            keys: vec![KEY.into()],
            faults,
            ..StandinOptions::default()
        })
        .expect("the stand-in starts");
        let extra = format!(
            "[places]\nprovider = \"google\"\nurl = \"{}\"\ntimeout_ms = 2000\n",
            standin.legacy_url()
        );
        let herd = TestHerd::start(HerdSpec {
            topology: &[("Clark", &[])],
            extra: &extra,
            api_key: Some(key),
            ..HerdSpec::default()
        });
        let server = serve(&herd, "Clark");
        let mut client = herd.client("Clark");
        ask(
            &mut client,
            format!("IAMAT kiwi {UCLA} {}", now_text()).as_bytes(),
        );
        for _ in 0..2 {
            let answer = ask(&mut client, b"WHATSAT kiwi 10 2");
            assert!(
                answer.contains(&format!("\"status\" : \"{status}\"")),
                "{answer}"
            );
        }
        let s = scrape(server.addr());
        assert_eq!(
            s.value("herd_places_errors_total", &[("status", status)]),
            2.0,
            "{status}"
        );
        let all: f64 = [
            "INVALID_REQUEST",
            "NOT_FOUND",
            "OVER_QUERY_LIMIT",
            "REQUEST_DENIED",
            "UNKNOWN_ERROR",
            "other",
        ]
        .iter()
        .map(|st| s.value("herd_places_errors_total", &[("status", st)]))
        .sum();
        assert_eq!(all, 2.0, "{}", s.text);
        assert_eq!(s.value("herd_places_request_seconds_count", &[]), 2.0);
        assert_eq!(
            s.value("herd_places_request_seconds_bucket", &[("le", "+Inf")]),
            2.0
        );
        assert!(s.value("herd_places_request_seconds_sum", &[]) > 0.0);
        assert!(
            !s.text.contains(KEY) && !s.text.contains(key),
            "a key in the scrape"
        );
        server.stop();
        standin.stop();
    }
}

#[test]
fn garbage_on_the_metrics_port_gets_an_error_or_a_close_and_scrapes_go_on() {
    let herd = TestHerd::single("");
    let server = serve(&herd, "Clark");
    let addr = server.addr();
    let status_of = |request: &[u8]| {
        let response = exchange(addr, request);
        if response.is_empty() {
            None // closed without an answer
        } else {
            Some(split_response(&response).0)
        }
    };
    assert_eq!(status_of(b"GET /other HTTP/1.1\r\n\r\n"), Some(404));
    assert_eq!(status_of(b"GET / HTTP/1.1\r\n\r\n"), Some(404));
    assert_eq!(
        status_of(b"POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n"),
        Some(405)
    );
    assert_eq!(status_of(b"GET /metrics\r\n\r\n"), Some(400));
    assert_eq!(status_of(b"GET metrics HTTP/1.1\r\n\r\n"), Some(400));
    assert_eq!(status_of(b"\x00\xff\xfe\r\n\r\n"), Some(400));
    assert_eq!(status_of(b"IAMAT kiwi +0+0 1\n\n"), Some(400));
    let flood = vec![b'A'; 64 * 1024];
    assert!(matches!(status_of(&flood), Some(400) | None));
    assert!(matches!(status_of(b"GET /metr"), Some(400) | None));
    // HEAD: the headers of a scrape, no body.
    let head = exchange(addr, b"HEAD /metrics HTTP/1.1\r\n\r\n");
    let (status, _, body) = split_response(&head);
    assert_eq!((status, body.as_str()), (200, ""));
    // A query string is ignored.
    let with_query = exchange(addr, b"GET /metrics?x=1 HTTP/1.0\r\n\r\n");
    assert_eq!(split_response(&with_query).0, 200);
    server.stop();
}

/// True while the server has neither closed `stream` nor sent on it.
fn still_waiting(stream: &TcpStream) -> bool {
    stream.set_nonblocking(true).expect("nonblocking");
    let mut byte = [0u8; 1];
    let waiting = matches!(
        (&*stream).read(&mut byte),
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock
    );
    stream.set_nonblocking(false).expect("blocking");
    waiting
}

/// A scrape's status and how long it took, on a connection of its own.
fn timed_scrape(addr: SocketAddr) -> (u16, Duration) {
    let started = Instant::now();
    let answer = exchange(addr, b"GET /metrics HTTP/1.1\r\n\r\n");
    let status = if answer.is_empty() {
        0
    } else {
        split_response(&answer).0
    };
    (status, started.elapsed())
}

#[test]
fn silent_connections_do_not_stop_a_scrape() {
    let herd = TestHerd::single("");
    let server = serve(&herd, "Clark");
    let addr = server.addr();
    for n in [4, 64] {
        let silent: Vec<TcpStream> = (0..n)
            .map(|_| TcpStream::connect(addr).expect("connect"))
            .collect();
        // Answered at once: not after a silent one's read deadline.
        let (status, took) = timed_scrape(addr);
        assert_eq!(status, 200, "{n} silent connections: got {status}");
        assert!(took < METRICS_READ_DEADLINE, "{n} silent: took {took:?}");
        if n < METRICS_PENDING {
            assert!(
                silent.iter().all(still_waiting),
                "a silent connection was dropped with room to spare"
            );
        } else {
            // The scrape took the oldest one's place.
            let mut oldest = &silent[0];
            oldest.set_read_timeout(Some(DEADLINE)).expect("timeout");
            let mut byte = [0u8; 1];
            assert!(
                matches!(oldest.read(&mut byte), Ok(0)),
                "the oldest silent connection was kept"
            );
            assert!(silent[1..].iter().all(still_waiting));
        }
    }
    server.stop();
}

#[test]
fn a_slow_request_head_is_closed_unanswered_at_its_deadline() {
    let herd = TestHerd::single("");
    let server = serve(&herd, "Clark");
    let mut slow = TcpStream::connect(server.addr()).expect("connect");
    let started = Instant::now();
    slow.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
        .expect("half a head");
    slow.set_read_timeout(Some(DEADLINE)).expect("timeout");
    let mut got = Vec::new();
    let _ = slow.read_to_end(&mut got);
    let took = started.elapsed();
    assert!(
        got.is_empty(),
        "answered: {}",
        String::from_utf8_lossy(&got)
    );
    assert!(
        took + Duration::from_millis(50) >= METRICS_READ_DEADLINE
            && took < METRICS_READ_DEADLINE + Duration::from_secs(1),
        "closed after {took:?}"
    );
    // The endpoint still answers.
    assert_eq!(timed_scrape(server.addr()).0, 200);
    server.stop();
}

// ---------------------------------------------------------------- the binary

/// Waits for `child` to exit, within [`DEADLINE`].
fn exit_within(child: &mut Child) -> Option<ExitStatus> {
    let mut status = None;
    eventually(DEADLINE, || {
        status = child.try_wait().ok().flatten();
        status.is_some()
    });
    status
}

fn stderr_of(child: &mut Child) -> String {
    let mut text = String::new();
    if let Some(stderr) = child.stderr.as_mut() {
        let _ = stderr.read_to_string(&mut text);
    }
    text
}

#[test]
fn the_real_binary_serves_metrics_and_refuses_a_bad_metrics_address() {
    let dir = tempfile::tempdir().expect("temp dir");
    // Free ports can be taken before the binary binds them: retry.
    let mut running = None;
    for _ in 0..5 {
        let node_addr = support::free_addr();
        let metrics_addr = support::free_addr();
        let config = support::write_file(
            dir.path(),
            "herd.toml",
            &support::config_text(&[("Clark", node_addr, &[])], ""),
        );
        let mut process = support::Process::spawn(
            Command::new(support::herd_bin())
                .args(["node", "Clark", "--threads", "2", "--config"])
                .arg(&config)
                .arg("--log-dir")
                .arg(dir.path())
                .args(["--metrics-addr", &metrics_addr.to_string()])
                .env_remove("PLACES_API_KEY"),
        );
        let up = eventually(DEADLINE * 3, || {
            support::accepts(metrics_addr) || process.child.try_wait().ok().flatten().is_some()
        });
        if up && process.child.try_wait().ok().flatten().is_none() {
            running = Some((process, config, node_addr, metrics_addr));
            break;
        }
    }
    let (process, config, node_addr, metrics_addr) =
        running.expect("herd node with metrics starts");
    assert!(eventually(DEADLINE, || support::accepts(node_addr)));
    let mut client = Client::connect(node_addr, DEADLINE).expect("connect");
    ask(
        &mut client,
        format!("IAMAT kiwi {UCLA} {}", now_text()).as_bytes(),
    );
    ask(&mut client, b"nonsense");
    let s = scrape(metrics_addr);
    assert_eq!(
        s.value("herd_lines_received_total", &[("command", "IAMAT")]),
        1.0
    );
    assert_eq!(
        s.value("herd_lines_received_total", &[("command", "invalid")]),
        1.0
    );
    assert_eq!(s.value("herd_pool_threads", &[]), 2.0);

    // A second node whose metrics port is taken (by the first) stops with
    // one line, and its own port never answers.
    let other_addr = support::free_addr();
    let other_config = support::write_file(
        dir.path(),
        "other.toml",
        &support::config_text(&[("Clark", other_addr, &[])], ""),
    );
    for (metrics, code) in [
        (metrics_addr.to_string(), 1),
        ("not an address".to_owned(), 2),
    ] {
        let mut child = Command::new(support::herd_bin())
            .args(["node", "Clark", "--config"])
            .arg(&other_config)
            .arg("--log-dir")
            .arg(dir.path())
            .args(["--metrics-addr", &metrics])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        let status = exit_within(&mut child);
        if status.is_none() {
            let _ = child.kill();
            let _ = child.wait();
        }
        assert_eq!(status.and_then(|s| s.code()), Some(code), "{metrics}");
        let stderr = stderr_of(&mut child);
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
        assert!(
            stderr.contains("--metrics-addr") || stderr.contains("metrics"),
            "{stderr}"
        );
        assert!(!support::accepts(other_addr), "the node answered anyway");
    }
    drop(config);
    drop(process);
}
