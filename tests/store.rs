//! Durable caches (PROTOCOL §8) from outside: real server processes with
//! stores, killed with SIGKILL and started again, stores from older runs,
//! damaged stores, and a disk that fills up under a running node.
//!
//! `HERD_BUILD` picks the build as in `conformance.rs` (unset: the
//! blocking `herd`; `tokio` runs the same tests against `herd-tokio`; CI
//! runs both). The asyncio and Node builds refuse stores (their own tests).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use herd::client::Client;
use herd_launch::{FIVE, Launch};

use crate::conformance::launcher;
use crate::support::{self, eventually};

const TIMEOUT: Duration = Duration::from_secs(10);

/// A herd of `topology` whose every server keeps a store in
/// `<dir>/store-<name>` with `sync`.
fn launch_with_stores(dir: &Path, topology: &[(&str, &[&str])], sync: &str) -> Launch {
    let mut launch = Launch::new(dir, launcher(), topology).grace(Duration::from_secs(5));
    launch.attempts = 5;
    for node in &mut launch.nodes {
        let store = dir.join(format!("store-{}", node.name));
        node.args.extend([
            "--store-dir".to_owned(),
            store.display().to_string(),
            "--store-sync".to_owned(),
            sync.to_owned(),
        ]);
    }
    launch
}

/// Sends every line on one connection (pipelined) and returns the answers'
/// first lines, in order.
fn pipelined(addr: SocketAddr, lines: &[String]) -> Vec<String> {
    let mut client = Client::connect(addr, TIMEOUT).expect("connect");
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    client.send(text.as_bytes()).expect("send");
    lines
        .iter()
        .map(|line| {
            let answer = client
                .read_answer(line.as_bytes())
                .expect("answer")
                .unwrap_or_else(|| panic!("no answer to {line}"));
            let answer = String::from_utf8_lossy(&answer).into_owned();
            answer.lines().next().unwrap_or_default().to_owned()
        })
        .collect()
}

/// The AT line `addr` answers WHATSAT with for each of `ids` (`None`:
/// it does not know the client).
fn kept_lines(addr: SocketAddr, ids: &[String]) -> Vec<Option<String>> {
    let asks: Vec<String> = ids.iter().map(|id| format!("WHATSAT {id} 10 1")).collect();
    pipelined(addr, &asks)
        .into_iter()
        .map(|first| first.starts_with("AT ").then_some(first))
        .collect()
}

/// IAMATs for `ids` at times `base + i` seconds, round-robin over `addrs`
/// (one pipelined connection each); returns the AT line each answered.
fn send_iamats(addrs: &[SocketAddr], ids: &[String], base: u64) -> BTreeMap<String, String> {
    let mut per_server: Vec<Vec<String>> = vec![Vec::new(); addrs.len()];
    let mut order: Vec<Vec<String>> = vec![Vec::new(); addrs.len()];
    for (i, id) in ids.iter().enumerate() {
        let k = i % addrs.len();
        per_server[k].push(format!(
            "IAMAT {id} +34.068930-118.445127 {}.{:09}",
            base + i as u64,
            i
        ));
        order[k].push(id.clone());
    }
    let mut answered = BTreeMap::new();
    for ((addr, lines), ids) in addrs.iter().zip(&per_server).zip(&order) {
        if lines.is_empty() {
            continue;
        }
        for (id, at) in ids.iter().zip(pipelined(*addr, lines)) {
            assert!(at.starts_with("AT "), "IAMAT for {id} answered {at:?}");
            answered.insert(id.clone(), at);
        }
    }
    answered
}

fn ids(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i}")).collect()
}

