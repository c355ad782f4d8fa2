//! The accept loop: admission, socket options, a task per connection.
//!
//! Runs as one task over the node's `tokio::net::TcpListener`. Each new
//! connection is counted against the client cap (as in the blocking node;
//! here nothing waits for a worker, so the cap is connections open), given
//! `TCP_NODELAY`, and served by a new task running `connection::serve`.
//! Over the cap it is closed at once and the refusal logged.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::net::{TcpListener, TcpStream};

use herd::limits::ACCEPT_ERROR_PAUSE;

use crate::connection;
use crate::state::NodeState;

/// Accepts until the node stops.
pub async fn run(state: Arc<NodeState>, listener: TcpListener) {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = state.stop.cancelled() => break,
        };
        match accepted {
            Ok((stream, addr)) => admit(&state, stream, addr),
            Err(e) => {
                log::warn!("{}: accept failed: {e}", state.me.name());
                tokio::select! {
                    () = tokio::time::sleep(ACCEPT_ERROR_PAUSE) => {}
                    () = state.stop.cancelled() => break,
                }
            }
        }
    }
}

fn admit(state: &Arc<NodeState>, stream: TcpStream, addr: std::net::SocketAddr) {
    let limits = state.me.limits();
    if state.clients.fetch_add(1, Ordering::AcqRel) >= limits.max_clients {
        state.clients.fetch_sub(1, Ordering::AcqRel);
        state.log.notice(format_args!(
            "refused {addr}: {} client connections already open",
            limits.max_clients
        ));
        return; // dropping the stream closes it
    }
    let _ = stream.set_nodelay(true);
    let task_state = Arc::clone(state);
    state
        .tasks
        .spawn(connection::serve(task_state, stream, addr));
}
