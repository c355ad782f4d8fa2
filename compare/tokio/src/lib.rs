//! # herd-tokio: the herd on tokio
//!
//! The same server as the blocking build (`src/` at the root), speaking
//! PROTOCOL §1–7 byte for byte, with one difference: the I/O model. Every
//! connection is a task on tokio's work-stealing runtime (`--threads`
//! worker threads) instead of a pool worker; flooding uses a bounded
//! `tokio::sync::mpsc` queue and a task per neighbour instead of a
//! crossbeam channel and a thread; Places is asked through an async HTTP
//! client (hyper) instead of blocking `ureq`. Everything that is not I/O
//! comes from the root crate's shared core: parsing and formatting
//! (`herd::protocol`), line framing (`herd::framing`), which line is what
//! (`herd::dispatch`), the answers (`herd::answer`), the cache and merge
//! rule (`herd::cache`), config, limits and flags, the per-node log, the
//! §7 checks (`herd::link::auth`), Places request building and answer
//! shaping, and the offline index.
//!
//! ## Layout, in the order a line travels (file for file as the blocking build)
//!
//! ```text
//! accept.rs ──(task)──> connection.rs ──> line_reader.rs ──> cmd.rs ──> herd::dispatch
//!                                                              │
//!        IAMAT ──> herd::answer, herd::cache ──> link/queues.rs ──> link/outbound.rs
//!        WHATSAT ──> herd::cache, places.rs (await) ──> herd::answer
//!        link/inbound.rs ──> cmd.rs (AT) ──> herd::cache ──> link/queues.rs
//! ```
//!
//! `state.rs` is the shared handle; `node.rs` starts the tasks and runs the
//! stop sequence.

#![forbid(unsafe_code)]

pub mod accept;
pub mod cmd;
pub mod connection;
pub mod line_reader;
pub mod link;
pub mod node;
pub mod places;
pub mod state;

pub use node::{NodeHandle, NodeOptions, start};
pub use state::NodeState;
