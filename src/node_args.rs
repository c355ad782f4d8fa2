//! The command-line flags every build's `node` command takes (PROTOCOL §6),
//! in one place, so that the blocking binary (`main.rs`) and the tokio
//! build (`compare/tokio`) accept the same flags with the same help, and
//! turn them into the same config [`Overrides`].

use std::path::PathBuf;

use clap::Args;

use crate::config::Overrides;
use crate::store::SyncMode;

#[derive(Args)]
pub struct NodeArgs {
    /// Server name, as in the config (default herd: Bernard, Clark, Jaquez,
    /// Johnson, Juzang).
    pub name: String,
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(flatten)]
    pub limits: LimitArgs,
    #[command(flatten)]
    pub log: LogArgs,
    #[command(flatten)]
    pub store: StoreArgs,
    /// Serve Prometheus metrics at http://HOST:PORT/metrics (blocking
    /// build only; other builds refuse it).
    #[arg(long, value_name = "HOST:PORT")]
    pub metrics_addr: Option<String>,
}

#[derive(Args)]
pub struct UpArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// When a server exits, stop the others and exit 1 instead of
    /// restarting it (for a supervisor above `herd up`, such as systemd).
    #[arg(long)]
    pub exit_on_failure: bool,
}

#[derive(Args)]
pub struct CommonArgs {
    /// Herd config (TOML); without it, the default herd on 127.0.0.1:12331-12335.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Worker threads: the blocking build's fixed pool of client workers,
    /// the tokio build's runtime workers [default: 128, or the config's].
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Where <NAME>.log is written (created if missing).
    #[arg(long, value_name = "DIR", default_value = "logs")]
    pub log_dir: PathBuf,
}

/// Every limit of PROTOCOL §5; each overrides the config's `[limits]`.
#[derive(Args)]
pub struct LimitArgs {
    /// Longest line in bytes [default: 65536].
    #[arg(long, value_name = "BYTES")]
    pub max_line_bytes: Option<usize>,
    /// Close a client that completes no line for this long [default: 60000].
    #[arg(long, value_name = "MS")]
    pub idle_timeout_ms: Option<u64>,
    /// Client connections served plus waiting [default: 1024].
    #[arg(long, value_name = "N")]
    pub max_clients: Option<usize>,
    /// Close a client that has not taken an answer this long after its
    /// first byte left: one deadline per answer [default: 10000].
    #[arg(long, value_name = "MS")]
    pub write_timeout_ms: Option<u64>,
    /// Refuse (`? `) an IAMAT more than this far ahead of the server's
    /// clock [default: 60000].
    #[arg(long, value_name = "MS")]
    pub max_clock_ahead_ms: Option<u64>,
    /// Clients the cache keeps; a new one past it evicts the oldest
    /// [default: 1000000].
    #[arg(long, value_name = "N")]
    pub max_cached_clients: Option<usize>,
    /// First neighbour reconnect wait [default: 100].
    #[arg(long, value_name = "MS")]
    pub reconnect_min_ms: Option<u64>,
    /// Longest neighbour reconnect wait [default: 2000].
    #[arg(long, value_name = "MS")]
    pub reconnect_max_ms: Option<u64>,
    /// Invalid lines before a neighbour's link is closed [default: 10].
    #[arg(long, value_name = "N")]
    pub peer_garbage_lines: Option<u32>,
    /// Updates queued per neighbour [default: 10000].
    #[arg(long, value_name = "N")]
    pub peer_queue: Option<usize>,
    /// With a herd secret: deadline for each peer-handshake line [default: 5000].
    #[arg(long, value_name = "MS")]
    pub handshake_timeout_ms: Option<u64>,
    /// Park a client that completes no line for this long off the worker
    /// pool until it sends again; 0: never (blocking build; others ignore
    /// it) [default: 100].
    #[arg(long, value_name = "MS")]
    pub park_idle_ms: Option<u64>,
    /// How long a WHATSAT waits for Places [default: 5000].
    #[arg(long, value_name = "MS")]
    pub places_timeout_ms: Option<u64>,
}

/// How the log is kept (PROTOCOL §4); each overrides the config's `[log]`.
#[derive(Args)]
pub struct LogArgs {
    /// Log WHATSAT answers whole, not as one summary entry each.
    #[arg(long)]
    pub log_answers: bool,
    /// Rotate <NAME>.log before an entry would take it past this many
    /// bytes; 0: never [default: 0].
    #[arg(long, value_name = "BYTES")]
    pub log_max_bytes: Option<u64>,
    /// Rotated files kept, <NAME>.log.1 to <NAME>.log.K, at least 1 [default: 5].
    #[arg(long, value_name = "K")]
    pub log_keep: Option<u32>,
}

/// A durable store (PROTOCOL §8, the Rust builds).
#[derive(Args)]
pub struct StoreArgs {
    /// Keep the cache in a durable store in DIR (created if missing),
    /// loaded before the port opens [default: the config's store_dir, or
    /// none: memory only].
    #[arg(long, value_name = "DIR")]
    pub store_dir: Option<PathBuf>,
    /// What an IAMAT answer promises with a store: always (on disk before
    /// the answer), everysec (at most the last second lost), never (the OS
    /// decides) [default: everysec, or the config's [store] sync].
    #[arg(long, value_name = "MODE", value_parser = parse_sync)]
    pub store_sync: Option<SyncMode>,
}

fn parse_sync(word: &str) -> Result<SyncMode, String> {
    SyncMode::from_word(word).ok_or_else(|| format!("{word:?} is not always, everysec or never"))
}

impl NodeArgs {
    /// The flags that override the config's `[limits]`.
    pub fn overrides(&self) -> Overrides {
        let l = &self.limits;
        Overrides {
            threads: self.common.threads,
            max_line_bytes: l.max_line_bytes,
            idle_timeout_ms: l.idle_timeout_ms,
            max_clients: l.max_clients,
            write_timeout_ms: l.write_timeout_ms,
            max_clock_ahead_ms: l.max_clock_ahead_ms,
            max_cached_clients: l.max_cached_clients,
            reconnect_min_ms: l.reconnect_min_ms,
            reconnect_max_ms: l.reconnect_max_ms,
            peer_garbage_lines: l.peer_garbage_lines,
            peer_queue: l.peer_queue,
            handshake_timeout_ms: l.handshake_timeout_ms,
            park_idle_ms: l.park_idle_ms,
            places_timeout_ms: l.places_timeout_ms,
            log_max_bytes: self.log.log_max_bytes,
            log_keep: self.log.log_keep,
            log_answers: self.log.log_answers.then_some(true),
            store_sync: self.store.store_sync,
        }
    }
}
