//! Inbound links of a blocking node: AT lines neighbours flood to it.
//!
//! A connection whose first line is a valid `PEER <name>` is handed here by
//! `connection.rs`. It is served on a thread of its own, never on a pool
//! worker: a link lives as long as the neighbour does and would pin a worker
//! for good. Each line goes to `cmd::link_line` (AT -> cache -> flood). A
//! second link from the same neighbour replaces the first (`registry.rs`),
//! so there are at most as many of these threads as neighbours.

use std::net::{Shutdown as Both, SocketAddr, TcpStream};
use std::sync::Arc;

use super::reading::LinkReading;
use crate::cmd;
use crate::line_reader::LineReader;
use crate::logfile::LogBatch;
use crate::state::NodeState;

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
    let id = state.inbound.next_id();
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
    if let Some(old) = state.inbound.insert(&name, id, stream, thread) {
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
    let mut reading = LinkReading::new(state.me.limits().peer_garbage_lines);
    let mut log = LogBatch::new();
    let why = loop {
        let event = reader.next_line();
        let why = reading.on_event(event, addr, &mut log, |line| {
            cmd::link_line(state, name, line)
        });
        if let Some(why) = why {
            break why;
        }
        // Lines that arrived together are logged together.
        if !reader.has_buffered_line() {
            state.log.submit(log.take());
        }
    };
    state.log.submit(log);
    state
        .log
        .notice(format_args!("link from {name} ({addr}) down: {why}"));
    let _ = reader.get_ref().shutdown(Both::Both);
    state.inbound.forget(name, id);
}
