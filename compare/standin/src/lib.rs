//! Which Google fake serves what: this crate is the full fake of both
//! Google Nearby Search endpoints (legacy and New) from the offline data,
//! for end-to-end runs, the lab and benchmarks; the root crate's
//! `tests/support/places_stub.rs` is a tiny scripted HTTP server for exact
//! statuses, timeouts and byte-level cases of the Places client.
//!
//! The local Places stand-in: both Google Nearby Search endpoints, served
//! from the offline data set, so that the `google` and `google-new`
//! providers can be tested without the Internet and a lab can put a slow,
//! faulty Places behind a herd.
//!
//! Input: [`StandinOptions`] (address, accepted keys, latency and jitter,
//! fault rates, seed, page-token delay). Output: a running [`Standin`] on
//! its own thread with its own tokio runtime, answering
//! `GET /maps/api/place/nearbysearch/json` (legacy, `legacy.rs`) and
//! `POST /v1/places:searchNearby` (Places API (New), `new_api.rs`) with the
//! places of `herd::places::OfflineIndex`, nearest first (`search.rs`).
//!
//! Files: `server.rs` accepts, routes, waits and stops; `faults.rs` draws
//! the delay and fault of each request from the seed; `answer_body.rs` is
//! the HTTP body that can be cut or dropped; `answer_cache.rs` keeps
//! answers that never change; `paging.rs` keeps the legacy page tokens;
//! `new_request.rs`, `field_mask.rs` and `place_types.rs` serve the New
//! API.
//! `main.rs` is the `herd-standin` command line. The herd node itself
//! never starts a runtime: this crate is where the async server lives, so
//! that the `herd` package depends on no async runtime. Usage, knobs, what
//! it reproduces and how fast it is: this crate's `README.md`.

#![forbid(unsafe_code)]

mod answer_body;
mod answer_cache;
mod faults;
mod field_mask;
mod legacy;
mod new_api;
mod new_request;
mod paging;
mod place_types;
mod search;
mod server;

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use hyper::body::Bytes;

pub use faults::FaultRates;

/// The legacy Nearby Search path (JSON output).
pub const LEGACY_PATH: &str = "/maps/api/place/nearbysearch/json";

/// The Nearby Search (New) path.
pub const NEW_PATH: &str = "/v1/places:searchNearby";

/// Largest request body accepted; larger ones get HTTP 413.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Everything a stand-in can be told.
#[derive(Clone, PartialEq)]
pub struct StandinOptions {
    /// Where to listen; port 0 lets the kernel choose ([`Standin::addr`]
    /// tells which).
    pub addr: SocketAddr,
    /// Accepted API keys; empty means any non-empty key.
    pub keys: Vec<String>,
    /// Fixed delay before every answer (and before every fault).
    pub latency: Duration,
    /// Extra delay drawn uniformly from `[0, jitter]` per request.
    pub jitter: Duration,
    /// Seed of the per-request draws (jitter, faults, page tokens).
    pub seed: u64,
    /// Per-kind fault rates.
    pub faults: FaultRates,
    /// How long a legacy `next_page_token` stays unusable after the page
    /// that carries it was answered.
    pub page_token_delay: Duration,
}

impl Default for StandinOptions {
    fn default() -> Self {
        StandinOptions {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            keys: Vec::new(),
            latency: Duration::ZERO,
            jitter: Duration::ZERO,
            seed: 1,
            faults: FaultRates::default(),
            page_token_delay: Duration::from_secs(2),
        }
    }
}

impl fmt::Debug for StandinOptions {
    /// Keys are counted, never shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StandinOptions")
            .field("addr", &self.addr)
            .field("keys", &format_args!("<{} keys>", self.keys.len()))
            .field("latency", &self.latency)
            .field("jitter", &self.jitter)
            .field("seed", &self.seed)
            .field("faults", &self.faults)
            .field("page_token_delay", &self.page_token_delay)
            .finish()
    }
}

impl StandinOptions {
    /// Checks the fault rates (each in [0, 1], together at most 1) and that
    /// no accepted key is empty; the message names the bad value.
    pub fn validate(&self) -> Result<(), String> {
        self.faults.validate()?;
        if self.keys.iter().any(String::is_empty) {
            return Err("an accepted API key is empty".to_owned());
        }
        Ok(())
    }
}

/// A running stand-in. Dropping it stops it, as [`Standin::stop`] does.
pub struct Standin {
    addr: SocketAddr,
    requests: Arc<AtomicU64>,
    stop: Option<server::StopHandle>,
    thread: Option<JoinHandle<()>>,
}

impl fmt::Debug for Standin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Standin")
            .field("addr", &self.addr)
            .field("requests", &self.requests())
            .finish_non_exhaustive()
    }
}

