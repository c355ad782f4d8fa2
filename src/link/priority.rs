//! Inbound link readers run ahead of the client workers.
//!
//! Under a load that keeps every CPU busy, the kernel shares the CPU thread
//! by thread. A node has one reader per neighbour and a worker per busy
//! client, and each reader carries the updates of the whole herd: at an
//! equal share it falls behind, the AT lines wait in its socket, and a
//! flood's two hops took up to tens of milliseconds on two cores (an event
//! loop gives a link a turn like any client and had 3 to 16 ms). A reader
//! asks for [`LINK_READER_NICE`] when it starts, so a line that arrives is
//! read before the next client request.
//!
//! Raising a thread's priority needs `CAP_SYS_NICE` or an `RLIMIT_NICE`
//! that allows it (systemd: `LimitNICE=`). Without either the reader keeps
//! the node's priority and the link's "up" notice says so; nothing else
//! changes.

use std::io;

use crate::limits::LINK_READER_NICE;

/// Gives the calling thread the nice value [`LINK_READER_NICE`]; on
/// failure it keeps its own and the error says why.
#[cfg(target_os = "linux")]
pub fn raise_this_reader() -> io::Result<()> {
    let me = rustix::thread::gettid();
    rustix::process::setpriority_process(Some(me), LINK_READER_NICE).map_err(io::Error::from)
}

/// Other systems: priorities are left alone.
#[cfg(not(target_os = "linux"))]
pub fn raise_this_reader() -> io::Result<()> {
    let _ = LINK_READER_NICE;
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "per-thread priority is set on Linux only",
    ))
}
