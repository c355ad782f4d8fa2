//! An inbound link's reader runs ahead of the client workers
//! (`link/priority.rs`): where the process may raise a thread's priority it
//! has nice `LINK_READER_NICE`, and where it may not it keeps the node's
//! and the log says so. Read back from `/proc` for a real link.

use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

use herd::limits::LINK_READER_NICE;

use crate::support::{TestHerd, config_text, eventually, free_addr};

/// The nice value of each thread of this process named `name`.
fn nice_of_threads(name: &str) -> Vec<i32> {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return Vec::new();
    };
    tasks
        .flatten()
        .filter(|task| {
            std::fs::read_to_string(task.path().join("comm")).is_ok_and(|c| c.trim() == name)
        })
        .filter_map(|task| nice_in(&task.path().join("stat")))
        .collect()
}

/// The nice value in a `/proc/.../stat` file: field 19, the 17th after the
/// command's closing parenthesis.
fn nice_in(stat: &std::path::Path) -> Option<i32> {
    let text = std::fs::read_to_string(stat).ok()?;
    let after = text.rsplit_once(')')?.1;
    after.split_whitespace().nth(16)?.parse().ok()
}

#[cfg(target_os = "linux")]
#[test]
fn an_inbound_links_reader_runs_at_the_readers_priority_or_says_why_not() {
    let (node, peer) = (free_addr(), free_addr());
    let text = config_text(&[("Prio", node, &["Zprio"]), ("Zprio", peer, &[])], "");
    let herd = TestHerd::from_config_text(&text, &["Prio"]);
    let mut link = TcpStream::connect_timeout(&herd.addr("Prio"), Duration::from_secs(5))
        .expect("connect to the node");
    link.write_all(b"PEER Zprio\n").expect("say PEER");

    let may_raise = std::thread::spawn(herd::link::priority::raise_this_reader)
        .join()
        .expect("the probe thread")
        .is_ok();
    let base = nice_in(std::path::Path::new("/proc/self/stat")).expect("this process's nice");
    let expected = if may_raise { LINK_READER_NICE } else { base };
    let mut seen = Vec::new();
    let settled = eventually(Duration::from_secs(10), || {
        seen = nice_of_threads("peer-Zprio");
        seen == [expected]
    });
    assert!(
        settled,
        "reader threads' nice values {seen:?}, expected [{expected}]"
    );
    if !may_raise {
        let said = eventually(Duration::from_secs(10), || {
            herd.log("Prio").contains("reader at the node's priority")
        });
        assert!(
            said,
            "the log names the reader's priority:\n{}",
            herd.log("Prio")
        );
    }
    // The workers keep the process's priority.
    let workers = nice_of_threads("worker-Prio");
    assert!(!workers.is_empty(), "the node's workers are found");
    assert!(
        workers.iter().all(|&nice| nice == base),
        "workers {workers:?}, the process {base}"
    );
}
