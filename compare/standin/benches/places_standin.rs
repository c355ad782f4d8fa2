//! Can the Places stand-in hold 2,000 slow requests at once without
//! becoming the bottleneck? Target: at most 10 ms over the injected 100 ms
//! at p99.
//!
//! Input: nothing (`cargo bench -p herd-standin`). Output (stdout):
//! per kind of round, the requests, errors, most requests in flight at
//! once, the CPU time the whole process used per run, the p99 of each run,
//! and the pooled per-request latency distribution (min, p50, p90, p99,
//! max) with its p99 overhead over the injected latency. The exit code is 0
//! whatever the figures.
//!
//! The stand-in runs in-process with 100 ms latency. The client is hyper's,
//! on a tokio runtime of its own (two workers) on the same two cores; every
//! request has a connection of its own; requests alternate legacy (GET,
//! UCLA 10 km, 8 places) and New (POST, same circle, five fields).
//!
//! - `burst`: 2,000 tasks released at once, each connecting, then asking;
//!   latency from its connect to the last body byte.
//! - `in flight`: the 2,000 connections are opened first, then the 2,000
//!   requests are sent evenly over [`RAMP`] (50 ms, shorter than the
//!   latency, so all 2,000 are in flight at once before the first answer is
//!   due); latency from sending the request to its last body byte.
//!
//! Each kind is run once to warm up (heap, caches), then [`RUNS`] times.
//! Everything is then repeated against a `baseline`: a minimal hyper server
//! set up like the stand-in (runtime, backlog) that sleeps 100 ms and sends
//! the stand-in's own answer bytes, with no routing, keys, search, cache or
//! faults. The difference is what the stand-in's own work costs; what the
//! baseline shows over 100 ms is what two cores pay for the TCP connections
//! and HTTP of both sides, the client sharing the cores with the server.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{CONTENT_TYPE, HOST};
use hyper::{Method, Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::Barrier;

use herd_standin::{LEGACY_PATH, NEW_PATH, StandinOptions};

/// Requests in flight at once, unless `STANDIN_BENCH_REQUESTS` says otherwise.
const REQUESTS: usize = 2000;

/// The number of requests per run.
fn requests() -> usize {
    static REQUESTS_SET: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *REQUESTS_SET.get_or_init(|| {
        std::env::var("STANDIN_BENCH_REQUESTS")
            .ok()
            .and_then(|n| n.parse().ok())
            .filter(|&n| n > 0)
            .unwrap_or(REQUESTS)
    })
}

/// Latency the stand-in injects.
const LATENCY: Duration = Duration::from_millis(100);

/// The `in flight` round sends its requests evenly over this long.
const RAMP: Duration = Duration::from_millis(50);

const LEGACY_QUERY: &str = "location=34.068930,-118.445127&radius=10000&key=bench";
const NEW_BODY: &str = r#"{"locationRestriction":{"circle":{"center":{"latitude":34.068930,"longitude":-118.445127},"radius":10000}},"maxResultCount":20}"#;
const NEW_MASK: &str =
    "places.id,places.displayName,places.location,places.types,places.shortFormattedAddress";

/// Measured runs of one kind of round.
const RUNS: usize = 3;

/// What one or more runs measured.
#[derive(Default)]
struct Round {
    latencies: Vec<Duration>,
    errors: usize,
    most_in_flight: usize,
    /// Process CPU time of each run, if /proc tells it.
    cpu: Vec<Option<Duration>>,
    /// The p99 of each run.
    p99s: Vec<f64>,
}

fn main() {
    let standin = herd_standin::start(StandinOptions {
        latency: LATENCY,
        ..StandinOptions::default()
    })
    .expect("the stand-in starts");
    let client = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("the client runtime starts");
    let addr = standin.addr();
    let answers = client.block_on(async {
        let legacy = ask(connect(addr).await?, addr, true).await?;
        let new = ask(connect(addr).await?, addr, false).await?;
        Ok::<_, String>((legacy, new))
    });
    let (legacy_answer, new_answer) = answers.expect("the stand-in answers");
    println!(
        "{} requests, {} ms injected latency, one connection each, legacy and New \
         alternating; client on the same 2 cores",
        requests(),
        LATENCY.as_millis()
    );
    let standin_rounds = measure(&client, addr);
    println!("stand-in requests received: {}", standin.requests());
    standin.stop();

    let baseline = start_baseline(legacy_answer, new_answer);
    let baseline_rounds = measure(&client, baseline);
    for (name, ours, base) in [
        ("burst", &standin_rounds.0, &baseline_rounds.0),
        ("in flight", &standin_rounds.1, &baseline_rounds.1),
    ] {
        println!(
            "{name}: the stand-in's own work at p99: {:+.1} ms over the baseline",
            p99_ms(ours) - p99_ms(base)
        );
    }
}

/// Warms up, then measures bursts and in-flight rounds against `addr`.
fn measure(client: &tokio::runtime::Runtime, addr: SocketAddr) -> (Round, Round) {
    let label = if client.block_on(is_baseline(addr)) {
        "baseline"
    } else {
        "stand-in"
    };
    let bursts = runs(client, || burst(addr));
    report(&format!("{label}, burst (latency from connect)"), &bursts);
    let flights = runs(client, || in_flight(addr));
    report(
        &format!("{label}, in flight (latency from request; sent over 50 ms)"),
        &flights,
    );
    (bursts, flights)
}

/// One warm-up run, then [`RUNS`] measured runs pooled.
fn runs<F: Future<Output = Round>>(
    client: &tokio::runtime::Runtime,
    round: impl Fn() -> F,
) -> Round {
    client.block_on(round());
    let mut pooled = Round::default();
    for _ in 0..RUNS {
        let before = process_cpu();
        let run = client.block_on(round());
        let cpu = before.zip(process_cpu()).map(|(a, b)| b.saturating_sub(a));
        pooled.p99s.push(percentile_ms(&run.latencies, 0.99));
        pooled.latencies.extend(run.latencies);
        pooled.errors += run.errors;
        pooled.most_in_flight = pooled.most_in_flight.max(run.most_in_flight);
        pooled.cpu.push(cpu);
    }
    pooled
}

/// User plus system CPU time of this process so far (Linux `/proc`).
fn process_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let fields: Vec<&str> = stat.get(stat.rfind(')')? + 2..)?.split(' ').collect();
    let ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // Linux reports in clock ticks of 1/100 s (USER_HZ) on every common build.
    Some(Duration::from_millis(ticks * 10))
}

