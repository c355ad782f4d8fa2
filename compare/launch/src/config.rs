//! The herd config a launch writes (PROTOCOL §6's TOML: tables such as
//! `[places]` first, then one `[[server]]` table per server), the default
//! herd's topology, and free loopback ports.

use std::net::{SocketAddr, TcpListener};

use anyhow::{Context, Result};

/// The default herd's servers and neighbours (PROTOCOL §1).
pub const FIVE: [(&str, &[&str]); 5] = [
    ("Bernard", &["Jaquez", "Johnson", "Juzang"]),
    ("Clark", &["Jaquez", "Juzang"]),
    ("Jaquez", &["Bernard", "Clark"]),
    ("Johnson", &["Bernard", "Juzang"]),
    ("Juzang", &["Bernard", "Clark", "Johnson"]),
];

/// The `[places]` table of the offline provider (no network, no key).
pub fn offline_places() -> String {
    "[places]\nprovider = \"offline\"\n".to_owned()
}

/// A config: `tables` as given, then one `[[server]]` table per
/// (name, address, peers).
pub fn config_toml(tables: &str, servers: &[(&str, SocketAddr, &[String])]) -> String {
    let mut s = tables.to_owned();
    for (name, addr, peers) in servers {
        let peers: Vec<String> = peers.iter().map(|p| format!("\"{p}\"")).collect();
        s.push_str(&format!(
            "\n[[server]]\nname = \"{name}\"\naddr = \"{addr}\"\npeers = [{}]\n",
            peers.join(", ")
        ));
    }
    s
}

/// `n` distinct free loopback ports: bind port 0 `n` times, holding every
/// listener until all are chosen, then let them go (a caller that starts a
/// server on one retries when another process takes it in between).
pub fn free_ports(n: usize) -> Result<Vec<u16>> {
    let mut held = Vec::new();
    for _ in 0..n {
        held.push(TcpListener::bind("127.0.0.1:0").context("bind 127.0.0.1:0")?);
    }
    held.iter()
        .map(|l| Ok(l.local_addr().context("local address")?.port()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configs_name_every_server_after_the_tables() {
        let addr: SocketAddr = "127.0.0.1:5000".parse().expect("addr");
        let peers = vec!["Jaquez".to_owned(), "Juzang".to_owned()];
        let text = config_toml(&offline_places(), &[("Clark", addr, &peers)]);
        assert_eq!(
            text,
            "[places]\nprovider = \"offline\"\n\n[[server]]\nname = \"Clark\"\n\
             addr = \"127.0.0.1:5000\"\npeers = [\"Jaquez\", \"Juzang\"]\n"
        );
    }

    #[test]
    fn free_ports_are_distinct() {
        let ports = free_ports(5).expect("ports");
        let mut sorted = ports.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), 5, "{ports:?}");
        assert!(ports.iter().all(|p| *p > 0));
    }
}
