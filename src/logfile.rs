//! The per-node log file, `<log-dir>/<NAME>.log` (PROTOCOL §4).
//!
//! Every thread of a node formats its own entries (every line received and
//! sent, with the other end's address, and notices such as a neighbour's
//! link going up or down) and hands them, a batch at a time, to one writer
//! thread through a queue; the writer appends them to the file, flushes
//! whenever it has caught up, and lets the next entries gather for a moment
//! (see [`LOG_GATHER`](crate::limits::LOG_GATHER)). Entries are escaped so
//! that bytes a client sends can never forge a log line. No API key or
//! secret is ever passed here: the Places providers log only their own safe
//! messages.
//!
//! Handing a batch over never waits for the writer: the queue is a
//! lock-free list, and a writer that sleeps between rounds is not woken per
//! batch. What bounds it is bytes ([`LOG_QUEUE_BYTES`]): past that (a slow
//! disk, or a writer thread starved of CPU among a thousand busy workers),
//! the thread that hands a batch over writes out the queue and its batch
//! itself, under the file's lock, in queue order. So a full queue never
//! parks a thousand workers to be woken one by one, no line is lost, and
//! memory stays bounded.
//!
//! Keeping the file within bounds (PROTOCOL §4) happens where bytes reach
//! the file, under its lock, so that neither the writer nor a submitter
//! writing for itself can split an entry: with `max_bytes` set, an entry
//! that would take the file past it first moves `NAME.log` to `NAME.log.1`
//! (older ones up to `NAME.log.K`); [`NodeLog::reopen`] (SIGHUP) swaps the
//! file for a fresh open of `NAME.log`, for `logrotate`.

use std::cell::RefCell;
use std::fmt::Display;
use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crossbeam_channel::{Receiver, Select, Sender, unbounded};
use parking_lot::Mutex;

use crate::limits::{LOG_FILE_BUFFER, LOG_GATHER, LOG_QUEUE_BYTES, MAX_LOGGED_BYTES};

/// How a node's log is kept (PROTOCOL §4; `[log]` and the `--log-*` flags).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogOptions {
    /// Rotate before an entry would take the file past this many bytes;
    /// 0: never.
    pub max_bytes: u64,
    /// Rotated files kept (`NAME.log.1` to `NAME.log.K`), at least 1.
    pub keep: u32,
    /// Log WHATSAT answers whole instead of as summary entries.
    pub answers: bool,
}

impl Default for LogOptions {
    fn default() -> Self {
        LogOptions {
            max_bytes: 0,
            keep: DEFAULT_LOG_KEEP,
            answers: false,
        }
    }
}

/// `--log-keep` by default.
pub const DEFAULT_LOG_KEEP: u32 = 5;

/// A cheap, cloneable handle for writing to one node's log.
#[derive(Clone, Debug)]
pub struct NodeLog {
    shared: Arc<Shared>,
    path: PathBuf,
    answers: bool,
}

/// What the handles and the writer thread share.
#[derive(Debug)]
struct Shared {
    queue: Sender<Vec<u8>>,
    /// The other end of `queue`, drained by whoever holds `file`.
    pending: Receiver<Vec<u8>>,
    /// Bytes in `queue`.
    queued: AtomicUsize,
    /// Past this many bytes queued, a submitter writes for itself.
    bound: usize,
    file: Mutex<Sink>,
    stopping: AtomicBool,
}

#[derive(Debug)]
struct Sink {
    out: BufWriter<File>,
    /// A write failed and was reported once (a full disk is reported once,
    /// not once a line).
    failed: bool,
    /// `<log-dir>/<NAME>.log`, reopened on rotation and on SIGHUP.
    path: PathBuf,
    /// Bytes in the file: its size when opened plus every byte written.
    size: u64,
    max_bytes: u64,
    keep: u32,
}

