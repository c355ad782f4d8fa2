//! The `run` subcommand: primes the client ids, opens the idle connections,
//! starts the closed- or open-loop connections, merges their figures and
//! builds the JSON report. Also what one request attempt does on a
//! connection, shared by both loops.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::hold;
use crate::report::{self, Stats};
use crate::requests::{Command, ErrorKind, Generator, Plan, Request};
use crate::wire::{self, Conn, Failure};
use crate::{closed_loop, open_loop};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Closed,
    Open,
}

/// Everything a connection's loop needs, shared by all of them.
pub struct RunCtx {
    pub targets: Vec<SocketAddr>,
    pub plan: Plan,
    pub one_shot: bool,
    pub timeout: Duration,
    pub connections: usize,
    /// Open loop: requests per second over all connections.
    pub rate: f64,
    /// Warmup starts here ...
    pub start: Instant,
    /// ... recording starts here ...
    pub measure_start: Instant,
    /// ... and ends here (no new request is started after it).
    pub end: Instant,
    /// Set to stop early (propagate's background load).
    pub stop: Arc<AtomicBool>,
    /// The run's histograms, shared by all its connections.
    pub sink: report::Sink,
}

impl RunCtx {
    /// Whether an answer that arrived at `at` falls in the measured window.
    pub fn in_window(&self, at: Instant) -> bool {
        at >= self.measure_start && at <= self.end
    }

    pub fn stopped(&self, now: Instant) -> bool {
        now >= self.end || self.stop.load(Ordering::Relaxed)
    }

    pub fn target(&self, connection: usize) -> SocketAddr {
        self.targets[connection % self.targets.len()]
    }
}

/// Sends one request on `conn` (opening it first if needed) or, one-shot,
/// on a fresh connection. A failure that leaves the stream out of step
/// drops the connection, so the next attempt reconnects.
pub async fn attempt(
    ctx: &RunCtx,
    target: SocketAddr,
    conn: &mut Option<Conn>,
    request: &Request,
) -> Result<(), Failure> {
    if ctx.one_shot {
        return wire::one_shot(target, request, ctx.timeout).await;
    }
    let stream = match conn {
        Some(stream) => stream,
        None => match wire::connect(target, ctx.timeout).await {
            Ok(stream) => conn.insert(stream),
            Err(kind) => {
                return Err(Failure {
                    kind,
                    answer: Vec::new(),
                });
            }
        },
    };
    let result = wire::exchange(stream, request, ctx.timeout).await;
    if let Err(failure) = &result
        && !failure.kind.keeps_connection()
    {
        *conn = None;
    }
    result
}

/// Persistent connections: (re)connects before the clock of the next
/// request starts, so a latency never includes a connect (with
/// `--one-shot` every latency does, and this does nothing).
pub async fn ensure_connected(
    ctx: &RunCtx,
    target: SocketAddr,
    conn: &mut Option<Conn>,
) -> Result<(), Failure> {
    if ctx.one_shot || conn.is_some() {
        return Ok(());
    }
    match wire::connect(target, ctx.timeout).await {
        Ok(stream) => {
            *conn = Some(stream);
            Ok(())
        }
        Err(kind) => Err(Failure {
            kind,
            answer: Vec::new(),
        }),
    }
}

/// Books one attempt's outcome: a good answer's latency only when recording,
/// errors by kind (warmup errors apart).
/// `answered_in_window`: the answer arrived inside the measured window.
pub fn book(
    stats: &mut Stats,
    recording: bool,
    answered_in_window: bool,
    request: &Request,
    latency: Duration,
    outcome: &Result<(), Failure>,
) {
    if outcome.is_ok() && answered_in_window {
        stats.answered_in_window += 1;
    }
    match (outcome, recording) {
        (Ok(()), true) => stats.record_ok(command_name(request.command), latency),
        (Ok(()), false) => {}
        (Err(failure), true) => {
            stats.record_error("", failure.kind, &request.line, &failure.answer)
        }
        (Err(_), false) => stats.warmup_errors += 1,
    }
}

pub fn command_name(command: Command) -> &'static str {
    match command {
        Command::Iamat => "iamat",
        Command::Whatsat => "whatsat",
    }
}

