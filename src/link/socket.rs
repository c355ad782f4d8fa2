//! The socket options and checks of peer links: how an outgoing link
//! notices a stall, how an accepted link notices a vanished host, and how a
//! new `PEER` tells whether the link it would replace is still alive.
//!
//! A partition (a route that swallows packets) does not close a TCP link:
//! the kernel keeps the unacknowledged bytes and retransmits them on a
//! backoff that doubles up to two minutes, so after the heal the link can
//! sit idle for that long. `TCP_USER_TIMEOUT` makes the kernel close a link
//! whose sent data stays unacknowledged for the given time; the sender then
//! reconnects with its usual backoff and sends its catch-up dump. Only the
//! opener writes on a link (PROTOCOL §7), so only its socket needs this.
//!
//! The acceptor never writes, so it would never notice that the opener's
//! host vanished (power cut, partition that outlives it): TCP keepalive on
//! the accepted link does ([`keep_alive`]). That matters because a live
//! inbound link is not replaced by a second `PEER` with the same name
//! (PROTOCOL §3): [`is_closed`] tells a dead link from a live one.
//! Shared by the blocking and tokio builds (both hand over a socket by fd).

use std::io;
use std::mem::MaybeUninit;
use std::os::fd::AsFd;
use std::time::Duration;

use crate::limits::{PEER_KEEPALIVE_IDLE, PEER_KEEPALIVE_INTERVAL, PEER_KEEPALIVE_PROBES};

/// Turns TCP keepalive on for an accepted peer link: after
/// [`PEER_KEEPALIVE_IDLE`] without traffic the kernel probes the opener
/// every [`PEER_KEEPALIVE_INTERVAL`], and after [`PEER_KEEPALIVE_PROBES`]
/// unanswered probes it fails the link, so a vanished neighbour's link is
/// found dead within about 8 s and its successor is let in.
pub fn keep_alive(socket: &impl AsFd) -> io::Result<()> {
    let probes = socket2::TcpKeepalive::new()
        .with_time(PEER_KEEPALIVE_IDLE)
        .with_interval(PEER_KEEPALIVE_INTERVAL);
    #[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd"))]
    let probes = probes.with_retries(PEER_KEEPALIVE_PROBES);
    socket2::SockRef::from(socket).set_tcp_keepalive(&probes)
}

/// Whether the connection on `socket` has ended: the other side closed it
/// (a read would return end of file) or it failed (reset, keepalive
/// timeout). Looks without taking any byte and without waiting: a link with
/// bytes waiting, or with nothing to read yet, is alive.
pub fn is_closed(socket: &impl AsFd) -> bool {
    let mut byte = [MaybeUninit::<u8>::uninit(); 1];
    let flags = nix::libc::MSG_PEEK | nix::libc::MSG_DONTWAIT;
    match socket2::SockRef::from(socket).recv_with_flags(&mut byte, flags) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => false,
        Err(e) if e.kind() == io::ErrorKind::Interrupted => false,
        Err(_) => true,
    }
}

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