/// The writer thread; [`LogWriter::stop`] flushes and joins it.
#[derive(Debug)]
pub struct LogWriter {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

/// Entries being gathered by one thread, submitted with [`NodeLog::submit`].
#[derive(Debug, Default)]
pub struct LogBatch {
    text: Vec<u8>,
}

/// Opens (creating the directory if needed, appending to the file) the log
/// of node `name` and starts its writer thread.
pub fn open(dir: &Path, name: &str, options: &LogOptions) -> io::Result<(NodeLog, LogWriter)> {
    open_bounded(dir, name, options, LOG_QUEUE_BYTES)
}

/// [`open`] with `bound` bytes of queue (tests make it small).
fn open_bounded(
    dir: &Path,
    name: &str,
    options: &LogOptions,
    bound: usize,
) -> io::Result<(NodeLog, LogWriter)> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join(format!("{name}.log"));
    let (file, size) = open_appending(&path)?;
    let (queue, pending) = unbounded();
    let shared = Arc::new(Shared {
        queue,
        pending,
        queued: AtomicUsize::new(0),
        bound,
        file: Mutex::new(Sink {
            out: BufWriter::with_capacity(LOG_FILE_BUFFER, file),
            failed: false,
            path: path.clone(),
            size,
            max_bytes: options.max_bytes,
            keep: options.keep.max(1),
        }),
        stopping: AtomicBool::new(false),
    });
    let writer = Arc::clone(&shared);
    let thread = std::thread::Builder::new()
        .name(format!("log-{name}"))
        .spawn(move || write_entries(&writer))?;
    Ok((
        NodeLog {
            shared: Arc::clone(&shared),
            path,
            answers: options.answers,
        },
        LogWriter {
            shared,
            thread: Some(thread),
        },
    ))
}

/// The writer thread: waits for a batch, writes out everything queued,
/// flushes, sleeps [`LOG_GATHER`], and again, until the node stops.
fn write_entries(shared: &Shared) {
    let mut waiting = Select::new();
    waiting.recv(&shared.pending);
    loop {
        // Parked only while the queue is empty: the first batch after a
        // quiet spell wakes it, the rest of a burst is queued unnoticed.
        // Nothing is taken off the queue before the file's lock is held,
        // so a submitter writing for itself cannot overtake a batch.
        waiting.ready();
        let mut sink = shared.file.lock();
        shared.drain_into(&mut sink);
        sink.flush();
        drop(sink);
        if shared.stopping.load(Ordering::Acquire) && shared.pending.is_empty() {
            return;
        }
        std::thread::sleep(LOG_GATHER);
    }
}

impl Shared {
    /// Writes out every queued batch, in queue order (`sink` is the file's
    /// lock, held).
    fn drain_into(&self, sink: &mut Sink) {
        while let Ok(batch) = self.pending.try_recv() {
            self.write_one(sink, &batch);
        }
    }

    fn write_one(&self, sink: &mut Sink, batch: &[u8]) {
        self.queued.fetch_sub(batch.len(), Ordering::AcqRel);
        sink.write(batch);
    }
}

/// Opens `path` for appending (creating it); returns it and its size.
fn open_appending(path: &Path) -> io::Result<(File, u64)> {
    let file = OpenOptions::new().create(true).append(true).open(path)?;
    let size = file.metadata()?.len();
    Ok((file, size))
}

impl Sink {
    /// Appends whole entries (each ends with a newline), rotating first
    /// wherever the next entry would take the file past `max_bytes`.
    fn write(&mut self, bytes: &[u8]) {
        let max = self.max_bytes;
        let fits = move |size: u64, len: usize| size.saturating_add(len as u64) <= max;
        if self.max_bytes == 0 || fits(self.size, bytes.len()) {
            self.put(bytes);
            return;
        }
        let mut rest = bytes;
        while !rest.is_empty() {
            let end = memchr::memchr(b'\n', rest).map_or(rest.len(), |at| at + 1);
            let (entry, tail) = rest.split_at(end);
            if self.size > 0 && !fits(self.size, entry.len()) {
                self.rotate();
            }
            self.put(entry);
            rest = tail;
        }
    }

    fn put(&mut self, bytes: &[u8]) {
        self.size = self.size.saturating_add(bytes.len() as u64);
        if let Err(e) = self.out.write_all(bytes) {
            self.report_once(&e);
        }
    }

