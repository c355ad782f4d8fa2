//! The server's clock: "now" as exact integer nanoseconds since the POSIX
//! epoch, for IAMAT receipt times (PROTOCOL §2).
//!
//! A node takes its clock as a plain function, so production reads the
//! real-time clock per request ([`system_clock`]) and tests pass a fixed
//! one to check exact time differences. Shared by both Rust builds.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::protocol::Nanos;

/// A source of "now" as exact nanoseconds since the POSIX epoch.
pub type Clock = fn() -> Nanos;

/// The system's real-time clock as exact integer nanoseconds (negative
/// before 1970), read afresh on every call.
pub fn system_clock() -> Nanos {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(since) => Nanos(since.as_nanos() as i128),
        Err(before) => Nanos(-(before.duration().as_nanos() as i128)),
    }
}
