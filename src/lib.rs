//! # herd: a proxy herd of location servers, multithreaded and blocking
//!
//! Several named servers take clients' locations (`IAMAT`), answer what is
//! near a client (`WHATSAT`, through a Places provider), and flood every
//! location update to each other over persistent TCP links, so that any
//! server can answer for any client. This crate is the blocking build: a
//! `std::net::TcpListener`, a fixed `threadpool` of client workers, one
//! `parking_lot::RwLock` for the cache, and one sender thread per neighbour.
//!
//! ## Layout, in the order a line travels
//!
//! ```text
//! accept.rs ──(pool)──> connection.rs ──> line_reader.rs ──> cmd/mod.rs ──> protocol.rs
//!                                                               │
//!          cmd/iamat.rs ──> cache.rs ──> flood.rs ──> (neighbours' peer.rs)
//!          cmd/whatsat.rs ──> cache.rs, places/ ──> answer
//!          peer.rs ──> cmd/at.rs ──> cache.rs ──> flood.rs
//! ```
//!
//! `node.rs` builds the shared [`node::NodeState`] and starts and stops the
//! threads; `config.rs` holds the herd and every limit; `logfile.rs` writes
//! the per-node log; `shutdown.rs` is the stop latch; `client.rs` is a small
//! blocking client used by `herd client` and the tests; `up.rs` runs a whole
//! herd as child processes (`herd up`); `metrics/` counts what the node
//! does and serves it as Prometheus text (`herd node --metrics-addr`).

#![forbid(unsafe_code)]

pub mod accept;
pub mod cache;
pub mod client;
pub mod cmd;
pub mod config;
pub mod connection;
pub mod fd_limit;
pub mod flood;
pub mod framing;
pub mod line_reader;
pub mod logfile;
pub mod metrics;
pub mod node;
pub mod node_args;
pub mod peer;
pub mod peer_auth;
pub mod peer_handshake;
pub mod peer_socket;
pub mod places;
pub mod protocol;
pub mod shutdown;
pub mod up;

pub use config::{Config, Limits, Overrides};
pub use node::{NodeHandle, NodeOptions, NodeState, StopReport, start};
