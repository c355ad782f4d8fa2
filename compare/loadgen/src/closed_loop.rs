//! Closed loop: each connection sends one request, waits for and checks its
//! answer, then sends the next, until the run ends. Throughput is whatever
//! the server allows at this many connections. A request is recorded when
//! it ends (answered or failed) after the warm-up, so a request that waited
//! through the warm-up is charged its whole wait.

use std::sync::Arc;

use tokio::time::Instant;

use crate::report::Stats;
use crate::requests::Generator;
use crate::run::{self, RunCtx};
use crate::wire::Conn;

/// One connection's loop; returns what it saw.
pub async fn connection(ctx: Arc<RunCtx>, index: usize) -> Stats {
    let target = ctx.target(index);
    let mut generator = Generator::new(index as u64);
    let mut conn: Option<Conn> = None;
    let mut stats = Stats::with_sink(ctx.sink.clone());
    loop {
        if ctx.stopped(Instant::now()) {
            break;
        }
        let request = generator.next_request(&ctx.plan);
        let connected = run::ensure_connected(&ctx, target, &mut conn).await;
        let sent = Instant::now();
        let outcome = match connected {
            Ok(()) => run::attempt(&ctx, target, &mut conn, &request).await,
            Err(failure) => Err(failure),
        };
        let answered = Instant::now();
        // Every request that ends after the warm-up counts, whenever it was
        // sent: one that waited through the warm-up (a connection queued
        // for a worker) is the slowest of all and must not drop out.
        let recording = answered >= ctx.measure_start;
        let in_window = ctx.in_window(answered);
        run::book(
            &mut stats,
            recording,
            in_window,
            &request,
            answered - sent,
            &outcome,
        );
        run::after_failure(&outcome).await;
    }
    stats
}
