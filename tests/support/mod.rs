//! Shared test helpers: a whole herd in-process on port 0, clients with
//! deadlines, polling with a deadline, and the real `herd` binary.
//!
//! Nothing here sleeps to synchronise: [`eventually`] polls a condition
//! until a deadline, and every socket has a read timeout.

#![allow(dead_code)] // Not every test module uses every helper.

pub mod cases;
pub mod places_stub;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use herd::client::Client;
use herd::clock::{Clock, system_clock};
use herd::config::{Config, Overrides};
use herd::link::auth::HerdSecret;
use herd::node::{NodeHandle, NodeOptions};
use herd::places::{self, PlacesHandle};

/// How long any single wait in a test may take before it fails.
pub const DEADLINE: Duration = Duration::from_secs(10);

/// The default herd's links (PROTOCOL §1).
pub const FIVE: &[(&str, &[&str])] = &[
    ("Bernard", &["Jaquez", "Johnson", "Juzang"]),
    ("Clark", &["Jaquez", "Juzang"]),
    ("Jaquez", &["Bernard", "Clark"]),
    ("Johnson", &["Bernard", "Juzang"]),
    ("Juzang", &["Bernard", "Clark", "Johnson"]),
];

/// Polls `condition` every few milliseconds until it holds (true) or
/// `deadline` passes (false).
pub fn eventually(deadline: Duration, mut condition: impl FnMut() -> bool) -> bool {
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

/// The current time as the protocol writes it, `secs.nnnnnnnnn`.
pub fn now_text() -> String {
    let now = system_clock().0;
    format!("{}.{:09}", now / 1_000_000_000, now % 1_000_000_000)
}

/// Config TOML for `servers` (name, address, peers) plus extra text
/// (`[places]`, `[limits]` tables).
pub fn config_text(servers: &[(&str, SocketAddr, &[&str])], extra: &str) -> String {
    let mut text = String::new();
    for (name, addr, peers) in servers {
        let peers: Vec<String> = peers.iter().map(|p| format!("{p:?}")).collect();
        text.push_str(&format!(
            "[[server]]\nname = {name:?}\naddr = \"{addr}\"\npeers = [{}]\n\n",
            peers.join(", ")
        ));
    }
    text.push_str(extra);
    text
}

/// A herd running in this process, one node per server, each on a port the
/// kernel chose. Dropping it stops every node.
pub struct TestHerd {
    pub config: Config,
    pub log_dir: tempfile::TempDir,
    places: PlacesHandle,
    clock: Clock,
    nodes: Vec<(String, SocketAddr, Option<NodeHandle>)>,
    /// Each node's herd secret (PROTOCOL §7), by name; none if absent.
    secrets: Vec<(String, HerdSecret)>,
}

/// How to build a [`TestHerd`].
pub struct HerdSpec<'a> {
    pub topology: &'a [(&'a str, &'a [&'a str])],
    /// Extra config text: `[limits]`, `[places]`.
    pub extra: &'a str,
    pub places: Option<PlacesHandle>,
    /// `PLACES_API_KEY` for a Google provider built from the config.
    pub api_key: Option<&'a str>,
    pub clock: Clock,
    /// Herd secrets by node name (`"*"`: every node not named).
    pub secrets: &'a [(&'a str, &'a str)],
    /// Wait until every link is up before returning (false where a test
    /// expects some links to be refused).
    pub wait_linked: bool,
}

impl Default for HerdSpec<'_> {
    fn default() -> Self {
        HerdSpec {
            topology: FIVE,
            extra: "",
            places: None,
            api_key: None,
            clock: system_clock,
            secrets: &[],
            wait_linked: true,
        }
    }
}

impl TestHerd {
    /// The default five-server herd with default limits, offline Places.
    pub fn five() -> TestHerd {
        TestHerd::start(HerdSpec::default())
    }

    /// One server, "Clark", with no neighbours.
    pub fn single(extra: &str) -> TestHerd {
        TestHerd::start(HerdSpec {
            topology: &[("Clark", &[])],
            extra,
            ..HerdSpec::default()
        })
    }

