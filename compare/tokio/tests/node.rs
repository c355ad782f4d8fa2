//! The tokio build's own tests: nodes in this process, each on a runtime
//! of its own and a port the kernel chose, talked to over real sockets
//! with the root crate's blocking client; Places through the real
//! stand-in (`herd_standin`, compare/standin) over real HTTP.
//!
//! The shared protocol cases run against this build as a real process
//! from the root crate (`HERD_BUILD=tokio cargo test --test tests
//! conformance`); these tests cover what the cases cannot: flooding and
//! catch-up between tokio nodes, the async Places client, limits, the stop
//! sequence, and the point of the build: a slow Places call does not hold
//! a worker thread.

use std::io::Read;
use std::net::{SocketAddr, TcpListener as StdListener};
use std::time::{Duration, Instant};

use herd::client::Client;
use herd::config::{Config, Overrides};
use herd::link::auth::HerdSecret;
use herd_standin::{FaultRates, StandinOptions};
use herd_tokio::places::Provider;
use herd_tokio::{NodeHandle, NodeOptions};

const DEADLINE: Duration = Duration::from_secs(10);
const KEY: &str = "tokio-test-key-0123456789";

/// Polls `condition` until it holds (true) or `deadline` passes (false).
fn eventually(deadline: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let until = Instant::now() + deadline;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() >= until {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn now_text() -> String {
    let now = herd::clock::system_clock().0;
    format!("{}.{:09}", now / 1_000_000_000, now % 1_000_000_000)
}

/// One tokio node on a runtime of its own.
struct Node {
    runtime: tokio::runtime::Runtime,
    handle: Option<NodeHandle>,
    addr: SocketAddr,
}

impl Node {
    /// Starts `name` of `config` on `listener` with `workers` runtime threads.
    fn start(
        config: &Config,
        name: &str,
        listener: StdListener,
        workers: usize,
        log_dir: &std::path::Path,
    ) -> Node {
        Node::start_with(config, name, listener, (workers, None), log_dir)
    }

    /// [`Node::start`] with a herd secret (PROTOCOL §7) if given.
    fn start_with(
        config: &Config,
        name: &str,
        listener: StdListener,
        (workers, secret): (usize, Option<&str>),
        log_dir: &std::path::Path,
    ) -> Node {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .enable_all()
            .build()
            .expect("runtime");
        let addr = listener.local_addr().expect("addr");
        let handle = runtime.block_on(async {
            listener.set_nonblocking(true).expect("nonblocking");
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            let places =
                Provider::from_config(&config.places, Some(KEY.to_owned())).expect("places");
            let options = NodeOptions {
                name,
                listener,
                places,
                log_dir,
                clock: herd::clock::system_clock,
                secret: secret.and_then(|s| HerdSecret::new(s.as_bytes().to_vec())),
                store: None,
            };
            herd_tokio::start(config, options).expect("node starts")
        });
        Node {
            runtime,
            handle: Some(handle),
            addr,
        }
    }

    fn ask(&self, line: &str) -> String {
        let mut client = Client::connect(self.addr, DEADLINE).expect("connect");
        let answer = client.request(line.as_bytes()).expect("answer");
        String::from_utf8(answer.unwrap_or_default()).expect("utf-8")
    }

    /// Stops the node; whether every task ended in time.
    fn stop(mut self) -> (Duration, bool) {
        let handle = self.handle.take().expect("running");
        self.runtime.block_on(handle.stop())
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Some(handle) = self.handle.take() {
            self.runtime.block_on(handle.stop());
        }
    }
}

fn listener() -> StdListener {
    StdListener::bind("127.0.0.1:0").expect("bind port 0")
}

/// A config of `servers` (name, address, peers) and `extra` TOML.
fn config(servers: &[(&str, SocketAddr, &[&str])], extra: &str) -> Config {
    let mut text = String::new();
    for (name, addr, peers) in servers {
        let peers: Vec<String> = peers.iter().map(|p| format!("{p:?}")).collect();
        text.push_str(&format!(
            "[[server]]\nname = {name:?}\naddr = \"{addr}\"\npeers = [{}]\n\n",
            peers.join(", ")
        ));
    }
    text.push_str(extra);
    Config::parse(&text, &Overrides::default()).expect("config")
}

/// A single node named Clark with `extra` config.
fn single(extra: &str, workers: usize, log_dir: &std::path::Path) -> Node {
    let listener = listener();
    let addr = listener.local_addr().expect("addr");
    let config = config(&[("Clark", addr, &[])], extra);
    Node::start(&config, "Clark", listener, workers, log_dir)
}

fn log_text(dir: &std::path::Path) -> String {
    std::fs::read_to_string(dir.join("Clark.log")).unwrap_or_default()
}

#[test]
fn updates_flood_between_tokio_nodes_and_a_restarted_node_catches_up() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (a_listener, b_listener) = (listener(), listener());
    let (a_addr, b_addr) = (
        a_listener.local_addr().unwrap(),
        b_listener.local_addr().unwrap(),
    );
    let config = config(&[("Alpha", a_addr, &["Beta"]), ("Beta", b_addr, &[])], "");
    let alpha = Node::start(&config, "Alpha", a_listener, 2, dir.path());
    let beta = Node::start(&config, "Beta", b_listener, 2, dir.path());
    let at = alpha.ask(&format!("IAMAT kiwi +34.068930-118.445127 {}", now_text()));
    assert!(at.starts_with("AT Alpha +"), "{at:?}");
    assert!(
        eventually(DEADLINE, || beta
            .ask("WHATSAT kiwi 10 1")
            .starts_with(at.trim_end())),
        "Beta never learned of kiwi"
    );
    // Beta goes away; an update made meanwhile reaches it on its return
    // through the catch-up dump of Alpha's link.
    let (_, clean) = beta.stop();
    assert!(clean, "Beta's tasks did not end in time");
    let later = alpha.ask(&format!("IAMAT kiwi +35.000000-119.000000 {}", now_text()));
    let mut beta = None;
    assert!(
        eventually(DEADLINE, || {
            // The port may take a moment to be free again.
            StdListener::bind(b_addr)
                .map(|l| beta = Some(Node::start(&config, "Beta", l, 2, dir.path())))
                .is_ok()
        }),
        "Beta could not listen again"
    );
    let beta = beta.expect("Beta restarted");
    assert!(
        eventually(DEADLINE, || beta
            .ask("WHATSAT kiwi 10 1")
            .starts_with(later.trim_end())),
        "Beta did not catch up"
    );
    let log = std::fs::read_to_string(dir.path().join("Alpha.log")).unwrap_or_default();
    assert!(log.contains("catch-up to Beta: 1 clients sent"), "{log}");
}

/// PROTOCOL §7 between tokio nodes: Alpha and Beta share the secret and
/// flood; Gamma holds a wrong one, so its links with Alpha are refused both
/// ways and logged, and it learns nothing; a bare `PEER` is refused.
#[test]
fn links_authenticate_with_the_herd_secret() {
    const SECRET: &str = "tokio-test-secret";
    let dir = tempfile::tempdir().expect("temp dir");
    let listeners = [listener(), listener(), listener()];
    let addrs: Vec<SocketAddr> = listeners
        .iter()
        .map(|l| l.local_addr().expect("addr"))
        .collect();
    let config = config(
        &[
            ("Alpha", addrs[0], &["Beta", "Gamma"]),
            ("Beta", addrs[1], &[]),
            ("Gamma", addrs[2], &[]),
        ],
        "",
    );
    let [a, b, g] = listeners;
    let alpha = Node::start_with(&config, "Alpha", a, (2, Some(SECRET)), dir.path());
    let beta = Node::start_with(&config, "Beta", b, (2, Some(SECRET)), dir.path());
    let gamma = Node::start_with(&config, "Gamma", g, (2, Some("wrong")), dir.path());
    let at = alpha.ask(&format!("IAMAT kiwi +34.068930-118.445127 {}", now_text()));
    assert!(
        eventually(DEADLINE, || beta
            .ask("WHATSAT kiwi 10 1")
            .starts_with(at.trim_end())),
        "Beta never learned of kiwi"
    );
    let log = |name: &str| std::fs::read_to_string(dir.path().join(format!("{name}.log")));
    let refused = eventually(DEADLINE, || {
        let (alpha_log, gamma_log) = (
            log("Alpha").unwrap_or_default(),
            log("Gamma").unwrap_or_default(),
        );
        alpha_log.contains("link from Gamma")
            && alpha_log.contains("refused: wrong proof")
            && alpha_log.contains("link to Gamma")
            && gamma_log.contains("refused: wrong proof")
    });
    assert!(refused, "the wrong secret was not refused both ways");
    assert_eq!(gamma.ask("WHATSAT kiwi 10 1"), "? WHATSAT kiwi 10 1\n");
    assert_eq!(alpha.ask("PEER Beta"), "? PEER Beta\n");
    for name in ["Alpha", "Beta", "Gamma"] {
        let text = log(name).unwrap_or_default();
        assert!(!text.contains(SECRET), "{name}'s log holds the secret");
    }
}

#[test]
fn both_google_providers_answer_as_the_offline_provider_does() {
    let dir = tempfile::tempdir().expect("temp dir");
    let standin = herd_standin::start(StandinOptions {
        keys: vec![KEY.to_owned()],
        ..StandinOptions::default()
    })
    .expect("stand-in");
    let offline = single("", 2, &dir.path().join("offline"));
    let legacy = single(
        &format!(
            "[places]\nprovider = \"google\"\nurl = \"{}\"\n",
            standin.legacy_url()
        ),
        2,
        &dir.path().join("google"),
    );
    let new = single(
        &format!(
            "[places]\nprovider = \"google-new\"\nurl = \"{}\"\n",
            standin.new_url()
        ),
        2,
        &dir.path().join("google-new"),
    );
    let names = |node: &Node| -> Vec<String> {
        node.ask(&format!("IAMAT kiwi +34.068930-118.445127 {}", now_text()));
        let answer = node.ask("WHATSAT kiwi 10 5");
        let json = answer.split_once('\n').map(|(_, json)| json).unwrap_or("");
        let value: serde_json::Value = serde_json::from_str(json).expect("JSON");
        assert_eq!(value["status"], "OK", "{answer}");
        value["results"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| r["name"].as_str().unwrap_or("").to_owned())
            .collect()
    };
    let expected = names(&offline);
    assert_eq!(expected.len(), 5);
    assert_eq!(names(&legacy), expected);
    assert_eq!(names(&new), expected);
    assert!(standin.requests() >= 2);
    for sub in ["google", "google-new"] {
        let log = log_text(&dir.path().join(sub));
        assert!(!log.contains(KEY), "the key reached the {sub} log");
    }
}

#[test]
fn places_failures_are_error_objects_on_a_connection_that_stays_usable() {
    let dir = tempfile::tempdir().expect("temp dir");
    let standin = herd_standin::start(StandinOptions {
        faults: FaultRates {
            never_answer: 1.0,
            ..FaultRates::default()
        },
        ..StandinOptions::default()
    })
    .expect("stand-in");
    let closed = listener().local_addr().expect("addr"); // dropped: nobody listens
    let cases = [
        (
            format!(
                "[places]\nprovider = \"google\"\nurl = \"{}\"\ntimeout_ms = 300\n",
                standin.legacy_url()
            ),
            "Places did not answer within 300 ms",
        ),
        (
            format!(
                "[places]\nprovider = \"google-new\"\nurl = \"{}\"\ntimeout_ms = 300\n",
                standin.new_url()
            ),
            "Places did not answer within 300 ms",
        ),
        (
            format!("[places]\nprovider = \"google\"\nurl = \"http://{closed}/p\"\n"),
            "Places could not be reached (connection refused)",
        ),
    ];
    for (i, (extra, message)) in cases.iter().enumerate() {
        let log_dir = dir.path().join(i.to_string());
        let node = single(extra, 1, &log_dir);
        let mut client = Client::connect(node.addr, DEADLINE).expect("connect");
        client
            .request(format!("IAMAT kiwi +34.068930-118.445127 {}", now_text()).as_bytes())
            .expect("IAMAT");
        let answer = client.request(b"WHATSAT kiwi 10 5").expect("WHATSAT");
        let answer = String::from_utf8(answer.unwrap_or_default()).expect("utf-8");
        let json = answer.split_once('\n').map(|(_, json)| json).unwrap_or("");
        let value: serde_json::Value = serde_json::from_str(json).expect("JSON");
        assert_eq!(value["status"], "UNKNOWN_ERROR", "{answer}");
        assert_eq!(value["error_message"], *message, "{answer}");
        // The same connection still answers.
        let again = client.request(b"IAMAT kiwi +1+2 1").expect("still usable");
        assert!(again.is_some_and(|a| a.starts_with(b"AT Clark ")));
        assert!(!log_text(&log_dir).contains(KEY));
    }
}

#[test]
fn a_slow_places_call_does_not_hold_the_only_worker_thread() {
    let dir = tempfile::tempdir().expect("temp dir");
    let standin = herd_standin::start(StandinOptions {
        latency: Duration::from_millis(1500),
        ..StandinOptions::default()
    })
    .expect("stand-in");
    let node = single(
        &format!(
            "[places]\nprovider = \"google\"\nurl = \"{}\"\n",
            standin.legacy_url()
        ),
        1,
        dir.path(),
    );
    node.ask(&format!("IAMAT kiwi +34.068930-118.445127 {}", now_text()));
    let mut slow = Client::connect(node.addr, DEADLINE).expect("connect");
    slow.send(b"WHATSAT kiwi 10 1").expect("send");
    // Wait until the stand-in holds the request, then use the node's one
    // worker thread for something else: it is free.
    assert!(eventually(DEADLINE, || standin.requests() == 1));
    let at = node.ask(&format!("IAMAT other +1+2 {}", now_text()));
    assert!(at.starts_with("AT Clark "), "{at:?}");
    // The IAMAT was answered while the WHATSAT is still waiting on Places.
    slow.stream().set_nonblocking(true).expect("nonblocking");
    let mut byte = [0u8; 1];
    let pending = slow.stream().peek(&mut byte);
    assert!(
        matches!(&pending, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "the WHATSAT was answered before the IAMAT: {pending:?}"
    );
    slow.stream().set_nonblocking(false).expect("blocking");
    let answer = slow
        .read_answer(b"WHATSAT kiwi 10 1")
        .expect("WHATSAT answer");
    assert!(answer.is_some_and(|a| a.starts_with(b"AT Clark ")));
}

#[test]
fn idle_clients_are_closed_and_connections_over_the_cap_are_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let node = single(
        "[limits]\nidle_timeout_ms = 300\nmax_clients = 2\n",
        2,
        dir.path(),
    );
    let mut first = Client::connect(node.addr, DEADLINE).expect("first");
    let second = Client::connect(node.addr, DEADLINE).expect("second");
    // Both slots taken once both connections are counted.
    assert!(
        first
            .request(b"IAMAT a +1+2 1")
            .expect("first answers")
            .is_some()
    );
    let mut third = std::net::TcpStream::connect(node.addr).expect("third connects");
    third.set_read_timeout(Some(DEADLINE)).expect("timeout");
    let mut byte = [0u8; 1];
    assert!(
        matches!(third.read(&mut byte), Ok(0) | Err(_)),
        "the third connection was not closed"
    );
    // The idle ones are closed at the idle limit.
    second
        .stream()
        .set_read_timeout(Some(DEADLINE))
        .expect("timeout");
    assert!(matches!(second.stream().read(&mut byte), Ok(0) | Err(_)));
    assert!(eventually(DEADLINE, || log_text(dir.path())
        .contains("idle for 300ms, closed")));
    assert!(log_text(dir.path()).contains("client connections already open"));
}

#[test]
fn a_slow_reader_is_closed_one_write_timeout_after_its_answer_started() {
    use std::io::Write;
    // The blocking build's test of the same name (tests/limits.rs): a
    // client that takes a few KiB now and then, so that no single write
    // waits long, is closed once its answer has taken `write_timeout_ms`.
    let dir = tempfile::tempdir().expect("temp dir");
    let node = single("[limits]\nwrite_timeout_ms = 1000\n", 2, dir.path());
    node.ask("IAMAT slow.example +34.068930-118.445127 1");
    let socket =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
    socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
    socket.connect(&node.addr.into()).expect("connect");
    let mut client = std::net::TcpStream::from(socket);
    client
        .set_read_timeout(Some(Duration::from_millis(500)))
        .expect("timeout");
    let started = Instant::now();
    client
        .write_all("WHATSAT slow.example 50 20\n".repeat(2000).as_bytes())
        .expect("send the requests");
    let mut buf = [0u8; 2048];
    let mut closed = None;
    while started.elapsed() < Duration::from_secs(15) {
        match client.read(&mut buf) {
            Ok(0) => closed = Some(started.elapsed()),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => closed = Some(started.elapsed()),
            Ok(_) => {}
        }
        if closed.is_some() {
            break;
        }
        // The slow reader's pace, not a wait for the server.
        std::thread::sleep(Duration::from_millis(50));
    }
    let took = closed.expect("a slow reader held the connection for 15 s");
    // The deadline (1 s) plus the time to make the answers (a debug
    // build on a busy machine): far below the minutes a deadline per write
    // would allow.
    assert!(took < Duration::from_secs(8), "closed after {took:?}");
    assert!(took >= Duration::from_millis(900), "closed after {took:?}");
    assert!(eventually(DEADLINE, || log_text(dir.path())
        .contains("answer not taken within 1s, closed")));
}

#[test]
fn stopping_ends_every_task_even_with_clients_connected() {
    let dir = tempfile::tempdir().expect("temp dir");
    let node = single("", 2, dir.path());
    let clients: Vec<Client> = (0..20)
        .map(|_| Client::connect(node.addr, DEADLINE).expect("connect"))
        .collect();
    assert!(node.ask("IAMAT a +1+2 1").starts_with("AT Clark "));
    let (took, clean) = node.stop();
    assert!(clean, "tasks were abandoned");
    assert!(took < herd::limits::STOP_DEADLINE, "took {took:?}");
    let mut byte = [0u8; 1];
    for client in &clients {
        client
            .stream()
            .set_read_timeout(Some(DEADLINE))
            .expect("timeout");
        assert!(matches!(client.stream().read(&mut byte), Ok(0) | Err(_)));
    }
    assert!(log_text(dir.path()).contains("Clark stopped in"));
}

#[cfg(target_os = "linux")]
#[test]
fn an_outgoing_link_bounds_how_long_sent_data_may_stay_unacknowledged() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a port");
        let addr = listener.local_addr().expect("listener address");
        let stream = tokio::time::timeout(DEADLINE, tokio::net::TcpStream::connect(addr))
            .await
            .expect("connect in time")
            .expect("connect");
        let read_back = |stream: &tokio::net::TcpStream| {
            herd::link::socket::unacked_limit(stream).expect("read the option")
        };
        assert_eq!(read_back(&stream), None, "fresh socket");
        let limit = Duration::from_millis(7000);
        herd_tokio::link::outbound::configure_link(&stream, limit).expect("configure the link");
        assert_eq!(read_back(&stream), Some(limit));
        assert!(stream.nodelay().expect("nodelay"));
    });
}