/// The whole herd killed with SIGKILL at once, 1.5 s after its last
/// acknowledged update, and started again on the same stores: every
/// server answers for every client with its newest line.
fn a_whole_herd_killed_keeps_every_update(sync: &str) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut herd = launch_with_stores(dir.path(), &FIVE, sync)
        .start()
        .expect("the herd starts");
    let addrs: Vec<SocketAddr> = herd.addrs().to_vec();
    let clients = ids("kiwi", 1000);
    // Each client twice, the second time newer and through another server.
    send_iamats(&addrs, &clients, 1_700_000_000);
    let mut rotated = addrs.clone();
    rotated.rotate_left(2);
    let newest = send_iamats(&rotated, &clients, 1_750_000_000);
    std::thread::sleep(Duration::from_millis(1500));
    for i in 0..addrs.len() {
        herd.kill(i).expect("SIGKILL");
    }
    for i in 0..addrs.len() {
        herd.restart(i).expect("restarts on its store");
    }
    let want: Vec<Option<String>> = clients.iter().map(|id| newest.get(id).cloned()).collect();
    for (i, addr) in addrs.iter().enumerate() {
        let got = kept_lines(*addr, &clients);
        let wrong: Vec<String> = clients
            .iter()
            .zip(got.iter().zip(&want))
            .filter(|(_, (got, want))| got != want)
            .map(|(id, (got, want))| format!("{id}: {got:?} (want {want:?})"))
            .take(5)
            .collect();
        assert!(
            wrong.is_empty(),
            "server {i} ({sync}) after SIGKILL of all: {}",
            wrong.join("; ")
        );
    }
    herd.stop();
}

#[test]
fn a_whole_herd_killed_with_sigkill_keeps_every_update_with_always() {
    a_whole_herd_killed_keeps_every_update("always");
}

#[test]
fn a_whole_herd_killed_with_sigkill_keeps_every_update_with_everysec() {
    a_whole_herd_killed_keeps_every_update("everysec");
}

#[test]
fn a_whole_herd_killed_with_sigkill_keeps_every_update_with_never() {
    // `never` promises nothing against a power cut; a crash of the process
    // alone loses nothing, since every batch is handed to the OS at once.
    a_whole_herd_killed_keeps_every_update("never");
}

/// A store from an older run (fewer clients, some of them older than what
/// the herd learned since): the node loads it, catches up from its
/// neighbour, and answers the newest line for every client; its store then
/// holds those newest lines too.
#[test]
fn an_older_store_is_caught_up_and_the_newest_line_wins() {
    let dir = tempfile::tempdir().expect("temp dir");
    let pair: &[(&str, &[&str])] = &[("Clark", &["Jaquez"]), ("Jaquez", &["Clark"])];
    let mut launch = launch_with_stores(dir.path(), pair, "always");
    // Jaquez keeps no store: its cache is what the herd learned.
    launch.nodes[1].args.clear();
    let mut herd = launch.start().expect("the pair starts");
    let (clark, jaquez) = (herd.addr(0), herd.addr(1));
    let old_ids = ids("old", 10);
    send_iamats(&[clark], &old_ids, 1_700_000_000);
    // Clark goes away; meanwhile the herd learns newer lines for half of
    // its clients and ten clients it never saw.
    herd.kill(0).expect("SIGKILL Clark");
    let newer = send_iamats(&[jaquez], &old_ids[..5], 1_750_000_000);
    let new_ids = ids("new", 10);
    let fresh = send_iamats(&[jaquez], &new_ids, 1_750_000_000);
    herd.restart(0).expect("Clark restarts on its store");
    let everyone: Vec<String> = old_ids.iter().chain(&new_ids).cloned().collect();
    let want = kept_lines(jaquez, &everyone);
    for (id, line) in newer.iter().chain(&fresh) {
        let i = everyone.iter().position(|e| e == id).expect("known id");
        assert_eq!(want[i].as_ref(), Some(line), "Jaquez keeps the newest");
    }
    assert!(
        eventually(TIMEOUT, || kept_lines(clark, &everyone) == want),
        "Clark did not settle on the newest lines: {:?}",
        kept_lines(clark, &everyone)
    );
    // What Clark learned from the dump is in its store: alone, after a
    // SIGKILL, it still answers the newest line for all twenty.
    herd.kill(1).expect("SIGKILL Jaquez");
    herd.kill(0).expect("SIGKILL Clark");
    herd.restart(0).expect("Clark restarts alone");
    assert_eq!(kept_lines(clark, &everyone), want);
    herd.stop();
}

/// Runs `herd node Clark` on `store` and expects a start-up error: exit 2,
/// one line on stderr naming the store, and the port never opened.
fn refuses_to_start(dir: &Path, store: &Path) -> String {
    let addr = support::free_addr();
    let config = dir.join("herd.toml");
    std::fs::write(&config, support::config_text(&[("Clark", addr, &[])], "")).expect("config");
    let started = Instant::now();
    let output = Command::new(launcher())
        .args(["node", "Clark", "--config"])
        .arg(&config)
        .arg("--log-dir")
        .arg(dir.join("logs"))
        .arg("--store-dir")
        .arg(store)
        .output()
        .expect("run the node");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(2), "stderr: {stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line: {stderr:?}");
    assert!(lines[0].contains("store"), "{stderr:?}");
    assert!(started.elapsed() < TIMEOUT);
    assert!(!support::accepts(addr), "the port was opened");
    lines[0].to_owned()
}

