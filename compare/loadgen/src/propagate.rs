//! Flood propagation latency: how long after an IAMAT at one server every
//! other server of the herd answers a WHATSAT with that update. Each probe
//! uses a fresh client id; the other servers are polled on persistent
//! connections with a tiny radius (cheap) until their AT line carries the
//! probe's time. Optionally with a closed-loop IAMAT load running beside.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use hdrhistogram::Histogram;
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::report::{self, Stats};
use crate::requests::{self, Command, ErrorKind, Generator, Mix, Plan, Request};
use crate::run::{self, Mode, RunCtx};
use crate::wire::{self, Conn, Failure};

pub struct PropagateArgs {
    pub at: SocketAddr,
    pub others: Vec<SocketAddr>,
    pub probes: usize,
    pub interval: Duration,
    pub timeout: Duration,
    pub load_targets: Vec<SocketAddr>,
    pub load_connections: usize,
}

/// Polls `addr` until its AT line for `client` carries `time`; returns the
/// connection (if still usable) and the time from `sent` to that answer.
async fn poll_until_seen(
    addr: SocketAddr,
    mut conn: Option<Conn>,
    client: String,
    time: String,
    sent: Instant,
    deadline: Instant,
) -> (Option<Conn>, Result<Duration, Failure>) {
    let line = format!("WHATSAT {client} 0.001 1\n");
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return (conn, Err(fail(ErrorKind::Timeout, Vec::new())));
        }
        let stream = match &mut conn {
            Some(stream) => stream,
            None => match wire::connect(addr, left).await {
                Ok(stream) => conn.insert(stream),
                Err(kind) => return (None, Err(fail(kind, Vec::new()))),
            },
        };
        let mut answer = Vec::with_capacity(512);
        let io = async {
            stream
                .get_mut()
                .write_all(line.as_bytes())
                .await
                .map_err(|_| ErrorKind::Io)?;
            wire::read_answer(stream, Command::Whatsat, &mut answer).await
        };
        match tokio::time::timeout(left, io).await {
            Err(_) => return (None, Err(fail(ErrorKind::Timeout, answer))),
            Ok(Err(kind)) => return (None, Err(fail(kind, answer))),
            Ok(Ok(())) => {}
        }
        if answer.starts_with(b"? ") {
            continue; // not there yet
        }
        let first_end = answer
            .iter()
            .position(|&b| b == b'\n')
            .unwrap_or(answer.len());
        let first = requests::trim_newline(&answer[..first_end]);
        let Ok(first) = std::str::from_utf8(first) else {
            return (None, Err(fail(ErrorKind::InvalidAnswer, answer)));
        };
        match requests::parse_at_line(first, &client) {
            Ok(at) if at.time == time => return (conn, Ok(sent.elapsed())),
            Ok(_) => continue, // an older update of this id: not yet
            Err(kind) => return (None, Err(fail(kind, answer))),
        }
    }
}

fn fail(kind: ErrorKind, answer: Vec<u8>) -> Failure {
    Failure { kind, answer }
}

/// Starts the optional background load; returns its context and task.
fn start_load(
    args: &PropagateArgs,
    timeout: Duration,
) -> Option<(Arc<RunCtx>, tokio::task::JoinHandle<Stats>)> {
    if args.load_targets.is_empty() || args.load_connections == 0 {
        return None;
    }
    let start = Instant::now();
    let ctx = Arc::new(RunCtx {
        targets: args.load_targets.clone(),
        plan: Plan {
            prefix: format!("lgl{}", std::process::id()),
            clients: 1000,
            mix: Mix {
                iamat: 1,
                whatsat: 0,
            },
            radius_km: 10.0,
            bound: 5,
        },
        one_shot: false,
        timeout,
        connections: args.load_connections,
        rate: 0.0,
        start,
        measure_start: start,
        end: start + Duration::from_secs(365 * 24 * 3600),
        stop: Arc::new(AtomicBool::new(false)),
        sink: report::new_sink(),
    });
    let task = tokio::spawn(run::drive(ctx.clone(), Mode::Closed));
    Some((ctx, task))
}