    /// `NAME.log.(K-1)` -> `NAME.log.K` (the oldest is replaced, that is
    /// deleted), ..., `NAME.log` -> `NAME.log.1`, then a fresh `NAME.log`.
    fn rotate(&mut self) {
        self.flush();
        let path = self.path.clone();
        let numbered = move |n: u32| {
            let mut name = path.clone().into_os_string();
            name.push(format!(".{n}"));
            PathBuf::from(name)
        };
        for n in (1..self.keep).rev() {
            match std::fs::rename(numbered(n), numbered(n + 1)) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => self.report_once(&e),
                _ => {}
            }
        }
        if let Err(e) = std::fs::rename(&self.path, numbered(1)) {
            // Keep writing where we are, and try again after another
            // `max_bytes` rather than at every entry.
            self.report_once(&e);
            self.size = 0;
            return;
        }
        self.reopen();
    }

    /// Swaps the file for a fresh open of `path` (created if missing). If
    /// that fails the old file is kept, and the error reported once.
    fn reopen(&mut self) {
        self.flush();
        match open_appending(&self.path) {
            Ok((file, size)) => {
                self.out = BufWriter::with_capacity(LOG_FILE_BUFFER, file);
                self.size = size;
                self.failed = false;
            }
            Err(e) => {
                self.report_once(&e);
                // No rotation again before the next `max_bytes`.
                self.size = 0;
            }
        }
    }

    fn flush(&mut self) {
        if let Err(e) = self.out.flush() {
            self.report_once(&e);
        }
    }

    fn report_once(&mut self, e: &io::Error) {
        if !self.failed {
            log::error!("cannot write the node log: {e}");
            self.failed = true;
        }
    }
}

impl LogWriter {
    /// Writes out everything submitted so far, then ends the writer thread.
    pub fn stop(mut self) {
        self.shared.stopping.store(true, Ordering::Release);
        // An empty batch wakes the writer if it is parked; it writes nothing.
        let _ = self.shared.queue.send(Vec::new());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        let mut sink = self.shared.file.lock();
        self.shared.drain_into(&mut sink);
        sink.flush();
    }
}

impl NodeLog {
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// True if WHATSAT answers are logged whole (`--log-answers`), not as
    /// summary entries.
    pub fn logs_answers(&self) -> bool {
        self.answers
    }

    /// Reopens `<log-dir>/<NAME>.log` (SIGHUP, for `logrotate`): what was
    /// submitted before goes to the old file, then the new one starts with
    /// the notice `log reopened`. Blocks for as long as the file's lock is
    /// held and a file takes to open.
    pub fn reopen(&self) {
        let shared = &self.shared;
        let mut sink = shared.file.lock();
        shared.drain_into(&mut sink);
        sink.reopen();
        let mut notice = LogBatch::new();
        notice.notice("log reopened");
        sink.write(&notice.text);
        sink.flush();
    }

    /// Hands a batch to the writer. Never waits for it: past
    /// [`LOG_QUEUE_BYTES`] queued, this thread writes the queue and the
    /// batch out itself.
    pub fn submit(&self, batch: LogBatch) {
        let text = batch.text;
        if text.is_empty() {
            return;
        }
        let shared = &self.shared;
        let stopping = shared.stopping.load(Ordering::Acquire);
        if !stopping && shared.queued.load(Ordering::Acquire) < shared.bound {
            shared.queued.fetch_add(text.len(), Ordering::AcqRel);
            // Cannot fail: `shared` holds the receiving end.
            let _ = shared.queue.send(text);
            return;
        }
        let mut sink = shared.file.lock();
        shared.drain_into(&mut sink);
        sink.write(&text);
        if stopping {
            // The writer may be gone: nobody else will flush this.
            sink.flush();
        }
    }

    /// Logs one notice on its own.
    pub fn notice(&self, text: impl Display) {
        let mut batch = LogBatch::default();
        batch.notice(text);
        self.submit(batch);
    }
}

impl LogBatch {
    pub fn new() -> LogBatch {
        LogBatch::default()
    }

