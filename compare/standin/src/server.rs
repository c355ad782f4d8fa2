//! The stand-in's HTTP server: a tokio runtime on a thread of its own, the
//! accept loop, routing, the per-request delay and fault, and the stop.
//!
//! Input: the validated [`StandinOptions`], the loaded offline index and
//! the request counter. Output: a bound address, a stop handle and the
//! thread, for `Standin` (`mod.rs`) to hold.
//!
//! Each connection is a task (HTTP/1.1 by hyper, keep-alive, headers read
//! within [`HEADER_READ_TIMEOUT`]); each request: count it (its number
//! seeds its draw), read the body (at most `MAX_BODY_BYTES`, else 413),
//! wait the drawn delay, then answer: the fault's answer if one was drawn
//! (faults hit only the two endpoints), else the endpoint's, from the
//! answer cache when the same request was answered before. Other paths get
//! 404, the endpoints' paths with another method 405 (with `Allow`). The
//! listen backlog is [`BACKLOG`], so that thousands of clients may connect
//! at once.
//!
//! Stopping: the accept loop ends and the listener closes; idle
//! connections close at once; requests held by the never-answer fault are
//! dropped at once; other answers in progress may finish within
//! [`STOP_GRACE`], then whatever is left is dropped with the runtime.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{ALLOW, CONTENT_LENGTH, CONTENT_TYPE, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{HeaderMap, Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::answer_body::{AnswerBody, Dropped};
use super::answer_cache::{self, AnswerCache};
use super::faults::{self, Fault};
use super::paging::Pages;
use super::{LEGACY_PATH, MAX_BODY_BYTES, NEW_PATH, Reply, StandinOptions, legacy, new_api};
use herd::places::OfflineIndex;

/// How long a stop waits for answers in progress.
pub const STOP_GRACE: Duration = Duration::from_secs(1);

/// Connections waiting to be accepted (the kernel may cap it lower, at
/// `net.core.somaxconn`).
pub const BACKLOG: u32 = 4096;

/// How much of a too-large request body is read (and thrown away) before
/// the 413 answer.
pub const DRAIN_LIMIT: usize = 1024 * 1024;

/// A connection that sends no complete request head for this long is closed.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// What the endpoints need to answer.
pub struct Context {
    pub keys: Vec<String>,
    pub index: &'static OfflineIndex,
    pub pages: Pages,
}

/// Everything a request task reads.
struct Shared {
    context: Context,
    cache: AnswerCache,
    options: StandinOptions,
    requests: Arc<AtomicU64>,
    stop: watch::Receiver<bool>,
}

/// Tells the server to stop.
pub struct StopHandle(watch::Sender<bool>);

impl StopHandle {
    pub fn trigger(&self) {
        self.0.send_replace(true);
    }
}

/// A started server.
pub struct Running {
    pub addr: SocketAddr,
    pub stop: StopHandle,
    pub thread: JoinHandle<()>,
}

/// Binds and starts serving on a new thread.
pub fn spawn(
    options: StandinOptions,
    index: &'static OfflineIndex,
    requests: Arc<AtomicU64>,
) -> io::Result<Running> {
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get().clamp(1, 4));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .thread_name("places-standin")
        .enable_io()
        .enable_time()
        .build()?;
    let listener = {
        let _inside = runtime.enter();
        bind(options.addr)?
    };
    let addr = listener.local_addr()?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let shared = Arc::new(Shared {
        context: Context {
            keys: options.keys.clone(),
            index,
            pages: Pages::new(options.page_token_delay, options.seed),
        },
        cache: AnswerCache::default(),
        options,
        requests,
        stop: stop_rx,
    });
    let thread = std::thread::Builder::new()
        .name("places-standin".into())
        .spawn(move || {
            runtime.block_on(accept_loop(listener, shared));
            runtime.shutdown_timeout(Duration::from_millis(100));
        })?;
    Ok(Running {
        addr,
        stop: StopHandle(stop_tx),
        thread,
    })
}

fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(BACKLOG)
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let mut stop = shared.stop.clone();
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            () = stopped(&mut stop) => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    connections.spawn(serve_connection(stream, Arc::clone(&shared)));
                }
                // Out of file descriptors, or the like: let some close.
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
        }
        while connections.try_join_next().is_some() {}
    }
    drop(listener);
    let finish = async { while connections.join_next().await.is_some() {} };
    let _ = tokio::time::timeout(STOP_GRACE, finish).await;
}

async fn serve_connection(stream: TcpStream, shared: Arc<Shared>) {
    let _ = stream.set_nodelay(true);
    let mut stop = shared.stop.clone();
    let service = service_fn(move |request| {
        let shared = Arc::clone(&shared);
        async move { handle(request, &shared).await }
    });
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .serve_connection(TokioIo::new(stream), service);
    tokio::pin!(connection);
    tokio::select! {
        _ = connection.as_mut() => {}
        () = stopped(&mut stop) => {
            connection.as_mut().graceful_shutdown();
            let _ = connection.await;
        }
    }
}

/// Returns once the stop was triggered (or its handle dropped).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stopped| *stopped).await;
}

/// Which endpoint a request is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    Legacy,
    New,
    /// A known path with another method; the method it allows.
    WrongMethod(&'static str),
    NotFound,
}