/// `IAMAT kiwi` then `WHATSAT kiwi 10 5` on `node`; the WHATSAT answer.
fn kiwi_whatsat(node: &Node) -> String {
    let at = node.ask(&format!("IAMAT kiwi +34.068930-118.445127 {}", now_text()));
    assert!(at.starts_with("AT Clark "), "{at:?}");
    let answer = node.ask("WHATSAT kiwi 10 5");
    assert!(answer.ends_with("\n\n"), "{answer:?}");
    answer
}

#[test]
fn a_whatsat_answer_is_logged_as_a_summary_unless_answers_are_logged_whole() {
    let dir = tempfile::tempdir().expect("temp dir");
    let node = single("", 2, dir.path());
    let answer = kiwi_whatsat(&node);
    let (at_line, json) = answer.split_once('\n').expect("an AT line");
    let value: serde_json::Value = serde_json::from_str(json).expect("JSON");
    let results = value["results"].as_array().map_or(0, Vec::len);
    let summary = format!(
        "{at_line} [answer: {}, {results} results, {} bytes]",
        value["status"].as_str().unwrap_or_default(),
        answer.len()
    );
    assert!(summary.contains("[answer: OK, 5 results, "), "{summary}");
    assert!(
        eventually(DEADLINE, || log_text(dir.path()).contains(&summary)),
        "no {summary:?} in:\n{}",
        log_text(dir.path())
    );
    assert!(!log_text(dir.path()).contains("html_attributions"));
    node.stop();

    let dir = tempfile::tempdir().expect("temp dir");
    let node = single("[log]\nanswers = true\n", 2, dir.path());
    let answer = kiwi_whatsat(&node);
    let escaped = answer.trim_end_matches('\n').replace('\n', "\\n");
    assert!(
        eventually(DEADLINE, || log_text(dir.path()).contains(&escaped)),
        "not logged whole:\n{}",
        log_text(dir.path())
    );
    node.stop();
}

