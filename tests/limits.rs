//! Limits and bad actors (PROTOCOL §5), the plain pool's behaviour with
//! idle clients (parking off; `park.rs` has its own tests in park.rs), clean
//! stops, and exact time differences end to end.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use herd::protocol::Nanos;

use crate::support::{DEADLINE, HerdSpec, TestHerd, eventually, now_text};

/// A connection that sends nothing: on the plain pool (`park_idle_ms = 0`,
/// as the pool tests below set) it holds a worker until the idle timeout.
fn idle_client(herd: &TestHerd) -> TcpStream {
    let stream = TcpStream::connect(herd.addr("Clark")).expect("connect");
    stream.set_read_timeout(Some(DEADLINE)).expect("timeout");
    stream
}

/// Reads until the server closes; returns how long that took.
fn time_until_closed(stream: &mut TcpStream) -> Duration {
    let started = Instant::now();
    let mut buf = [0u8; 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return started.elapsed(),
            Ok(_) => {}
        }
    }
}

fn iamat_line(client: &str) -> String {
    format!("IAMAT {client} +0.0-140.0 {}", now_text())
}

#[test]
fn an_idle_client_is_disconnected_at_the_idle_timeout() {
    let herd = TestHerd::single("[limits]\nidle_timeout_ms = 300\n");
    let mut client = idle_client(&herd);
    let took = time_until_closed(&mut client);
    assert!(took >= Duration::from_millis(250), "closed after {took:?}");
    assert!(took < DEADLINE, "never closed");
    assert!(eventually(DEADLINE, || herd
        .log("Clark")
        .contains("idle for")));
}

#[test]
fn a_trickle_of_bytes_does_not_reset_the_idle_timeout() {
    let herd = TestHerd::single("[limits]\nidle_timeout_ms = 500\n");
    let mut client = idle_client(&herd);
    client
        .set_read_timeout(Some(Duration::from_millis(100)))
        .expect("timeout");
    let started = Instant::now();
    let mut closed = false;
    // One byte every 100 ms, never a newline, for at most 5 s.
    while started.elapsed() < Duration::from_secs(5) {
        if client.write_all(b"x").is_err() {
            closed = true;
            break;
        }
        let mut buf = [0u8; 16];
        if matches!(client.read(&mut buf), Ok(0)) {
            closed = true;
            break;
        }
    }
    assert!(closed, "a trickling client kept its connection for 5 s");
    assert!(started.elapsed() >= Duration::from_millis(450));
}

#[test]
fn idle_clients_below_the_pool_size_do_not_delay_an_active_one() {
    let herd = TestHerd::single("[limits]\npark_idle_ms = 0\nthreads = 4\n");
    let idle: Vec<TcpStream> = (0..3).map(|_| idle_client(&herd)).collect();
    // Make sure the idle connections have been taken by workers.
    assert!(eventually(DEADLINE, || herd
        .node("Clark")
        .state()
        .sockets
        .len()
        == 3));
    let started = Instant::now();
    let answer = herd.ask("Clark", &iamat_line("active.example"));
    assert!(answer.starts_with("AT Clark "), "{answer:?}");
    // Far below the 60 s idle timeout: the fourth worker served it.
    assert!(started.elapsed() < Duration::from_secs(5));
    drop(idle);
}

#[test]
fn above_the_pool_size_the_idle_timeout_bounds_the_wait() {
    let herd = TestHerd::single("[limits]\npark_idle_ms = 0\nthreads = 2\nidle_timeout_ms = 600\n");
    let _idle: Vec<TcpStream> = (0..2).map(|_| idle_client(&herd)).collect();
    assert!(eventually(DEADLINE, || herd
        .node("Clark")
        .state()
        .sockets
        .len()
        == 2));
    let started = Instant::now();
    let answer = herd.ask("Clark", &iamat_line("waiting.example"));
    let waited = started.elapsed();
    assert!(answer.starts_with("AT Clark "), "{answer:?}");
    // Served only once an idle client was cut off, and no later than that.
    assert!(
        waited >= Duration::from_millis(400),
        "served after {waited:?}"
    );
    assert!(waited < DEADLINE);
}