/// Fills a store with `n` clients through a real node, then stops it.
fn a_store_with_clients(dir: &Path, n: usize) -> PathBuf {
    let mut herd = launch_with_stores(dir, &[("Clark", &[])], "always")
        .start()
        .expect("starts");
    send_iamats(&[herd.addr(0)], &ids("kiwi", n), 1_700_000_000);
    herd.stop();
    dir.join("store-Clark")
}

/// The store's (largest) journal file.
fn journal_of(store: &Path) -> PathBuf {
    files_by_size(store)
        .into_iter()
        .map(|(_, path)| path)
        .find(|path| path.extension().is_some_and(|e| e == "jnl"))
        .expect("a journal file")
}

/// Every regular file under `dir`, largest first.
fn files_by_size(dir: &Path) -> Vec<(u64, PathBuf)> {
    let mut found = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).expect("read dir").flatten() {
            let path = entry.path();
            let meta = entry.metadata().expect("metadata");
            if meta.is_dir() {
                todo.push(path);
            } else {
                found.push((meta.len(), path));
            }
        }
    }
    found.sort_by(|a, b| b.cmp(a));
    found
}

#[test]
fn a_damaged_store_is_a_start_up_error_with_one_line_and_no_port() {
    let dir = tempfile::tempdir().expect("temp dir");
    // Not a directory.
    let file = dir.path().join("a-file");
    std::fs::write(&file, "not a store").expect("file");
    let why = refuses_to_start(dir.path(), &file);
    assert!(why.contains("not a directory"), "{why}");

    // Ten bytes changed inside a batch of the journal, where the clients
    // are until they are flushed to tables: its checksum fails.
    let store = a_store_with_clients(&dir.path().join("flipped"), 50);
    let journal = journal_of(&store);
    let mut bytes = std::fs::read(&journal).expect("read journal");
    bytes[200..210].copy_from_slice(b"0123456789");
    std::fs::write(&journal, bytes).expect("write journal");
    let why = refuses_to_start(dir.path(), &store);
    assert!(why.contains("damaged"), "{why}");

    // The journal cut short after a clean stop: the store itself would
    // take the cut for a torn write and drop the rest without a word; the
    // count left by the clean stop says clients are missing.
    let store = a_store_with_clients(&dir.path().join("cut"), 50);
    let journal = journal_of(&store);
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(&journal)
        .expect("open journal");
    file.set_len(2000).expect("cut the journal");
    drop(file);
    let why = refuses_to_start(dir.path(), &store);
    assert!(
        why.contains("50 clients were stored at the last clean stop"),
        "{why}"
    );

    // Every file of a real store overwritten with garbage.
    let store = a_store_with_clients(&dir.path().join("garbage"), 50);
    for (len, path) in files_by_size(&store) {
        if path.file_name().is_some_and(|n| n == "lock") {
            continue;
        }
        let garbage: Vec<u8> = (0..len.clamp(64, 8192))
            .map(|i| (i * 7 + 13) as u8)
            .collect();
        std::fs::write(&path, garbage).expect("overwrite");
    }
    refuses_to_start(dir.path(), &store);
}

#[test]
fn a_store_in_use_by_another_node_is_a_start_up_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut herd = launch_with_stores(dir.path(), &[("Clark", &[])], "everysec")
        .start()
        .expect("starts");
    let why = refuses_to_start(dir.path(), &dir.path().join("store-Clark"));
    assert!(why.contains("in use"), "{why}");
    herd.stop();
}

/// The node's log, every file of it.
fn log_text(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(format!("{name}.log"))).unwrap_or_default()
}

