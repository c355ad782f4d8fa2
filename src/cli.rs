//! What the command lines of both Rust builds share: how a failure ends
//! the program, how the config and the herd secret are loaded, and how
//! diagnostics are set up.
//!
//! Every failure leaves as one line on stderr, `<program>: <message>`, and
//! an exit code: [`Failure::config`] (2) for a bad command line or config,
//! found before any port is opened; [`Failure::running`] (1) for anything
//! that fails while running (a port in use, a server that cannot be
//! reached).

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::Path;
use std::process::ExitCode;

use crate::config::{self, Config, Overrides, ServerConfig};
use crate::link::auth::HerdSecret;
use crate::node_args::StoreArgs;
use crate::store::{self, Opened};

/// A failure that ends the program: its message and exit code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub message: String,
    pub code: u8,
}

impl Failure {
    /// A bad command line or config: exit 2.
    pub fn config(message: impl ToString) -> Failure {
        Failure {
            message: message.to_string(),
            code: 2,
        }
    }

    /// A failure while running: exit 1.
    pub fn running(message: impl ToString) -> Failure {
        Failure {
            message: message.to_string(),
            code: 1,
        }
    }
}

/// Ends `program`: 0 on success, else its one line on stderr and its code.
pub fn exit(program: &str, result: Result<(), Failure>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure { message, code }) => {
            eprintln!("{program}: {message}");
            ExitCode::from(code)
        }
    }
}

/// Diagnostics on stderr through `env_logger` (`RUST_LOG`, `info` by
/// default). The modules in `quiet` stay at `warn` whatever `RUST_LOG`
/// says: HTTP libraries log request URLs at debug level, and the legacy
/// Places API's key is in its URL. The store's crates (fjall, lsm_tree)
/// are silent: the node's log says what the store did and why it failed
/// (PROTOCOL §8), and a store that cannot be opened is one line on stderr.
pub fn init_logging(quiet: &[&str]) {
    let mut builder =
        env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"));
    for module in quiet {
        builder.filter_module(module, log::LevelFilter::Warn);
    }
    for module in ["fjall", "lsm_tree"] {
        builder.filter_module(module, log::LevelFilter::Off);
    }
    builder.init();
}

/// The config at `path`, or the default herd (PROTOCOL §1) without one.
pub fn load_config(path: Option<&Path>, overrides: &Overrides) -> Result<Config, Failure> {
    match path {
        Some(path) => Config::load(path, overrides),
        None => Config::parse(config::DEFAULT_CONFIG, overrides),
    }
    .map_err(Failure::config)
}

/// The herd secret from the variable `[herd] secret_env` names, if any.
pub fn herd_secret(config: &Config) -> Result<Option<HerdSecret>, Failure> {
    config
        .secret_env
        .as_deref()
        .map(HerdSecret::from_env)
        .transpose()
        .map_err(Failure::config)
}

/// The `host:port` given to `flag`, as the first address it names; else a
/// command-line error.
pub fn resolve_flag_addr(flag: &str, text: &str) -> Result<SocketAddr, Failure> {
    let bad = |why: String| Failure::config(format!("{flag} {text:?}: {why}"));
    let mut addrs = text.to_socket_addrs().map_err(|e| bad(e.to_string()))?;
    addrs
        .next()
        .ok_or_else(|| bad("names no address".to_owned()))
}

/// Opens and reads the node's durable store (`--store-dir`, else the
/// config's `store_dir`), if it has one, before any port opens; a store
/// that cannot be opened or read is a start-up error (exit 2, PROTOCOL §8).
pub fn open_store(args: &StoreArgs, me: &ServerConfig) -> Result<Option<Opened>, Failure> {
    let Some(dir) = args.store_dir.as_ref().or(me.store_dir.as_ref()) else {
        return Ok(None);
    };
    store::open(dir)
        .map(Some)
        .map_err(|e| Failure::config(format!("{}: {e}", me.name)))
}
