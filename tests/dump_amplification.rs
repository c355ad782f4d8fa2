//! A stranger who repeats a neighbour's `PEER` line must not turn seven
//! bytes into a whole catch-up dump (PROTOCOL §3, issue 13), in any build.
//!
//! Two servers, `A` and its neighbour `B`, run as real processes of the
//! build `HERD_BUILD` names (as in `conformance.rs`). `B` reaches `A`
//! through a relay of this test that counts the bytes `B` sends, so that
//! what the attack costs is measured where it would be paid. `B` holds
//! 100,000 clients. A stranger then says `PEER B` to `A` twice a second for
//! 10 s, while a probe measures how long a fresh update at `B` takes to
//! reach `A`. Before the rule, every stranger's `PEER B` replaced `B`'s
//! link, and `B` resent its whole cache (some 8 MB) each time.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use herd_launch::{Launch, free_ports};

use crate::conformance::launcher;
use crate::support::now_text;

/// Clients `B` holds before the attack.
const CLIENTS: usize = 100_000;
/// The attack: one `PEER B` every half second for ten seconds.
const ATTACKS: usize = 20;
const ATTACK_EVERY: Duration = Duration::from_millis(500);
/// The longest a probe update may take from `B` to `A` during the attack.
const PROPAGATION_LIMIT: Duration = Duration::from_secs(1);
/// Bytes `B` may send `A` per byte the stranger sends, probes included.
/// Each probe's AT line (about 80 bytes) crosses once; a dump would be
/// some 8 MB.
const RATIO_LIMIT: f64 = 50.0;

#[test]
fn a_repeated_peer_line_costs_the_real_neighbour_no_dump() {
    let dir = tempfile::tempdir().expect("temp dir");
    let ports = free_ports(3).expect("free ports");
    let addrs: Vec<SocketAddr> = ports
        .into_iter()
        .map(|p| SocketAddr::from(([127, 0, 0, 1], p)))
        .collect();
    let [a_addr, b_addr, relay_addr] = addrs[..] else {
        panic!("three ports: {addrs:?}");
    };
    let relay = Relay::start(relay_addr, a_addr);

    // A knows B at B's own address; B knows A at the relay's.
    let limits = "[limits]\nreconnect_max_ms = 200\n";
    let a = start(
        dir.path(),
        "A",
        a_addr,
        &["B"],
        &server_table("B", b_addr),
        limits,
    );
    let b = start(
        dir.path(),
        "B",
        b_addr,
        &["A"],
        &server_table("A", relay_addr),
        limits,
    );

    let loaded = load(b_addr, CLIENTS);
    assert!(
        arrives(a_addr, &loaded, Duration::from_secs(120)),
        "B's {CLIENTS} clients reached A"
    );
    let before = relay.bytes();

    let mut stranger_bytes = 0u64;
    let mut slowest = Duration::ZERO;
    let started = Instant::now();
    for round in 0..ATTACKS {
        stranger_bytes += claim(a_addr, "B");
        let probe = iamat(b_addr, &format!("probe-{round}.example"));
        let sent = Instant::now();
        assert!(
            arrives(a_addr, &probe, PROPAGATION_LIMIT * 5),
            "probe {round} reached A"
        );
        slowest = slowest.max(sent.elapsed());
        let next = started + ATTACK_EVERY * (round as u32 + 1);
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
    }
    let sent_by_b = relay.bytes() - before;
    let ratio = sent_by_b as f64 / stranger_bytes as f64;
    eprintln!(
        "{}: stranger sent {stranger_bytes} bytes in {ATTACKS} PEER lines over {:.1} s; \
         B sent A {sent_by_b} bytes ({ratio:.1} per byte, probes included); \
         slowest probe {slowest:?}",
        launcher().display(),
        started.elapsed().as_secs_f64()
    );
    assert!(
        ratio < RATIO_LIMIT,
        "B sent {sent_by_b} bytes for the stranger's {stranger_bytes}"
    );
    assert!(slowest < PROPAGATION_LIMIT, "slowest probe {slowest:?}");
    drop((a, b));
}

/// One extra `[[server]]` table: a server this node knows but does not run.
fn server_table(name: &str, addr: SocketAddr) -> String {
    format!(
        "[places]\nprovider = \"offline\"\n\n[[server]]\nname = \"{name}\"\naddr = \"{addr}\"\npeers = []\n"
    )
}

/// Starts server `name` of the build under test on `addr`, with its own
/// config: `other` (the server it knows but does not run) and `limits`.
fn start(
    dir: &std::path::Path,
    name: &str,
    addr: SocketAddr,
    peers: &[&str],
    other: &str,
    limits: &str,
) -> herd_launch::Herd {
    let mut launch = Launch::new(&dir.join(name), launcher(), &[(name, peers)])
        .log_dir(dir)
        .tables(&format!("{other}\n{limits}"));
    launch.node_mut(name).expect("the node").addr = Some(addr);
    launch
        .start()
        .unwrap_or_else(|e| panic!("{name} did not start: {e:#}"))
}