#[test]
fn rotation_keeps_k_files_within_the_limit_and_loses_no_entry() {
    for keep in [100, 3] {
        let dir = tempfile::tempdir().expect("temp dir");
        let node = single(
            &format!("[log]\nmax_bytes = 2000\nkeep = {keep}\n"),
            2,
            dir.path(),
        );
        let mut client = Client::connect(node.addr, DEADLINE).expect("connect");
        for i in 0..200 {
            let line = format!("IAMAT c{i} +34.068930-118.445127 {}", now_text());
            let answer = client.request(line.as_bytes()).expect("answered");
            assert!(answer.is_some_and(|a| a.starts_with(b"AT Clark ")));
        }
        drop(client);
        node.stop();
        let mut lines = Vec::new();
        for n in (1..=keep).rev() {
            let name = format!("Clark.log.{n}");
            let path = dir.path().join(&name);
            let size = std::fs::metadata(&path).map_or(0, |m| m.len());
            assert!(size <= 2000, "{name}: {size} bytes");
            assert!(keep > 3 || n > 3 || size > 0, "{name} missing");
            lines.extend(
                std::fs::read_to_string(&path)
                    .unwrap_or_default()
                    .lines()
                    .map(str::to_owned),
            );
        }
        assert!(std::fs::metadata(dir.path().join("Clark.log")).is_ok_and(|m| m.len() <= 2000));
        assert!(!dir.path().join(format!("Clark.log.{}", keep + 1)).exists());
        lines.extend(log_text(dir.path()).lines().map(str::to_owned));
        assert!(lines.last().is_some_and(|l| l.contains("Clark stopped in")));
        if keep == 100 {
            assert!(dir.path().join("Clark.log.5").exists(), "it did not rotate");
            for i in 0..200 {
                let received = format!(" IAMAT c{i} +34.068930-118.445127 ");
                let sent = format!(" c{i} +34.068930-118.445127 ");
                let count = |dir: &str, what: &str| {
                    lines
                        .iter()
                        .filter(|l| l.contains(dir) && l.contains(what))
                        .count()
                };
                assert_eq!(count(" < ", &received), 1, "c{i} received");
                assert_eq!(count(" > 127.0.0.1:", &sent), 1, "c{i} answered");
            }
        }
    }
}
