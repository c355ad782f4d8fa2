//! The per-node log file, `<log-dir>/<NAME>.log` (PROTOCOL §4).
//!
//! Every thread of a node formats its own entries (every line received and
//! sent, with the other end's address, and notices such as a neighbour's
//! link going up or down) and hands them, a batch at a time, to one writer
//! thread through a bounded channel; the writer appends them to the file,
//! flushes whenever it has caught up, and lets the next entries gather for
//! a moment (see [`LOG_GATHER`](crate::limits::LOG_GATHER)). Entries are escaped so that bytes a
//! client sends can never forge a log line. No API key or secret is ever
//! passed here: the Places providers log only their own safe messages.

use std::fmt::Display;
use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;
use std::time::SystemTime;

use crossbeam_channel::{Receiver, Sender, bounded};

use crate::limits::{LOG_FILE_BUFFER, LOG_GATHER, LOG_QUEUE, MAX_LOGGED_BYTES};

enum Message {
    Entries(Vec<u8>),
    Stop,
}

/// A cheap, cloneable handle for writing to one node's log.
#[derive(Clone, Debug)]
pub struct NodeLog {
    tx: Sender<Message>,
    path: PathBuf,
}

/// The writer thread; [`LogWriter::stop`] flushes and joins it.
#[derive(Debug)]
pub struct LogWriter {
    tx: Sender<Message>,
    thread: Option<JoinHandle<()>>,
}

/// Entries being gathered by one thread, submitted with [`NodeLog::submit`].
#[derive(Debug, Default)]
pub struct LogBatch {
    text: Vec<u8>,
}

/// Opens (creating the directory if needed, appending to the file) the log
/// of node `name` and starts its writer thread.
pub fn open(dir: &Path, name: &str) -> io::Result<(NodeLog, LogWriter)> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join(format!("{name}.log"));
    let file = OpenOptions::new().create(true).append(true).open(&path)?;
    let (tx, rx) = bounded(LOG_QUEUE);
    let thread = std::thread::Builder::new()
        .name(format!("log-{name}"))
        .spawn(move || write_entries(rx, BufWriter::with_capacity(LOG_FILE_BUFFER, file)))?;
    Ok((
        NodeLog {
            tx: tx.clone(),
            path,
        },
        LogWriter {
            tx,
            thread: Some(thread),
        },
    ))
}

fn write_entries(rx: Receiver<Message>, mut file: BufWriter<File>) {
    let mut failed = false;
    while let Ok(message) = rx.recv() {
        let mut next = Some(message);
        // Write everything queued, then flush once.
        while let Some(message) = next.take() {
            match message {
                Message::Entries(text) => {
                    if let Err(e) = file.write_all(&text) {
                        report_once(&mut failed, &e);
                    }
                }
                Message::Stop => {
                    let _ = file.flush();
                    return;
                }
            }
            next = rx.try_recv().ok();
        }
        if let Err(e) = file.flush() {
            report_once(&mut failed, &e);
        }
        std::thread::sleep(LOG_GATHER);
    }
    let _ = file.flush();
}

fn report_once(failed: &mut bool, e: &io::Error) {
    if !*failed {
        log::error!("cannot write the node log: {e}");
        *failed = true;
    }
}

impl LogWriter {
    /// Writes out everything submitted so far, then ends the writer thread.
    pub fn stop(mut self) {
        let _ = self.tx.send(Message::Stop);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl NodeLog {
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Queues a batch for the writer (waits if the writer is far behind).
    pub fn submit(&self, batch: LogBatch) {
        if !batch.text.is_empty() {
            let _ = self.tx.send(Message::Entries(batch.text));
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

    /// `<time> * <text>`: something that happened.
    pub fn notice(&mut self, text: impl Display) {
        let now = humantime::format_rfc3339_micros(SystemTime::now());
        let _ = writeln!(self.text, "{now} * {text}");
    }

    fn entry(&mut self, direction: char, other_end: impl Display, bytes: &[u8]) {
        let now = humantime::format_rfc3339_micros(SystemTime::now());
        let _ = write!(self.text, "{now} {direction} {other_end} ");
        escape_into(&mut self.text, bytes);
        self.text.push(b'\n');
    }
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
