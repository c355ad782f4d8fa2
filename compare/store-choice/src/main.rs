//! Measures the three candidate embedded stores for herd's durable caches
//! (fjall, SQLite through rusqlite, redb) on the node's workload: one writer,
//! batches of upserts of ~10-byte client ids to ~80-byte lines, 1M ids.
//!
//!     cargo run --release -- <store> <what>
//!
//! store: fjall | sqlite | redb
//! what:  write | fsync | crash | recover | corrupt | all (all of these),
//!        write-normal (sqlite only: the write test at synchronous=NORMAL)
//!
//! Data goes under $STORE_CHOICE_DIR (default /tmp/store-choice-data), which
//! each measurement removes when it is done. $STORE_CHOICE_N (default
//! 1000000) sets the number of ids, for a quick smoke run.
//!
//! Internal subcommands, run as child processes:
//!   <store> child <dir> <n> <batch> <mode> [<last-batch-mode>]
//!   <store> scan <dir> [checked]

mod stores;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use stores::{Mode, Res};

const MUL: u32 = 0x9E37_79B1; // odd: i -> i*MUL is a bijection on u32

fn n_ids() -> u32 {
    std::env::var("STORE_CHOICE_N")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000)
}

fn inv_mul() -> u32 {
    // Newton's iteration for the inverse of an odd number modulo 2^32.
    let mut x = MUL;
    for _ in 0..5 {
        x = x.wrapping_mul(2u32.wrapping_sub(MUL.wrapping_mul(x)));
    }
    x
}

/// Client id number i: 10 bytes, in a scattered order (as ids arrive).
fn key(i: u32) -> String {
    format!("id{:08x}", i.wrapping_mul(MUL))
}

/// The line stored for id i, generation g: 80 bytes, like
/// `AT Hill +0.263873386 kiwi.cs.ucla.edu +34.068930-118.445127 1621464827.959498503`.
fn value(i: u32, g: u32) -> String {
    format!(
        "AT Hill +0.{:09} kiwi.cs.ucla.edu +34.068930-118.445127 {}.{:09}",
        i,
        1_621_464_827 + g,
        i
    )
}

fn keys(n: u32) -> Vec<String> {
    (0..n).map(key).collect()
}
fn values(n: u32, g: u32) -> Vec<String> {
    (0..n).map(|i| value(i, g)).collect()
}

fn base_dir() -> PathBuf {
    PathBuf::from(std::env::var("STORE_CHOICE_DIR").unwrap_or("/tmp/store-choice-data".into()))
}

fn fresh_dir(name: &str) -> PathBuf {
    let d = base_dir().join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("create data dir");
    d
}

/// `du -sk`: the blocks the directory takes on disk, in KiB.
fn du_kib(dir: &Path) -> u64 {
    let out = Command::new("du").arg("-sk").arg(dir).output().expect("du");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

fn files(dir: &Path, out: &mut Vec<(PathBuf, u64)>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let md = e.metadata().unwrap();
        if md.is_dir() {
            files(&e.path(), out);
        } else {
            out.push((e.path(), md.len()));
        }
    }
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// The os-like modes, the fsync mode, and the mode a reader opens with.
fn modes(store: &str) -> (Vec<Mode>, Mode) {
    match store {
        "fjall" => (vec![Mode::Os], Mode::Fsync),
        "sqlite" => (vec![Mode::Os], Mode::Fsync),
        "redb" => (vec![Mode::RedbNone], Mode::Fsync),
        _ => panic!("unknown store {store}"),
    }
}
fn reader_mode(store: &str) -> Mode {
    if store == "redb" {
        Mode::Fsync
    } else {
        Mode::Os
    }
}
/// For data that a test only needs on disk: redb's os-like mode loses
/// everything on a crash, so its last batch is committed Immediate.
fn bulk_modes(store: &str) -> (Mode, Option<Mode>) {
    if store == "redb" {
        (Mode::RedbNone, Some(Mode::Fsync))
    } else {
        (Mode::Os, None)
    }
}

// ------------------------------------------------------------ statistics

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let idx = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[idx]
}

