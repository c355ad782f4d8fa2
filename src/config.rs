//! The herd's configuration: `herd.toml`, the default herd, and every limit.
//!
//! Input is TOML text (a file, or [`DEFAULT_CONFIG`] when no `--config` is
//! given) plus command-line overrides; output is a validated [`Config`]
//! with links made symmetric. Every check happens here, before any port is
//! opened, and every failure is one line of text (PROTOCOL §6).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::Duration;

use serde::Deserialize;

use crate::limits::Limits;
use crate::limits::{MAX_THREADS, PLACES_TIMEOUT};
use crate::logfile::LogOptions;
use crate::store::SyncMode;

/// The default herd of PROTOCOL §1 as commented TOML: what `herd config`
/// prints and what a node runs with when no `--config` is given.
pub const DEFAULT_CONFIG: &str = include_str!("default_herd.toml");

/// A validated herd configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub places: PlacesConfig,
    /// Every server of the herd, in file order.
    pub servers: Vec<ServerConfig>,
    pub limits: Limits,
    /// The environment variable holding the herd's shared secret
    /// (`[herd] secret_env`); `None`: links open with a bare `PEER` line.
    /// Only the variable's name is kept here, never its value.
    pub secret_env: Option<String>,
    /// How the node's log is kept (`[log]`, PROTOCOL §4).
    pub log: LogOptions,
    /// What an IAMAT answer promises where a server has a store
    /// (`[store] sync`, PROTOCOL §8).
    pub store_sync: SyncMode,
}

/// One server: its name, address and (symmetric) neighbours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    pub name: String,
    /// `host:port`; resolved when binding (own) or connecting (neighbours).
    pub addr: String,
    /// Neighbours, sorted: those named here plus those that name this server.
    pub peers: Vec<String>,
    /// Where it keeps its durable store (`store_dir`, PROTOCOL §8), relative
    /// to the working directory; `None`: its cache lives in memory only.
    pub store_dir: Option<std::path::PathBuf>,
}

/// Which Places provider answers WHATSAT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    /// The shipped GeoNames data set: no network, no key (the default).
    Offline,
    /// Nearby Search (legacy), key from `PLACES_API_KEY`.
    Google,
    /// Places API (New) Nearby Search, mapped onto the legacy shape; key
    /// from `PLACES_API_KEY`.
    GoogleNew,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlacesConfig {
    pub provider: Provider,
    /// The full endpoint URL, to point the provider at a stand-in.
    pub url: Option<String>,
    /// How long a WHATSAT may wait for the provider, whole request included.
    pub timeout: Duration,
}

/// Command-line values that override the file (`None`: keep the file's).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides {
    pub threads: Option<usize>,
    pub max_line_bytes: Option<usize>,
    pub idle_timeout_ms: Option<u64>,
    pub max_clients: Option<usize>,
    pub write_timeout_ms: Option<u64>,
    pub max_clock_ahead_ms: Option<u64>,
    pub max_cached_clients: Option<usize>,
    pub reconnect_min_ms: Option<u64>,
    pub reconnect_max_ms: Option<u64>,
    pub peer_garbage_lines: Option<u32>,
    pub peer_queue: Option<usize>,
    pub handshake_timeout_ms: Option<u64>,
    pub park_idle_ms: Option<u64>,
    pub places_timeout_ms: Option<u64>,
    pub log_max_bytes: Option<u64>,
    pub log_keep: Option<u32>,
    /// `Some(true)` with `--log-answers`; `None`: the file's.
    pub log_answers: Option<bool>,
    /// `--store-sync`.
    pub store_sync: Option<SyncMode>,
}

/// A configuration that cannot be used, as one line of text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