/// The baseline answers every path; the stand-in says 404 to `/`.
async fn is_baseline(addr: SocketAddr) -> bool {
    let Ok(mut sender) = connect(addr).await else {
        return false;
    };
    let request = Request::builder()
        .uri("/")
        .header(HOST, addr.to_string())
        .body(Full::new(Bytes::new()))
        .expect("a request");
    sender
        .send_request(request)
        .await
        .is_ok_and(|r| r.status() == 200)
}

/// [`REQUESTS`] tasks released at once, each connecting and asking.
async fn burst(addr: SocketAddr) -> Round {
    let barrier = Arc::new(Barrier::new(requests() + 1));
    let gauge = Arc::new(Gauge::default());
    let tasks: Vec<_> = (0..requests())
        .map(|i| {
            let (barrier, gauge) = (Arc::clone(&barrier), Arc::clone(&gauge));
            tokio::spawn(async move {
                barrier.wait().await;
                let start = Instant::now();
                gauge.enter();
                let outcome = match connect(addr).await {
                    Ok(sender) => ask(sender, addr, i % 2 == 0).await,
                    Err(e) => Err(e),
                };
                gauge.leave();
                outcome.map(|_| start.elapsed())
            })
        })
        .collect();
    barrier.wait().await;
    collect(tasks, &gauge).await
}

/// Opens [`REQUESTS`] connections, then sends one request on each, evenly
/// over [`RAMP`].
async fn in_flight(addr: SocketAddr) -> Round {
    let barrier = Arc::new(Barrier::new(requests() + 1));
    let gauge = Arc::new(Gauge::default());
    let tasks: Vec<_> = (0..requests())
        .map(|i| {
            let (barrier, gauge) = (Arc::clone(&barrier), Arc::clone(&gauge));
            tokio::spawn(async move {
                let sender = connect(addr).await;
                barrier.wait().await;
                let sender = sender?;
                tokio::time::sleep(RAMP.mul_f64(i as f64 / requests() as f64)).await;
                let start = Instant::now();
                gauge.enter();
                let outcome = ask(sender, addr, i % 2 == 0).await;
                gauge.leave();
                outcome.map(|_| start.elapsed())
            })
        })
        .collect();
    barrier.wait().await;
    collect(tasks, &gauge).await
}

type Task = tokio::task::JoinHandle<Result<Duration, String>>;

async fn collect(tasks: Vec<Task>, gauge: &Gauge) -> Round {
    let mut round = Round::default();
    for task in tasks {
        match task.await {
            Ok(Ok(latency)) => round.latencies.push(latency),
            Ok(Err(error)) => {
                if round.errors < 5 {
                    eprintln!("request failed: {error}");
                }
                round.errors += 1;
            }
            Err(_) => round.errors += 1,
        }
    }
    round.most_in_flight = gauge.most.load(Ordering::Relaxed);
    round
}

/// Requests in flight now, and the most at once.
#[derive(Default)]
struct Gauge {
    now: AtomicUsize,
    most: AtomicUsize,
}

