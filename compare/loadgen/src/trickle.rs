//! Slowloris clients: `trickle` keeps N connections that each write one
//! byte per interval and never a newline, and times how long the server
//! takes to close each one (PROTOCOL §5: a trickle is not activity, so the
//! idle limit applies). A closed trickler is replaced by a new one until
//! the time is up; those still open then are reported with their age.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::report;
use crate::stop;

/// The bytes trickled, one at a time, over and over: a plausible IAMAT
/// that never ends (no newline ever).
const TRICKLE: &[u8] = b"IAMAT slowloris +34.068930-118.445127 1621464827.959498503 ";

pub struct TrickleArgs {
    pub target: SocketAddr,
    pub connections: usize,
    pub interval: Duration,
    pub for_s: f64,
    pub timeout: Duration,
}

/// What one trickler saw.
enum Outcome {
    /// The server closed it after this long (from the connect).
    Closed(Duration),
    /// Still open when the time was up, this old.
    OpenAtEnd(Duration),
    /// The connect failed.
    ConnectError,
}

/// Trickles on one connection until the server closes it or `end`.
async fn one(target: SocketAddr, interval: Duration, end: Instant, limit: Duration) -> Outcome {
    let Ok(Ok(mut stream)) = tokio::time::timeout(limit, TcpStream::connect(target)).await else {
        return Outcome::ConnectError;
    };
    let _ = stream.set_nodelay(true);
    let opened = Instant::now();
    let mut next = opened;
    let mut i = 0usize;
    let mut buf = [0u8; 256];
    loop {
        tokio::select! {
            read = stream.read(&mut buf) => match read {
                Ok(n) if n > 0 => {}
                _ => return Outcome::Closed(opened.elapsed()),
            },
            () = tokio::time::sleep_until(next) => {
                if stream.write_all(&TRICKLE[i % TRICKLE.len()..][..1]).await.is_err() {
                    return Outcome::Closed(opened.elapsed());
                }
                i += 1;
                next += interval;
            },
            () = tokio::time::sleep_until(end) => return Outcome::OpenAtEnd(opened.elapsed()),
        }
    }
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e4).round() / 10.0
}

/// `trickle`: runs the tricklers for `for_s` seconds (or until a signal)
/// and reports every close time.
pub async fn trickle(args: TrickleArgs) -> Value {
    let (tx, mut rx) = mpsc::unbounded_channel::<()>();
    stop::on_signal(move || {
        let _ = tx.send(());
    });
    let started = Instant::now();
    let planned_end = started + Duration::from_secs_f64(args.for_s);
    // A signal moves the end forward: every trickler watches this.
    let (end_tx, end_rx) = tokio::sync::watch::channel(planned_end);
    tokio::spawn(async move {
        if rx.recv().await.is_some() {
            let _ = end_tx.send(Instant::now());
        }
    });
    let mut slots = JoinSet::new();
    for _ in 0..args.connections {
        let end_rx = end_rx.clone();
        let (target, interval, limit) = (args.target, args.interval, args.timeout);
        slots.spawn(async move {
            let mut seen = Vec::new();
            loop {
                let end = *end_rx.borrow();
                if Instant::now() >= end {
                    break;
                }
                let mut watch = end_rx.clone();
                let outcome = tokio::select! {
                    o = one(target, interval, end, limit) => o,
                    _ = watch.changed() => Outcome::OpenAtEnd(Duration::ZERO),
                };
                let again = matches!(outcome, Outcome::Closed(_) | Outcome::ConnectError);
                if matches!(outcome, Outcome::ConnectError) {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                seen.push(outcome);
                if !again {
                    break;
                }
            }
            seen
        });
    }
    let mut close_ms = Vec::new();
    let mut open_ages_ms = Vec::new();
    let mut connect_errors = 0u64;
    while let Some(joined) = slots.join_next().await {
        for outcome in joined.unwrap_or_default() {
            match outcome {
                Outcome::Closed(d) => close_ms.push(ms(d)),
                Outcome::OpenAtEnd(d) => open_ages_ms.push(ms(d)),
                Outcome::ConnectError => connect_errors += 1,
            }
        }
    }
    close_ms.sort_by(f64::total_cmp);
    let min = close_ms.first().copied();
    let max = close_ms.last().copied();
    let oldest_open = open_ages_ms
        .iter()
        .copied()
        .fold(None, |m: Option<f64>, x| Some(m.map_or(x, |m| m.max(x))));
    json!({
        "command": report::command_line(),
        "target": args.target.to_string(),
        "connections": args.connections,
        "interval_ms": ms(args.interval),
        "ran_s": (started.elapsed().as_secs_f64() * 1000.0).round() / 1000.0,
        "closed_by_server": close_ms.len(),
        "close_ms": close_ms,
        "close_ms_min": min,
        "close_ms_max": max,
        "open_at_end": open_ages_ms.len(),
        "open_at_end_max_age_ms": oldest_open,
        "connect_errors": connect_errors,
    })
}
