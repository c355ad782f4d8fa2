//! The one integration-test binary (ripgrep style): real sockets, nodes
//! in-process on port 0, and the real `herd` binary for the CLI.

mod cli;
mod conformance;
mod docs;
mod dump_amplification;
mod fuzz_corpus;
mod herd;
mod import_cycles;
mod limits;
mod link_priority;
mod link_socket;
mod logs;
mod metrics;
mod mixed;
mod park;
mod peer_auth;
mod places;
mod properties;
mod providers;
mod store;
mod support;
