//! Inbound links of a tokio node: AT lines neighbours flood to it.
//!
//! A connection whose first line is a valid `PEER <name>` is handed here by
//! `connection.rs` and served by a task of its own, with no idle timeout.
//! Each line goes to `cmd::link_line` (AT -> cache -> flood); too many
//! invalid lines close the link. A second link from the same neighbour
//! replaces the first (its task is cancelled, `registry.rs`), so there is
//! at most one per neighbour. In the blocking build each link costs a
//! thread; here, a task.

use std::net::SocketAddr;
use std::sync::Arc;

use herd::link::reading::LinkReading;
use herd::logfile::LogBatch;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio_util::sync::CancellationToken;

use crate::cmd;
use crate::line_reader::LineReader;
use crate::state::NodeState;

/// Serves the link from neighbour `name` on a new task, replacing (and
/// closing) any earlier link from it. `reader` may already hold lines that
/// followed the `PEER` line; `write` is kept so the socket stays open.
pub fn accept(
    state: &Arc<NodeState>,
    name: String,
    mut reader: LineReader<OwnedReadHalf>,
    write: OwnedWriteHalf,
    addr: SocketAddr,
) {
    reader.set_idle(None);
    let id = state.inbound.next_id();
    let cancel = state.stop.child_token();
    state
        .log
        .notice(format_args!("link from {name} ({addr}) up"));
    if let Some(old) = state.inbound.insert(&name, id, cancel.clone()) {
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