pub async fn propagate(args: PropagateArgs) -> Value {
    let load = start_load(&args, args.timeout);
    let prefix = format!("lgp{}", std::process::id());
    let mut generator = Generator::new(u64::from(std::process::id()));
    let mut pairs = Stats::new();
    let mut all_servers = report::new_histogram();
    let mut per_server: Vec<Histogram<u64>> = args
        .others
        .iter()
        .map(|_| report::new_histogram())
        .collect();
    let mut other_conns: Vec<Option<Conn>> = args.others.iter().map(|_| None).collect();
    let mut at_conn: Option<Conn> = None;
    let mut complete = 0usize;
    for probe in 0..args.probes {
        if probe > 0 {
            tokio::time::sleep(args.interval).await;
        }
        let client = format!("{prefix}-{probe}");
        let location = generator.location();
        let time = requests::next_time_text();
        let request = Request::iamat(&client, &location, &time);
        let sent = Instant::now();
        let deadline = sent + args.timeout;
        let mut pollers = JoinSet::new();
        for (i, &addr) in args.others.iter().enumerate() {
            let conn = other_conns[i].take();
            let (client, time) = (client.clone(), time.clone());
            pollers.spawn(async move {
                (
                    i,
                    poll_until_seen(addr, conn, client, time, sent, deadline).await,
                )
            });
        }
        let at_result = match &mut at_conn {
            Some(conn) => wire::exchange(conn, &request, args.timeout).await,
            None => match wire::connect(args.at, args.timeout).await {
                Ok(conn) => wire::exchange(at_conn.insert(conn), &request, args.timeout).await,
                Err(kind) => Err(fail(kind, Vec::new())),
            },
        };
        if let Err(failure) = at_result {
            pairs.record_error("iamat_", failure.kind, &request.line, &failure.answer);
            at_conn = None;
            pollers.abort_all();
            continue;
        }
        let mut slowest = Some(Duration::ZERO);
        while let Some(joined) = pollers.join_next().await {
            let Ok((i, (conn, result))) = joined else {
                slowest = None;
                continue;
            };
            other_conns[i] = conn;
            match result {
                Ok(latency) => {
                    pairs.record_ok("pair", latency);
                    report::record(&mut per_server[i], latency);
                    slowest = slowest.map(|s| s.max(latency));
                }
                Err(failure) => {
                    let poll = format!("WHATSAT {client} 0.001 1 (at {})", args.others[i]);
                    pairs.record_error("", failure.kind, &poll, &failure.answer);
                    slowest = None;
                }
            }
        }
        if let Some(slowest) = slowest {
            complete += 1;
            report::record(&mut all_servers, slowest);
        }
    }
    let load_json = match load {
        None => Value::Null,
        Some((ctx, task)) => {
            ctx.stop.store(true, Ordering::Relaxed);
            let elapsed = ctx.start.elapsed().as_secs_f64();
            match task.await {
                Ok(mut stats) => json!({
                    "targets": ctx.targets.iter().map(ToString::to_string).collect::<Vec<_>>(),
                    "connections": ctx.connections,
                    "requests_ok": stats.ok,
                    "errors": stats.errors,
                    "throughput_rps": (stats.ok as f64 / elapsed.max(1e-9) * 10.0).round() / 10.0,
                    "latency_us": stats.latency_json(),
                }),
                Err(e) => json!({"failed": e.to_string()}),
            }
        }
    };
    let per_server_json: BTreeMap<String, Value> = args
        .others
        .iter()
        .zip(&per_server)
        .map(|(addr, h)| (addr.to_string(), report::latency_json(h)))
        .collect();
    json!({
        "command": report::command_line(),
        "at": args.at.to_string(),
        "others": args.others.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "probes": args.probes,
        "probes_complete": complete,
        "pairs_ok": pairs.ok,
        "errors": pairs.errors,
        "error_count": pairs.error_count(),
        "error_examples": pairs.examples,
        "latency_us": pairs.latency_json(),
        "all_servers_latency_us": report::latency_json(&all_servers),
        "per_server_latency_us": per_server_json,
        "load": load_json,
    })
}
