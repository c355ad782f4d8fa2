//! Parking quiet clients off the pool needs `epoll` (`park.rs`, Linux).
//! Elsewhere this stand-in has the same interface and never starts, so a
//! node there serves every connection on one worker from first byte to
//! close, and says so in its log.

use std::io;
use std::marker::PhantomData;
use std::net::TcpStream;
use std::time::Instant;

/// What can be parked (see `park.rs`).
pub trait Parkable: Send + 'static {
    fn socket(&self) -> &TcpStream;
    fn idle_deadline(&self) -> Instant;
    fn expire(self);
}

/// Hands a connection that became readable back to the pool.
pub type Resume<T> = Box<dyn Fn(T) + Send + Sync>;

/// Never started on this system.
pub struct Parker<T>(PhantomData<T>);

impl<T: Parkable> Parker<T> {
    pub fn start(_name: &str, _resume: Resume<T>) -> io::Result<Parker<T>> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "parking needs epoll (Linux)",
        ))
    }

    pub fn park(&self, item: T) -> Result<(), T> {
        Err(item)
    }

    pub fn len(&self) -> usize {
        0
    }

    pub fn is_empty(&self) -> bool {
        true
    }

    pub fn stop(&self) {}
}
