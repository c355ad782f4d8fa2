//! Inbound links of a blocking node: AT lines neighbours flood to it.
//!
//! A connection whose first line is a valid `PEER <name>` is handed here by
//! `connection.rs`. It is served on a thread of its own, never on a pool
//! worker: a link lives as long as the neighbour does and would pin a worker
//! for good. Each line goes to `cmd::link_line` (AT -> cache -> flood). A
//! neighbour holds one inbound link at a time (`registry.rs`), so there are
//! at most as many of these threads as neighbours. Each asks for a higher
//! priority than the workers' (`priority.rs`).

use std::net::{Shutdown as Both, SocketAddr, TcpStream};
use std::sync::Arc;

use super::priority;
use super::reading::LinkReading;
use super::registry::LinkOpen;
use super::socket::keep_alive;
use crate::cmd;
use crate::limits::LINK_READER_NICE;
use crate::line_reader::LineReader;
use crate::logfile::LogBatch;
use crate::state::NodeState;

/// Serves the link from neighbour `name` on a new thread. An earlier link
/// from it that is dead, or any earlier link once the herd secret proved
/// this one, is replaced and closed; an earlier live one is kept and this
/// one closed (`connection.rs` already answered a bare `PEER` for a live
/// link; this is the same check, made again where it cannot race). `reader`
/// may already hold lines that followed the `PEER` line.
pub fn accept(
    state: &Arc<NodeState>,
    name: String,
    mut reader: LineReader<TcpStream>,
    addr: SocketAddr,
) {
    reader.set_idle(None);
    let socket = reader.get_ref();
    if let Err(e) = keep_alive(socket) {
        log::debug!("link from {name}: no TCP keepalive: {e}");
    }
    let id = state.inbound.next_id();
    let refused = |why: &dyn std::fmt::Display| {
        state
            .log
            .notice(format_args!("link from {name} ({addr}) refused: {why}"));
        let _ = socket.shutdown(Both::Both);
    };
    let registered = match socket.try_clone() {
        Ok(handle) => handle,
        Err(e) => return refused(&e),
    };
    let proven = state.secret.is_some();
    let replaced = match state.inbound.claim(&name, id, registered, proven) {
        Ok(replaced) => replaced,
        Err(LinkOpen) => return refused(&format_args!("a link from {name} is open")),
    };
    state
        .log
        .notice(format_args!("link from {name} ({addr}) up"));
    if let Some(old) = replaced {
        state.log.notice(format_args!(
            "link from {name}: the new link replaces the old one"
        ));
        old.close_and_join();
    }
    let thread_state = Arc::clone(state);
    let thread_name = name.clone();
    let spawned = std::thread::Builder::new()
        .name(format!("peer-{name}"))
        .spawn(move || serve(&thread_state, &thread_name, id, reader, addr));
    match spawned {
        Ok(thread) => state.inbound.started(&name, id, thread),
        Err(e) => {
            state
                .log
                .notice(format_args!("link from {name} ({addr}) down: {e}"));
            state.inbound.forget(&name, id);
            return;
        }
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
    if let Err(e) = priority::raise_this_reader() {
        state.log.notice(format_args!(
            "link from {name}: reader at the node's priority, not nice {LINK_READER_NICE}: {e}"
        ));
    }
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
