//! Open loop: requests are due at a fixed total rate, evenly spaced and
//! dealt round-robin to the connections. A connection sends each request
//! at its due time, or, while the previous one is still outstanding, as
//! soon as that one is answered (queued, not pipelined). Latency runs from
//! the due time, so a slow server is charged for the wait it causes (no
//! coordinated omission). One exception keeps the generator's own slack out
//! of the figures: tokio's timer wakes up to 1 ms late, so when the
//! connection was free at the due time (the server caused no wait), latency
//! runs from the actual send. That slack is reported apart as `send_lag_us`.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::report::Stats;
use crate::requests::{ErrorKind, Generator};
use crate::run::{self, RunCtx};
use crate::wire::Conn;

/// One connection's share of the schedule; returns what it saw.
pub async fn connection(ctx: Arc<RunCtx>, index: usize) -> Stats {
    let target = ctx.target(index);
    let mut generator = Generator::new(index as u64);
    let mut conn: Option<Conn> = None;
    let mut stats = Stats::with_sink(ctx.sink.clone());
    // Requests still due after this are never sent: counted as `backlog`.
    let drain_deadline = ctx.end + ctx.timeout;
    let spacing = 1.0 / ctx.rate;
    let stride = ctx.connections as f64;
    // When this connection's last answer came in.
    let mut free_since = ctx.start;
    for j in 0u64.. {
        let due = ctx.start + Duration::from_secs_f64((j as f64 * stride + index as f64) * spacing);
        if ctx.stopped(due) {
            break;
        }
        let recording = due >= ctx.measure_start;
        if Instant::now() >= drain_deadline {
            let request = generator.next_request(&ctx.plan);
            if recording {
                stats.record_error("", ErrorKind::Backlog, &request.line, b"");
            } else {
                stats.warmup_errors += 1;
            }
            continue;
        }
        // Connect while waiting for the due time, not after it.
        let connected = run::ensure_connected(&ctx, target, &mut conn).await;
        if Instant::now() < due {
            tokio::time::sleep_until(due).await;
        }
        let request = generator.next_request(&ctx.plan);
        let sent = Instant::now();
        let outcome = match connected {
            Ok(()) => run::attempt(&ctx, target, &mut conn, &request).await,
            Err(failure) => Err(failure),
        };
        free_since = {
            let done = Instant::now();
            // Free at the due time: only the generator made it late.
            let from = if free_since <= due { sent } else { due };
            let in_window = ctx.in_window(done);
            run::book(
                &mut stats,
                recording,
                in_window,
                &request,
                done - from,
                &outcome,
            );
            if recording {
                stats.record_send_lag(sent - due);
            }
            done
        };
        run::after_failure(&outcome).await;
    }
    stats
}