    pub fn start(spec: HerdSpec<'_>) -> TestHerd {
        let listeners: Vec<TcpListener> = spec
            .topology
            .iter()
            .map(|_| TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0"))
            .collect();
        let servers: Vec<(&str, SocketAddr, &[&str])> = spec
            .topology
            .iter()
            .zip(&listeners)
            .map(|((name, peers), l)| (*name, l.local_addr().expect("local addr"), *peers))
            .collect();
        let text = config_text(&servers, spec.extra);
        let config = Config::parse(&text, &Overrides::default())
            .unwrap_or_else(|e| panic!("test config does not parse: {e}\n{text}"));
        let places = spec.places.unwrap_or_else(|| {
            let key = spec.api_key.map(str::to_owned);
            places::from_config(&config.places, key).expect("the config's Places provider")
        });
        let log_dir = tempfile::tempdir().expect("temp dir");
        let secret_of = |name: &str| {
            let named = spec.secrets.iter().find(|(n, _)| *n == name);
            let text = named.or_else(|| spec.secrets.iter().find(|(n, _)| *n == "*"));
            text.and_then(|(_, s)| HerdSecret::new(s.as_bytes().to_vec()))
        };
        let secrets = servers
            .iter()
            .filter_map(|(name, _, _)| Some((name.to_string(), secret_of(name)?)))
            .collect();
        let mut herd = TestHerd {
            config,
            log_dir,
            places,
            clock: spec.clock,
            nodes: Vec::new(),
            secrets,
        };
        for ((name, addr, _), listener) in servers.iter().zip(listeners) {
            let node = herd.start_node(name, listener);
            herd.nodes.push((name.to_string(), *addr, Some(node)));
        }
        if spec.wait_linked {
            herd.wait_linked();
        }
        herd
    }

    /// Waits until every running node has an inbound link from each of its
    /// running neighbours. Each opener takes its catch-up snapshot before
    /// its `PEER` line leaves, so updates made after this are flooded, not
    /// dumped.
    pub fn wait_linked(&self) {
        let linked = eventually(DEADLINE, || {
            self.nodes.iter().all(|(name, _, node)| {
                let Some(node) = node else { return true };
                let connected = node.state().inbound.connected();
                let peers = &self.config.server(name).expect("server").peers;
                peers
                    .iter()
                    .filter(|p| self.is_running(p))
                    .all(|p| connected.contains(p))
            })
        });
        assert!(linked, "the herd's links did not all come up");
    }

    fn is_running(&self, name: &str) -> bool {
        self.nodes
            .iter()
            .any(|(n, _, node)| n == name && node.is_some())
    }

    /// Clark alone, with one neighbour, Jaquez, that is not running: tests
    /// play Jaquez's part on their own sockets.
    pub fn single_with_peer() -> TestHerd {
        TestHerd::single_with_peer_and("", None)
    }

    /// [`single_with_peer`](Self::single_with_peer) with `extra` config
    /// text and, if given, a herd secret for Clark.
    pub fn single_with_peer_and(extra: &str, secret: Option<&str>) -> TestHerd {
        let clark = free_addr();
        let jaquez = free_addr();
        let text = config_text(
            &[("Clark", clark, &["Jaquez"]), ("Jaquez", jaquez, &[])],
            extra,
        );
        TestHerd::from_config_text_with(&text, &["Clark"], secret)
    }

    /// Starts the servers named in `start` from a config's text, each on
    /// its configured address.
    pub fn from_config_text(text: &str, start: &[&str]) -> TestHerd {
        TestHerd::from_config_text_with(text, start, None)
    }

    /// [`from_config_text`](Self::from_config_text), every node with the
    /// herd secret `secret` if given.
    pub fn from_config_text_with(text: &str, start: &[&str], secret: Option<&str>) -> TestHerd {
        let config = Config::parse(text, &Overrides::default())
            .unwrap_or_else(|e| panic!("test config does not parse: {e}\n{text}"));
        let places = places::from_config(&config.places, None).expect("offline places load");
        let log_dir = tempfile::tempdir().expect("temp dir");
        let clock = system_clock;
        let mut herd = TestHerd {
            config,
            log_dir,
            places,
            clock,
            nodes: Vec::new(),
            secrets: start
                .iter()
                .filter_map(|name| {
                    let secret = HerdSecret::new(secret?.as_bytes().to_vec())?;
                    Some((name.to_string(), secret))
                })
                .collect(),
        };
        for name in start {
            let addr: SocketAddr = herd
                .config
                .server(name)
                .expect("server")
                .addr
                .parse()
                .expect("addr");
            let mut listener = None;
            eventually(DEADLINE, || {
                listener = TcpListener::bind(addr).ok();
                listener.is_some()
            });
            let node = herd.start_node(name, listener.expect("bind the configured port"));
            herd.nodes.push((name.to_string(), addr, Some(node)));
        }
        herd
    }

    fn start_node(&self, name: &str, listener: TcpListener) -> NodeHandle {
        let options = NodeOptions {
            name,
            listener,
            places: Arc::clone(&self.places),
            log_dir: self.log_dir.path(),
            clock: self.clock,
            secret: self
                .secrets
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, s)| s.clone()),
            // A `store_dir` in the node's [[server]] table: opened here,
            // before the node starts, as `herd node` does.
            store: self
                .config
                .server(name)
                .ok()
                .and_then(|server| server.store_dir.as_ref())
                .map(|dir| herd::store::open(dir).expect("the store opens")),
        };
        herd::start(&self.config, options).expect("node starts")
    }

    pub fn addr(&self, name: &str) -> SocketAddr {
        self.entry(name).1
    }

    fn entry(&self, name: &str) -> &(String, SocketAddr, Option<NodeHandle>) {
        self.nodes
            .iter()
            .find(|(n, _, _)| n == name)
            .expect("a server of this herd")
    }

    pub fn node(&self, name: &str) -> &NodeHandle {
        self.entry(name).2.as_ref().expect("node is running")
    }

    pub fn names(&self) -> Vec<String> {
        self.nodes.iter().map(|(n, _, _)| n.clone()).collect()
    }

    /// A client connected to `name`.
    pub fn client(&self, name: &str) -> Client {
        Client::connect(self.addr(name), DEADLINE).expect("connect to node")
    }

    /// Sends one line to `name` on a new connection and returns the answer.
    pub fn ask(&self, name: &str, line: &str) -> String {
        let answer = self.client(name).request(line.as_bytes()).expect("answer");
        String::from_utf8_lossy(&answer.unwrap_or_default()).into_owned()
    }

    /// The AT line `name` keeps for `client`, read from its cache.
    pub fn kept(&self, name: &str, client: &str) -> Option<String> {
        self.node(name)
            .state()
            .cache
            .get(client)
            .map(|r| r.line.clone())
    }

    /// True once every running node in `names` keeps exactly `line` for `client`.
    pub fn converges(&self, names: &[&str], client: &str, line: &str) -> bool {
        eventually(DEADLINE, || {
            names
                .iter()
                .all(|n| self.kept(n, client).as_deref() == Some(line))
        })
    }

    pub fn running(&self, name: &str) -> bool {
        self.entry(name).2.is_some()
    }

    /// Stops node `name` (as a crash would, from its neighbours' view: its
    /// sockets close), keeping its address for a restart.
    pub fn stop(&mut self, name: &str) -> herd::StopReport {
        let entry = self
            .nodes
            .iter_mut()
            .find(|(n, _, _)| n == name)
            .expect("server");
        entry.2.take().expect("node running").stop()
    }

    /// Starts node `name` again on the same address, with an empty cache.
    pub fn restart(&mut self, name: &str) {
        let addr = self.addr(name);
        let mut listener = None;
        // The port was just released; rebinding it can briefly fail.
        eventually(DEADLINE, || {
            listener = TcpListener::bind(addr).ok();
            listener.is_some()
        });
        let node = self.start_node(name, listener.expect("rebind the node's port"));
        let entry = self
            .nodes
            .iter_mut()
            .find(|(n, _, _)| n == name)
            .expect("server");
        entry.2 = Some(node);
        self.wait_linked();
    }

    /// The text of `name`'s log so far.
    pub fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.log_dir.path().join(format!("{name}.log"))).unwrap_or_default()
    }

    /// Stops every node; fails the test if any worker panicked or a stop
    /// was not clean.
    pub fn stop_all(&mut self) {
        for (name, _, node) in &mut self.nodes {
            if let Some(node) = node.take() {
                let report = node.stop();
                assert_eq!(report.panics, 0, "{name}: a worker panicked");
                assert_eq!(report.abandoned, 0, "{name}: a thread did not stop in time");
            }
        }
    }
}

impl Drop for TestHerd {
    fn drop(&mut self) {
        for (_, _, node) in &mut self.nodes {
            if let Some(node) = node.take() {
                node.stop();
            }
        }
    }
}

/// The `herd` binary Cargo built for these tests.
pub fn herd_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_herd"))
}

/// A child process that is killed (and reaped) when dropped.
pub struct Process {
    pub child: Child,
}

impl Process {
    pub fn spawn(command: &mut Command) -> Process {
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn process");
        Process { child }
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A free loopback port, chosen by binding port 0 and releasing it.
/// Racy by nature: callers that start a real binary on it retry.
pub fn free_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
}

/// True once something accepts connections on `addr`.
pub fn accepts(addr: SocketAddr) -> bool {
    TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
}

/// Writes `text` to `dir/name` and returns the path.
pub fn write_file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write file");
    path
}

/// The system clock as integer nanoseconds, for `{now}` in cases.
pub fn node_now() -> i128 {
    system_clock().0
}
