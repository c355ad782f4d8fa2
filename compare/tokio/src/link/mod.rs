//! Links between servers (PROTOCOL §3, §7) of a tokio node, in one folder,
//! file for file as in the blocking build's `src/link/`:
//!
//! - `queues.rs`: a bounded `tokio::sync::mpsc` queue per neighbour.
//! - `outbound.rs`: one sender task per neighbour.
//! - `inbound.rs`: a task per neighbour's link to us.
//! - `registry.rs`: the open inbound links.
//! - `handshake.rs`: PROTOCOL §7 over tokio sockets.
//!
//! The §7 lines and checks (`herd::link::auth`) and `TCP_USER_TIMEOUT`
//! (`herd::link::socket`) come from the shared core.

pub mod handshake;
pub mod inbound;
pub mod outbound;
pub mod queues;
pub mod registry;
