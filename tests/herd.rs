//! A whole herd in one process: flooding, the merge rule across servers,
//! catch-up after restarts, and neighbours' links (PROTOCOL §3).

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use crate::support::{self, DEADLINE, FIVE, TestHerd, eventually, now_text};

fn iamat(herd: &TestHerd, server: &str, client: &str, time: &str) -> String {
    let answer = herd.ask(
        server,
        &format!("IAMAT {client} +34.068930-118.445127 {time}"),
    );
    assert!(answer.starts_with(&format!("AT {server} ")), "{answer:?}");
    answer.trim_end().to_owned()
}

/// Connects to `server` as neighbour `name` would.
fn connect_as_peer(herd: &TestHerd, server: &str, name: &str) -> TcpStream {
    let mut stream = TcpStream::connect(herd.addr(server)).expect("connect");
    stream.set_read_timeout(Some(DEADLINE)).expect("timeout");
    writeln!(stream, "PEER {name}").expect("hello");
    stream
}

/// True once the server closed `stream` (EOF or reset).
fn closed(stream: &mut TcpStream) -> bool {
    let mut byte = [0u8; 1];
    matches!(stream.read(&mut byte), Ok(0) | Err(_))
}

#[test]
fn an_update_reaches_every_server_and_each_sends_it_on_once() {
    let herd = TestHerd::five();
    let line = iamat(&herd, "Clark", "kiwi.cs.ucla.edu", &now_text());
    let all: Vec<String> = herd.names();
    let all: Vec<&str> = all.iter().map(String::as_str).collect();
    assert!(herd.converges(&all, "kiwi.cs.ucla.edu", &line));
    for name in &all {
        let answer = herd.ask(name, "WHATSAT kiwi.cs.ucla.edu 10 3");
        assert!(
            answer.starts_with(&format!("{line}\n{{")),
            "{name}: {answer:?}"
        );
    }
    // Each server sends the update on once to each neighbour but the one it
    // first heard it from (Clark, where it started, to both of its own), and
    // never again: the flood ends. Clark also answered the client.
    let expected = [
        ("Bernard", 2),
        ("Clark", 2 + 1),
        ("Jaquez", 1),
        ("Johnson", 1),
        ("Juzang", 2),
    ];
    let sent = |name: &str| -> usize {
        herd.log(name)
            .lines()
            .filter(|l| l.contains(" > ") && l.ends_with(&line))
            .count()
    };
    let all_sent = || expected.iter().all(|(name, n)| sent(name) >= *n);
    assert!(
        eventually(DEADLINE, all_sent),
        "not every server sent the update on"
    );
    let queues_empty = || {
        FIVE.iter().all(|(name, peers)| {
            peers
                .iter()
                .all(|p| herd.node(name).state().flooder.queued(p) == Some(0))
        })
    };
    assert!(eventually(DEADLINE, queues_empty));
    for (name, n) in expected {
        assert_eq!(sent(name), n, "{name} sent the update {} times", sent(name));
    }
}

#[test]
fn the_newest_client_time_wins_everywhere_and_an_older_one_is_not_flooded() {
    let herd = TestHerd::five();
    let all = ["Bernard", "Clark", "Jaquez", "Johnson", "Juzang"];
    let first = iamat(&herd, "Clark", "merge.example", "1000.5");
    assert!(herd.converges(&all, "merge.example", &first));
    let newer = iamat(&herd, "Johnson", "merge.example", "2000");
    assert!(herd.converges(&all, "merge.example", &newer));
    // Older than what the herd keeps: answered, kept nowhere.
    let older = iamat(&herd, "Clark", "merge.example", "1500");
    assert_ne!(older, newer);
    let probe = iamat(&herd, "Clark", "probe.example", "1");
    // The probe travels the same links after the older update; once it is
    // everywhere, the older update would have been too.
    assert!(herd.converges(&all, "probe.example", &probe));
    for name in all {
        assert_eq!(
            herd.kept(name, "merge.example").as_deref(),
            Some(newer.as_str()),
            "{name}"
        );
    }
}