fn route(method: &Method, path: &str) -> Endpoint {
    let new_path = path == NEW_PATH
        || path == "/v1/places%3AsearchNearby"
        || path == "/v1/places%3asearchNearby";
    match (path == LEGACY_PATH, new_path) {
        (true, _) if method == Method::GET => Endpoint::Legacy,
        (true, _) => Endpoint::WrongMethod("GET"),
        (_, true) if method == Method::POST => Endpoint::New,
        (_, true) => Endpoint::WrongMethod("POST"),
        _ => Endpoint::NotFound,
    }
}

/// Why a request body could not be had.
enum BodyError {
    TooLarge,
    /// The client went away or broke HTTP.
    Broken,
}

/// Reads a request body of at most `MAX_BODY_BYTES`. A larger one is read
/// and thrown away up to [`DRAIN_LIMIT`] (so that the client, still
/// sending, can read the 413 rather than a reset connection); beyond that,
/// or when announced beyond it, it is left unread.
async fn read_body(headers: &HeaderMap, body: Incoming) -> Result<Bytes, BodyError> {
    let announced = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|n| n > DRAIN_LIMIT as u64) {
        return Err(BodyError::TooLarge);
    }
    match Limited::new(body, DRAIN_LIMIT).collect().await {
        Ok(collected) => Some(collected.to_bytes())
            .filter(|bytes| bytes.len() <= MAX_BODY_BYTES)
            .ok_or(BodyError::TooLarge),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => Err(BodyError::TooLarge),
        Err(_) => Err(BodyError::Broken),
    }
}

async fn handle(
    request: Request<Incoming>,
    shared: &Shared,
) -> Result<Response<AnswerBody>, Dropped> {
    let arrival = shared.requests.fetch_add(1, Ordering::Relaxed);
    let options = &shared.options;
    let draw = faults::draw(
        options.seed,
        arrival,
        options.latency,
        options.jitter,
        &options.faults,
    );
    let (parts, body) = request.into_parts();
    let endpoint = route(&parts.method, parts.uri.path());
    let body = match read_body(&parts.headers, body).await {
        Ok(body) => Some(body),
        Err(BodyError::TooLarge) => None,
        Err(BodyError::Broken) => return Err(Dropped),
    };
    if !draw.delay.is_zero() {
        tokio::time::sleep(draw.delay).await;
    }
    let fault = draw
        .fault
        .filter(|_| matches!(endpoint, Endpoint::Legacy | Endpoint::New));
    if fault == Some(Fault::NeverAnswer) {
        stopped(&mut shared.stop.clone()).await;
        return Err(Dropped);
    }
    let query = parts.uri.query();
    let context = &shared.context;
    let header = |name: &str| parts.headers.get(name).map(|v| v.as_bytes());
    let reply = match (endpoint, body) {
        (Endpoint::Legacy | Endpoint::New, None) => Reply::html_error(413),
        (Endpoint::Legacy, Some(_)) => fault.and_then(legacy::fault_reply).unwrap_or_else(|| {
            let key = answer_cache::key(&[query.map(str::as_bytes)]);
            let answer = || legacy::answer(context, query, Instant::now());
            shared.cache.get_or_make(key, answer)
        }),
        (Endpoint::New, Some(body)) => fault.and_then(new_api::fault_reply).unwrap_or_else(|| {
            let key = answer_cache::key(&[
                query.map(str::as_bytes),
                header("x-goog-api-key"),
                header("x-goog-fieldmask"),
                Some(&body),
            ]);
            let answer = || (new_api::answer(context, query, &parts.headers, &body), true);
            shared.cache.get_or_make(key, answer)
        }),
        (Endpoint::WrongMethod(_), _) => Reply::html_error(405),
        (Endpoint::NotFound, _) => Reply::html_error(404),
    };
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = match fault {
        Some(Fault::BrokenJson) => {
            let cut = reply.body.len() / 2;
            AnswerBody::whole(reply.body.slice(..cut))
        }
        Some(Fault::DropConnection) => AnswerBody::dropped_midway(reply.body),
        _ => AnswerBody::whole(reply.body),
    };
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(reply.content_type));
    if let Endpoint::WrongMethod(allowed) = endpoint {
        headers.insert(ALLOW, HeaderValue::from_static(allowed));
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        assert_eq!(route(&Method::GET, LEGACY_PATH), Endpoint::Legacy);
        assert_eq!(
            route(&Method::POST, LEGACY_PATH),
            Endpoint::WrongMethod("GET")
        );
        assert_eq!(route(&Method::POST, NEW_PATH), Endpoint::New);
        assert_eq!(
            route(&Method::POST, "/v1/places%3AsearchNearby"),
            Endpoint::New
        );
        assert_eq!(route(&Method::GET, NEW_PATH), Endpoint::WrongMethod("POST"));
        assert_eq!(
            route(&Method::GET, "/maps/api/place/nearbysearch/xml"),
            Endpoint::NotFound
        );
        assert_eq!(route(&Method::GET, "/"), Endpoint::NotFound);
        assert_eq!(
            route(&Method::GET, "/MAPS/api/place/nearbysearch/json"),
            Endpoint::NotFound
        );
    }
}