impl Gauge {
    fn enter(&self) {
        let now = self.now.fetch_add(1, Ordering::Relaxed) + 1;
        self.most.fetch_max(now, Ordering::Relaxed);
    }

    fn leave(&self) {
        self.now.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A new connection, ready for one request.
async fn connect(addr: SocketAddr) -> Result<SendRequest<Full<Bytes>>, String> {
    let stream = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    let (sender, connection) = http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    tokio::spawn(connection);
    Ok(sender)
}

/// One request; its body if it is a 200 with the expected answer.
async fn ask(
    mut sender: SendRequest<Full<Bytes>>,
    addr: SocketAddr,
    legacy: bool,
) -> Result<Bytes, String> {
    let request = if legacy {
        Request::builder()
            .method(Method::GET)
            .uri(format!("{LEGACY_PATH}?{LEGACY_QUERY}"))
            .header(HOST, addr.to_string())
            .body(Full::new(Bytes::new()))
    } else {
        Request::builder()
            .method(Method::POST)
            .uri(NEW_PATH)
            .header(HOST, addr.to_string())
            .header(CONTENT_TYPE, "application/json")
            .header("X-Goog-Api-Key", "bench")
            .header("X-Goog-FieldMask", NEW_MASK)
            .body(Full::new(Bytes::from_static(NEW_BODY.as_bytes())))
    }
    .map_err(|e| e.to_string())?;
    let response: Response<Incoming> = sender
        .send_request(request)
        .await
        .map_err(|e| format!("request: {e}"))?;
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| format!("body: {e}"))?
        .to_bytes();
    // A cheap check, so that the client spends its CPU on HTTP, not JSON.
    let good = if legacy {
        body.ends_with(b"\"status\" : \"OK\"\n}")
    } else {
        body.starts_with(b"{\n  \"places\": [")
    };
    if status == 200 && good {
        Ok(body)
    } else {
        Err(format!("HTTP {status}: {}", String::from_utf8_lossy(&body)))
    }
}

/// A minimal hyper server on a runtime and thread of its own, like the
/// stand-in's: sleeps [`LATENCY`], then sends `legacy` to GETs and `new` to
/// everything else. It runs until the process ends.
fn start_baseline(legacy: Bytes, new: Bytes) -> SocketAddr {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(std::thread::available_parallelism().map_or(2, |n| n.get().clamp(1, 4)))
        .enable_all()
        .build()
        .expect("the baseline runtime starts");
    let listener = {
        let _inside = runtime.enter();
        let socket = TcpSocket::new_v4().expect("a socket");
        socket.set_reuseaddr(true).expect("SO_REUSEADDR");
        socket
            .bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .expect("bind");
        socket.listen(4096).expect("listen")
    };
    let addr = listener.local_addr().expect("an address");
    std::thread::spawn(move || {
        runtime.block_on(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let (legacy, new) = (legacy.clone(), new.clone());
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                        let body = if request.method() == Method::GET {
                            legacy.clone()
                        } else {
                            new.clone()
                        };
                        async move {
                            let _ = request.into_body().collect().await;
                            tokio::time::sleep(LATENCY).await;
                            Ok::<_, Infallible>(Response::new(Full::new(body)))
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
    });
    addr
}

fn p99_ms(round: &Round) -> f64 {
    percentile_ms(&round.latencies, 0.99)
}

fn percentile_ms(latencies: &[Duration], q: f64) -> f64 {
    let mut sorted = latencies.to_vec();
    sorted.sort();
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i].as_secs_f64() * 1000.0
}

fn report(title: &str, round: &Round) {
    let at = |q| percentile_ms(&round.latencies, q);
    let latency_ms = LATENCY.as_secs_f64() * 1000.0;
    let cpu: Vec<String> = round
        .cpu
        .iter()
        .map(|c| c.map_or("n/a".to_owned(), |c| format!("{}", c.as_millis())))
        .collect();
    let p99s: Vec<String> = round.p99s.iter().map(|p| format!("{p:.1}")).collect();
    println!("{title}");
    println!(
        "  requests {} ({RUNS} runs of {}), errors {}, most in flight at once {}",
        round.latencies.len() + round.errors,
        requests(),
        round.errors,
        round.most_in_flight,
    );
    println!(
        "  per run: CPU ms (whole process) {}; p99 ms {}",
        cpu.join(" "),
        p99s.join(" ")
    );
    println!(
        "  latency ms: min {:.1}  p50 {:.1}  p90 {:.1}  p99 {:.1}  max {:.1}",
        at(0.0),
        at(0.5),
        at(0.9),
        at(0.99),
        at(1.0)
    );
    println!(
        "  p99 overhead over {latency_ms:.0} ms injected: {:.1} ms",
        at(0.99) - latency_ms
    );
}
