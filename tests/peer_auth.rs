//! Authenticated peer links (PROTOCOL §7) on the blocking node: a herd with
//! a secret links and floods; a node with the wrong secret is refused both
//! ways and the rest converge; a bare `PEER`, a stranger's name, a replayed
//! proof, a forged `WELCOME` and a silent opener are all refused; the
//! secret never reaches a log or an answer.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use herd::link::auth::{self, HerdSecret};

use crate::support::{DEADLINE, HerdSpec, TestHerd, eventually, now_text};

const SECRET: &str = "correct horse battery staple";
const NONCE: &str = "0123456789abcdef0123456789abcdef";

fn secret() -> HerdSecret {
    HerdSecret::new(SECRET.as_bytes().to_vec()).expect("non-empty")
}

/// A raw connection to `herd`'s Clark, reading lines with a deadline.
struct Raw {
    reader: BufReader<TcpStream>,
}

impl Raw {
    fn to(addr: std::net::SocketAddr) -> Raw {
        let stream = TcpStream::connect(addr).expect("connect");
        stream.set_read_timeout(Some(DEADLINE)).expect("timeout");
        Raw {
            reader: BufReader::new(stream),
        }
    }

    fn send(&mut self, line: &str) {
        writeln!(self.reader.get_mut(), "{line}").expect("send");
    }

    fn line(&mut self) -> String {
        let mut line = String::new();
        self.reader.read_line(&mut line).expect("read a line");
        line.trim_end().to_owned()
    }

    /// True once the server closed the connection.
    fn closed(&mut self) -> bool {
        let mut rest = Vec::new();
        match self.reader.read_to_end(&mut rest) {
            Ok(_) => rest.is_empty(),
            Err(e) => !matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ),
        }
    }

    /// Says hello as Jaquez and returns the challenge's nonce.
    fn hello(&mut self, name: &str) -> String {
        self.send(&format!("PEER {name} {NONCE}"));
        let challenge = self.line();
        let nonce = challenge.strip_prefix("CHALLENGE ").map(str::to_owned);
        nonce
            .filter(|n| auth::is_nonce(n))
            .unwrap_or_else(|| panic!("expected CHALLENGE <nonce>, got {challenge:?}"))
    }
}

fn iamat(herd: &TestHerd, server: &str, client: &str) -> String {
    let answer = herd.ask(
        server,
        &format!("IAMAT {client} +34.068930-118.445127 {}", now_text()),
    );
    assert!(answer.starts_with("AT "), "{answer:?}");
    answer.trim_end().to_owned()
}

fn log_says(herd: &TestHerd, name: &str, text: &str) -> bool {
    eventually(DEADLINE, || herd.log(name).contains(text))
}

#[test]
fn a_herd_with_a_secret_links_floods_and_never_logs_the_secret() {
    let herd = TestHerd::start(HerdSpec {
        secrets: &[("*", SECRET)],
        ..HerdSpec::default()
    });
    let line = iamat(&herd, "Clark", "kiwi.cs.ucla.edu");
    let names = herd.names();
    let all: Vec<&str> = names.iter().map(String::as_str).collect();
    assert!(herd.converges(&all, "kiwi.cs.ucla.edu", &line));
    assert!(log_says(&herd, "Clark", "WELCOME "));
    assert!(log_says(&herd, "Jaquez", "PROOF "));
    for name in &all {
        let log = herd.log(name);
        assert!(!log.contains(SECRET), "{name}'s log holds the secret");
        assert!(!log.contains("refused"), "{name}: {log}");
    }
}

