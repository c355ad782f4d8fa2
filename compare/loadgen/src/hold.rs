//! Idle connections: opens K connections that never write and watches each
//! for the server closing it (idle timeout, admission limit). Used by
//! `run --idle` and by the `hold` subcommand, which the lab's memory and
//! hoarder scenarios start beside a server.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;

use crate::report;
use crate::stop;

/// Connects in flight at once while opening many: keeps the server's
/// listen backlog from overflowing (a dropped SYN costs a 1 s retry).
const CONNECTS_AT_ONCE: usize = 256;

/// Idle connections being held, each watched by a task of its own.
pub struct IdleSet {
    pub requested: usize,
    pub opened: usize,
    pub connect_errors: usize,
    alive: Arc<AtomicUsize>,
    _watchers: JoinSet<()>,
}

impl IdleSet {
    /// How many are still open (the server has not closed them).
    pub fn still_open(&self) -> usize {
        self.alive.load(Ordering::SeqCst)
    }
}

/// Opens `count` connections, round-robin over `targets`, and starts a
/// watcher on each that notices when the server closes it.
pub async fn open_idle(targets: &[SocketAddr], count: usize, limit: Duration) -> IdleSet {
    let gate = Arc::new(Semaphore::new(CONNECTS_AT_ONCE));
    let mut connecting = JoinSet::new();
    for i in 0..count {
        let addr = targets[i % targets.len()];
        let gate = gate.clone();
        connecting.spawn(async move {
            let _permit = gate.acquire_owned().await.ok()?;
            match tokio::time::timeout(limit, TcpStream::connect(addr)).await {
                Ok(Ok(stream)) => Some(stream),
                _ => None,
            }
        });
    }
    let alive = Arc::new(AtomicUsize::new(0));
    let mut watchers = JoinSet::new();
    let mut opened = 0;
    while let Some(joined) = connecting.join_next().await {
        let Ok(Some(mut stream)) = joined else {
            continue;
        };
        opened += 1;
        alive.fetch_add(1, Ordering::SeqCst);
        let alive = alive.clone();
        watchers.spawn(async move {
            let mut buf = [0u8; 64];
            // Anything the server sends is read and ignored; EOF or an
            // error means it closed the connection.
            while let Ok(n) = stream.read(&mut buf).await {
                if n == 0 {
                    break;
                }
            }
            alive.fetch_sub(1, Ordering::SeqCst);
        });
    }
    IdleSet {
        requested: count,
        opened,
        connect_errors: count - opened,
        alive,
        _watchers: watchers,
    }
}

pub struct HoldArgs {
    pub target: SocketAddr,
    pub connections: usize,
    pub for_s: Option<f64>,
    pub watch_stdin: bool,
    pub timeout: Duration,
    /// Re-open each connection the server closes (see `hoard`).
    pub reopen: bool,
    /// With `reopen`: spread the first opens over this long.
    pub ramp: Duration,
}

/// `hold`: open (with `reopen`, keep re-opening), say `holding N` on
/// stderr, wait for the time, stdin's EOF or a signal, and report how many
/// are still open.
pub async fn hold(args: HoldArgs) -> Value {
    let (tx, mut rx) = mpsc::unbounded_channel::<&'static str>();
    let signal_tx = tx.clone();
    stop::on_signal(move || {
        let _ = signal_tx.send("signal");
    });
    let mut set = None;
    let mut hoard = None;
    if args.reopen {
        let h = crate::hoard::start(args.target, args.connections, args.ramp, args.timeout);
        tokio::time::sleep(args.ramp).await;
        eprintln!("holding {} (re-opening)", h.held());
        hoard = Some(h);
    } else {
        let s = open_idle(&[args.target], args.connections, args.timeout).await;
        eprintln!("holding {}", s.opened);
        set = Some(s);
    }
    let held_from = Instant::now();
    if args.watch_stdin {
        let stdin_tx = tx.clone();
        std::thread::spawn(move || {
            let _ = std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink());
            let _ = stdin_tx.send("stdin_eof");
        });
    }
    let for_s = args.for_s.map(Duration::from_secs_f64);
    let stopped_by = tokio::select! {
        reason = rx.recv() => reason.unwrap_or("signal"),
        () = async {
            match for_s {
                Some(d) => tokio::time::sleep(d).await,
                None => std::future::pending().await,
            }
        } => "time",
    };
    // Closes that raced the stop have a moment to be seen.
    tokio::time::sleep(Duration::from_millis(20)).await;
    let held_s = (held_from.elapsed().as_secs_f64() * 1000.0).round() / 1000.0;
    let mut out = match (set, hoard) {
        (Some(set), _) => json!({
            "requested": set.requested,
            "opened": set.opened,
            "connect_errors": set.connect_errors,
            "still_open_at_end": set.still_open(),
        }),
        (None, Some(h)) => h.finish().await,
        (None, None) => json!({}),
    };
    out["command"] = json!(report::command_line());
    out["target"] = json!(args.target.to_string());
    out["reopen"] = json!(args.reopen);
    out["held_s"] = json!(held_s);
    out["stopped_by"] = json!(stopped_by);
    out
}
