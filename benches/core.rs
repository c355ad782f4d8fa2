//! Micro-benchmarks of the pure core, the work a line costs apart from I/O:
//! parsing an IAMAT, making its AT record, logging it, offering records to
//! the cache (alone, at its bound, and under contention from other threads), the whole of
//! an IAMAT's own work, and shaping a Places answer into WHATSAT JSON. Run by `cargo bench --bench core` (criterion
//! prints time per iteration and its change since the last run).
//!
//! What they are for: the lab measures whole requests over sockets, where
//! these costs hide under the kernel's; these say which part of a line's
//! CPU is ours and catch a regression in it.

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use herd::answer;
use herd::cache::Cache;
use herd::dispatch::{self, ClientLine};
use herd::logfile::LogBatch;
use herd::places::{self, NearbyQuery, Offline, Places};
use herd::protocol::{self, AtLine, Nanos, Request};
use herd::record::AtRecord;

const IAMAT: &str = "IAMAT kiwi.cs.ucla.edu +34.068930-118.445127 1621464827.959498503";
const NOW: Nanos = Nanos(1_621_464_828_223_372_036);

fn parse_and_format(c: &mut Criterion) {
    c.bench_function("parse IAMAT", |b| {
        b.iter(|| matches!(protocol::parse(black_box(IAMAT)), Request::IAmAt(_)))
    });
    let Request::IAmAt(request) = protocol::parse(IAMAT) else {
        panic!("the benchmark's IAMAT does not parse");
    };
    c.bench_function("format AT (record of an IAMAT)", |b| {
        b.iter(|| answer::iamat_record(black_box("Clark"), black_box(NOW), black_box(&request)))
    });
    let at = "AT Clark +0.263873386 kiwi.cs.ucla.edu +34.068930-118.445127 1621464827.959498503";
    c.bench_function("parse AT (a neighbour's flood)", |b| {
        b.iter(|| matches!(protocol::parse(black_box(at)), Request::At(_)))
    });
}

/// The log entries of one IAMAT (the line in, the AT line out), and the
/// whole of an IAMAT's own work: classify, record, answer, offer to the
/// cache, log. What is left of a request's CPU is the kernel's and the
/// thread's.
fn iamat_work(c: &mut Criterion) {
    let peer = "127.0.0.1:40168".to_owned();
    let at_line =
        "AT Clark +0.263873386 kiwi.cs.ucla.edu +34.068930-118.445127 1621464827.959498503";
    c.bench_function("log an IAMAT (two entries)", |b| {
        b.iter_batched(
            LogBatch::new,
            |mut log| {
                log.received(&peer, black_box(IAMAT.as_bytes()));
                log.sent(&peer, black_box(at_line.as_bytes()));
                log
            },
            BatchSize::SmallInput,
        )
    });
    let cache = Cache::new();
    let mut out = Vec::with_capacity(4096);
    let mut now = NOW.0;
    c.bench_function(
        "an IAMAT's own work (classify, record, answer, cache, log)",
        |b| {
            b.iter_batched(
                LogBatch::new,
                |mut log| {
                    now += 1;
                    out.clear();
                    log.received(&peer, IAMAT.as_bytes());
                    if let ClientLine::IAmAt(request) =
                        dispatch::client_line(IAMAT.as_bytes(), false)
                    {
                        let record = answer::iamat_record("Clark", Nanos(now), &request);
                        answer::write_iamat(&record, &mut out);
                        black_box(cache.offer(record));
                    }
                    log.sent(&peer, &out[..out.len() - 1]);
                    log
                },
                BatchSize::SmallInput,
            )
        },
    );
}

/// A record for client `i` at time `t`.
fn record(i: usize, t: i128) -> AtRecord {
    let client = format!("client-{i}");
    let time_text = format!("{t}.000000000");
    let location_text = "+34.068930-118.445127";
    let at = AtLine {
        server: "Clark",
        diff: "+0.000001000",
        client: &client,
        location_text,
        location: protocol::Location::parse(location_text).expect("location"),
        time_text: &time_text,
        time: Nanos(t * 1_000_000_000),
    };
    AtRecord::new(&at)
}

fn cache_offer(c: &mut Criterion) {
    let cache = Cache::new();
    for i in 0..10_000 {
        cache.offer(record(i, 1));
    }
    let mut t = 2;
    c.bench_function("cache offer (10k clients, newer record)", |b| {
        b.iter_batched(
            || {
                t += 1;
                record(t as usize % 10_000, t)
            },
            |r| cache.offer(r),
            BatchSize::SmallInput,
        )
    });
    // A full cache (PROTOCOL §5, max_cached_clients): each new client
    // evicts the oldest one.
    let full = Cache::bounded(10_000);
    for i in 0..10_000 {
        full.offer(record(i, 1));
    }
    let mut newcomer = 10_000;
    c.bench_function("cache offer, full (10k bound), a new client evicts", |b| {
        b.iter_batched(
            || {
                newcomer += 1;
                t += 1;
                record(newcomer, t)
            },
            |r| full.offer(r),
            BatchSize::SmallInput,
        )
    });
    // The same while another thread offers and reads as fast as it can:
    // what the write lock costs when it is contended.
    let cache = Arc::new(Cache::new());
    for i in 0..10_000 {
        cache.offer(record(i, 1));
    }
    let stop = Arc::new(AtomicBool::new(false));
    let rival = {
        let (cache, stop) = (Arc::clone(&cache), Arc::clone(&stop));
        std::thread::spawn(move || {
            let mut t: i128 = 1_000_000_000;
            while !stop.load(Ordering::Relaxed) {
                t += 1;
                cache.offer(record(t as usize % 10_000, t));
                black_box(cache.get("client-7"));
            }
        })
    };
    c.bench_function("cache offer, contended by a second thread", |b| {
        b.iter_batched(
            || {
                t += 1;
                record(t as usize % 10_000, t)
            },
            |r| cache.offer(r),
            BatchSize::SmallInput,
        )
    });
    stop.store(true, Ordering::Relaxed);
    let _ = rival.join();
}

fn places_shaping(c: &mut Criterion) {
    let offline = Offline::new().expect("the offline data set loads");
    let query = NearbyQuery {
        lat: 34.068930,
        lng: -118.445127,
        radius_m_text: "10000".to_owned(),
        radius_m: 10_000.0,
        bound: 5,
    };
    c.bench_function("offline search (UCLA, 10 km)", |b| {
        b.iter(|| offline.nearby(black_box(&query)))
    });
    let answer = offline.nearby(&query).expect("an answer");
    c.bench_function("shape WHATSAT JSON (5 results)", |b| {
        b.iter_batched(
            || Ok(answer.clone()),
            |answer| places::answer_json(answer, 5),
            BatchSize::SmallInput,
        )
    });
}

criterion_group!(
    benches,
    parse_and_format,
    iamat_work,
    cache_offer,
    places_shaping
);
criterion_main!(benches);
