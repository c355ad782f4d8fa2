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