#[test]
fn idle_clients_queued_behind_idle_clients_leave_within_one_idle_timeout() {
    // Four hoarders on a pool of two: two hold the workers, two wait in the
    // queue. Their idle clocks all start at accept, so all four are gone
    // after one idle timeout, not after two rounds of it.
    let herd =
        TestHerd::single("[limits]\npark_idle_ms = 0\nthreads = 2\nidle_timeout_ms = 1000\n");
    let started = Instant::now();
    let _idle: Vec<TcpStream> = (0..4).map(|_| idle_client(&herd)).collect();
    assert!(eventually(DEADLINE, || herd
        .node("Clark")
        .state()
        .sockets
        .len()
        == 4));
    let answer = herd.ask("Clark", &iamat_line("behind-hoarders.example"));
    let waited = started.elapsed();
    assert!(answer.starts_with("AT Clark "), "{answer:?}");
    // Two rounds would take at least 2 s; one takes 1 s and a little.
    assert!(
        waited < Duration::from_millis(1900),
        "served after {waited:?}"
    );
}

#[test]
fn a_queued_client_that_sent_its_line_is_answered_even_past_its_idle_time() {
    // One worker, held by a hoarder until its idle timeout; meanwhile a
    // client sends its line and waits in the queue past its own idle time.
    let herd = TestHerd::single("[limits]\npark_idle_ms = 0\nthreads = 1\nidle_timeout_ms = 300\n");
    let _hoarder = idle_client(&herd);
    assert!(eventually(DEADLINE, || herd
        .node("Clark")
        .state()
        .sockets
        .len()
        == 1));
    let mut client = TcpStream::connect(herd.addr("Clark")).expect("connect");
    client.set_read_timeout(Some(DEADLINE)).expect("timeout");
    client
        .write_all(format!("{}\n", iamat_line("queued.example")).as_bytes())
        .expect("send");
    let mut answer = Vec::new();
    let mut byte = [0u8; 1];
    while !answer.ends_with(b"\n") {
        match client.read(&mut byte) {
            Ok(1) => answer.push(byte[0]),
            other => panic!("closed without an answer: {other:?}, got {answer:?}"),
        }
    }
    assert!(answer.starts_with(b"AT Clark "), "{answer:?}");
}

#[test]
fn over_the_connection_limit_a_new_connection_is_closed_at_once() {
    let herd = TestHerd::single("[limits]\nthreads = 2\nmax_clients = 2\n");
    let first = idle_client(&herd);
    let _second = idle_client(&herd);
    assert!(eventually(DEADLINE, || herd
        .node("Clark")
        .state()
        .sockets
        .len()
        == 2));
    let mut third = idle_client(&herd);
    let took = time_until_closed(&mut third);
    assert!(
        took < Duration::from_secs(5),
        "the refused connection stayed open {took:?}"
    );
    assert!(eventually(DEADLINE, || herd
        .log("Clark")
        .contains("refused")));
    // A freed place is given to the next client.
    drop(first);
    assert!(eventually(DEADLINE, || herd
        .node("Clark")
        .state()
        .sockets
        .len()
        == 1));
    let answer = herd.ask("Clark", &iamat_line("admitted.example"));
    assert!(answer.starts_with("AT Clark "), "{answer:?}");
}

#[test]
fn a_client_that_never_reads_is_dropped_at_the_write_timeout() {
    let herd = TestHerd::single("[limits]\nwrite_timeout_ms = 300\n");
    herd.ask("Clark", "IAMAT reader.example +34.068930-118.445127 1");
    let mut client = idle_client(&herd);
    client
        .set_write_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    // Ask for large answers and never read them. Our own writes start to
    // time out once the server stops reading (it is stuck writing to us).
    let request = b"WHATSAT reader.example 50 20\n".repeat(50);
    for _ in 0..400 {
        if client.write_all(&request).is_err() {
            break;
        }
    }
    assert!(
        eventually(DEADLINE, || herd.node("Clark").state().sockets.is_empty()),
        "the server still holds a client that never reads"
    );
}

