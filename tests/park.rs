//! Quiet clients parked off the pool (`park_idle_ms`, `src/park.rs`), from
//! outside: a parked client's next line is answered, a parked client frees
//! its worker for others, a parked trickler is still closed at its idle
//! limit, a node stops cleanly with clients parked, and a thousand parked
//! clients hold no worker while an active client is served.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::support::{DEADLINE, TestHerd, eventually, now_text};

fn iamat_line(client: &str) -> String {
    format!("IAMAT {client} +0.0-140.0 {}", now_text())
}

/// Sends `line` on `stream` and reads one answer line.
fn ask(stream: &mut TcpStream, line: &str) -> String {
    stream
        .write_all(format!("{line}\n").as_bytes())
        .expect("send");
    let mut answer = Vec::new();
    let mut byte = [0u8; 1];
    while !answer.ends_with(b"\n") {
        match stream.read(&mut byte) {
            Ok(1) => answer.push(byte[0]),
            other => panic!("no answer to {line:?}: {other:?}, got {answer:?}"),
        }
    }
    String::from_utf8_lossy(&answer).into_owned()
}

fn connect(herd: &TestHerd) -> TcpStream {
    let stream = TcpStream::connect(herd.addr("Clark")).expect("connect");
    stream.set_read_timeout(Some(DEADLINE)).expect("timeout");
    stream
}

fn parked(herd: &TestHerd) -> u64 {
    herd.node("Clark").state().metrics.parked_now()
}

#[test]
fn a_parked_client_frees_its_worker_and_its_next_line_is_answered() {
    // One worker: if the first client kept it, the second would wait for
    // the 60 s idle timeout.
    let herd = TestHerd::single("[limits]\nthreads = 1\npark_idle_ms = 50\n");
    let mut first = connect(&herd);
    assert!(ask(&mut first, &iamat_line("first.example")).starts_with("AT Clark "));
    assert!(eventually(DEADLINE, || parked(&herd) == 1), "never parked");
    let mut second = connect(&herd);
    let started = Instant::now();
    assert!(ask(&mut second, &iamat_line("second.example")).starts_with("AT Clark "));
    assert!(started.elapsed() < Duration::from_secs(5));
    // Both go quiet; the first speaks again and is answered from the poller.
    assert!(
        eventually(DEADLINE, || parked(&herd) == 2),
        "not both parked"
    );
    let answer = ask(&mut first, "WHATSAT first.example 10 1");
    assert!(answer.starts_with("AT Clark "), "{answer:?}");
    assert!(herd.log("Clark").contains("first.example"));
}

#[test]
fn pipelined_lines_after_a_park_keep_their_order() {
    let herd = TestHerd::single("[limits]\nthreads = 2\npark_idle_ms = 20\n");
    let mut client = connect(&herd);
    assert!(ask(&mut client, &iamat_line("order.example")).starts_with("AT Clark "));
    assert!(eventually(DEADLINE, || parked(&herd) == 1), "never parked");
    // Three lines in one write; the answers come back in order.
    client
        .write_all(b"HELLO one\nHELLO two\nHELLO three\n")
        .expect("send");
    let mut text = String::new();
    let mut buf = [0u8; 256];
    while text.matches('\n').count() < 3 {
        let n = client.read(&mut buf).expect("answers");
        assert!(n > 0, "closed after {text:?}");
        text.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    assert_eq!(text, "? HELLO one\n? HELLO two\n? HELLO three\n");
}

#[test]
fn a_parked_trickler_is_still_closed_at_its_idle_limit() {
    let herd = TestHerd::single("[limits]\nidle_timeout_ms = 600\npark_idle_ms = 20\n");
    let mut client = connect(&herd);
    client
        .set_read_timeout(Some(Duration::from_millis(50)))
        .expect("timeout");
    let started = Instant::now();
    let mut was_parked = false;
    let mut closed = None;
    // One byte every 50 ms, never a newline: parked between bytes, woken
    // by each, and the idle clock keeps running from the accept.
    while started.elapsed() < Duration::from_secs(5) {
        was_parked |= parked(&herd) > 0;
        if client.write_all(b"x").is_err() {
            closed = Some(started.elapsed());
            break;
        }
        let mut buf = [0u8; 16];
        if matches!(client.read(&mut buf), Ok(0)) {
            closed = Some(started.elapsed());
            break;
        }
    }
    let closed = closed.expect("a trickling client kept its connection for 5 s");
    assert!(was_parked, "the trickler was never parked");
    assert!(
        closed >= Duration::from_millis(550),
        "closed after {closed:?}"
    );
    assert!(eventually(DEADLINE, || herd
        .log("Clark")
        .contains("idle for")));
}

#[test]
fn a_quiet_client_parked_at_once_is_closed_at_its_idle_limit_by_the_poller() {
    let herd = TestHerd::single("[limits]\nidle_timeout_ms = 300\npark_idle_ms = 20\n");
    let mut client = connect(&herd);
    assert!(eventually(DEADLINE, || parked(&herd) == 1), "never parked");
    let started = Instant::now();
    let mut buf = [0u8; 16];
    assert!(matches!(client.read(&mut buf), Ok(0) | Err(_)));
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(eventually(DEADLINE, || parked(&herd) == 0));
    assert!(eventually(DEADLINE, || herd
        .node("Clark")
        .state()
        .sockets
        .is_empty()));
    assert!(herd.log("Clark").contains("idle for 300ms, closed"));
}

#[test]
fn a_node_stops_cleanly_with_clients_parked() {
    let mut herd = TestHerd::single("[limits]\nthreads = 2\npark_idle_ms = 20\n");
    let mut clients: Vec<TcpStream> = (0..20).map(|_| connect(&herd)).collect();
    assert!(
        eventually(DEADLINE, || parked(&herd) == 20),
        "not all parked"
    );
    let report = herd.stop("Clark");
    assert_eq!(report.abandoned, 0, "{report:?}");
    assert!(report.took < Duration::from_secs(2), "{report:?}");
    for client in &mut clients {
        let mut buf = [0u8; 16];
        assert!(
            matches!(client.read(&mut buf), Ok(0) | Err(_)),
            "still open"
        );
    }
}

#[test]
fn a_thousand_parked_clients_hold_no_worker_and_an_active_one_is_served() {
    // Both ends of 1,000 connections, and the node's second handle on each.
    if let Err(e) = herd::fd_limit::raise_to(4_096) {
        panic!("this test needs 4,096 open files: {e}");
    }
    let herd = TestHerd::single("[limits]\nthreads = 4\nmax_clients = 1100\npark_idle_ms = 20\n");
    let idle: Vec<TcpStream> = (0..1000).map(|_| connect(&herd)).collect();
    assert!(
        eventually(DEADLINE * 2, || parked(&herd) == 1000),
        "parked: {}",
        parked(&herd)
    );
    // A worker counts as busy until its handler returns, a moment after
    // the hand-off to the poller counted the client as parked.
    let state = herd.node("Clark").state();
    assert!(
        eventually(DEADLINE, || state.metrics.busy_now() == 0),
        "a worker is held: {} busy",
        state.metrics.busy_now()
    );
    assert_eq!(parked(&herd), 1000, "a parked client came back");
    let mut active = connect(&herd);
    for i in 0..20 {
        let started = Instant::now();
        let answer = ask(&mut active, &iamat_line(&format!("active-{i}.example")));
        assert!(answer.starts_with("AT Clark "), "{answer:?}");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
    }
    drop(idle);
}
