//! # herd: a proxy herd of location servers, multithreaded and blocking
//!
//! Several named servers take clients' locations (`IAMAT`), answer what is
//! near a client (`WHATSAT`, through a Places provider), and flood every
//! location update to each other over persistent TCP links, so that any
//! server can answer for any client. This crate is the blocking build: a
//! `std::net::TcpListener`, a fixed `threadpool` of client workers, one
//! `parking_lot::RwLock` for the cache, and one sender thread per neighbour.
//! It is also the core the tokio build (`compare/tokio`) is made from.
//!
//! ## Layout, in the order a line travels
//!
//! ```text
//! accept.rs ──(pool)──> connection.rs ──> line_reader.rs ──> cmd/mod.rs ──> dispatch.rs ──> protocol.rs
//!                                                               │
//!          cmd/iamat.rs ──> answer.rs, cache.rs ──> link/queues.rs ──> link/outbound.rs ──> (neighbour)
//!                                      └──> store/changes.rs ──> store/writer.rs ──> store/backend.rs (disk)
//!          cmd/whatsat.rs ──> cache.rs, places/ ──> answer.rs ──> the client
//!          link/inbound.rs ──> cmd/at.rs ──> cache.rs ──> link/queues.rs
//! ```
//!
//! Shared by both Rust builds (no I/O model in them): `protocol`,
//! `framing`, `dispatch`, `answer`, `record`, `cache`, `store` (durable
//! caches, with a writer thread of its own), `config`, `limits`,
//! `identity`, `clock`, `logfile`, `places` (but its blocking HTTP client),
//! `link::auth`, `link::socket`, `node_args`, `cli`, `fd_limit`.
//!
//! The blocking build: `node.rs` starts and stops the threads around the
//! shared [`state::NodeState`]; `accept`, `connection`, `line_reader`,
//! `cmd/`, `link/` (queues, outbound, inbound, registry, handshake);
//! `park.rs` parks quiet clients off the pool (`park_idle_ms`);
//! `shutdown.rs` is the stop latch; `metrics/` counts what the node does and
//! serves it as Prometheus text (`herd node --metrics-addr`); `client.rs`
//! is a small blocking client for `herd client` and the tests; `up/` runs
//! and supervises a whole herd as child processes (`herd up`). docs/architecture.md tells
//! the same with pictures.

#![forbid(unsafe_code)]

pub mod accept;
pub mod answer;
pub mod cache;
pub mod cli;
pub mod client;
pub mod clock;
pub mod cmd;
pub mod config;
pub mod connection;
pub mod dispatch;
pub mod fd_limit;
pub mod framing;
pub mod identity;
pub mod limits;
pub mod line_reader;
pub mod link;
pub mod logfile;
pub mod metrics;
pub mod node;
pub mod node_args;
#[cfg(any(target_os = "linux", target_os = "android"))]
pub mod park;
#[cfg(not(any(target_os = "linux", target_os = "android")))]
#[path = "park_unsupported.rs"]
pub mod park;
pub mod places;
pub mod protocol;
pub mod record;
pub mod shutdown;
pub mod state;
pub mod store;
pub mod up;

pub use config::{Config, Overrides};
pub use limits::Limits;
pub use node::{NodeHandle, NodeOptions, StopReport, start};
pub use state::NodeState;