/// Loads the offline data set (if no one has yet), binds `options.addr` and
/// starts serving on a thread of its own. Errors: invalid options
/// (`InvalidInput`), the data set not loading, the address not binding.
pub fn start(options: StandinOptions) -> io::Result<Standin> {
    options
        .validate()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let index = herd::places::OfflineIndex::shared().map_err(io::Error::other)?;
    let requests = Arc::new(AtomicU64::new(0));
    let running = server::spawn(options, index, Arc::clone(&requests))?;
    Ok(Standin {
        addr: running.addr,
        requests,
        stop: Some(running.stop),
        thread: Some(running.thread),
    })
}

impl Standin {
    /// The address actually bound.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR/maps/api/place/nearbysearch/json`.
    pub fn legacy_url(&self) -> String {
        format!("http://{}{LEGACY_PATH}", self.addr)
    }

    /// `http://ADDR/v1/places:searchNearby`.
    pub fn new_url(&self) -> String {
        format!("http://{}{NEW_PATH}", self.addr)
    }

    /// HTTP requests received so far, on any path.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Stops accepting, closes idle connections, lets answers in progress
    /// finish for up to a second, drops the rest (requests held by the
    /// never-answer fault at once) and joins the thread.
    pub fn stop(mut self) {
        self.shut_down();
    }

    fn shut_down(&mut self) {
        if let Some(stop) = self.stop.take() {
            stop.trigger();
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Standin {
    fn drop(&mut self) {
        self.shut_down();
    }
}

/// What a request's API key is worth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyCheck {
    Accepted,
    Missing,
    Unknown,
}

/// `key` (absent or empty: missing) against the accepted `keys` (empty:
/// any non-empty key).
fn check_key(keys: &[String], key: Option<&str>) -> KeyCheck {
    match key {
        None | Some("") => KeyCheck::Missing,
        Some(key) if keys.is_empty() || keys.iter().any(|k| k == key) => KeyCheck::Accepted,
        Some(_) => KeyCheck::Unknown,
    }
}

/// One answer, before faults: HTTP status, content type and body.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Reply {
    status: u16,
    content_type: &'static str,
    body: Bytes,
}

/// The content type of every JSON answer, as Google sends it.
const JSON_TYPE: &str = "application/json; charset=UTF-8";

impl Reply {
    fn json(status: u16, body: impl Into<Bytes>) -> Reply {
        Reply {
            status,
            content_type: JSON_TYPE,
            body: body.into(),
        }
    }

    /// A small HTML error page in the style of Google's front end. It never
    /// echoes the request (the URL can carry the key).
    fn html_error(status: u16) -> Reply {
        let (reason, text) = match status {
            404 => (
                "Not Found",
                "The requested URL was not found on this server.",
            ),
            405 => (
                "Method Not Allowed",
                "The request method is not supported by this URL.",
            ),
            413 => (
                "Request Entity Too Large",
                "Your client issued a request that was too large.",
            ),
            _ => (
                "Internal Server Error",
                "There was an error. Please try again later.",
            ),
        };
        let body = format!(
            "<!DOCTYPE html>\n<html lang=en>\n  <meta charset=utf-8>\n  \
             <title>Error {status} ({reason})!!1</title>\n  \
             <p><b>{status}.</b> <ins>That\u{2019}s an error.</ins>\n  \
             <p>{text}  <ins>That\u{2019}s all we know.</ins>\n"
        );
        Reply {
            status,
            content_type: "text/html; charset=UTF-8",
            body: Bytes::from(body),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_rules() {
        let none: Vec<String> = Vec::new();
        let some = vec!["k1".to_owned(), "k2".to_owned()];
        assert_eq!(check_key(&none, None), KeyCheck::Missing);
        assert_eq!(check_key(&none, Some("")), KeyCheck::Missing);
        assert_eq!(check_key(&none, Some("anything")), KeyCheck::Accepted);
        assert_eq!(check_key(&some, Some("k2")), KeyCheck::Accepted);
        assert_eq!(check_key(&some, Some("k3")), KeyCheck::Unknown);
        assert_eq!(check_key(&some, Some("")), KeyCheck::Missing);
        assert_eq!(check_key(&some, None), KeyCheck::Missing);
    }

    #[test]
    fn options_default_and_debug_hide_keys() {
        let options = StandinOptions {
            keys: vec!["SECRET".to_owned()],
            ..StandinOptions::default()
        };
        assert_eq!(options.addr, SocketAddr::from(([127, 0, 0, 1], 0)));
        assert_eq!(options.page_token_delay, Duration::from_secs(2));
        assert_eq!(options.seed, 1);
        let text = format!("{options:?}");
        assert!(
            !text.contains("SECRET") && text.contains("<1 keys>"),
            "{text}"
        );
        assert!(options.validate().is_ok());
        let empty_key = StandinOptions {
            keys: vec![String::new()],
            ..StandinOptions::default()
        };
        assert!(empty_key.validate().is_err());
    }

    #[test]
    fn html_errors_never_echo_the_request() {
        for status in [404, 405, 413, 500] {
            let reply = Reply::html_error(status);
            let text = String::from_utf8(reply.body.to_vec()).unwrap();
            assert!(text.contains(&format!("<b>{status}.</b>")), "{text}");
            assert!(reply.content_type.starts_with("text/html"));
        }
    }
}