fn range(xs: &[f64], digits: usize) -> String {
    let min = xs.iter().cloned().fold(f64::INFINITY, f64::min);
    let max = xs.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    if xs.len() == 1 || format!("{min:.digits$}") == format!("{max:.digits$}") {
        format!("{min:.digits$}")
    } else {
        format!("{min:.digits$}-{max:.digits$}")
    }
}

// ------------------------------------------------------------ writing

/// Writes keys/vals in batches; returns total seconds and per-batch seconds.
fn write_batches(
    s: &mut dyn stores::Store,
    keys: &[String],
    vals: &[String],
    batch: usize,
) -> Res<(f64, Vec<f64>)> {
    let mut lat = Vec::with_capacity(keys.len() / batch + 1);
    let mut items: Vec<(&str, &str)> = Vec::with_capacity(batch);
    let t0 = Instant::now();
    for (ck, cv) in keys.chunks(batch).zip(vals.chunks(batch)) {
        items.clear();
        items.extend(
            ck.iter()
                .map(String::as_str)
                .zip(cv.iter().map(String::as_str)),
        );
        let tb = Instant::now();
        s.put_batch(&items)?;
        lat.push(tb.elapsed().as_secs_f64());
    }
    Ok((t0.elapsed().as_secs_f64(), lat))
}

// ------------------------------------------------------------ scanning

#[derive(Default, Debug)]
struct Scan {
    count: u64,
    bytes: u64,
    /// Records whose key or value is not one this program wrote.
    bad: u64,
    /// Per id: 0 absent, 1 + generation present.
    present: Vec<u8>,
}

fn scan(s: &mut dyn stores::Store, verify_n: Option<u32>) -> Res<Scan> {
    let mut r = Scan::default();
    let inv = inv_mul();
    if let Some(n) = verify_n {
        r.present = vec![0; n as usize];
    }
    s.scan(&mut |k, v| {
        r.count += 1;
        r.bytes += (k.len() + v.len()) as u64;
        let Some(n) = verify_n else { return };
        let i = std::str::from_utf8(k)
            .ok()
            .and_then(|k| k.strip_prefix("id"))
            .and_then(|h| u32::from_str_radix(h, 16).ok())
            .map(|x| x.wrapping_mul(inv))
            .filter(|&i| i < n && key(i).as_bytes() == k);
        let Some(i) = i else {
            r.bad += 1;
            return;
        };
        match (0..2).find(|&g| value(i, g).as_bytes() == v) {
            Some(g) => r.present[i as usize] = 1 + g as u8,
            None => r.bad += 1,
        }
    })?;
    Ok(r)
}

// ------------------------------------------------------------ the measurements