/// A disk that fills up under a running node: it keeps answering, its log
/// says the store cannot write and that answers are not durable, and once
/// space is free again it writes again and says so. The full disk is a
/// small tmpfs in a mount namespace of the node's own (`unshare`), filled
/// with a ballast file that the test removes to free the space.
#[test]
fn a_full_disk_keeps_the_node_answering_and_says_so() {
    if !can_unshare() {
        herd_launch::skip_or_fail(
            "a full disk needs `unshare --mount` (root, or unprivileged user namespaces)",
        );
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let store = dir.path().join("store");
    std::fs::create_dir(&store).expect("mount point");
    let free = dir.path().join("free-the-disk");
    let addr = support::free_addr();
    let config = dir.path().join("herd.toml");
    std::fs::write(
        &config,
        support::config_text(&[("Clark", addr, &[])], "[store]\nsync = \"always\"\n"),
    )
    .expect("config");
    let logs = dir.path().join("logs");
    // The blocking build serves metrics too: they must say it as well.
    let metrics = is_blocking().then(support::free_addr);
    let metrics_flag = metrics
        .map(|addr| format!(" --metrics-addr {addr}"))
        .unwrap_or_default();
    // A 2 MiB disk with 1.5 MiB of ballast; the node's log is elsewhere.
    let script = format!(
        "mount -t tmpfs -o size=2m tmpfs {store} && \
         head -c 1572864 /dev/zero > {store}/ballast && \
         (for i in $(seq 1 1200); do [ -e {free} ] && break; sleep 0.05; done; \
          rm -f {store}/ballast) & \
         exec {bin} node Clark --config {config} --log-dir {logs} --store-dir {store}/db{metrics_flag}",
        store = store.display(),
        free = free.display(),
        bin = launcher().display(),
        config = config.display(),
        logs = logs.display(),
    );
    let node = support::Process::spawn(
        Command::new("unshare")
            .args(unshare_args())
            .args(["sh", "-c", &script]),
    );
    assert!(
        eventually(TIMEOUT, || support::accepts(addr)),
        "the node did not start: {}",
        log_text(&logs, "Clark")
    );
    // Write until the disk is full: every IAMAT is still answered.
    let mut sent = 0;
    let deadline = Instant::now() + Duration::from_secs(30);
    while !log_text(&logs, "Clark").contains("NOT durable") {
        assert!(Instant::now() < deadline, "the disk never filled up");
        let batch = ids(&format!("fill{sent}-"), 500);
        let answered = send_iamats(&[addr], &batch, 1_700_000_000 + sent as u64);
        assert_eq!(answered.len(), batch.len());
        sent += batch.len();
    }
    let answered = send_iamats(&[addr], &ids("after", 100), 1_750_000_000);
    assert_eq!(answered.len(), 100, "the node answers with a full disk");
    assert!(
        kept_lines(addr, &ids("after", 100))
            .iter()
            .all(Option::is_some)
    );
    if let Some(metrics) = metrics {
        let scrape = get_metrics(metrics);
        assert!(scrape.contains("\nherd_store_durable 0\n"), "{scrape}");
        assert!(
            !scrape.contains("\nherd_store_failures_total 0\n"),
            "{scrape}"
        );
    }
    // Space again: the store catches up and says so.
    std::fs::write(&free, "").expect("flag");
    assert!(
        eventually(Duration::from_secs(20), || log_text(&logs, "Clark")
            .contains("writing again")),
        "the store never wrote again: {}",
        log_text(&logs, "Clark")
    );
    if let Some(metrics) = metrics {
        assert!(get_metrics(metrics).contains("\nherd_store_durable 1\n"));
    }
    drop(node);
}

fn is_blocking() -> bool {
    matches!(
        std::env::var("HERD_BUILD").ok().as_deref(),
        None | Some("") | Some("blocking")
    )
}

/// One scrape of a blocking node's metrics endpoint, body and all.
fn get_metrics(addr: SocketAddr) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect_timeout(&addr, TIMEOUT).expect("connect");
    stream.set_read_timeout(Some(TIMEOUT)).expect("timeout");
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .expect("request");
    let mut text = String::new();
    let _ = stream.read_to_string(&mut text);
    text
}

fn unshare_args() -> Vec<&'static str> {
    if nix_is_root() {
        vec!["--mount"]
    } else {
        vec!["--user", "--map-root-user", "--mount"]
    }
}

fn nix_is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

/// Whether this user can mount a tmpfs in a mount namespace of its own.
fn can_unshare() -> bool {
    let Ok(dir) = tempfile::tempdir() else {
        return false;
    };
    let mount = format!("mount -t tmpfs -o size=1m tmpfs {}", dir.path().display());
    Command::new("unshare")
        .args(unshare_args())
        .args(["sh", "-c", &mount])
        .output()
        .is_ok_and(|o| o.status.success())
}