/// Sends `n` IAMATs for distinct clients to `addr`, pipelined, reads every
/// answer, and returns the last AT line.
fn load(addr: SocketAddr, n: usize) -> String {
    let stream = connect(addr);
    let mut writer = stream.try_clone().expect("clone");
    let now = now_text();
    let sender = std::thread::spawn(move || {
        let mut text = Vec::with_capacity(64 * 1024);
        for i in 0..n {
            writeln!(text, "IAMAT load-{i}.example +34.068930-118.445127 {now}").expect("format");
            if text.len() > 60 * 1024 {
                writer.write_all(&text).expect("send");
                text.clear();
            }
        }
        writer.write_all(&text).expect("send");
    });
    let mut reader = BufReader::new(stream);
    let mut last = String::new();
    for i in 0..n {
        last.clear();
        reader.read_line(&mut last).expect("an answer");
        assert!(last.starts_with("AT "), "answer {i}: {last:?}");
    }
    sender.join().expect("sender");
    last.trim_end().to_owned()
}

fn iamat(addr: SocketAddr, client: &str) -> String {
    let stream = connect(addr);
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    writeln!(
        &stream,
        "IAMAT {client} +34.068930-118.445127 {}",
        now_text()
    )
    .expect("send");
    let mut answer = String::new();
    reader.read_line(&mut answer).expect("an answer");
    assert!(answer.starts_with("AT "), "{answer:?}");
    answer.trim_end().to_owned()
}

/// Polls `addr` with WHATSAT until it answers with `at`'s line, for up to
/// `limit`.
fn arrives(addr: SocketAddr, at: &str, limit: Duration) -> bool {
    let client = at.split(' ').nth(3).expect("the client id").to_owned();
    let until = Instant::now() + limit;
    let stream = connect(addr);
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    loop {
        writeln!(&stream, "WHATSAT {client} 1 1").expect("send");
        let mut first = String::new();
        reader.read_line(&mut first).expect("an answer");
        let known = first.trim_end() == at;
        if first.starts_with("AT ") {
            // The JSON, up to its blank line.
            let mut line = String::new();
            while reader.read_line(&mut line).expect("json") > 0 && line != "\n" {
                line.clear();
            }
        }
        if known {
            return true;
        }
        if Instant::now() >= until {
            return false;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// A stranger's claim: connects to `addr`, says `PEER name`, and reads
/// until the server closes (or a second passes). Returns the bytes sent.
fn claim(addr: SocketAddr, name: &str) -> u64 {
    let mut stream = connect(addr);
    let line = format!("PEER {name}\n");
    stream.write_all(line.as_bytes()).expect("send");
    stream
        .set_read_timeout(Some(Duration::from_secs(1)))
        .expect("timeout");
    let mut rest = Vec::new();
    let _ = stream.read_to_end(&mut rest);
    line.len() as u64
}

fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    stream
}

/// A TCP relay from `listen` to `to` that counts the bytes going to `to`.
/// Its threads end when the test ends (the listener's is woken by a last
/// connection) or when either side closes.
struct Relay {
    counted: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    listen: SocketAddr,
}

impl Relay {
    fn start(listen: SocketAddr, to: SocketAddr) -> Relay {
        let listener = TcpListener::bind(listen).expect("bind the relay");
        let counted = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (c, s) = (Arc::clone(&counted), Arc::clone(&stop));
        std::thread::spawn(move || {
            for inbound in listener.incoming() {
                if s.load(Ordering::Relaxed) {
                    break;
                }
                let (Ok(inbound), Ok(outbound)) = (inbound, TcpStream::connect(to)) else {
                    continue;
                };
                let c = Arc::clone(&c);
                let (in2, out2) = (
                    inbound.try_clone().expect("clone"),
                    outbound.try_clone().expect("clone"),
                );
                std::thread::spawn(move || pump(inbound, outbound, Some(&c)));
                std::thread::spawn(move || pump(out2, in2, None));
            }
        });
        Relay {
            counted,
            stop,
            listen,
        }
    }

    fn bytes(&self) -> u64 {
        self.counted.load(Ordering::Relaxed)
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect_timeout(&self.listen, Duration::from_secs(1));
    }
}

/// Copies `from` to `to` until either closes, adding what it copies to
/// `count`.
fn pump(mut from: TcpStream, mut to: TcpStream, count: Option<&AtomicU64>) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
                if let Some(count) = count {
                    count.fetch_add(n as u64, Ordering::Relaxed);
                }
            }
        }
    }
    let _ = to.shutdown(Shutdown::Both);
    let _ = from.shutdown(Shutdown::Both);
}