#[test]
fn a_node_with_the_wrong_secret_is_refused_both_ways_and_the_rest_converge() {
    let herd = TestHerd::start(HerdSpec {
        secrets: &[("*", SECRET), ("Jaquez", "a wrong secret")],
        wait_linked: false,
        ..HerdSpec::default()
    });
    // Jaquez's neighbours are Bernard and Clark: both refuse its proof, and
    // it refuses theirs.
    assert!(log_says(&herd, "Clark", "link from Jaquez"));
    assert!(log_says(&herd, "Clark", "refused: wrong proof"));
    assert!(log_says(&herd, "Bernard", "refused: wrong proof"));
    assert!(log_says(&herd, "Jaquez", "refused: wrong proof"));
    assert!(log_says(&herd, "Clark", "link to Jaquez"));
    assert!(log_says(&herd, "Clark", "the neighbour refused our proof"));
    let line = iamat(&herd, "Clark", "kiwi.cs.ucla.edu");
    let rest = ["Bernard", "Clark", "Johnson", "Juzang"];
    assert!(herd.converges(&rest, "kiwi.cs.ucla.edu", &line));
    // Jaquez is cut off: nothing it could be sent has reached it.
    assert_eq!(herd.kept("Jaquez", "kiwi.cs.ucla.edu"), None);
    assert!(herd.node("Jaquez").state().inbound.connected().is_empty());
    for name in herd.names() {
        let log = herd.log(&name);
        assert!(!log.contains(SECRET) && !log.contains("a wrong secret"));
    }
}

#[test]
fn a_bare_peer_a_stranger_and_a_bad_nonce_are_refused_where_a_secret_is_set() {
    let herd = TestHerd::single_with_peer_and("", Some(SECRET));
    let clark = herd.addr("Clark");
    for (line, why) in [
        ("PEER Jaquez".to_owned(), "a bare PEER"),
        (format!("PEER Mallory {NONCE}"), "not a neighbour"),
        ("PEER Jaquez 1234".to_owned(), "a malformed nonce"),
    ] {
        let mut raw = Raw::to(clark);
        raw.send(&line);
        assert_eq!(raw.line(), format!("? {line}"));
        assert!(raw.closed(), "{line}: still open");
        assert!(log_says(&herd, "Clark", why), "{why}");
    }
    // None of them could write to the cache.
    assert!(herd.node("Clark").state().inbound.connected().is_empty());
}

#[test]
fn a_good_proof_is_welcomed_and_its_at_lines_are_kept() {
    let herd = TestHerd::single_with_peer_and("", Some(SECRET));
    let mut raw = Raw::to(herd.addr("Clark"));
    let nonce_a = raw.hello("Jaquez");
    let proof = auth::proof(&secret(), "Jaquez", "Clark", NONCE, &nonce_a);
    raw.send(&format!("PROOF {proof}"));
    let welcome = auth::welcome(&secret(), "Clark", "Jaquez", &nonce_a, NONCE);
    assert_eq!(raw.line(), format!("WELCOME {welcome}"));
    let at = format!(
        "AT Jaquez +0.000000000 kiwi +34.068930-118.445127 {}",
        now_text()
    );
    raw.send(&at);
    assert!(herd.converges(&["Clark"], "kiwi", &at));
}

/// With a secret, a link whose handshake proves the name replaces the
/// neighbour's old link even while that one is alive (PROTOCOL §3): only
/// the holder of the secret can do it.
#[test]
fn a_proven_link_replaces_a_live_one() {
    let herd = TestHerd::single_with_peer_and("", Some(SECRET));
    let mut links = Vec::new();
    for round in 0..2 {
        let mut raw = Raw::to(herd.addr("Clark"));
        let nonce_a = raw.hello("Jaquez");
        let proof = auth::proof(&secret(), "Jaquez", "Clark", NONCE, &nonce_a);
        raw.send(&format!("PROOF {proof}"));
        let welcome = auth::welcome(&secret(), "Clark", "Jaquez", &nonce_a, NONCE);
        assert_eq!(raw.line(), format!("WELCOME {welcome}"));
        let client = format!("proven-{round}");
        let at = format!("AT Jaquez +0.000000000 {client} +0-0 {}", now_text());
        raw.send(&at);
        assert!(herd.converges(&["Clark"], &client, &at));
        links.push(raw);
    }
    assert!(links[0].closed(), "the first link was replaced and closed");
    assert!(log_says(
        &herd,
        "Clark",
        "link from Jaquez: the new link replaces the old one"
    ));
}