#[test]
fn equal_client_times_settle_on_the_larger_line_on_every_server() {
    let herd = TestHerd::five();
    let all = ["Bernard", "Clark", "Jaquez", "Johnson", "Juzang"];
    let at_bernard = iamat(&herd, "Bernard", "tie.example", "3000.25");
    let at_clark = iamat(&herd, "Clark", "tie.example", "3000.25");
    let larger = at_bernard.clone().max(at_clark.clone());
    assert!(larger.starts_with("AT Clark"), "'C' > 'B' byte-wise");
    assert!(herd.converges(&all, "tie.example", &larger));
}

#[test]
fn a_restarted_server_catches_up_within_two_seconds() {
    let mut herd = TestHerd::five();
    let all = ["Bernard", "Clark", "Jaquez", "Johnson", "Juzang"];
    let before = iamat(&herd, "Clark", "before.example", &now_text());
    assert!(herd.converges(&all, "before.example", &before));
    let report = herd.stop("Juzang");
    assert_eq!(report.abandoned, 0);
    let during = iamat(&herd, "Johnson", "during.example", &now_text());
    assert!(herd.converges(
        &["Bernard", "Clark", "Jaquez", "Johnson"],
        "during.example",
        &during
    ));
    herd.restart("Juzang");
    let restarted = Instant::now();
    assert!(herd.converges(&["Juzang"], "before.example", &before));
    assert!(herd.converges(&["Juzang"], "during.example", &during));
    let took = restarted.elapsed();
    assert!(took <= Duration::from_secs(2), "caught up in {took:?}");
}

/// Servers of `FIVE` reachable from `start` without passing through `down`.
fn component(start: &str, down: &[&str]) -> BTreeSet<String> {
    let mut seen = BTreeSet::from([start.to_owned()]);
    let mut todo = vec![start.to_owned()];
    while let Some(name) = todo.pop() {
        let peers = FIVE
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, p)| *p)
            .unwrap_or_default();
        for peer in peers {
            if !down.contains(peer) && seen.insert((*peer).to_owned()) {
                todo.push((*peer).to_owned());
            }
        }
    }
    seen
}

/// The CS131 grading scenario: kill each of the 10 pairs of servers; the
/// survivors still connected to each other converge, those cut off do not
/// hear of each other's updates, and the restarted pair catches up.
#[test]
fn killing_each_pair_of_servers_leaves_connected_survivors_converging() {
    let mut herd = TestHerd::five();
    let names = herd.names();
    let mut everyone: Vec<(String, String)> = Vec::new();
    for (i, a) in names.iter().enumerate() {
        for b in &names[i + 1..] {
            herd.stop(a);
            herd.stop(b);
            let down = [a.as_str(), b.as_str()];
            let survivors: Vec<&str> = names
                .iter()
                .map(String::as_str)
                .filter(|n| !down.contains(n))
                .collect();
            let mut updates = Vec::new();
            for s in &survivors {
                let client = format!("pair-{a}-{b}-at-{s}");
                updates.push((client.clone(), iamat(&herd, s, &client, &now_text()), *s));
            }
            for (client, line, origin) in &updates {
                let reach = component(origin, &down);
                let reached: Vec<&str> = survivors
                    .iter()
                    .copied()
                    .filter(|s| reach.contains(*s))
                    .collect();
                assert!(
                    herd.converges(&reached, client, line),
                    "{client} within {reach:?}"
                );
                everyone.push((client.clone(), line.clone()));
            }
            // Cut-off survivors never hear of each other's updates.
            for (client, _, origin) in &updates {
                let reach = component(origin, &down);
                for s in survivors.iter().filter(|s| !reach.contains(**s)) {
                    assert_eq!(herd.kept(s, client), None, "{client} crossed to {s}");
                }
            }
            herd.restart(a);
            herd.restart(b);
        }
    }
    let all: Vec<&str> = names.iter().map(String::as_str).collect();
    for (client, line) in &everyone {
        assert!(
            herd.converges(&all, client, line),
            "{client} after every restart"
        );
    }
    herd.stop_all();
}

