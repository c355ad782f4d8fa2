//! Fuzz harness for the config parser: `Config::parse` on arbitrary TOML
//! text must return a validated config or a one-line `ConfigError`, never
//! panic.
//!
//! Shared by the `config` fuzz target and the corpus replay in the normal
//! test run (`tests/fuzz_corpus.rs`). The input is the file's text (bytes
//! that are not UTF-8 replaced, as reading a file as text would refuse
//! them); an input of odd length is parsed with a set of overrides, as
//! `herd node --threads ...` gives them, one of even length without (one
//! parse per run keeps the target fast). An accepted config is checked against
//! what `config.rs` promises: every limit positive, reconnect bounds in
//! order, unique names and addresses, links symmetric and between servers.

use herd::config::{Config, Overrides};

/// Runs one input; panics when an invariant fails.
pub fn run(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let overrides = if data.len() % 2 == 1 {
        Overrides {
            threads: Some(3),
            max_line_bytes: Some(100),
            reconnect_min_ms: Some(1),
            places_timeout_ms: Some(10),
            ..Overrides::default()
        }
    } else {
        Overrides::default()
    };
    match Config::parse(&text, &overrides) {
        Ok(config) => check_config(&config),
        Err(error) => assert!(
            !error.0.contains(['\n', '\r']),
            "a config error of more than one line: {:?}",
            error.0
        ),
    }
}

fn check_config(config: &Config) {
    let limits = &config.limits;
    assert!(limits.threads > 0 && limits.threads <= 4096);
    assert!(limits.max_line_bytes > 0 && limits.max_clients > 0);
    assert!(limits.peer_garbage_lines > 0 && limits.peer_queue > 0);
    assert!(!limits.idle_timeout.is_zero() && !limits.write_timeout.is_zero());
    assert!(!limits.reconnect_min.is_zero());
    assert!(limits.reconnect_max >= limits.reconnect_min);
    assert!(!config.places.timeout.is_zero());
    assert!(!config.servers.is_empty());
    for (i, server) in config.servers.iter().enumerate() {
        let found = config.server(&server.name).map(|s| &s.addr);
        assert_eq!(
            found.ok(),
            Some(&server.addr),
            "server() misses {:?}",
            server.name
        );
        assert!(!server.name.is_empty() && !server.name.contains(char::is_whitespace));
        for other in &config.servers[i + 1..] {
            assert_ne!(server.name, other.name, "a name used twice");
            assert_ne!(server.addr, other.addr, "an address used twice");
        }
        for peer in &server.peers {
            assert_ne!(peer, &server.name, "a server linked to itself");
            let Ok(other) = config.server(peer) else {
                panic!("{:?} links to {peer:?}, which is not a server", server.name);
            };
            assert!(
                other.peers.contains(&server.name),
                "the link {} - {peer} is one-way",
                server.name
            );
        }
    }
}