fn error(message: impl Into<String>) -> ConfigError {
    ConfigError(message.into())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    places: RawPlaces,
    #[serde(default)]
    server: Vec<RawServer>,
    #[serde(default)]
    herd: RawHerd,
    #[serde(default)]
    limits: RawLimits,
    #[serde(default)]
    log: RawLog,
    #[serde(default)]
    store: RawStore,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawStore {
    sync: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawLog {
    max_bytes: Option<u64>,
    keep: Option<u32>,
    answers: Option<bool>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawPlaces {
    provider: Option<String>,
    url: Option<String>,
    timeout_ms: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServer {
    name: String,
    addr: String,
    #[serde(default)]
    peers: Vec<String>,
    store_dir: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawHerd {
    secret_env: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    threads: Option<usize>,
    max_line_bytes: Option<usize>,
    idle_timeout_ms: Option<u64>,
    max_clients: Option<usize>,
    write_timeout_ms: Option<u64>,
    max_clock_ahead_ms: Option<u64>,
    max_cached_clients: Option<usize>,
    reconnect_min_ms: Option<u64>,
    reconnect_max_ms: Option<u64>,
    peer_garbage_lines: Option<u32>,
    peer_queue: Option<usize>,
    handshake_timeout_ms: Option<u64>,
    park_idle_ms: Option<u64>,
}

impl Config {
    /// The default five-server herd on loopback, offline Places.
    pub fn default_herd() -> Config {
        // The default text is part of the binary and covered by a unit test.
        Config::parse(DEFAULT_CONFIG, &Overrides::default())
            .unwrap_or_else(|e| unreachable!("the built-in default herd is invalid: {e}"))
    }

    /// Reads and validates a config file; `origin` names it in errors.
    pub fn load(path: &std::path::Path, overrides: &Overrides) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| error(format!("cannot read config {}: {e}", path.display())))?;
        Config::parse(&text, overrides)
            .map_err(|e| error(format!("config {}: {}", path.display(), e.0)))
    }

    /// Parses and validates TOML text.
    pub fn parse(text: &str, overrides: &Overrides) -> Result<Config, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| toml_error(text, &e))?;
        let secret_env = match raw.herd.secret_env {
            Some(var) if var.is_empty() || var.contains(['=', '\0']) => {
                return Err(error(format!(
                    "[herd] secret_env {var:?} is not an environment variable name"
                )));
            }
            other => other,
        };
        let places = places_config(&raw.places, overrides)?;
        let limits = limits(&raw.limits, overrides)?;
        let log = log_options(&raw.log, overrides)?;
        let servers = servers(raw.server)?;
        let store_sync = match (overrides.store_sync, raw.store.sync.as_deref()) {
            (Some(mode), _) => mode,
            (None, None) => SyncMode::default(),
            (None, Some(word)) => SyncMode::from_word(word).ok_or_else(|| {
                error(format!(
                    "[store] sync {word:?} is unknown (use \"always\", \"everysec\" or \"never\")"
                ))
            })?,
        };
        Ok(Config {
            places,
            servers,
            limits,
            secret_env,
            log,
            store_sync,
        })
    }

    /// The server called `name`, or an error naming the servers there are.
    pub fn server(&self, name: &str) -> Result<&ServerConfig, ConfigError> {
        self.servers.iter().find(|s| s.name == name).ok_or_else(|| {
            let names: Vec<&str> = self.servers.iter().map(|s| s.name.as_str()).collect();
            error(format!(
                "unknown server {name:?} (servers: {})",
                names.join(", ")
            ))
        })
    }
}

/// A TOML error as one line: `line 3, column 7: invalid type ...`.
fn toml_error(text: &str, e: &toml::de::Error) -> ConfigError {
    let message = e.message().replace('\n', " ");
    match e.span() {
        Some(span) => {
            let before = text.get(..span.start).unwrap_or(text);
            let line = before.matches('\n').count() + 1;
            let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
            error(format!("line {line}, column {column}: {message}"))
        }
        None => error(message),
    }
}

fn places_config(raw: &RawPlaces, overrides: &Overrides) -> Result<PlacesConfig, ConfigError> {
    let provider = match raw.provider.as_deref().unwrap_or("offline") {
        "offline" => Provider::Offline,
        "google" => Provider::Google,
        "google-new" => Provider::GoogleNew,
        other => {
            return Err(error(format!(
                "[places] provider {other:?} is unknown \
                 (use \"offline\", \"google\" or \"google-new\")"
            )));
        }
    };
    if let Some(url) = &raw.url
        && (!(url.starts_with("http://") || url.starts_with("https://")) || url.contains(' '))
    {
        return Err(error(format!("[places] url {url:?} is not an http(s) URL")));
    }
    let timeout_ms = overrides
        .places_timeout_ms
        .or(raw.timeout_ms)
        .unwrap_or(PLACES_TIMEOUT.as_millis() as u64);
    if timeout_ms == 0 {
        return Err(error("[places] timeout_ms must be more than 0"));
    }
    Ok(PlacesConfig {
        provider,
        url: raw.url.clone(),
        timeout: Duration::from_millis(timeout_ms),
    })
}

fn limits(raw: &RawLimits, o: &Overrides) -> Result<Limits, ConfigError> {
    let d = Limits::default();
    let ms = |flag: Option<u64>, file: Option<u64>, default: Duration| {
        flag.or(file).map_or(default, Duration::from_millis)
    };
    let limits = Limits {
        threads: o.threads.or(raw.threads).unwrap_or(d.threads),
        max_line_bytes: o
            .max_line_bytes
            .or(raw.max_line_bytes)
            .unwrap_or(d.max_line_bytes),
        idle_timeout: ms(o.idle_timeout_ms, raw.idle_timeout_ms, d.idle_timeout),
        max_clients: o.max_clients.or(raw.max_clients).unwrap_or(d.max_clients),
        write_timeout: ms(o.write_timeout_ms, raw.write_timeout_ms, d.write_timeout),
        max_clock_ahead: ms(
            o.max_clock_ahead_ms,
            raw.max_clock_ahead_ms,
            d.max_clock_ahead,
        ),
        max_cached_clients: o
            .max_cached_clients
            .or(raw.max_cached_clients)
            .unwrap_or(d.max_cached_clients),
        reconnect_min: ms(o.reconnect_min_ms, raw.reconnect_min_ms, d.reconnect_min),
        reconnect_max: ms(o.reconnect_max_ms, raw.reconnect_max_ms, d.reconnect_max),
        peer_garbage_lines: o
            .peer_garbage_lines
            .or(raw.peer_garbage_lines)
            .unwrap_or(d.peer_garbage_lines),
        peer_queue: o.peer_queue.or(raw.peer_queue).unwrap_or(d.peer_queue),
        handshake_timeout: ms(
            o.handshake_timeout_ms,
            raw.handshake_timeout_ms,
            d.handshake_timeout,
        ),
        park_idle: ms(o.park_idle_ms, raw.park_idle_ms, d.park_idle),
    };
    let positive = [
        ("threads", limits.threads as u128),
        ("max_line_bytes", limits.max_line_bytes as u128),
        ("idle_timeout_ms", limits.idle_timeout.as_millis()),
        ("max_clients", limits.max_clients as u128),
        ("write_timeout_ms", limits.write_timeout.as_millis()),
        ("max_clock_ahead_ms", limits.max_clock_ahead.as_millis()),
        ("max_cached_clients", limits.max_cached_clients as u128),
        ("reconnect_min_ms", limits.reconnect_min.as_millis()),
        ("peer_garbage_lines", u128::from(limits.peer_garbage_lines)),
        ("peer_queue", limits.peer_queue as u128),
        ("handshake_timeout_ms", limits.handshake_timeout.as_millis()),
    ];
    if let Some((name, _)) = positive.iter().find(|(_, value)| *value == 0) {
        return Err(error(format!("[limits] {name} must be more than 0")));
    }
    if limits.threads > MAX_THREADS {
        return Err(error(format!(
            "[limits] threads must be at most {MAX_THREADS}"
        )));
    }
    if limits.reconnect_max < limits.reconnect_min {
        return Err(error(
            "[limits] reconnect_max_ms must be at least reconnect_min_ms",
        ));
    }
    Ok(limits)
}

/// `[log]` and the `--log-*` flags (a flag beats the file).
fn log_options(raw: &RawLog, o: &Overrides) -> Result<LogOptions, ConfigError> {
    let d = LogOptions::default();
    let options = LogOptions {
        max_bytes: o.log_max_bytes.or(raw.max_bytes).unwrap_or(d.max_bytes),
        keep: o.log_keep.or(raw.keep).unwrap_or(d.keep),
        answers: o.log_answers.or(raw.answers).unwrap_or(d.answers),
    };
    if options.keep == 0 {
        return Err(error("[log] keep must be at least 1"));
    }
    Ok(options)
}

fn servers(raw: Vec<RawServer>) -> Result<Vec<ServerConfig>, ConfigError> {
    if raw.is_empty() {
        return Err(error("no [[server]] entries"));
    }
    let mut names = BTreeSet::new();
    let mut addrs = BTreeSet::new();
    for server in &raw {
        check_name(&server.name)?;
        if !names.insert(server.name.as_str()) {
            return Err(error(format!("server {:?} is named twice", server.name)));
        }
        check_addr(&server.name, &server.addr)?;
        if server.store_dir.as_deref() == Some("") {
            return Err(error(format!(
                "server {:?}: store_dir is empty",
                server.name
            )));
        }
        if !addrs.insert(server.addr.as_str()) {
            return Err(error(format!("address {:?} is used twice", server.addr)));
        }
    }
    // Links are bidirectional: a link named on either side is a link.
    let mut links: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for server in &raw {
        for peer in &server.peers {
            if !names.contains(peer.as_str()) {
                return Err(error(format!(
                    "server {:?}: peer {peer:?} is not a server",
                    server.name
                )));
            }
            if *peer == server.name {
                return Err(error(format!(
                    "server {:?} names itself as a peer",
                    server.name
                )));
            }
            links.entry(&server.name).or_default().insert(peer);
            links.entry(peer).or_default().insert(&server.name);
        }
    }
    Ok(raw
        .iter()
        .map(|server| ServerConfig {
            name: server.name.clone(),
            addr: server.addr.clone(),
            peers: links
                .get(server.name.as_str())
                .map(|peers| peers.iter().map(|p| p.to_string()).collect())
                .unwrap_or_default(),
            store_dir: server.store_dir.as_ref().map(std::path::PathBuf::from),
        })
        .collect())
}

/// A server name is one protocol field: printable, no white space.
fn check_name(name: &str) -> Result<(), ConfigError> {
    if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(error(format!(
            "server name {name:?} must be non-empty with no white space"
        )));
    }
    Ok(())
}

