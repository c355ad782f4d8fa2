//! Inbound links of a tokio node: AT lines neighbours flood to it.
//!
//! A connection whose first line is a valid `PEER <name>` is handed here by
//! `connection.rs` and served by a task of its own, with no idle timeout.
//! Each line goes to `cmd::link_line` (AT -> cache -> flood); too many
//! invalid lines close the link. A neighbour holds one inbound link at a
//! time (`registry.rs`), so there is at most one per neighbour. In the
//! blocking build each link costs a thread; here, a task.

use std::net::SocketAddr;
use std::os::fd::AsFd;
use std::sync::Arc;

use herd::link::reading::LinkReading;
use herd::link::socket::keep_alive;
use herd::logfile::LogBatch;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio_util::sync::CancellationToken;

use super::registry::LinkOpen;
use crate::cmd;
use crate::line_reader::LineReader;
use crate::state::NodeState;

/// Serves the link from neighbour `name` on a new task. An earlier link
/// from it that is dead, or any earlier link once the herd secret proved
/// this one, is replaced (its task cancelled); an earlier live one is kept
/// and this one closed (`connection.rs` already answered a bare `PEER` for
/// a live link; this is the same check, made again where it cannot race).
/// `reader` may already hold lines that followed the `PEER` line; `write`
/// is kept so the socket stays open.
pub fn accept(
    state: &Arc<NodeState>,
    name: String,
    mut reader: LineReader<OwnedReadHalf>,
    write: OwnedWriteHalf,
    addr: SocketAddr,
) {
    reader.set_idle(None);
    let socket = write.as_ref();
    if let Err(e) = keep_alive(socket) {
        log::debug!("link from {name}: no TCP keepalive: {e}");
    }
    let refused = |why: &dyn std::fmt::Display| {
        state
            .log
            .notice(format_args!("link from {name} ({addr}) refused: {why}"));
    };
    let registered = match socket.as_fd().try_clone_to_owned() {
        Ok(fd) => fd,
        Err(e) => return refused(&e),
    };
    let id = state.inbound.next_id();
    let cancel = state.stop.child_token();
    let proven = state.secret.is_some();
    let replaced = match state
        .inbound
        .claim(&name, id, cancel.clone(), registered, proven)
    {
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
        old.cancel();
    }
    state.tasks.spawn(serve(
        Arc::clone(state),
        name.clone(),
        id,
        reader,
        write,
        addr,
        cancel,
    ));
    // The neighbour is up, so our own link to it can stop backing off.
    state.flooder.wake(&name);
}

async fn serve(
    state: Arc<NodeState>,
    name: String,
    id: u64,
    mut reader: LineReader<OwnedReadHalf>,
    write: OwnedWriteHalf,
    addr: SocketAddr,
    cancel: CancellationToken,
) {
    let mut reading = LinkReading::new(state.me.limits().peer_garbage_lines);
    let mut log = LogBatch::new();
    let closed_here = cancel.cancelled();
    tokio::pin!(closed_here);
    let why = loop {
        let event = tokio::select! {
            event = reader.next_line() => event,
            () = &mut closed_here => break "closed here".to_owned(),
        };
        let why = reading.on_event(event, addr, &mut log, |line| {
            cmd::link_line(&state, &name, line)
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
    drop(write);
    state.inbound.forget(&name, id);
}
