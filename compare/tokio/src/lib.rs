//! # herd-tokio: the herd on tokio
//!
//! The same server as the blocking build (`src/` at the root), speaking
//! PROTOCOL §1–6 byte for byte, with one difference: the I/O model. Every
//! connection is a task on tokio's work-stealing runtime (`--threads`
//! worker threads) instead of a pool worker; flooding uses a bounded
//! `tokio::sync::mpsc` queue and a task per neighbour instead of a
//! crossbeam channel and a thread; Places is asked through an async HTTP
//! client (hyper) instead of blocking `ureq`. Everything that is not I/O
//! comes from the root crate: parsing and formatting (`herd::protocol`),
//! line framing (`herd::framing`), the cache and merge rule
//! (`herd::cache`), config and flags, the per-node log, Places request
//! building and answer shaping, and the offline index.
//!
//! ## Layout, in the order a line travels
//!
//! ```text
//! accept.rs ──(task)──> connection.rs ──> line_reader.rs ──> cmd.rs ──> herd::protocol
//!                                                              │
//!        IAMAT ──> herd::cache ──> flood.rs ──> (neighbours' peer.rs)
//!        WHATSAT ──> herd::cache, places.rs (await) ──> answer
//!        peer.rs ──> cmd.rs (AT) ──> herd::cache ──> flood.rs
//! ```
//!
//! `node.rs` builds the shared state and runs the stop sequence.

#![forbid(unsafe_code)]

pub mod accept;
pub mod cmd;
pub mod connection;
pub mod flood;
pub mod line_reader;
pub mod node;
pub mod peer;
pub mod peer_handshake;
pub mod places;

pub use node::{NodeHandle, NodeOptions, NodeState, start};
