//! Links between servers (PROTOCOL §3, §7): everything a node does with
//! its neighbours, in one folder.
//!
//! - `queues.rs`: a bounded queue per neighbour, filled by the commands
//!   that changed the cache ([`queues::Flooder`]).
//! - `outbound.rs`: one sender thread per neighbour: connect, hello,
//!   catch-up dump, then the queued AT lines.
//! - `inbound.rs`: a thread per neighbour's link to us, AT lines in.
//! - `registry.rs`: the open inbound links, so a new one replaces the old
//!   and stopping closes them all.
//! - `handshake.rs`: PROTOCOL §7 on blocking sockets, both halves.
//! - `priority.rs`: inbound readers run ahead of the client workers.
//! - `reading.rs`: what an inbound link does with each line (shared).
//! - `auth.rs`: the §7 lines and checks, pure (shared with tokio).
//! - `socket.rs`: `TCP_USER_TIMEOUT` on outgoing links (shared with tokio).

pub mod auth;
pub mod handshake;
pub mod inbound;
pub mod outbound;
pub mod priority;
pub mod queues;
pub mod reading;
pub mod registry;
pub mod socket;
