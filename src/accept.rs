//! The accept loop: admission, socket options, hand-off to the pool.
//!
//! Runs on its own thread over the node's `std::net::TcpListener`. Each new
//! connection is counted against the client cap (connections served plus
//! waiting for a worker; `threadpool`'s own queue is unbounded, so the cap
//! is what bounds it), given its timeouts, registered so that stopping can
//! close it, and queued for a pool worker running `connection::serve`. Over
//! the cap it is closed at once and the refusal logged (memcached's fast
//! reject: no answer is defined for "busy").

use std::io;
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use threadpool::ThreadPool;

use crate::connection::{self, ClientParker};
use crate::limits::ACCEPT_ERROR_PAUSE;
use crate::state::NodeState;

/// Accepts until the node stops. Woken for the stop by a connection from
/// the node itself.
pub fn run(
    state: &Arc<NodeState>,
    listener: &TcpListener,
    pool: &ThreadPool,
    parker: Option<&Arc<ClientParker>>,
) {
    for incoming in listener.incoming() {
        if state.shutdown.is_triggered() {
            break;
        }
        match incoming {
            Ok(stream) => admit(state, pool, parker, stream),
            Err(e) => {
                log::warn!("{}: accept failed: {e}", state.me.name());
                if is_resource_shortage(&e) && state.shutdown.wait(ACCEPT_ERROR_PAUSE) {
                    break;
                }
            }
        }
    }
}

fn admit(
    state: &Arc<NodeState>,
    pool: &ThreadPool,
    parker: Option<&Arc<ClientParker>>,
    stream: TcpStream,
) {
    let Ok(addr) = stream.peer_addr() else {
        return; // already gone
    };
    let limits = state.me.limits();
    if state.clients.fetch_add(1, Ordering::AcqRel) >= limits.max_clients {
        state.clients.fetch_sub(1, Ordering::AcqRel);
        state.metrics.refused();
        state.log.notice(format_args!(
            "refused {addr}: {} client connections already open",
            limits.max_clients
        ));
        return; // dropping the stream closes it
    }
    let _ = stream.set_nodelay(true);
    let _ = stream.set_write_timeout(Some(limits.write_timeout));
    let socket_id = state.sockets.register(&stream);
    let state = Arc::clone(state);
    let parker = parker.cloned();
    let accepted = Instant::now();
    state.metrics.waiting_add();
    pool.execute(move || {
        let _busy = state.metrics.taken_by_worker();
        connection::serve(
            Arc::clone(&state),
            stream,
            addr,
            socket_id,
            accepted,
            parker,
        );
    });
}

fn is_resource_shortage(e: &io::Error) -> bool {
    // EMFILE, ENFILE, ENOBUFS, ENOMEM
    matches!(e.raw_os_error(), Some(24 | 23 | 105 | 12))
}