fn measure_write(store: &str, write_modes: Vec<Mode>) -> Res<()> {
    let n = n_ids();
    let ks = keys(n);
    let v0 = values(n, 0);
    let v1 = values(n, 1);
    println!(
        "## write: {n} distinct ids, then the same {n} ids overwritten; 3 runs each; load {}",
        loadavg()
    );
    for mode in write_modes {
        for batch in [64usize, 1024] {
            let (mut w, mut o, mut p50, mut p99, mut op99, mut sz1, mut sz2) =
                (vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
            for rep in 0..3 {
                let dir = fresh_dir(&format!("{store}-write"));
                let mut s = stores::open(store, &dir, mode, false)?;
                let (t1, mut l1) = write_batches(s.as_mut(), &ks, &v0, batch)?;
                let tc = Instant::now();
                s.close()?;
                let close1 = tc.elapsed().as_secs_f64();
                let k1 = du_kib(&dir);
                let mut s = stores::open(store, &dir, mode, false)?;
                let (t2, mut l2) = write_batches(s.as_mut(), &ks, &v1, batch)?;
                let tc = Instant::now();
                s.close()?;
                let close2 = tc.elapsed().as_secs_f64();
                let k2 = du_kib(&dir);
                if rep == 0 {
                    let mut s = stores::open(store, &dir, reader_mode(store), false)?;
                    let r = scan(s.as_mut(), Some(n))?;
                    s.close()?;
                    let g1 = r.present.iter().filter(|&&p| p == 2).count();
                    assert!(
                        r.count == n as u64 && r.bad == 0 && g1 == n as usize,
                        "verify failed: {r:?}"
                    );
                }
                l1.sort_by(f64::total_cmp);
                l2.sort_by(f64::total_cmp);
                println!(
                    "  run {rep}: mode={} batch={batch}: write {t1:.2}s ({:.2} us/update, batch p50 {:.0} us p99 {:.0} us, close {close1:.2}s) du {} MiB; overwrite {t2:.2}s ({:.2} us/update, batch p99 {:.0} us, close {close2:.2}s) du {} MiB",
                    mode.name(),
                    t1 * 1e6 / n as f64,
                    pct(&l1, 50.0) * 1e6,
                    pct(&l1, 99.0) * 1e6,
                    k1 / 1024,
                    t2 * 1e6 / n as f64,
                    pct(&l2, 99.0) * 1e6,
                    k2 / 1024
                );
                if rep == 0 {
                    let mut fl = vec![];
                    files(&dir, &mut fl);
                    fl.sort_by_key(|f| std::cmp::Reverse(f.1));
                    let top: Vec<String> = fl
                        .iter()
                        .take(4)
                        .map(|(p, l)| {
                            format!(
                                "{} {} KiB",
                                p.strip_prefix(&dir).unwrap().display(),
                                l / 1024
                            )
                        })
                        .collect();
                    println!(
                        "    files after overwrite: {} in all; largest: {}",
                        fl.len(),
                        top.join(", ")
                    );
                }
                w.push(t1 * 1e6 / n as f64);
                o.push(t2 * 1e6 / n as f64);
                p50.push(pct(&l1, 50.0) * 1e6);
                p99.push(pct(&l1, 99.0) * 1e6);
                op99.push(pct(&l2, 99.0) * 1e6);
                sz1.push((k1 as f64) / 1024.0);
                sz2.push((k2 as f64) / 1024.0);
                std::fs::remove_dir_all(&dir)?;
            }
            println!(
                "RESULT {store} write mode={} batch={batch}: {} us/update (batch p50 {} us, p99 {} us); overwrite {} us/update (batch p99 {} us); du {} MiB after write, {} MiB after overwrite",
                mode.name(),
                range(&w, 2),
                range(&p50, 0),
                range(&p99, 0),
                range(&o, 2),
                range(&op99, 0),
                range(&sz1, 0),
                range(&sz2, 0)
            );
        }
    }
    Ok(())
}

fn measure_fsync(store: &str) -> Res<()> {
    let mode = modes(store).1;
    println!(
        "## fsync every batch (mode {}), fresh store; 3 runs each; load {}",
        mode.name(),
        loadavg()
    );
    for (batch, nb) in [(64usize, 2000usize), (1024, 500)] {
        let n = (batch * nb).min(n_ids() as usize) as u32;
        let ks = keys(n);
        let v0 = values(n, 0);
        let (mut per, mut p50, mut p99) = (vec![], vec![], vec![]);
        for rep in 0..3 {
            let dir = fresh_dir(&format!("{store}-fsync"));
            let mut s = stores::open(store, &dir, mode, false)?;
            let (t, mut l) = write_batches(s.as_mut(), &ks, &v0, batch)?;
            s.close()?;
            l.sort_by(f64::total_cmp);
            println!(
                "  run {rep}: batch={batch} x {}: {t:.2}s, {:.1} us/update, batch p50 {:.2} ms p99 {:.2} ms",
                l.len(),
                t * 1e6 / n as f64,
                pct(&l, 50.0) * 1e3,
                pct(&l, 99.0) * 1e3
            );
            per.push(t * 1e6 / n as f64);
            p50.push(pct(&l, 50.0) * 1e3);
            p99.push(pct(&l, 99.0) * 1e3);
            std::fs::remove_dir_all(&dir)?;
        }
        println!(
            "RESULT {store} fsync batch={batch} x {nb}: batch p50 {} ms, p99 {} ms; {} us/update",
            range(&p50, 2),
            range(&p99, 2),
            range(&per, 1)
        );
    }
    Ok(())
}

fn spawn_child(
    store: &str,
    dir: &Path,
    n: u32,
    batch: usize,
    mode: Mode,
    last: Option<Mode>,
) -> std::process::Child {
    let mut c = Command::new(std::env::current_exe().unwrap());
    c.args([
        store,
        "child",
        dir.to_str().unwrap(),
        &n.to_string(),
        &batch.to_string(),
        mode.name(),
    ]);
    if let Some(m) = last {
        c.arg(m.name());
    }
    c.stdout(Stdio::piped()).spawn().expect("spawn child")
}

fn child(store: &str, args: &[String]) -> Res<()> {
    let dir = Path::new(&args[0]);
    let n: u32 = args[1].parse()?;
    let batch: usize = args[2].parse()?;
    let mode = Mode::parse(&args[3]);
    let last = args.get(4).map(|s| Mode::parse(s));
    let ks = keys(n);
    let vs = values(n, 0);
    let mut s = stores::open(store, dir, mode, false)?;
    let nb = ks.len().div_ceil(batch);
    let out = std::io::stdout();
    let mut out = out.lock();
    let mut items: Vec<(&str, &str)> = Vec::with_capacity(batch);
    for (k, (ck, cv)) in ks.chunks(batch).zip(vs.chunks(batch)).enumerate() {
        if k + 1 == nb {
            if let Some(m) = last {
                s.set_mode(m)?;
            }
        }
        items.clear();
        items.extend(
            ck.iter()
                .map(String::as_str)
                .zip(cv.iter().map(String::as_str)),
        );
        s.put_batch(&items)?;
        writeln!(out, "batch {k} done")?;
        out.flush()?;
    }
    writeln!(out, "all done")?;
    out.flush()?;
    // Wait to be killed, store open.
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

/// Reads the child's lines until `line`; then SIGKILLs it at once.
fn kill_after(mut ch: std::process::Child, line: &str) -> Res<usize> {
    let mut rd = BufReader::new(ch.stdout.take().unwrap());
    let mut buf = String::new();
    let mut seen = 0;
    loop {
        buf.clear();
        if rd.read_line(&mut buf)? == 0 {
            return Err(format!("child ended before '{line}'").into());
        }
        seen += 1;
        if buf.trim_end() == line {
            ch.kill()?; // SIGKILL
            break;
        }
    }
    let st = ch.wait()?;
    // Lines the child wrote between the report and the kill.
    let mut rest = String::new();
    let _ = rd.read_to_string(&mut rest);
    let last = rest.lines().last().unwrap_or(line).to_string();
    println!("    killed after '{line}' ({st}); the child had got to '{last}'");
    Ok(seen)
}

fn measure_crash(store: &str) -> Res<()> {
    let n = 100_000u32.min(n_ids());
    let batch = 64usize;
    let nb = (n as usize).div_ceil(batch);
    println!(
        "## crash: a child writes {n} ids in {nb} batches of {batch}, SIGKILLed right after it reports 'batch k done'"
    );
    let crash_modes: Vec<Mode> = match store {
        "redb" => vec![Mode::RedbNone, Mode::Fsync],
        "sqlite" => vec![Mode::Os, Mode::Normal],
        s => modes(s).0,
    };
    for mode in crash_modes {
        let mut summary = vec![];
        for k in [nb / 16, nb / 2, nb - nb / 16] {
            let dir = fresh_dir(&format!("{store}-crash"));
            let ch = spawn_child(store, &dir, n, batch, mode, None);
            kill_after(ch, &format!("batch {k} done"))?;
            let mut s = stores::open(store, &dir, reader_mode(store), false)?;
            let r = scan(s.as_mut(), Some(n))?;
            s.close()?;
            let reported = ((k + 1) * batch).min(n as usize);
            let have = r.present[..reported].iter().filter(|&&p| p == 1).count();
            let later: Vec<usize> = r.present[reported..]
                .chunks(batch)
                .map(|c| c.iter().filter(|&&p| p == 1).count())
                .collect();
            let later_ids: usize = later.iter().sum();
            let partial = later.iter().filter(|&&c| c != 0 && c != batch).count();
            // A batch of the reported ones that is partly present also counts.
            let partial_rep = r.present[..reported]
                .chunks(batch)
                .filter(|c| {
                    let p = c.iter().filter(|&&p| p == 1).count();
                    p != 0 && p != c.len()
                })
                .count();
            println!(
                "  mode={} k={k}: reported ids present {have}/{reported}; ids of later batches present {later_ids}; partly present batches {}; bad records {}",
                mode.name(),
                partial + partial_rep,
                r.bad
            );
            summary.push(format!("{have}/{reported}"));
            std::fs::remove_dir_all(&dir)?;
        }
        println!(
            "RESULT {store} crash mode={}: reported ids present after SIGKILL: {}",
            mode.name(),
            summary.join(", ")
        );
    }
    Ok(())
}

fn measure_recover(store: &str) -> Res<()> {
    let n = n_ids();
    let (bulk, last) = bulk_modes(store);
    println!(
        "## recovery: a child writes {n} ids (batches of 1024, mode {}{}), is SIGKILLed; open + full scan; 3 runs; load {}",
        bulk.name(),
        last.map(|m| format!(", last batch {}", m.name()))
            .unwrap_or_default(),
        loadavg()
    );
    let (mut to, mut ts, mut tt) = (vec![], vec![], vec![]);
    for rep in 0..3 {
        let dir = fresh_dir(&format!("{store}-recover"));
        let ch = spawn_child(store, &dir, n, 1024, bulk, last);
        kill_after(ch, "all done")?;
        let k = du_kib(&dir);
        let t0 = Instant::now();
        let mut s = stores::open(store, &dir, reader_mode(store), false)?;
        let t_open = t0.elapsed().as_secs_f64();
        let r = scan(s.as_mut(), None)?;
        let t_all = t0.elapsed().as_secs_f64();
        s.close()?;
        println!(
            "  run {rep}: {} records ({} MiB of keys+values, dir {} MiB): open {t_open:.3}s, scan {:.3}s, total {t_all:.3}s",
            r.count,
            r.bytes >> 20,
            k / 1024,
            t_all - t_open
        );
        assert_eq!(r.count, n as u64, "records lost");
        to.push(t_open);
        ts.push(t_all - t_open);
        tt.push(t_all);
        std::fs::remove_dir_all(&dir)?;
    }
    println!(
        "RESULT {store} recover {n} ids after SIGKILL: open {} s + scan {} s = {} s",
        range(&to, 2),
        range(&ts, 2),
        range(&tt, 2)
    );
    Ok(())
}

/// Runs `<store> scan <dir> [checked]` as a child, so that a panic or a hang
/// is seen as what it is.
fn scan_child(store: &str, dir: &Path, checked: bool) -> String {
    let mut c = Command::new(std::env::current_exe().unwrap());
    c.args([store, "scan", dir.to_str().unwrap()]);
    if checked {
        c.arg("checked");
    }
    let out_path = dir.with_extension("out");
    let err_path = dir.with_extension("err");
    c.stdout(std::fs::File::create(&out_path).unwrap());
    c.stderr(std::fs::File::create(&err_path).unwrap());
    let t0 = Instant::now();
    let mut ch = c.spawn().expect("spawn scan");
    let st = loop {
        if let Some(st) = ch.try_wait().unwrap() {
            break Some(st);
        }
        if t0.elapsed() > Duration::from_secs(300) {
            let _ = ch.kill();
            let _ = ch.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let out = std::fs::read_to_string(&out_path).unwrap_or_default();
    let err = std::fs::read_to_string(&err_path).unwrap_or_default();
    let _ = std::fs::remove_file(&out_path);
    let _ = std::fs::remove_file(&err_path);
    let err_line = err
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with("redb: repairing"))
        .take(2)
        .collect::<Vec<_>>()
        .join(" ");
    match st {
        None => "HANG: no answer within 300 s".into(),
        Some(st) if st.code() == Some(0) => out.trim().to_string(),
        Some(st) if st.code() == Some(2) => out.trim().to_string(),
        Some(st) => format!(
            "CRASH ({st}): {}",
            err_line.chars().take(300).collect::<String>()
        ),
    }
}

fn scan_cmd(store: &str, args: &[String]) -> Res<()> {
    let dir = Path::new(&args[0]);
    let checked = args.get(1).map(|s| s == "checked").unwrap_or(false);
    let n = n_ids();
    let t0 = Instant::now();
    let r = stores::open(store, dir, reader_mode(store), checked).and_then(|mut s| {
        let r = scan(s.as_mut(), Some(n))?;
        s.close()?;
        Ok(r)
    });
    match r {
        Ok(r) => {
            let g0 = r.present.iter().filter(|&&p| p == 1).count();
            println!(
                "OK (no error): {} records, {} of them not as written; {} of {n} ids present ({:.1}s)",
                r.count,
                r.bad,
                g0,
                t0.elapsed().as_secs_f64()
            );
            Ok(())
        }
        Err(e) => {
            println!(
                "ERROR: {}",
                e.to_string().chars().take(300).collect::<String>()
            );
            std::process::exit(2);
        }
    }
}

fn measure_corrupt(store: &str) -> Res<()> {
    let n = n_ids();
    let (bulk, last) = bulk_modes(store);
    println!(
        "## corruption: {n} ids written (batches of 1024), clean close; then the largest file damaged; open + full scan in a child process"
    );
    let base = fresh_dir(&format!("{store}-corrupt"));
    {
        let ks = keys(n);
        let vs = values(n, 0);
        let mut s = stores::open(store, &base, bulk, false)?;
        let split = ks.len() - 1024;
        write_batches(s.as_mut(), &ks[..split], &vs[..split], 1024)?;
        if let Some(m) = last {
            s.set_mode(m)?;
        }
        write_batches(s.as_mut(), &ks[split..], &vs[split..], 1024)?;
        s.close()?;
    }
    let mut fl = vec![];
    files(&base, &mut fl);
    fl.sort_by_key(|f| std::cmp::Reverse(f.1));
    let listing: Vec<String> = fl
        .iter()
        .take(6)
        .map(|(p, l)| {
            format!(
                "{} ({} KiB)",
                p.strip_prefix(&base).unwrap().display(),
                l / 1024
            )
        })
        .collect();
    println!(
        "  files: {} in all; largest: {}",
        fl.len(),
        listing.join(", ")
    );
    {
        // On a copy: an open may change the files (fjall replays and retires
        // its journal).
        let d = base_dir().join(format!("{store}-corrupt-undamaged"));
        let _ = std::fs::remove_dir_all(&d);
        Command::new("cp").arg("-a").arg(&base).arg(&d).status()?;
        println!("  undamaged: {}", scan_child(store, &d, false));
        std::fs::remove_dir_all(&d)?;
    }
    // The largest file, as the brief says; where its length is mostly a
    // preallocated hole (fjall's journal), also the middle and half of the
    // part written; for fjall also the largest table file, where the data
    // lives once flushed.
    let mut targets: Vec<(String, PathBuf, u64)> = vec![];
    let (largest, len) = fl[0].clone();
    let rel = largest.strip_prefix(&base).unwrap().to_path_buf();
    targets.push((
        format!("{} ({} KiB)", rel.display(), len / 1024),
        rel.clone(),
        len,
    ));
    {
        use std::os::unix::fs::MetadataExt;
        let alloc = std::fs::metadata(&largest)?.blocks() * 512;
        if alloc < len / 2 {
            targets.push((
                format!(
                    "{}, its written part ({} KiB allocated of {} KiB)",
                    rel.display(),
                    alloc / 1024,
                    len / 1024
                ),
                rel.clone(),
                alloc,
            ));
        }
    }
    if store == "fjall" {
        if let Some((p, l)) = fl
            .iter()
            .find(|(p, _)| p.to_string_lossy().contains("/tables/"))
        {
            let r = p.strip_prefix(&base).unwrap().to_path_buf();
            targets.push((
                format!("largest table file {} ({} KiB)", r.display(), l / 1024),
                r,
                *l,
            ));
        }
    }
    for (label, rel, len) in targets {
        for what in [
            "a: 4 KiB of random bytes in the middle",
            "b: truncated to half",
        ] {
            let dir = base_dir().join(format!("{store}-corrupt-{}", &what[..1]));
            let _ = std::fs::remove_dir_all(&dir);
            let st = Command::new("cp").arg("-a").arg(&base).arg(&dir).status()?;
            assert!(st.success());
            let f = dir.join(&rel);
            if what.starts_with('a') {
                use std::os::unix::fs::FileExt;
                let mut x: u64 = 0x2545_F491_4F6C_DD1D;
                let junk: Vec<u8> = (0..4096)
                    .map(|_| {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        x as u8
                    })
                    .collect();
                let off = (len / 2) & !4095;
                std::fs::OpenOptions::new()
                    .write(true)
                    .open(&f)?
                    .write_all_at(&junk, off)?;
            } else {
                std::fs::OpenOptions::new()
                    .write(true)
                    .open(&f)?
                    .set_len(len / 2)?;
            }
            let checks: &[bool] = if store == "fjall" {
                &[false]
            } else {
                &[false, true]
            };
            for &checked in checks {
                let d2 = base_dir().join(format!("{store}-corrupt-{}-{}", &what[..1], checked));
                let _ = std::fs::remove_dir_all(&d2);
                Command::new("cp").arg("-a").arg(&dir).arg(&d2).status()?;
                let res = scan_child(store, &d2, checked);
                println!(
                    "RESULT {store} corrupt {what} of {label}{}: {res}",
                    if checked { " [checked open]" } else { "" }
                );
                std::fs::remove_dir_all(&d2)?;
            }
            std::fs::remove_dir_all(&dir)?;
        }
    }
    std::fs::remove_dir_all(&base)?;
    Ok(())
}

fn main() -> Res<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 2 {
        eprintln!(
            "usage: store-choice <fjall|sqlite|redb> <write|fsync|crash|recover|corrupt|all>"
        );
        std::process::exit(1);
    }
    let store = args[0].as_str();
    let what = args[1].as_str();
    match what {
        "child" => return child(store, &args[2..]),
        "scan" => return scan_cmd(store, &args[2..]),
        _ => {}
    }
    println!(
        "# {store} {what}: SQLite {} bundled (page cache {} MiB); nproc {}; data under {}; load {}",
        rusqlite::version(),
        std::env::var("STORE_CHOICE_SQLITE_CACHE_MIB").unwrap_or("64".into()),
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0),
        base_dir().display(),
        loadavg()
    );
    let t0 = Instant::now();
    let all = what == "all";
    if all || what == "write" {
        measure_write(store, modes(store).0)?;
    }
    // SQLite's synchronous=NORMAL: apart, as it alone takes ~4 minutes.
    if what == "write-normal" {
        measure_write(store, vec![Mode::Normal])?;
    }
    if all || what == "fsync" {
        measure_fsync(store)?;
    }
    if all || what == "crash" {
        measure_crash(store)?;
    }
    if all || what == "recover" {
        measure_recover(store)?;
    }
    if all || what == "corrupt" {
        measure_corrupt(store)?;
    }
    println!(
        "# {store} {what} done in {:.0}s; load {}",
        t0.elapsed().as_secs_f64(),
        loadavg()
    );
    Ok(())
}