/// PROTOCOL §3: a neighbour holds one inbound link at a time. A second
/// bare `PEER` with its name is refused while the first link is alive, so a
/// stranger repeating the name cannot make the neighbour resend its cache;
/// once the first link is closed, a new one is let in at once.
#[test]
fn a_live_link_is_kept_and_a_second_peer_with_its_name_is_refused() {
    let herd = TestHerd::single_with_peer();
    let mut first = connect_as_peer(&herd, "Clark", "Jaquez");
    let line = format!("AT Jaquez +0.000000000 link1.example +0-0 {}", now_text());
    writeln!(first, "{line}").expect("send");
    assert!(herd.converges(&["Clark"], "link1.example", &line));

    let second = connect_as_peer(&herd, "Clark", "Jaquez");
    let mut second = BufReader::new(second);
    let mut answer = String::new();
    second.read_line(&mut answer).expect("an answer");
    assert_eq!(answer, "? PEER Jaquez\n");
    assert!(closed(second.get_mut()), "the second link is closed");
    assert!(eventually(DEADLINE, || herd
        .log("Clark")
        .contains("refused: a link from Jaquez is open")));

    // The first link still carries updates.
    let line = format!("AT Jaquez +0.000000000 link2.example +0-0 {}", now_text());
    writeln!(first, "{line}").expect("send");
    assert!(herd.converges(&["Clark"], "link2.example", &line));

    // Closed by the neighbour, it is dead: the next PEER takes its place.
    first.shutdown(std::net::Shutdown::Both).expect("close");
    drop(first);
    let mut third = connect_as_peer(&herd, "Clark", "Jaquez");
    let line = format!("AT Jaquez +0.000000000 link3.example +0-0 {}", now_text());
    writeln!(third, "{line}").expect("send");
    assert!(herd.converges(&["Clark"], "link3.example", &line));
    assert_eq!(
        herd.node("Clark").state().inbound.connected(),
        vec!["Jaquez".to_string()]
    );
}

#[test]
fn garbage_on_a_peer_link_closes_it_at_the_tenth_invalid_line() {
    let herd = TestHerd::single_with_peer();
    let mut link = connect_as_peer(&herd, "Clark", "Jaquez");
    for i in 0..9 {
        writeln!(link, "GARBAGE {i}").expect("send");
    }
    // Nothing is answered on a peer link, and after nine bad lines it is
    // still open: a valid AT is applied.
    let line = format!("AT Jaquez +0.000000000 garbage.example +0-0 {}", now_text());
    writeln!(link, "{line}").expect("send");
    assert!(herd.converges(&["Clark"], "garbage.example", &line));
    writeln!(link, "IAMAT not-on-a-peer-link +0-0 1").expect("send");
    assert!(closed(&mut link), "closed after the tenth invalid line");
    assert!(eventually(DEADLINE, || herd
        .log("Clark")
        .contains("10 invalid lines")));
    assert_eq!(herd.kept("Clark", "not-on-a-peer-link"), None);
}

#[test]
fn a_neighbour_that_was_down_gets_every_client_in_its_catch_up_even_after_overflow() {
    // Clark's only neighbour, Jaquez, is a test listener started late, and
    // Clark's queue holds 2 updates: 50 updates overflow it.
    let jaquez_addr = support::free_addr();
    let clark = TcpListener::bind("127.0.0.1:0").expect("bind");
    let text = support::config_text(
        &[
            ("Clark", clark.local_addr().expect("addr"), &["Jaquez"]),
            ("Jaquez", jaquez_addr, &[]),
        ],
        "[limits]\npeer_queue = 2\nreconnect_max_ms = 200\n",
    );
    drop(clark);
    let herd = TestHerd::from_config_text(&text, &["Clark"]);
    let mut sent = BTreeSet::new();
    for i in 0..50 {
        sent.insert(iamat(
            &herd,
            "Clark",
            &format!("overflow-{i}.example"),
            &now_text(),
        ));
    }
    let listener = TcpListener::bind(jaquez_addr).expect("bind Jaquez's port");
    let (stream, _) = listener.accept().expect("Clark connects");
    stream.set_read_timeout(Some(DEADLINE)).expect("timeout");
    let mut reader = BufReader::new(stream);
    let mut hello = String::new();
    reader.read_line(&mut hello).expect("hello");
    assert_eq!(hello, "PEER Clark\n");
    let mut received = BTreeSet::new();
    while received.len() < sent.len() {
        let mut line = String::new();
        reader.read_line(&mut line).expect("catch-up line");
        received.insert(line.trim_end().to_owned());
    }
    assert_eq!(received, sent);
}