/// `host:port` or `[v6]:port`, with a port from 1 to 65535.
fn check_addr(name: &str, addr: &str) -> Result<(), ConfigError> {
    let bad = || {
        error(format!(
            "server {name:?}: address {addr:?} is not host:port"
        ))
    };
    let (host, port) = addr.rsplit_once(':').ok_or_else(bad)?;
    let host_ok = if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        v6.parse::<std::net::Ipv6Addr>().is_ok()
    } else {
        !host.is_empty()
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_')
    };
    match port.parse::<u16>() {
        Ok(port) if port > 0 && host_ok => Ok(()),
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, &Overrides::default())
    }

    const TWO: &str = "[[server]]\nname = \"A\"\naddr = \"127.0.0.1:1\"\npeers = [\"B\"]\n\
                       [[server]]\nname = \"B\"\naddr = \"127.0.0.1:2\"\n";

    #[test]
    fn default_herd_is_protocol_section_1() {
        let herd = Config::default_herd();
        let table: Vec<(&str, &str, Vec<&str>)> = herd
            .servers
            .iter()
            .map(|s| {
                (
                    s.name.as_str(),
                    s.addr.as_str(),
                    s.peers.iter().map(|p| p.as_str()).collect(),
                )
            })
            .collect();
        assert_eq!(
            table,
            vec![
                (
                    "Bernard",
                    "127.0.0.1:12331",
                    vec!["Jaquez", "Johnson", "Juzang"]
                ),
                ("Clark", "127.0.0.1:12332", vec!["Jaquez", "Juzang"]),
                ("Jaquez", "127.0.0.1:12333", vec!["Bernard", "Clark"]),
                ("Johnson", "127.0.0.1:12334", vec!["Bernard", "Juzang"]),
                (
                    "Juzang",
                    "127.0.0.1:12335",
                    vec!["Bernard", "Clark", "Johnson"]
                ),
            ]
        );
        assert_eq!(herd.places.provider, Provider::Offline);
        assert_eq!(herd.places.timeout, Duration::from_secs(5));
        assert_eq!(herd.limits, Limits::default());
        assert_eq!(herd.log, LogOptions::default());
    }

    #[test]
    fn the_log_table_and_its_flags() {
        let text = format!("{TWO}[log]\nmax_bytes = 1000\nkeep = 3\nanswers = true\n");
        let config = parse(&text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            config.log,
            LogOptions {
                max_bytes: 1000,
                keep: 3,
                answers: true
            }
        );
        let overrides = Overrides {
            log_max_bytes: Some(0),
            log_keep: Some(7),
            ..Overrides::default()
        };
        let config = Config::parse(&text, &overrides).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((config.log.max_bytes, config.log.keep), (0, 7));
        assert!(config.log.answers);
        let defaults = parse(TWO).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((defaults.log.max_bytes, defaults.log.keep), (0, 5));
        assert!(!defaults.log.answers);
    }

    #[test]
    fn the_store_table_and_store_dir() {
        let text = format!(
            "{}[store]\nsync = \"always\"\n",
            TWO.replace("peers = [\"B\"]", "peers = [\"B\"]\nstore_dir = \"data/A\"")
        );
        let config = parse(&text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(config.store_sync, SyncMode::Always);
        assert_eq!(
            config.servers[0].store_dir.as_deref(),
            Some(std::path::Path::new("data/A"))
        );
        assert_eq!(config.servers[1].store_dir, None);
        let overrides = Overrides {
            store_sync: Some(SyncMode::Never),
            ..Overrides::default()
        };
        let config = Config::parse(&text, &overrides).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(config.store_sync, SyncMode::Never);
        let defaults = parse(TWO).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(defaults.store_sync, SyncMode::EverySec);
    }

    #[test]
    fn links_are_made_symmetric() {
        let config = parse(TWO).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(config.servers[1].peers, vec!["A".to_string()]);
    }

    #[test]
    fn overrides_beat_the_file() {
        let text = format!("{TWO}[limits]\nthreads = 8\nidle_timeout_ms = 500\n");
        let overrides = Overrides {
            threads: Some(4),
            ..Overrides::default()
        };
        let config = Config::parse(&text, &overrides).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(config.limits.threads, 4);
        assert_eq!(config.limits.idle_timeout, Duration::from_millis(500));
    }

    #[test]
    fn the_clock_window_and_the_cache_bound_are_limits() {
        let text = format!("{TWO}[limits]\nmax_clock_ahead_ms = 1500\nmax_cached_clients = 7\n");
        let config = parse(&text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(config.limits.max_clock_ahead, Duration::from_millis(1500));
        assert_eq!(config.limits.max_cached_clients, 7);
        let overrides = Overrides {
            max_clock_ahead_ms: Some(9),
            max_cached_clients: Some(3),
            ..Overrides::default()
        };
        let config = Config::parse(&text, &overrides).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(config.limits.max_clock_ahead, Duration::from_millis(9));
        assert_eq!(config.limits.max_cached_clients, 3);
        let defaults = Limits::default();
        assert_eq!(defaults.max_clock_ahead, Duration::from_secs(60));
        assert_eq!(defaults.max_cached_clients, 1_000_000);
    }

    #[test]
    fn every_mistake_is_one_clear_line() {
        let cases = [
            (
                TWO.replace("peers = [\"B\"]", "peers = [\"C\"]"),
                "peer \"C\" is not a server",
            ),
            (TWO.replace("127.0.0.1:2", "127.0.0.1"), "is not host:port"),
            (
                TWO.replace("127.0.0.1:2", "127.0.0.1:0"),
                "is not host:port",
            ),
            (TWO.replace("127.0.0.1:2", "127.0.0.1:1"), "used twice"),
            (TWO.replace("name = \"B\"", "name = \"A\""), "named twice"),
            (
                TWO.replace("name = \"B\"", "name = \"B C\""),
                "no white space",
            ),
            (
                TWO.replace("peers = [\"B\"]", "peers = [\"A\"]"),
                "names itself",
            ),
            (format!("{TWO}[places]\nprovider = \"bing\"\n"), "unknown"),
            (
                format!("{TWO}[places]\nurl = \"ftp://x\"\n"),
                "not an http(s) URL",
            ),
            (format!("{TWO}[places]\ntimeout_ms = 0\n"), "more than 0"),
            (
                format!("{TWO}[store]\nsync = \"sometimes\"\n"),
                "[store] sync \"sometimes\" is unknown",
            ),
            (
                format!("{TWO}[store]\nfsync = \"always\"\n"),
                "unknown field",
            ),
            (
                TWO.replace("peers = [\"B\"]", "peers = [\"B\"]\nstore_dir = \"\""),
                "store_dir is empty",
            ),
            (
                format!("{TWO}[limits]\nthreads = 0\n"),
                "threads must be more than 0",
            ),
            (
                format!("{TWO}[limits]\nreconnect_max_ms = 10\n"),
                "at least reconnect_min_ms",
            ),
            (format!("{TWO}[limits]\nthread = 4\n"), "unknown field"),
            (
                format!("{TWO}[log]\nkeep = 0\n"),
                "[log] keep must be at least 1",
            ),
            (format!("{TWO}[log]\nrotate = true\n"), "unknown field"),
            (format!("{TWO}[log]\nmax_bytes = -1\n"), "line"),
            (
                format!("{TWO}[herd]\nsecret_env = \"\"\n"),
                "not an environment variable name",
            ),
            (
                format!("{TWO}[limits]\nhandshake_timeout_ms = 0\n"),
                "handshake_timeout_ms must be more than 0",
            ),
            (
                format!("{TWO}[limits]\nmax_clock_ahead_ms = 0\n"),
                "max_clock_ahead_ms must be more than 0",
            ),
            (
                format!("{TWO}[limits]\nmax_cached_clients = 0\n"),
                "max_cached_clients must be more than 0",
            ),
            ("[[server]]\nname = 3\n".to_string(), "line 2"),
            (String::new(), "no [[server]]"),
        ];
        for (text, expected) in cases {
            match parse(&text) {
                Ok(_) => panic!("accepted: {text}"),
                Err(e) => {
                    assert!(
                        e.0.contains(expected),
                        "{:?} does not say {expected:?}",
                        e.0
                    );
                    assert!(!e.0.contains('\n'), "{:?} is more than one line", e.0);
                }
            }
        }
    }

    #[test]
    fn every_provider_name_is_known() {
        for (name, provider) in [
            ("offline", Provider::Offline),
            ("google", Provider::Google),
            ("google-new", Provider::GoogleNew),
        ] {
            let text = format!("{TWO}[places]\nprovider = \"{name}\"\n");
            let config = parse(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(config.places.provider, provider);
        }
        let unknown = parse(&format!("{TWO}[places]\nprovider = \"bing\"\n"));
        let message = unknown.err().map(|e| e.0).unwrap_or_default();
        assert!(message.contains("\"google-new\""), "{message}");
    }

    #[test]
    fn unknown_server_lists_the_known_ones() {
        let config = parse(TWO).unwrap_or_else(|e| panic!("{e}"));
        let message = config.server("Z").err().map(|e| e.0).unwrap_or_default();
        assert_eq!(message, "unknown server \"Z\" (servers: A, B)");
    }
}
