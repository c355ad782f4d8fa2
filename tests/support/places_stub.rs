//! Which Google fake serves what: this stub is a tiny scripted HTTP server
//! (legacy path only, one behaviour a test picks) for exact statuses,
//! timeouts and byte-level cases of the Places client; `herd-standin`
//! (compare/standin) is the full fake of both Google endpoints from the
//! offline data, for end-to-end runs, the lab and benchmarks.
//!
//! A real HTTP stand-in for Google's legacy Nearby Search endpoint
//! (docs/places.md, "What Google says"), for tests that must not reach the
//! Internet.
//!
//! Input: HTTP/1.1 requests from the herd's `google` provider (or any
//! client) on `127.0.0.1`, and the [`Behaviour`] a test chose. Output: the
//! answers that behaviour calls for (a legacy JSON body, an HTTP error, a
//! cut-off or dropped answer, silence), and the list of request targets
//! received, which tests read back through [`PlacesStub::requests`].
//!
//! The server is a small hand-written HTTP/1.1 server on `std::net`, not
//! tiny_http: tiny_http keeps a keep-alive connection open for the next
//! request whatever a handler does, so it cannot drop a connection
//! mid-answer (the client just waits for its timeout). Here every
//! connection has its own thread, so a slow answer does not hold up others;
//! connections are kept alive between requests, as Google's are.

#![allow(dead_code)] // Not every test binary uses every helper.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// The path Google serves legacy Nearby Search JSON on; other paths get 404.
pub const NEARBY_PATH: &str = "/maps/api/place/nearbysearch/json";

/// The largest request head (request line and headers) read.
const MAX_HEAD: usize = 64 * 1024;

/// How long `Drop` waits for the server's threads before leaving them.
const DROP_WAIT: Duration = Duration::from_secs(2);

/// What the stub does with each request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Behaviour {
    /// HTTP 200 with this body (`application/json`).
    Json(String),
    /// That HTTP status with a small HTML body, as Google's front end sends
    /// (no body for 204 and 304).
    Status(u16),
    /// HTTP 200, complete as HTTP, with a JSON body cut in the middle.
    BrokenJson,
    /// Wait this long (cut short if the stub is dropped), then behave.
    Delay(Duration, Box<Behaviour>),
    /// Send the status line, headers with the full `Content-Length` and part
    /// of a legacy body, then close the connection: dropped mid-answer.
    DropConnection,
    /// Read the request, then close the connection without sending a byte.
    Hangup,
    /// Send the status line, headers and part of the body, then nothing
    /// more until the stub is dropped: an answer that stalls mid-body.
    Stall,
    /// Hold the request unanswered until the stub is dropped.
    Never,
}

/// A running stand-in; dropping it stops the server and closes every
/// connection (bounded: at most about two seconds).
pub struct PlacesStub {
    addr: SocketAddr,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

/// State shared by the stub's handle, acceptor and connection threads.
struct Shared {
    behaviour: Mutex<Behaviour>,
    requests: Mutex<Vec<String>>,
    stopping: AtomicBool,
    /// Set when the stub is dropped; waits in `Delay` and `Never` end then.
    stopped: Mutex<bool>,
    stop_signal: Condvar,
    /// A clone of every connection, to shut down when the stub is dropped.
    connections: Mutex<Vec<TcpStream>>,
    workers: Mutex<Vec<JoinHandle<()>>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl PlacesStub {
    /// Starts a stand-in on `127.0.0.1` (a free port), serving on
    /// background threads.
    pub fn start(behaviour: Behaviour) -> PlacesStub {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the Places stub");
        let addr = listener.local_addr().expect("the Places stub's address");
        let shared = Arc::new(Shared {
            behaviour: Mutex::new(behaviour),
            requests: Mutex::new(Vec::new()),
            stopping: AtomicBool::new(false),
            stopped: Mutex::new(false),
            stop_signal: Condvar::new(),
            connections: Mutex::new(Vec::new()),
            workers: Mutex::new(Vec::new()),
        });
        let acceptor = {
            let shared = Arc::clone(&shared);
            thread::Builder::new()
                .name("places-stub-accept".to_owned())
                .spawn(move || accept_loop(&listener, &shared))
                .expect("spawn the Places stub's acceptor")
        };
        PlacesStub {
            addr,
            shared,
            acceptor: Some(acceptor),
        }
    }

    /// The full endpoint URL, `http://127.0.0.1:PORT/maps/api/place/nearbysearch/json`.
    pub fn url(&self) -> String {
        format!("http://{}{NEARBY_PATH}", self.addr)
    }

    /// The address the stub listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The target (path and query, as sent) of each request received so
    /// far, in order of arrival.
    pub fn requests(&self) -> Vec<String> {
        lock(&self.shared.requests).clone()
    }

    /// Changes what the stub does with requests that arrive from now on.
    pub fn set_behaviour(&self, behaviour: Behaviour) {
        *lock(&self.shared.behaviour) = behaviour;
    }
}

impl Drop for PlacesStub {
    fn drop(&mut self) {
        let shared = &self.shared;
        shared.stopping.store(true, Ordering::SeqCst);
        *lock(&shared.stopped) = true;
        shared.stop_signal.notify_all();
        let deadline = Instant::now() + DROP_WAIT;
        // Wake the acceptor, blocked in accept(), and let it finish first so
        // that every connection it took is in `connections`.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_millis(500));
        if let Some(acceptor) = self.acceptor.take() {
            join_by(acceptor, deadline);
        }
        for connection in lock(&shared.connections).drain(..) {
            let _ = connection.shutdown(Shutdown::Both);
        }
        let workers: Vec<JoinHandle<()>> = lock(&shared.workers).drain(..).collect();
        for worker in workers {
            join_by(worker, deadline);
        }
    }
}

/// Joins `handle` if it finishes by `deadline`; otherwise leaves it running.
fn join_by(handle: JoinHandle<()>, deadline: Instant) {
    while !handle.is_finished() && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(5));
    }
    if handle.is_finished() {
        let _ = handle.join();
    }
}

fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>) {
    for stream in listener.incoming() {
        if shared.stopping.load(Ordering::SeqCst) {
            return;
        }
        let Ok(stream) = stream else { continue };
        // Drop joins this thread before it shuts the connections down, so
        // every connection taken is either in the list by then or closed here.
        if let Ok(clone) = stream.try_clone() {
            lock(&shared.connections).push(clone);
        }
        if shared.stopping.load(Ordering::SeqCst) {
            let _ = stream.shutdown(Shutdown::Both);
            return;
        }
        let worker = {
            let shared = Arc::clone(shared);
            thread::Builder::new()
                .name("places-stub-conn".to_owned())
                .spawn(move || serve_connection(stream, &shared))
        };
        let mut workers = lock(&shared.workers);
        workers.retain(|handle| !handle.is_finished());
        if let Ok(worker) = worker {
            workers.push(worker);
        }
    }
}

/// One parsed request head.
struct RequestHead {
    target: String,
    content_length: usize,
    close: bool,
}

/// Serves requests on one connection until the client closes it, a
/// behaviour drops it, or the stub stops.
fn serve_connection(mut stream: TcpStream, shared: &Shared) {
    let _ = stream.set_nodelay(true);
    let mut buffer = Vec::new();
    loop {
        let Some(head) = read_head(&mut stream, &mut buffer) else {
            return;
        };
        if discard_body(&mut stream, &mut buffer, head.content_length).is_err() {
            return;
        }
        lock(&shared.requests).push(head.target.clone());
        let behaviour = lock(&shared.behaviour).clone();
        let path = head.target.split('?').next().unwrap_or_default();
        let keep_open = if path == NEARBY_PATH {
            behave(&mut stream, &behaviour, shared)
        } else {
            write_response(
                &mut stream,
                404,
                "text/html; charset=UTF-8",
                &error_page(404),
            )
            .is_ok()
        };
        if !keep_open || head.close || shared.stopping.load(Ordering::SeqCst) {
            let _ = stream.shutdown(Shutdown::Write);
            return;
        }
    }
}

