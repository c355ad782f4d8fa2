//! `herd up` once every server answers: the supervisor loop. It looks for
//! exited children every [`UP_POLL_INTERVAL`]; a child that exits while
//! `herd up` is not stopping is restarted after its [`Backoff`], probed
//! until it answers again, and each exit and restart is a line on stdout
//! (and the exit a notice in the server's own log). With
//! `--exit-on-failure` the first exit ends supervision instead, and the
//! caller stops the herd.

use std::io::Write;
use std::time::{Duration, Instant};

use super::backoff::Backoff;
use super::child::{Server, UpOptions, describe, show};
use super::readiness;
use crate::limits::{UP_POLL_INTERVAL, UP_PROBE_TIMEOUT, UP_READY_DEADLINE};
use crate::shutdown::Shutdown;

/// How supervision ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The stop latch fired (SIGINT or SIGTERM): stop the herd, exit 0.
    Stopped,
    /// A child exited and `--exit-on-failure` was given: stop, exit 1.
    Failed,
}

/// Where one server stands.
#[derive(Debug, Clone, Copy)]
enum Phase {
    /// Its child answered the probe at `since`.
    Answering { since: Instant },
    /// Its child was restarted at `spawned` and has not answered yet.
    Starting { spawned: Instant },
    /// No child runs; the next starts at `until`.
    Waiting { until: Instant },
}

struct Watch {
    phase: Phase,
    backoff: Backoff,
}

/// Supervises `servers`, whose children all answer, until the stop latch
/// fires or (with `--exit-on-failure`) a child exits.
pub fn supervise(
    servers: &mut [Server],
    options: &UpOptions,
    stop: &Shutdown,
    out: &mut dyn Write,
) -> Outcome {
    let now = Instant::now();
    let mut watches: Vec<Watch> = servers
        .iter()
        .map(|_| Watch {
            phase: Phase::Answering { since: now },
            backoff: Backoff::default(),
        })
        .collect();
    while !stop.wait(UP_POLL_INTERVAL) {
        for (server, watch) in servers.iter_mut().zip(&mut watches) {
            if stop.is_triggered() {
                break;
            }
            if step(server, watch, options, stop, out) == Some(Outcome::Failed) {
                return Outcome::Failed;
            }
            let _ = out.flush();
        }
    }
    Outcome::Stopped
}

/// One look at one server; `Some(Failed)` ends supervision.
fn step(
    server: &mut Server,
    watch: &mut Watch,
    options: &UpOptions,
    stop: &Shutdown,
    out: &mut dyn Write,
) -> Option<Outcome> {
    let name = server.name.clone();
    match watch.phase {
        Phase::Answering { since } => {
            let status = server.exited()?;
            // A node exits 0 only after SIGINT or SIGTERM. Ctrl-C in a
            // terminal reaches the children as well as `herd up`: give our
            // own latch a moment before calling the exit unexpected.
            if status.success() && stop.wait(UP_POLL_INTERVAL) {
                return None;
            }
            if options.exit_on_failure {
                let text = format!(
                    "herd up: {name} exited {}; --exit-on-failure: stopping the herd",
                    describe(status)
                );
                let _ = writeln!(out, "{text}");
                server.note_in_log(&options.log_dir, &text);
                return Some(Outcome::Failed);
            }
            restart_later(server, watch, options, out, since.elapsed(), |wait| {
                format!(
                    "herd up: {name} exited {}; restarting in {wait}",
                    describe(status)
                )
            });
        }
        Phase::Starting { spawned } => {
            if let Some(status) = server.exited() {
                restart_later(server, watch, options, out, Duration::ZERO, |wait| {
                    format!(
                        "herd up: {name} exited {} before answering; restarting in {wait}",
                        describe(status)
                    )
                });
            } else if readiness::answers(&server.addr, UP_PROBE_TIMEOUT).is_ok() {
                // The answer may come from another process on the port; a
                // child that could not bind is found exited next time.
                let _ = writeln!(out, "herd up: {name} restarted, answering");
                watch.phase = Phase::Answering {
                    since: Instant::now(),
                };
            } else if spawned.elapsed() >= UP_READY_DEADLINE {
                server.kill();
                restart_later(server, watch, options, out, Duration::ZERO, |wait| {
                    format!(
                        "herd up: {name} did not answer within {}s of its restart; killed, restarting in {wait}",
                        UP_READY_DEADLINE.as_secs()
                    )
                });
            }
        }
        Phase::Waiting { until } => {
            if Instant::now() < until || stop.is_triggered() {
                return None;
            }
            match server.spawn(options) {
                Ok(()) => {
                    watch.phase = Phase::Starting {
                        spawned: Instant::now(),
                    };
                }
                Err(e) => {
                    let wait = watch.backoff.after_exit(Duration::ZERO);
                    let _ = writeln!(
                        out,
                        "herd up: cannot restart {name}: {e}; trying again in {}",
                        show(wait)
                    );
                    watch.phase = Phase::Waiting {
                        until: Instant::now() + wait,
                    };
                }
            }
        }
    }
    None
}

/// Schedules the restart of `server`, whose child ran for `ran_for`, after
/// its backoff; `text` words the line (given the wait), which goes to
/// `herd up`'s output and to the node's log.
fn restart_later(
    server: &Server,
    watch: &mut Watch,
    options: &UpOptions,
    out: &mut dyn Write,
    ran_for: Duration,
    text: impl FnOnce(String) -> String,
) {
    let wait = watch.backoff.after_exit(ran_for);
    let text = text(show(wait));
    let _ = writeln!(out, "{text}");
    server.note_in_log(&options.log_dir, &text);
    watch.phase = Phase::Waiting {
        until: Instant::now() + wait,
    };
}
