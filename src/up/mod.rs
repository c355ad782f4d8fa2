//! `herd up`: runs every server of a config as a child process and keeps
//! them running.
//!
//! Input is a validated config and the options `herd up` was given; each
//! server becomes `herd node NAME ...` (this same binary, `child.rs`), one
//! line per server is printed (name, address, log file), and `herd up`
//! waits until every server answers a protocol round trip
//! (`readiness.rs`). From then on it supervises (`supervise.rs`): a child
//! that exits is restarted with a backoff (`backoff.rs`), or, with
//! `--exit-on-failure`, the herd is stopped and `herd up` exits 1. When the
//! stop latch fires (Ctrl-C or SIGTERM) every child gets SIGTERM, then
//! SIGKILL if it has not exited within
//! [`UP_CHILD_STOP_DEADLINE`](crate::limits::UP_CHILD_STOP_DEADLINE).

mod backoff;
mod child;
mod readiness;
mod supervise;

use std::io::Write;

pub use child::{UpOptions, log_path};
pub use readiness::PROBE;

use crate::config::Config;
use crate::shutdown::Shutdown;
use child::{Server, stop_all};
use supervise::Outcome;

/// Runs the herd until `stop` fires; returns the process exit code: 0
/// after a clean stop, 1 when the herd did not start or (with
/// `--exit-on-failure`) a server exited.
pub fn run(config: &Config, options: &UpOptions, stop: &Shutdown, out: &mut dyn Write) -> i32 {
    let mut servers: Vec<Server> = Vec::new();
    for entry in &config.servers {
        let mut server = Server::new(&entry.name, &entry.addr);
        if let Err(e) = server.spawn(options) {
            let _ = writeln!(out, "herd up: cannot start {}: {e}", server.name);
            stop_all(&mut servers, out);
            return 1;
        }
        let log = log_path(&options.log_dir, &server.name);
        let _ = writeln!(
            out,
            "{:<10} {:<22} {}",
            server.name,
            server.addr,
            log.display()
        );
        servers.push(server);
    }
    if let Err(message) = readiness::wait_until_ready(&mut servers, stop) {
        let _ = writeln!(out, "herd up: {message}; stopping the herd");
        stop_all(&mut servers, out);
        return 1;
    }
    let _ = writeln!(
        out,
        "herd up: {} servers answering; Ctrl-C stops them",
        servers.len()
    );
    let _ = out.flush();
    let outcome = supervise::supervise(&mut servers, options, stop, out);
    stop_all(&mut servers, out);
    match outcome {
        Outcome::Stopped => {
            let _ = writeln!(out, "herd up: stopped");
            0
        }
        Outcome::Failed => {
            let _ = writeln!(out, "herd up: stopped after a failure");
            1
        }
    }
}
