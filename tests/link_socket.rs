//! An outgoing peer link's socket set-up (`link::outbound::configure_link`), read
//! back from a real connected socket: above all the `TCP_USER_TIMEOUT` that
//! closes a link a partition has stalled, so it can be opened again.

use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use herd::link::outbound::configure_link;
use herd::link::socket::unacked_limit;

#[cfg(target_os = "linux")]
#[test]
fn an_outgoing_link_bounds_how_long_sent_data_may_stay_unacknowledged() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a port");
    let addr = listener.local_addr().expect("listener address");
    let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect");
    assert_eq!(
        unacked_limit(&stream).expect("read the option"),
        None,
        "fresh socket"
    );

    // Whole multiples of 4 ms: the kernel keeps SO_SNDTIMEO in jiffies.
    let limit = Duration::from_millis(7000);
    configure_link(&stream, limit).expect("configure the link");
    assert_eq!(
        unacked_limit(&stream).expect("read the option"),
        Some(limit)
    );
    assert_eq!(stream.write_timeout().expect("write timeout"), Some(limit));
    assert!(stream.nodelay().expect("nodelay"));
}

#[cfg(target_os = "linux")]
#[test]
fn a_zero_limit_is_not_taken_as_the_system_default() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a port");
    let addr = listener.local_addr().expect("listener address");
    let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect");
    herd::link::socket::limit_unacked(&stream, Duration::ZERO).expect("set the option");
    assert_eq!(
        unacked_limit(&stream).expect("read the option"),
        Some(Duration::from_millis(1))
    );
}

/// A connected pair over loopback: (our accepted side, the opener's side).
fn pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a port");
    let addr = listener.local_addr().expect("listener address");
    let opener = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect");
    let (accepted, _) = listener.accept().expect("accept");
    (accepted, opener)
}

/// PROTOCOL §3: whether an accepted link is dead decides whether a second
/// `PEER` may replace it. Alive while quiet or with bytes waiting (nothing
/// is taken from them); dead once the opener closed it, or reset it.
#[test]
fn a_link_is_closed_only_once_the_other_side_closed_or_reset_it() {
    use herd::link::socket::is_closed;
    use std::io::{Read, Write};

    let (accepted, opener) = pair();
    assert!(!is_closed(&accepted), "quiet and open");
    (&opener).write_all(b"AT x\n").expect("send");
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    // Poll until the bytes arrived: they must not count as a close.
    let mut waiting = [0u8; 5];
    while accepted.peek(&mut waiting).unwrap_or(0) < 5 && std::time::Instant::now() < deadline {
        std::thread::yield_now();
    }
    assert!(!is_closed(&accepted), "bytes waiting");
    let mut read = [0u8; 5];
    (&accepted)
        .read_exact(&mut read)
        .expect("the peek took nothing");
    assert_eq!(&read, b"AT x\n");
    drop(opener);
    assert!(soon(|| is_closed(&accepted)), "closed by the opener");

    let (accepted, opener) = pair();
    socket2::SockRef::from(&opener)
        .set_linger(Some(Duration::ZERO))
        .expect("linger 0");
    drop(opener); // a reset
    assert!(soon(|| is_closed(&accepted)), "reset by the opener");
}

/// Polls `done` for up to 5 s (a close crosses loopback at once, but
/// asynchronously).
fn soon(mut done: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while std::time::Instant::now() < deadline {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    done()
}

#[cfg(target_os = "linux")]
#[test]
fn an_accepted_link_probes_a_silent_neighbour_with_keepalive() {
    let (accepted, _opener) = pair();
    herd::link::socket::keep_alive(&accepted).expect("set keepalive");
    let socket = socket2::SockRef::from(&accepted);
    assert!(socket.keepalive().expect("SO_KEEPALIVE"));
    assert_eq!(
        socket.tcp_keepalive_time().expect("TCP_KEEPIDLE"),
        herd::limits::PEER_KEEPALIVE_IDLE
    );
    assert_eq!(
        socket.tcp_keepalive_interval().expect("TCP_KEEPINTVL"),
        herd::limits::PEER_KEEPALIVE_INTERVAL
    );
    assert_eq!(
        socket.tcp_keepalive_retries().expect("TCP_KEEPCNT"),
        herd::limits::PEER_KEEPALIVE_PROBES
    );
}