    /// This batch, for [`NodeLog::submit`], leaving an empty one with room
    /// for as much (so the next request's entries do not grow it again).
    pub fn take(&mut self) -> LogBatch {
        let room = self.text.len().max(256);
        LogBatch {
            text: std::mem::replace(&mut self.text, Vec::with_capacity(room)),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    /// `<time> < <from> <line>`: a line received from `from`.
    pub fn received(&mut self, from: impl Display, line: &[u8]) {
        self.entry('<', from, line);
    }

    /// `<time> > <to> <text>`: text sent to `to` (a multi-line WHATSAT
    /// answer stays one entry, its newlines written as `\n`).
    pub fn sent(&mut self, to: impl Display, text: &[u8]) {
        self.entry('>', to, text);
    }

    /// `<time> > <to> <AT line> [answer: STATUS, N results, B bytes]`: the
    /// summary entry of a WHATSAT answer (PROTOCOL §4), where `answer` is
    /// the whole answer as sent (B is its length) and `status` and
    /// `results` are what Places answered.
    pub fn sent_summary(&mut self, to: impl Display, answer: &[u8], status: &str, results: usize) {
        let at_line = answer.split(|&b| b == b'\n').next().unwrap_or_default();
        write_timestamp(&mut self.text, SystemTime::now());
        let _ = write!(self.text, " > {to} ");
        escape_into(&mut self.text, at_line);
        self.text.extend_from_slice(b" [answer: ");
        escape_into(&mut self.text, status.as_bytes());
        let _ = writeln!(self.text, ", {results} results, {} bytes]", answer.len());
    }

    /// `<time> * <text>`: something that happened.
    pub fn notice(&mut self, text: impl Display) {
        write_timestamp(&mut self.text, SystemTime::now());
        let _ = writeln!(self.text, " * {text}");
    }

    fn entry(&mut self, direction: char, other_end: impl Display, bytes: &[u8]) {
        write_timestamp(&mut self.text, SystemTime::now());
        let _ = write!(self.text, " {direction} {other_end} ");
        escape_into(&mut self.text, bytes);
        self.text.push(b'\n');
    }
}

thread_local! {
    /// This thread's last whole second and its RFC 3339 text up to the
    /// point (`2026-12-04T15:18:23.`): a log entry is stamped with a copy of
    /// it and six digits, so the calendar is worked out once a second per
    /// thread rather than twice a request.
    static SECOND: RefCell<(u64, Vec<u8>)> = const { RefCell::new((u64::MAX, Vec::new())) };
}

/// Appends `now` as RFC 3339 UTC with microseconds
/// (`2026-12-04T15:18:23.792240Z`), the same text as
/// `humantime::format_rfc3339_micros`.
fn write_timestamp(out: &mut Vec<u8>, now: SystemTime) {
    let since = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let (secs, micros) = (since.as_secs(), since.subsec_micros());
    SECOND.with(|cell| {
        let mut cached = cell.borrow_mut();
        if cached.0 != secs {
            let whole = humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(secs));
            let mut prefix = whole.to_string().into_bytes();
            // `...:23Z` -> `...:23.`
            prefix.pop();
            prefix.push(b'.');
            *cached = (secs, prefix);
        }
        out.extend_from_slice(&cached.1);
    });
    let mut digits = [b'0'; 6];
    let mut left = micros;
    for digit in digits.iter_mut().rev() {
        *digit = b'0' + (left % 10) as u8;
        left /= 10;
    }
    out.extend_from_slice(&digits);
    out.push(b'Z');
}

/// Printable ASCII as is; `\` doubled; LF, CR, TAB as `\n`, `\r`, `\t`;
/// every other byte as `\xNN`. Cut at [`MAX_LOGGED_BYTES`].
fn escape_into(out: &mut Vec<u8>, bytes: &[u8]) {
    let shown = &bytes[..bytes.len().min(MAX_LOGGED_BYTES)];
    let needs_escape = |b: &u8| !(0x20..=0x7e).contains(b) || *b == b'\\';
    let mut rest = shown;
    // Runs of plain bytes are copied whole; only the others are escaped.
    while let Some(at) = rest.iter().position(needs_escape) {
        out.extend_from_slice(&rest[..at]);
        escape_byte(out, rest[at]);
        rest = &rest[at + 1..];
    }
    out.extend_from_slice(rest);
    if bytes.len() > shown.len() {
        let _ = write!(out, "... (+{} bytes)", bytes.len() - shown.len());
    }
}

/// One byte that `escape_into` does not copy as it is.
fn escape_byte(out: &mut Vec<u8>, b: u8) {
    match b {
        b'\\' => out.extend_from_slice(b"\\\\"),
        b'\n' => out.extend_from_slice(b"\\n"),
        b'\r' => out.extend_from_slice(b"\\r"),
        b'\t' => out.extend_from_slice(b"\\t"),
        _ => {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `threads` threads each log `each` numbered notices through a queue
    /// of `bound` bytes; returns the file's lines after the stop.
    fn log_from_threads(threads: usize, each: usize, bound: usize) -> Vec<String> {
        let dir = tempfile::tempdir().expect("a temp dir");
        let options = LogOptions::default();
        let (log, writer) = open_bounded(dir.path(), "T", &options, bound).expect("open");
        std::thread::scope(|scope| {
            for t in 0..threads {
                let log = log.clone();
                scope.spawn(move || {
                    for i in 0..each {
                        let mut batch = LogBatch::new();
                        batch.received("peer", format!("{t} {i}").as_bytes());
                        log.submit(batch);
                    }
                });
            }
        });
        writer.stop();
        let text = std::fs::read_to_string(dir.path().join("T.log")).expect("the log");
        text.lines().map(str::to_owned).collect()
    }

    /// Every entry is in the file once, each thread's in the order it
    /// logged them.
    fn assert_complete_and_ordered(lines: &[String], threads: usize, each: usize) {
        assert_eq!(lines.len(), threads * each);
        let mut next = vec![0; threads];
        for line in lines {
            let mut words = line.rsplit(' ');
            let i: usize = words.next().and_then(|w| w.parse().ok()).expect("a number");
            let t: usize = words.next().and_then(|w| w.parse().ok()).expect("a thread");
            assert_eq!(i, next[t], "thread {t} out of order at {line:?}");
            next[t] += 1;
        }
    }

    #[test]
    fn no_entry_is_lost_or_reordered_through_the_writer() {
        let lines = log_from_threads(4, 2_000, LOG_QUEUE_BYTES);
        assert_complete_and_ordered(&lines, 4, 2_000);
    }

    #[test]
    fn past_the_queue_bound_submitters_write_in_order_themselves() {
        // A bound smaller than one entry: nearly every batch takes the
        // submitter's own path, racing the writer for the file.
        let lines = log_from_threads(4, 2_000, 16);
        assert_complete_and_ordered(&lines, 4, 2_000);
    }

    /// The lines of `dir/name`, or none if there is no such file.
    fn lines_of(dir: &Path, name: &str) -> Vec<String> {
        std::fs::read_to_string(dir.join(name))
            .map(|text| text.lines().map(str::to_owned).collect())
            .unwrap_or_default()
    }

    /// Every line of `T.log`, `T.log.1`, ... up to `T.log.{keep}`, oldest
    /// file first; panics if any file is over `max` bytes.
    fn rotated_lines(dir: &Path, keep: u32, max: u64) -> Vec<String> {
        let mut names: Vec<String> = (1..=keep).rev().map(|n| format!("T.log.{n}")).collect();
        names.push("T.log".into());
        let mut lines = Vec::new();
        for name in names {
            let size = std::fs::metadata(dir.join(&name)).map_or(0, |m| m.len());
            assert!(size <= max, "{name} has {size} bytes, over {max}");
            lines.extend(lines_of(dir, &name));
        }
        lines
    }

    #[test]
    fn rotation_loses_no_entry_and_splits_none_from_many_threads() {
        for bound in [LOG_QUEUE_BYTES, 16] {
            let dir = tempfile::tempdir().expect("a temp dir");
            let options = LogOptions {
                max_bytes: 4_096,
                keep: 100,
                answers: false,
            };
            let (log, writer) = open_bounded(dir.path(), "T", &options, bound).expect("open");
            std::thread::scope(|scope| {
                for t in 0..4 {
                    let log = log.clone();
                    scope.spawn(move || {
                        for i in 0..500 {
                            let mut batch = LogBatch::new();
                            batch.received("peer", format!("{t} {}", 2 * i).as_bytes());
                            batch.received("peer", format!("{t} {}", 2 * i + 1).as_bytes());
                            log.submit(batch);
                        }
                    });
                }
            });
            writer.stop();
            let lines = rotated_lines(dir.path(), 100, 4_096);
            assert!(lines_of(dir.path(), "T.log.2").len() > 1, "no rotation");
            // Each line parses whole: no entry was split between files.
            assert_complete_and_ordered(&lines, 4, 1_000);
        }
    }

    #[test]
    fn rotation_keeps_k_files_and_a_large_entry_goes_alone() {
        let dir = tempfile::tempdir().expect("a temp dir");
        // What was there before the start counts.
        std::fs::write(dir.path().join("T.log"), vec![b'x'; 90]).expect("write");
        let options = LogOptions {
            max_bytes: 100,
            keep: 2,
            answers: false,
        };
        let (log, writer) = open(dir.path(), "T", &options).expect("open");
        log.notice("first");
        log.notice(format_args!("big {}", "y".repeat(200)));
        for i in 0..20 {
            log.notice(format_args!("n {i}"));
        }
        writer.stop();
        let dir = dir.path();
        assert!(!dir.join("T.log.3").exists());
        let all: Vec<String> = [lines_of(dir, "T.log.2"), lines_of(dir, "T.log.1")]
            .concat()
            .into_iter()
            .chain(lines_of(dir, "T.log"))
            .collect();
        assert!(
            all.last().is_some_and(|l| l.ends_with(" * n 19")),
            "{all:?}"
        );
        for name in ["T.log", "T.log.1", "T.log.2"] {
            let size = std::fs::metadata(dir.join(name)).map_or(0, |m| m.len());
            assert!(size <= 100, "{name}: {size} bytes");
            assert!(size > 0, "{name} is empty");
        }
        // Rotate the big entry through: it went alone into a fresh file.
        let dir2 = tempfile::tempdir().expect("a temp dir");
        std::fs::write(dir2.path().join("T.log"), vec![b'x'; 90]).expect("write");
        let (log, writer) = open(dir2.path(), "T", &options).expect("open");
        log.notice(format_args!("big {}", "y".repeat(200)));
        log.notice("after");
        writer.stop();
        assert_eq!(
            std::fs::read(dir2.path().join("T.log.2"))
                .map(|b| b.len())
                .ok(),
            Some(90)
        );
        let big = lines_of(dir2.path(), "T.log.1");
        assert_eq!(big.len(), 1);
        assert!(big[0].contains(" * big yyy"));
        let last = lines_of(dir2.path(), "T.log");
        assert_eq!(last.len(), 1);
        assert!(last[0].ends_with(" * after"));
    }

    #[test]
    fn reopen_starts_a_new_file_and_loses_nothing() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let (log, writer) = open(dir.path(), "T", &LogOptions::default()).expect("open");
        log.notice("before");
        std::fs::rename(dir.path().join("T.log"), dir.path().join("T.log.old")).expect("move");
        log.notice("queued before the reopen");
        log.reopen();
        log.notice("after");
        writer.stop();
        let old = lines_of(dir.path(), "T.log.old");
        assert_eq!(old.len(), 2, "{old:?}");
        assert!(old[1].ends_with(" * queued before the reopen"));
        let new = lines_of(dir.path(), "T.log");
        assert_eq!(new.len(), 2, "{new:?}");
        assert!(new[0].ends_with(" * log reopened"));
        assert!(new[1].ends_with(" * after"));
    }

    #[test]
    fn a_summary_entry_counts_the_whole_answer() {
        let mut batch = LogBatch::new();
        let answer = b"AT Clark +0.1 kiwi +1+1 1.5\n{\n   \"results\" : []\n}\n\n";
        batch.sent_summary("127.0.0.1:9", answer, "ZERO_RESULTS", 0);
        let text = String::from_utf8(batch.text).expect("utf-8");
        assert!(
            text.ends_with(&format!(
                " > 127.0.0.1:9 AT Clark +0.1 kiwi +1+1 1.5 \
                 [answer: ZERO_RESULTS, 0 results, {} bytes]\n",
                answer.len()
            )),
            "{text}"
        );
    }

    #[test]
    fn timestamps_match_humantime_across_seconds_and_the_epoch() {
        for nanos in [
            0u64,
            999_999_999,
            1_000_000_000,
            1_796_397_503_790_010_748,
            1_796_397_503_000_000_001,
            1_796_397_504_999_999_000,
            4_102_444_799_999_999_999,
        ] {
            let now = UNIX_EPOCH + Duration::from_nanos(nanos);
            let mut out = Vec::new();
            write_timestamp(&mut out, now);
            write_timestamp(&mut out, now);
            let expected = humantime::format_rfc3339_micros(now).to_string();
            assert_eq!(
                String::from_utf8_lossy(&out),
                format!("{expected}{expected}")
            );
        }
    }

    #[test]
    fn escaping_keeps_one_entry_per_line() {
        let mut out = Vec::new();
        escape_into(&mut out, b"IAMAT a\\b\n\r\t\x0b\xc2\xa0\xff");
        assert_eq!(out, b"IAMAT a\\\\b\\n\\r\\t\\x0b\\xc2\\xa0\\xff".to_vec());
        let mut long = Vec::new();
        escape_into(&mut long, &vec![b'x'; MAX_LOGGED_BYTES + 10]);
        assert!(long.ends_with(b"... (+10 bytes)"));
    }
}