/// Answers one request; false when the connection must close.
fn behave(stream: &mut TcpStream, behaviour: &Behaviour, shared: &Shared) -> bool {
    match behaviour {
        Behaviour::Json(body) => {
            write_response(stream, 200, "application/json; charset=UTF-8", body).is_ok()
        }
        Behaviour::Status(status) => {
            let page = match status {
                204 | 304 => String::new(),
                _ => error_page(*status),
            };
            write_response(stream, *status, "text/html; charset=UTF-8", &page).is_ok()
        }
        Behaviour::BrokenJson => {
            let body = legacy_ok_body(3);
            let cut = char_boundary_at_or_before(&body, body.len() / 2);
            write_response(stream, 200, "application/json; charset=UTF-8", &body[..cut]).is_ok()
        }
        Behaviour::Delay(delay, then) => {
            let stopped = lock(&shared.stopped);
            let (stopped, _) = shared
                .stop_signal
                .wait_timeout_while(stopped, *delay, |stopped| !*stopped)
                .unwrap_or_else(PoisonError::into_inner);
            if *stopped {
                return false;
            }
            drop(stopped);
            behave(stream, then, shared)
        }
        Behaviour::DropConnection => {
            let _ = write_part_of_an_answer(stream);
            false
        }
        Behaviour::Hangup => false,
        Behaviour::Stall => {
            if write_part_of_an_answer(stream).is_ok() {
                wait_for_stop(shared);
            }
            false
        }
        Behaviour::Never => {
            wait_for_stop(shared);
            false
        }
    }
}

/// Sends the head of a 200 answer, with the full `Content-Length`, and the
/// first third of its legacy body.
fn write_part_of_an_answer(stream: &mut TcpStream) -> io::Result<()> {
    let body = legacy_ok_body(3);
    let cut = char_boundary_at_or_before(&body, body.len() / 3);
    let head = response_head(200, "application/json; charset=UTF-8", body.len());
    stream.write_all(head.as_bytes())?;
    stream.write_all(&body.as_bytes()[..cut])?;
    stream.flush()
}

/// Blocks until the stub is dropped.
fn wait_for_stop(shared: &Shared) {
    let stopped = lock(&shared.stopped);
    let _stopped = shared
        .stop_signal
        .wait_while(stopped, |stopped| !*stopped)
        .unwrap_or_else(PoisonError::into_inner);
}

/// Reads one request head (up to the blank line) from `stream`, using and
/// refilling `buffer` (bytes read past the head stay in it). None on end of
/// stream, error, or a head that is too big or not HTTP.
fn read_head(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> Option<RequestHead> {
    let end = loop {
        if let Some(at) = buffer.windows(4).position(|window| window == b"\r\n\r\n") {
            break at + 4;
        }
        if buffer.len() > MAX_HEAD {
            return None;
        }
        let mut chunk = [0_u8; 4096];
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return None,
            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
        }
    };
    let head: Vec<u8> = buffer.drain(..end).collect();
    let text = String::from_utf8_lossy(&head);
    let mut lines = text.split("\r\n");
    let mut request_line = lines.next()?.split(' ');
    let _method = request_line.next()?;
    let target = request_line.next()?.to_owned();
    let version = request_line.next()?;
    let mut content_length = 0;
    let mut close = version == "HTTP/1.0";
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            content_length = value.parse().ok()?;
        } else if name.eq_ignore_ascii_case("connection") {
            close = value.eq_ignore_ascii_case("close");
        }
    }
    Some(RequestHead {
        target,
        content_length,
        close,
    })
}

/// Drops a request body of `length` bytes (GETs have none).
fn discard_body(stream: &mut TcpStream, buffer: &mut Vec<u8>, length: usize) -> io::Result<()> {
    let mut left = length;
    let from_buffer = left.min(buffer.len());
    buffer.drain(..from_buffer);
    left -= from_buffer;
    let mut chunk = [0_u8; 4096];
    while left > 0 {
        let n = stream.read(&mut chunk[..left.min(4096)])?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        left -= n;
    }
    Ok(())
}

fn response_head(status: u16, content_type: &str, length: usize) -> String {
    format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: {content_type}\r\nContent-Length: {length}\r\n\
         Server: places-stub\r\nCache-Control: public, max-age=300\r\n\r\n",
        reason(status)
    )
}