#[test]
fn a_replayed_proof_and_a_wrong_one_are_refused() {
    let herd = TestHerd::single_with_peer_and("", Some(SECRET));
    let clark = herd.addr("Clark");
    // A real exchange, recorded.
    let mut first = Raw::to(clark);
    let nonce_a = first.hello("Jaquez");
    let proof = format!(
        "PROOF {}",
        auth::proof(&secret(), "Jaquez", "Clark", NONCE, &nonce_a)
    );
    first.send(&proof);
    assert!(first.line().starts_with("WELCOME "));
    // The same hello and proof on a new connection: the challenge is fresh,
    // so the old proof no longer fits.
    let mut replay = Raw::to(clark);
    let fresh = replay.hello("Jaquez");
    assert_ne!(fresh, nonce_a);
    replay.send(&proof);
    assert_eq!(replay.line(), format!("? {proof}"));
    assert!(replay.closed());
    // A proof made with another secret.
    let mut forged = Raw::to(clark);
    let nonce_a = forged.hello("Jaquez");
    let other = HerdSecret::new(b"guess".to_vec()).expect("non-empty");
    let wrong = format!(
        "PROOF {}",
        auth::proof(&other, "Jaquez", "Clark", NONCE, &nonce_a)
    );
    forged.send(&wrong);
    assert_eq!(forged.line(), format!("? {wrong}"));
    assert!(forged.closed());
    assert!(log_says(&herd, "Clark", "refused: wrong proof"));
    // The first link is still the one in place.
    assert_eq!(herd.node("Clark").state().inbound.connected(), ["Jaquez"]);
}

#[test]
fn an_opener_that_goes_quiet_is_closed_at_the_handshake_timeout() {
    let herd =
        TestHerd::single_with_peer_and("[limits]\nhandshake_timeout_ms = 300\n", Some(SECRET));
    let mut raw = Raw::to(herd.addr("Clark"));
    let started = Instant::now();
    raw.hello("Jaquez");
    assert!(raw.closed());
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(250), "closed after {took:?}");
    assert!(took < DEADLINE, "closed after {took:?}");
    assert!(log_says(
        &herd,
        "Clark",
        "no PROOF within the handshake timeout"
    ));
}

/// Clark opens its link to a fake Jaquez that answers the challenge step
/// correctly but forges the `WELCOME`: Clark drops the link, sends no AT
/// line on it, and retries.
#[test]
fn the_opener_drops_a_neighbour_whose_welcome_is_wrong() {
    let clark_addr = crate::support::free_addr();
    let jaquez = TcpListener::bind("127.0.0.1:0").expect("bind");
    let text = crate::support::config_text(
        &[
            ("Clark", clark_addr, &["Jaquez"]),
            ("Jaquez", jaquez.local_addr().expect("addr"), &[]),
        ],
        "",
    );
    let herd = TestHerd::from_config_text_with(&text, &["Clark"], Some(SECRET));
    iamat(&herd, "Clark", "kiwi.cs.ucla.edu");
    let mut attempts = 0;
    for _ in 0..2 {
        let (stream, _) = jaquez.accept().expect("Clark connects");
        stream.set_read_timeout(Some(DEADLINE)).expect("timeout");
        let mut raw = Raw {
            reader: BufReader::new(stream),
        };
        let hello = raw.line();
        let nonce_o = hello
            .strip_prefix("PEER Clark ")
            .expect("hello with a nonce")
            .to_owned();
        assert!(auth::is_nonce(&nonce_o), "{hello}");
        raw.send(&format!("CHALLENGE {NONCE}"));
        let proof = raw.line();
        let expected = auth::proof(&secret(), "Clark", "Jaquez", &nonce_o, NONCE);
        assert_eq!(proof, format!("PROOF {expected}"));
        // A WELCOME made with the roles swapped: a valid MAC, the wrong one.
        let forged = auth::welcome(&secret(), "Clark", "Jaquez", NONCE, &nonce_o);
        raw.send(&format!("WELCOME {forged}"));
        assert!(raw.closed(), "Clark kept a link with a forged WELCOME");
        attempts += 1;
    }
    assert_eq!(attempts, 2);
    assert!(log_says(&herd, "Clark", "refused: wrong WELCOME"));
    assert!(!herd.log("Clark").contains("catch-up to Jaquez"));
}
