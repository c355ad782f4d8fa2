//! `herd-launch`: starts a herd of any build (blocking, tokio, asyncio,
//! node) as real processes, the way PROTOCOL §6 says every build starts
//! (`<launcher> node NAME --config F --threads N --log-dir D ...`), and
//! waits until every server answers a protocol round trip.
//!
//! It exists because the root crate's tests, herd-loadgen's tests, the
//! benchmark lab and the fault harness each had a copy of the same few
//! hundred lines (write a config with free ports, spawn the launchers, wait
//! until they listen, kill them afterwards), each a little weaker than the
//! best of them. Here is the one copy:
//!
//! - [`free_ports`]: loopback ports chosen by binding port 0, all held until
//!   every one is chosen; a start whose port was taken meanwhile is retried
//!   with fresh ports ([`Launch::attempts`]).
//! - [`Proc`]: every child in a process group of its own, its output kept by
//!   reader threads, stopped with SIGTERM then SIGKILL after a grace period,
//!   on drop too; a registry of live groups lets a Ctrl-C handler stop them
//!   all ([`signal_live`]).
//! - [`answers`]: a server is up when it answers an invalid line with
//!   `? <line>` (PROTOCOL §2), not when a TCP connect succeeds. The line
//!   changes no state: it is not a command.
//! - every wait is bounded, and gives up early once [`cancel`] was called
//!   (the lab's and the fault harness's Ctrl-C).
//! - [`skip_or_fail`]: tests whose precondition is missing fail, unless
//!   `HERD_ALLOW_SKIP=1` says to skip them.

#![forbid(unsafe_code)]

mod build;
mod config;
mod herd;
mod proc;
mod ready;
mod skip;

pub use build::{Build, Paths};
pub use config::{FIVE, config_toml, free_ports, offline_places};
pub use herd::{Herd, Launch, Node};
pub use proc::{
    Lines, Output, Proc, Spec, cancel, cancel_flag, cancelled, check_cancelled, signal_live,
    stop_all, taskset,
};
pub use ready::{PROBE, answers, wait_answers};
pub use skip::{ALLOW_SKIP, skip_allowed, skip_or_fail};

pub use nix::sys::signal::Signal;
