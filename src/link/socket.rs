//! The socket option that lets an outgoing peer link notice a stall.
//!
//! A partition (a route that swallows packets) does not close a TCP link:
//! the kernel keeps the unacknowledged bytes and retransmits them on a
//! backoff that doubles up to two minutes, so after the heal the link can
//! sit idle for that long. `TCP_USER_TIMEOUT` makes the kernel close a link
//! whose sent data stays unacknowledged for the given time; the sender then
//! reconnects with its usual backoff and sends its catch-up dump. Only the
//! opener writes on a link (PROTOCOL §7), so only its socket needs this.
//! Shared by the blocking and tokio builds (both hand over a socket by fd).

use std::io;
use std::os::fd::AsFd;
use std::time::Duration;

/// Closes `socket`'s connection when data it sent stays unacknowledged for
/// `limit` (`TCP_USER_TIMEOUT`, Linux). A no-op where the option does not
/// exist; a zero `limit` would mean "the system default", so it is raised
/// to one millisecond.
pub fn limit_unacked(socket: &impl AsFd, limit: Duration) -> io::Result<()> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        let limit = limit.max(Duration::from_millis(1));
        socket2::SockRef::from(socket).set_tcp_user_timeout(Some(limit))
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        let _ = (socket, limit);
        Ok(())
    }
}

/// The `TCP_USER_TIMEOUT` set on `socket` (`None`: the system default, or
/// a system without the option); for tests and diagnostics.
pub fn unacked_limit(socket: &impl AsFd) -> io::Result<Option<Duration>> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        socket2::SockRef::from(socket).tcp_user_timeout()
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        let _ = socket;
        Ok(None)
    }
}
