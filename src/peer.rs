//! Inbound neighbour links: AT lines flooded to this node.
//!
//! A connection whose first line is a valid `PEER <name>` is handed here by
//! `connection.rs`. It is served on a thread of its own, never on a pool
//! worker: a link lives as long as the neighbour does and would pin a worker
//! for good. Each line goes to `cmd::peer_line` (AT -> cache -> flood). A
//! second link from the same neighbour replaces the first, so there are at
//! most as many of these threads as neighbours.

use std::collections::HashMap;
use std::net::{Shutdown as Both, SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;

use parking_lot::Mutex;

use crate::cmd;
use crate::line_reader::{Event, LineReader};
use crate::logfile::LogBatch;
use crate::node::NodeState;

/// The open inbound links, by neighbour name.
#[derive(Debug, Default)]
pub struct InboundLinks {
    next_id: AtomicU64,
    open: Mutex<HashMap<String, Inbound>>,
}

#[derive(Debug)]
struct Inbound {
    id: u64,
    stream: Option<TcpStream>,
    thread: JoinHandle<()>,
}

impl InboundLinks {
    /// Closes every link and waits for their threads (node stop).
    pub fn close_all(&self) {
        let open = std::mem::take(&mut *self.open.lock());
        for link in open.into_values() {
            link.close_and_join();
        }
    }

    /// Names of neighbours with an open inbound link.
    pub fn connected(&self) -> Vec<String> {
        let mut names: Vec<String> = self.open.lock().keys().cloned().collect();
        names.sort();
        names
    }
}

impl Inbound {
    fn close_and_join(self) {
        if let Some(stream) = &self.stream {
            let _ = stream.shutdown(Both::Both);
        }
        let _ = self.thread.join();
    }
}

/// Serves the link from neighbour `name` on a new thread, replacing (and
/// closing) any earlier link from it. `reader` may already hold lines that
/// followed the `PEER` line.
pub fn accept(
    state: &Arc<NodeState>,
    name: String,
    mut reader: LineReader<TcpStream>,
    addr: SocketAddr,
) {
    reader.set_idle(None);
    let id = state.inbound.next_id.fetch_add(1, Ordering::Relaxed);
    let stream = reader.get_ref().try_clone().ok();
    let thread_state = Arc::clone(state);
    let thread_name = name.clone();
    let spawned = std::thread::Builder::new()
        .name(format!("peer-{name}"))
        .spawn(move || serve(&thread_state, &thread_name, id, reader, addr));
    let thread = match spawned {
        Ok(thread) => thread,
        Err(e) => {
            state
                .log
                .notice(format_args!("link from {name} ({addr}) refused: {e}"));
            return;
        }
    };
    state
        .log
        .notice(format_args!("link from {name} ({addr}) up"));
    let replaced = state
        .inbound
        .open
        .lock()
        .insert(name.clone(), Inbound { id, stream, thread });
    if let Some(old) = replaced {
        state.log.notice(format_args!(
            "link from {name}: the new link replaces the old one"
        ));
        old.close_and_join();
    }
    // The neighbour is up, so our own link to it can stop backing off.
    state.flooder.wake(&name);
}

fn serve(
    state: &NodeState,
    name: &str,
    id: u64,
    mut reader: LineReader<TcpStream>,
    addr: SocketAddr,
) {
    let garbage_limit = state.limits().peer_garbage_lines;
    let mut garbage = 0;
    let mut log = LogBatch::new();
    let why = loop {
        let event = reader.next_line();
        let why = match event {
            Ok(Event::Line(line)) => {
                log.received(addr, line);
                if !cmd::peer_line(state, name, line) {
                    garbage += 1;
                    if garbage >= garbage_limit {
                        Some(format!("{garbage} invalid lines"))
                    } else {
                        None
                    }
                } else {
                    None
                }
            }
            Ok(Event::TooLong(head)) => {
                log.received(addr, head);
                Some("line too long".to_owned())
            }
            Ok(Event::Eof) => Some("closed by the neighbour".to_owned()),
            Ok(Event::Idle) => None,
            Err(e) => Some(e.to_string()),
        };
        if let Some(why) = why {
            break why;
        }
        // Lines that arrived together are logged together.
        if !reader.has_buffered_line() {
            state.log.submit(std::mem::take(&mut log));
        }
    };
    state.log.submit(log);
    state
        .log
        .notice(format_args!("link from {name} ({addr}) down: {why}"));
    let _ = reader.get_ref().shutdown(Both::Both);
    let mut open = state.inbound.open.lock();
    if open.get(name).is_some_and(|link| link.id == id) {
        open.remove(name);
    }
}