/// A client that reads its answers a few KiB at a time, from a socket
/// with a small receive buffer: each of the server's writes takes a little,
/// and no single write ever waits as long as `write_timeout_ms`.
fn slow_reader(herd: &TestHerd) -> TcpStream {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
    // Before connecting, so that the window offered is small from the start.
    socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
    socket.connect(&herd.addr("Clark").into()).expect("connect");
    let stream = TcpStream::from(socket);
    stream
        .set_read_timeout(Some(Duration::from_millis(500)))
        .expect("timeout");
    stream
}

/// Sends 2,000 WHATSATs for a known client at once (about 15 MB of
/// answers: more than the kernel's send buffer, at most 4 MiB by default,
/// can take), then reads 2 KiB every 50 ms (the slow reader's pace);
/// returns how long after the request the server closed, or `None` if it
/// still held the connection after 15 s.
fn closed_while_reading_slowly(client: &mut TcpStream, id: &str) -> Option<Duration> {
    let started = Instant::now();
    client
        .write_all(format!("WHATSAT {id} 50 20\n").repeat(2000).as_bytes())
        .expect("send the requests");
    let mut buf = [0u8; 2048];
    while started.elapsed() < Duration::from_secs(15) {
        match client.read(&mut buf) {
            Ok(0) => return Some(started.elapsed()),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => return Some(started.elapsed()),
            Ok(_) => {}
        }
        // The slow reader's pace, not a wait for the server.
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

#[test]
fn a_slow_reader_is_closed_one_write_timeout_after_its_answer_started() {
    // Once the send buffer is full, each write of the server sends a little
    // and returns at its timeout, so a timeout per write would hold this
    // client for minutes (megabytes at 40 KiB/s): the deadline is the
    // answer's.
    let herd = TestHerd::single("[limits]\nwrite_timeout_ms = 1000\npark_idle_ms = 0\n");
    herd.ask("Clark", "IAMAT slow.example +34.068930-118.445127 1");
    let mut client = slow_reader(&herd);
    let took = closed_while_reading_slowly(&mut client, "slow.example");
    let took = took.expect("a slow reader held the connection for 15 s");
    // The deadline (1 s) plus the time to make the answers (a debug
    // build on a busy machine): far below the minutes a deadline per write
    // would allow.
    assert!(took < Duration::from_secs(8), "closed after {took:?}");
    assert!(took >= Duration::from_millis(900), "closed after {took:?}");
    assert!(eventually(DEADLINE, || herd
        .log("Clark")
        .contains("answer not taken within")));
    assert!(eventually(DEADLINE, || herd
        .node("Clark")
        .state()
        .sockets
        .is_empty()));
}

#[test]
fn a_slow_reader_back_from_the_poller_gets_one_deadline_too() {
    // The same client, parked first (quiet for park_idle_ms) and then
    // resumed on a worker by its requests: the rule holds on that path.
    let herd = TestHerd::single("[limits]\nwrite_timeout_ms = 1000\npark_idle_ms = 20\n");
    herd.ask("Clark", "IAMAT parked-slow.example +34.068930-118.445127 1");
    let mut client = slow_reader(&herd);
    assert!(
        eventually(DEADLINE, || herd.node("Clark").state().metrics.parked_now()
            == 1),
        "never parked"
    );
    let took = closed_while_reading_slowly(&mut client, "parked-slow.example");
    let took = took.expect("a slow reader held the connection for 15 s");
    // The deadline (1 s) plus the time to make the answers (a debug
    // build on a busy machine): far below the minutes a deadline per write
    // would allow.
    assert!(took < Duration::from_secs(8), "closed after {took:?}");
    assert!(eventually(DEADLINE, || herd
        .node("Clark")
        .state()
        .sockets
        .is_empty()));
}

#[test]
fn stopping_a_node_with_idle_and_busy_clients_is_prompt_and_clean() {
    let mut herd = TestHerd::single("");
    let _idle: Vec<TcpStream> = (0..5).map(|_| idle_client(&herd)).collect();
    let mut partial = idle_client(&herd);
    partial.write_all(b"IAMAT half-a-line").expect("send");
    assert!(eventually(DEADLINE, || herd
        .node("Clark")
        .state()
        .sockets
        .len()
        == 6));
    let report = herd.stop("Clark");
    assert!(
        report.took < Duration::from_secs(2),
        "stop took {:?}",
        report.took
    );
    assert_eq!(report.abandoned, 0);
    assert_eq!(report.panics, 0);
    assert!(time_until_closed(&mut partial) < Duration::from_secs(2));
}

fn fixed_clock() -> Nanos {
    Nanos(1_621_464_828_223_371_889)
}

#[test]
fn the_clock_window_is_exact_to_the_nanosecond() {
    // max_clock_ahead_ms = 60000 (the default): exactly 60 s ahead of the
    // server's clock is accepted, one nanosecond more is refused and
    // changes nothing.
    let herd = TestHerd::start(HerdSpec {
        topology: &[("Clark", &[])],
        clock: fixed_clock,
        ..HerdSpec::default()
    });
    let at_limit = "IAMAT window.example +1-1 1621464888.223371889";
    let answer = herd.ask("Clark", at_limit);
    assert_eq!(
        answer,
        "AT Clark -60.000000000 window.example +1-1 1621464888.223371889\n"
    );
    let past_limit = "IAMAT window.example +2-2 1621464888.223371890";
    assert_eq!(herd.ask("Clark", past_limit), format!("? {past_limit}\n"));
    let kept = herd.ask("Clark", "WHATSAT window.example 1 1");
    assert!(
        kept.starts_with("AT Clark -60.000000000 window.example +1-1 "),
        "{kept}"
    );
    // A smaller window, from the config.
    let herd = TestHerd::start(HerdSpec {
        topology: &[("Clark", &[])],
        extra: "[limits]\nmax_clock_ahead_ms = 1\n",
        clock: fixed_clock,
        ..HerdSpec::default()
    });
    let ok = "IAMAT small.example +1-1 1621464828.224371889";
    assert!(herd.ask("Clark", ok).starts_with("AT Clark -0.001000000 "));
    let ahead = "IAMAT small.example +1-1 1621464828.224371890";
    assert_eq!(herd.ask("Clark", ahead), format!("? {ahead}\n"));
}

#[test]
fn a_full_cache_logs_its_evictions_and_counts_them() {
    let herd = TestHerd::single("[limits]\nmax_cached_clients = 10\n");
    let mut client = herd::client::Client::connect(herd.addr("Clark"), DEADLINE).expect("connect");
    for i in 0..25 {
        let line = format!("IAMAT full{i}.example +1-1 {}", 1_000_000 + i);
        let answer = client.request(line.as_bytes()).expect("answer");
        assert!(answer.is_some_and(|a| a.starts_with(b"AT Clark ")));
    }
    let state = herd.node("Clark").state();
    assert_eq!(state.cache.len(), 10);
    assert_eq!(state.cache.evictions(), 15);
    // The first eviction is noticed at once; the rest within the second
    // are counted in the next notice.
    assert!(eventually(DEADLINE, || herd.log("Clark").contains(
        "cache full at 10 clients: evicted 1 since the last notice"
    )));
    assert!(
        herd.ask("Clark", "WHATSAT full14.example 1 1")
            .starts_with("? ")
    );
    assert!(
        herd.ask("Clark", "WHATSAT full15.example 1 1")
            .starts_with("AT Clark ")
    );
}

#[test]
fn time_differences_are_exact_to_the_nanosecond() {
    let herd = TestHerd::start(HerdSpec {
        topology: &[("Clark", &[])],
        clock: fixed_clock,
        ..HerdSpec::default()
    });
    let cases = [
        // As f64 the client time is 1621464827.9594985 and the difference
        // comes out as +0.263873339: floats get the last digits wrong.
        ("1621464827.959498503", "+0.263873386"),
        ("1621464828.223371890", "-0.000000001"),
        ("1621464828.223371889", "+0.000000000"),
        ("-1.5", "+1621464829.723371889"),
        // The largest time behind the clock (one far ahead is refused by
        // max_clock_ahead_ms): 20 integer digits, still exact.
        (
            "-99999999999999999999.999999999",
            "+100000000001621464828.223371888",
        ),
    ];
    for (time, diff) in cases {
        let answer = herd.ask("Clark", &format!("IAMAT exact.example +0-0 {time}"));
        assert_eq!(
            answer,
            format!("AT Clark {diff} exact.example +0-0 {time}\n")
        );
    }
}