fn write_response(
    stream: &mut TcpStream,
    status: u16,
    content_type: &str,
    body: &str,
) -> io::Result<()> {
    let mut message = response_head(status, content_type, body.len()).into_bytes();
    message.extend_from_slice(body.as_bytes());
    stream.write_all(&message)?;
    stream.flush()
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        301 => "Moved Permanently",
        302 => "Found",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

fn error_page(status: u16) -> String {
    format!("<html><head><title>Error {status}</title></head><body>Error {status}</body></html>")
}

fn char_boundary_at_or_before(text: &str, mut at: usize) -> usize {
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// A legacy Nearby Search body as Google writes it (3-space indent, `" : "`,
/// keys in alphabetical order, short `types` arrays inline, `<`/`>`
/// escaped), with `n` results: `status` `OK`, or `ZERO_RESULTS` when `n` is
/// 0; `next_page_token` only when `n` is 20 or more. Result `i` (from 0) is
/// named `Place {i}`, except result 1, `Café "Chez Nous" <Westwood> & Bar`;
/// its latitude is `34.0736204` plus `i` × 0.0001 written as text
/// (`34.0737204`, ...); ratings are `4.1` to `4.9`, except result 2, an
/// integer `4`.
pub fn legacy_ok_body(n: usize) -> String {
    let mut body = String::from("{\n   \"html_attributions\" : [],\n");
    if n >= 20 {
        body.push_str(
            "   \"next_page_token\" : \"AciIO2dKz7Lm0pQ-TOKEN_FOR_THE_NEXT_PAGE_x9Y8w7V6u5\",\n",
        );
    }
    if n == 0 {
        body.push_str("   \"results\" : [],\n   \"status\" : \"ZERO_RESULTS\"\n}\n");
        return body;
    }
    body.push_str("   \"results\" : [\n");
    for i in 0..n {
        body.push_str(&legacy_result(i));
        body.push_str(if i + 1 < n { ",\n" } else { "\n" });
    }
    body.push_str("   ],\n   \"status\" : \"OK\"\n}\n");
    body
}

fn legacy_result(i: usize) -> String {
    let name = match i {
        1 => "Caf\u{e9} \\\"Chez Nous\\\" \\u003cWestwood\\u003e & Bar".to_owned(),
        _ => format!("Place {i}"),
    };
    let rating = if i == 2 {
        "4".to_owned()
    } else {
        format!("4.{}", i % 9 + 1)
    };
    let micro = 736_204 + i * 1_000; // 34.0736204 + i * 0.0001, kept as text
    let lat = format!("34.0{micro:06}");
    let lng = format!("-118.4{:06}", 3_563 + i * 700);
    format!(
        r##"      {{
         "business_status" : "OPERATIONAL",
         "geometry" : {{
            "location" : {{
               "lat" : {lat},
               "lng" : {lng}
            }},
            "viewport" : {{
               "northeast" : {{
                  "lat" : 34.07496698029149,
                  "lng" : -118.3990071197085
               }},
               "southwest" : {{
                  "lat" : 34.07226901970849,
                  "lng" : -118.4017050802915
               }}
            }}
         }},
         "icon" : "https://maps.gstatic.com/mapfiles/place_api/icons/v1/png_71/lodging-71.png",
         "icon_background_color" : "#909CE1",
         "icon_mask_base_uri" : "https://maps.gstatic.com/mapfiles/place_api/icons/v2/hotel_pinlet",
         "name" : "{name}",
         "opening_hours" : {{
            "open_now" : true
         }},
         "photos" : [
            {{
               "height" : 3024,
               "html_attributions" : [
                  "\u003ca href=\"https://maps.google.com/maps/contrib/10{i}\"\u003eA Photographer\u003c/a\u003e"
               ],
               "photo_reference" : "AciIO2cPhotoReference{i:03}",
               "width" : 4032
            }}
         ],
         "place_id" : "ChIJstubPlace{i:03}",
         "plus_code" : {{
            "compound_code" : "3J7X+CV Los Angeles, California",
            "global_code" : "85633J7X+CV"
         }},
         "rating" : {rating},
         "reference" : "ChIJstubPlace{i:03}",
         "scope" : "GOOGLE",
         "types" : [ "lodging", "point_of_interest", "establishment" ],
         "user_ratings_total" : {total},
         "vicinity" : "{street} Wilshire Boulevard, Los Angeles"
      }}"##,
        total = 100 + i * 37,
        street = 10_000 + i * 10,
    )
}

/// A legacy error body as Google writes it: empty `html_attributions` and
/// `results`, the `status`, and `error_message` (first, alphabetically)
/// when `message` is given.
pub fn legacy_status_body(status: &str, message: Option<&str>) -> String {
    let mut body = String::from("{\n");
    if let Some(message) = message {
        body.push_str(&format!(
            "   \"error_message\" : {},\n",
            json_string(message)
        ));
    }
    body.push_str("   \"html_attributions\" : [],\n   \"results\" : [],\n");
    body.push_str(&format!("   \"status\" : {}\n}}\n", json_string(status)));
    body
}

/// `text` as a JSON string literal, `<` and `>` escaped as Google does.
fn json_string(text: &str) -> String {
    let mut out = String::from("\"");
    for ch in text.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