/// A short pause after a connection-level failure, so a target that
/// refuses or drops connections (down, at its client limit) is not
/// hammered in a tight connect loop.
pub async fn after_failure(outcome: &Result<(), Failure>) {
    if let Err(failure) = outcome
        && matches!(
            failure.kind,
            ErrorKind::Connect | ErrorKind::Closed | ErrorKind::Io
        )
    {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// One IAMAT for every client id a WHATSAT may use, at every target (a
/// target that only heard of it by flooding might not have it yet), so no
/// WHATSAT meets an unknown client. Failures count as `prime_<kind>`.
pub async fn prime(targets: &[SocketAddr], plan: &Plan, limit: Duration) -> Stats {
    const PER_TARGET: usize = 16;
    let clients = Arc::new(plan.whatsat_clients());
    let mut tasks = JoinSet::new();
    for &target in targets {
        for lane in 0..PER_TARGET.min(clients.len()) {
            let clients = clients.clone();
            tasks.spawn(async move {
                let mut stats = Stats::new();
                let mut generator = Generator::new(lane as u64 ^ 0x5eed);
                let mut conn: Option<Conn> = None;
                for client in clients.iter().skip(lane).step_by(PER_TARGET) {
                    let location = generator.location();
                    let request =
                        Request::iamat(client, &location, &crate::requests::next_time_text());
                    let result = match &mut conn {
                        Some(c) => wire::exchange(c, &request, limit).await,
                        None => match wire::connect(target, limit).await {
                            Ok(c) => wire::exchange(conn.insert(c), &request, limit).await,
                            Err(kind) => Err(Failure {
                                kind,
                                answer: Vec::new(),
                            }),
                        },
                    };
                    if let Err(failure) = result {
                        stats.record_error("prime_", failure.kind, &request.line, &failure.answer);
                        if !failure.kind.keeps_connection() {
                            conn = None;
                        }
                    }
                }
                stats
            });
        }
    }
    let mut all = Stats::new();
    while let Some(joined) = tasks.join_next().await {
        if let Ok(stats) = joined {
            all.merge(stats);
        }
    }
    all
}

pub struct RunArgs {
    pub targets: Vec<SocketAddr>,
    pub mode: Mode,
    pub connections: usize,
    pub rate: Option<f64>,
    pub duration: Duration,
    pub warmup: Duration,
    pub one_shot: bool,
    pub plan: Plan,
    pub idle: usize,
    pub workers: usize,
    pub timeout: Duration,
}

/// Runs the connections of `ctx` to its end and merges their figures.
pub async fn drive(ctx: Arc<RunCtx>, mode: Mode) -> Stats {
    let mut tasks = JoinSet::new();
    for connection in 0..ctx.connections {
        let ctx = ctx.clone();
        match mode {
            Mode::Closed => tasks.spawn(closed_loop::connection(ctx, connection)),
            Mode::Open => tasks.spawn(open_loop::connection(ctx, connection)),
        };
    }
    let mut all = Stats::with_sink(ctx.sink.clone());
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(stats) => all.merge(stats),
            Err(e) => eprintln!("herd-loadgen: a connection task failed: {e}"),
        }
    }
    all
}

pub async fn run(args: RunArgs) -> Value {
    let mut stats = Stats::new();
    if args.plan.mix.whatsat > 0 {
        eprintln!(
            "priming {} client ids at {} target(s)",
            args.plan.clients,
            args.targets.len()
        );
        stats.merge(prime(&args.targets, &args.plan, args.timeout).await);
    }
    let idle = if args.idle > 0 {
        let set = hold::open_idle(&args.targets, args.idle, args.timeout).await;
        eprintln!("holding {} idle connections", set.opened);
        Some(set)
    } else {
        None
    };
    let start = Instant::now();
    let measure_start = start + args.warmup;
    let ctx = Arc::new(RunCtx {
        targets: args.targets.clone(),
        plan: args.plan.clone(),
        one_shot: args.one_shot,
        timeout: args.timeout,
        connections: args.connections,
        rate: args.rate.unwrap_or(0.0),
        start,
        measure_start,
        end: measure_start + args.duration,
        stop: Arc::new(AtomicBool::new(false)),
        sink: report::new_sink(),
    });
    eprintln!(
        "{} loop: {} connections, warmup {:?}, recording {:?}",
        if args.mode == Mode::Closed {
            "closed"
        } else {
            "open"
        },
        args.connections,
        args.warmup,
        args.duration
    );
    let mut run_stats = drive(ctx, args.mode).await;
    let series = run_stats.series_json();
    stats.merge(run_stats);
    let duration_s = args.duration.as_secs_f64();
    let throughput = if duration_s > 0.0 {
        stats.answered_in_window as f64 / duration_s
    } else {
        0.0
    };
    json!({
        "command": report::command_line(),
        "mode": if args.mode == Mode::Closed { "closed" } else { "open" },
        "targets": args.targets.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "connections": args.connections,
        "rate": args.rate,
        "duration_s": duration_s,
        "warmup_s": args.warmup.as_secs_f64(),
        "timeout_ms": u64::try_from(args.timeout.as_millis()).unwrap_or(u64::MAX),
        "one_shot": args.one_shot,
        "mix": args.plan.mix.to_string(),
        "clients": args.plan.clients,
        "workers": args.workers,
        "requests_ok": stats.ok,
        "answered_in_window": stats.answered_in_window,
        "requests_ok_by_command": stats.ok_by_command,
        "errors": stats.errors,
        "error_count": stats.error_count(),
        "warmup_errors": stats.warmup_errors,
        "error_examples": stats.examples,
        "throughput_rps": (throughput * 10.0).round() / 10.0,
        "latency_us": stats.latency_json(),
        "latency_series": series,
        "send_lag_us": if args.mode == Mode::Open { stats.send_lag_json() } else { Value::Null },
        "idle_requested": args.idle,
        "idle_opened": idle.as_ref().map_or(0, |s| s.opened),
        "idle_open_at_end": idle.as_ref().map_or(0, |s| s.still_open()),
    })
}
