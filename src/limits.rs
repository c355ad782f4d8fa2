//! Every limit of the herd, in one place: the configurable ones
//! ([`Limits`], PROTOCOL §5, set by `[limits]` and `herd node` flags) and
//! every fixed size, count and timing constant, each with why it has the
//! value it has.
//!
//! Both Rust builds (blocking and tokio) read their limits from here, so a
//! limit cannot drift between them. docs/operations.md ("Every limit")
//! lists the same set for operators.

use std::time::Duration;

/// Every configurable limit of PROTOCOL §5 and the pool size, with its
/// default and what happens at the limit. `herd node` flags and the
/// `[limits]` table set them (`config.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Client worker threads in the fixed pool. 128 by default: each idle
    /// client pins one worker until the idle timeout and each WHATSAT holds
    /// one for the provider's latency, so the pool must be far larger than
    /// the core count; an idle thread costs a few KiB of resident memory.
    pub threads: usize,
    /// Longest line in bytes, line ending excluded. Longer: the client is
    /// answered `? ` + the first 1 KiB of the line and the connection closed.
    pub max_line_bytes: usize,
    /// A client that completes no line for this long is disconnected; a
    /// trickle of bytes does not count as activity.
    pub idle_timeout: Duration,
    /// Client connections served plus waiting for a worker. Over it a new
    /// connection is closed at once and the refusal logged.
    pub max_clients: usize,
    /// An answer not taken by the client this long after its first byte
    /// left: the client is disconnected, so that a client that never reads,
    /// or reads a few bytes now and then, cannot pin a worker in `write`.
    /// One deadline for the whole answer, not one per write.
    pub write_timeout: Duration,
    /// An IAMAT whose time is more than this ahead of the server's clock
    /// is invalid (`? `) and changes nothing: a client cannot plant a
    /// location no honest update can replace.
    pub max_clock_ahead: Duration,
    /// Clients the cache keeps; a new one past it evicts the oldest.
    pub max_cached_clients: usize,
    /// Neighbour reconnect backoff: first wait.
    pub reconnect_min: Duration,
    /// Neighbour reconnect backoff: the wait doubles up to this.
    pub reconnect_max: Duration,
    /// Invalid lines a neighbour's link may carry before it is closed.
    pub peer_garbage_lines: u32,
    /// Updates queued per neighbour. On overflow updates are dropped and the
    /// link is resynchronised with a catch-up dump.
    pub peer_queue: usize,
    /// With a herd secret, each line of the peer-link handshake must arrive
    /// within this long, or the link attempt is dropped.
    pub handshake_timeout: Duration,
    /// A client that completes no line for this long is parked off the
    /// pool (blocking build, Linux; `park.rs`) and its worker takes the next
    /// connection; zero: never, a worker serves a connection from first byte
    /// to close. The event-loop builds have no pool and accept and ignore it.
    pub park_idle: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            threads: 128,
            max_line_bytes: 64 * 1024,
            idle_timeout: Duration::from_secs(60),
            max_clients: 1024,
            write_timeout: Duration::from_secs(10),
            max_clock_ahead: Duration::from_secs(60),
            max_cached_clients: 1_000_000,
            reconnect_min: Duration::from_millis(100),
            reconnect_max: Duration::from_secs(2),
            peer_garbage_lines: 10,
            peer_queue: 10_000,
            handshake_timeout: Duration::from_secs(5),
            park_idle: DEFAULT_PARK_IDLE,
        }
    }
}

/// `park_idle_ms` by default: see docs/operations.md ("Parking idle
/// connections") for how it was chosen.
pub const DEFAULT_PARK_IDLE: Duration = Duration::from_millis(100);

/// The most worker threads `--threads` may ask for: more is a typo, not a
/// plan (each thread reserves a stack).
pub const MAX_THREADS: usize = 4096;

/// The default Places timeout (PROTOCOL §5): a WHATSAT answers within it.
pub const PLACES_TIMEOUT: Duration = Duration::from_secs(5);

// ---- The protocol's own bounds (PROTOCOL §2) ----

/// Client times with more integer digits than this are refused (`? `):
/// 10^20 s is about 3 × 10^12 years, far past any clock, and keeps every
/// difference exact in `i128` nanoseconds. The other builds apply the same
/// bound.
pub const MAX_TIME_INTEGER_DIGITS: usize = 20;

/// The largest WHATSAT radius, in kilometres (Google's own cap is 50 km).
pub const MAX_RADIUS_KM: u32 = 50;

/// The largest WHATSAT bound: one page of Google results.
pub const MAX_BOUND: usize = 20;

/// How much of a too-long line is echoed after `? ` (PROTOCOL §5): enough
/// to recognise it, never the whole 64 KiB.
pub const TOO_LONG_ECHO: usize = 1024;

// ---- Client connections ----

/// A connection's first read buffer; it grows, up to the line cap, only
/// for a client that sends a longer line.
pub const FIRST_READ_BUFFER: usize = 8 * 1024;

/// After refusing a line as too long (or a stranger's `PEER`), what the
/// client still sends is read and dropped for up to this long before
/// closing, so that the close does not turn into a reset that destroys our
/// answer in flight.
pub const LINGER: Duration = Duration::from_secs(1);

/// The most bytes read and dropped during [`LINGER`]: a client that sends
/// at full speed cannot keep the connection for the whole second.
pub const LINGER_BYTES: usize = 8 * 1024 * 1024;

/// The least time between two `cache full at N clients` notices in a
/// node's log: a cache at its bound under a flood of new ids evicts on
/// every IAMAT, and one line a second says so without filling the disk.
pub const EVICTION_NOTICE_INTERVAL: Duration = Duration::from_secs(1);

/// Pause after an accept error such as "too many open files", so that the
/// accept loop does not spin while descriptors are short.
pub const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(50);

/// Past the idle deadline, one read this long is still made before a
/// client counts as idle: a client that waited in the pool's queue may
/// have sent its line meanwhile, and must not be closed unheard (blocking
/// build).
pub const LATE_LOOK: Duration = Duration::from_millis(1);

/// Readiness events the parked-connection poller takes per `epoll_wait`;
/// more simply wait for its next round.
pub const PARK_POLL_EVENTS: usize = 256;

// ---- Neighbour links ----

/// How long one connection attempt to a neighbour may take; a neighbour
/// that does not answer in a second is treated as down and retried with
/// backoff.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// Queued updates written in one go before the link's socket is flushed:
/// large enough to carry a burst in one write, small enough that one write
/// does not hold the sender for long.
pub const BATCH: usize = 1024;

/// A link counts as busy when its last write left less than this ago. A
/// busy link's sender with a single update queued yields its CPU once
/// before writing (`link/outbound.rs`), so that the updates the workers are
/// making join the same write: every write wakes the neighbour's reader
/// thread, and on a busy herd those wake-ups were most of the CPU. It is
/// not a wait: the yield returns at once on an idle CPU.
pub const BUSY_LINK: Duration = Duration::from_millis(5);

/// The nice value an inbound link's reader thread asks for (the workers
/// keep the node's, normally 0): ahead of the client workers, so that on a
/// saturated CPU the herd's floods are read as they come (`link/priority.rs`;
/// measured in `compare/runs/reader-priority-20261205`).
pub const LINK_READER_NICE: i32 = -10;

/// An accepted peer link with no traffic for this long gets TCP keepalive
/// probes (`link/socket.rs`), so that a neighbour whose host vanished is
/// noticed: a live inbound link is never replaced by a second `PEER`
/// (PROTOCOL §3), so a dead one must be found out.
pub const PEER_KEEPALIVE_IDLE: Duration = Duration::from_secs(5);

/// The wait between two keepalive probes on an accepted peer link.
pub const PEER_KEEPALIVE_INTERVAL: Duration = Duration::from_secs(1);

/// Unanswered keepalive probes after which an accepted peer link is dead:
/// with the two above, about 8 s after the neighbour's last sign of life.
pub const PEER_KEEPALIVE_PROBES: u32 = 3;

/// The buffer a link's sender fills before a write (a catch-up dump leaves
/// in writes of this size).
pub const LINK_BUFFER: usize = 64 * 1024;

/// The longest handshake line read (PROTOCOL §7): `? ` + our own `PEER`
/// line fits; a stranger cannot make us buffer more.
pub const MAX_HANDSHAKE_LINE: usize = 1024;

/// How often an idle outgoing link checks that the neighbour has not closed
/// it (blocking build; tokio awaits readability instead). The acceptor never
/// writes on a link, so a readable socket means it closed: this is how a
/// restarted neighbour is noticed without waiting for traffic.
pub const LIVENESS_CHECK: Duration = Duration::from_millis(100);

// ---- The durable store (PROTOCOL §8) ----

/// `[store] sync = everysec`: the longest a change written to the store
/// waits for its fsync. Half a second, so that with an fsync of up to half
/// a second the promise (at most the last second of acknowledged updates
/// lost) still holds; two fsyncs a second cost next to nothing.
pub const STORE_EVERYSEC_SYNC: Duration = Duration::from_millis(500);

/// `everysec` and `never`: after writing a batch the store's writer sleeps
/// this long before it takes the next, so that under load the changes of
/// many requests share one batch and one wake-up (as the log writer's
/// `LOG_GATHER` does). `always` does not: there the fsync itself gathers.
pub const STORE_GATHER: Duration = Duration::from_millis(2);

/// A store that failed to write (a full disk, say) is opened afresh and
/// tried again this often; meanwhile changes wait in memory.
pub const STORE_RETRY: Duration = Duration::from_secs(1);

/// How long a stopping node waits for its store's last write and fsync.
pub const STORE_STOP_DEADLINE: Duration = Duration::from_secs(10);

// ---- Stopping ----

/// How long stopping waits for busy threads or tasks (a worker in the
/// middle of a Places call, say) before it gives up on them; the process
/// exits anyway.
pub const STOP_DEADLINE: Duration = Duration::from_millis(1500);

/// How long stopping waits to connect to its own port, which is how a
/// blocking `accept` is woken.
pub const STOP_WAKE_CONNECT: Duration = Duration::from_millis(500);

// ---- The per-node log ----

/// Log entries longer than this are cut, with a note of how many bytes
/// were left out, so that one 64 KiB line does not cost 256 KiB of log.
pub const MAX_LOGGED_BYTES: usize = 4096;

/// Bytes of log entries that may wait for the writer thread. Past it, the
/// thread that logs writes the queue out itself (`logfile.rs`): a slow disk
/// or a starved writer slows the node down rather than losing log lines or
/// memory, and no worker ever parks waiting for the writer.
pub const LOG_QUEUE_BYTES: usize = 16 * 1024 * 1024;

/// After writing out what was queued, the log writer sleeps this long
/// before it waits again. While it sleeps, submitting a batch only queues
/// it: nobody waits on the channel, so there is no wake-up to pay. Under
/// load a request then costs no context switch for its log lines and the
/// file gets one write per interval; when idle, an entry reaches the file at
/// most this much later.
pub const LOG_GATHER: Duration = Duration::from_millis(2);

/// The log writer's file buffer: one write to the file per this much.
pub const LOG_FILE_BUFFER: usize = 64 * 1024;

// ---- Places ----

/// The largest Places answer body read, after decompression. A 20-result
/// page is about 20 KiB.
pub const PLACES_BODY_LIMIT: u64 = 4 * 1024 * 1024;

/// Idle HTTP connections kept for reuse with the provider: one per pool
/// worker, up to this many (ureq's default of 3 made most WHATSATs open a
/// new connection).
pub const PLACES_IDLE_CONNECTIONS: usize = 1024;

/// The longest message of Google's passed on in an answer, in characters;
/// longer ones are cut and end with `...`. Google's own are well under 500.
pub const PLACES_MESSAGE_LIMIT: usize = 1000;

// ---- The metrics endpoint (blocking build) ----

/// The largest request head read; a longer one is answered `400`.
pub const METRICS_HEAD_LIMIT: usize = 8 * 1024;

/// How long a scrape's request head may take to arrive, in all; then the
/// connection is closed unanswered. A scraper sends its head as it
/// connects, so a second is plenty, and a silent connection holds its
/// place in [`METRICS_PENDING`] no longer.
pub const METRICS_READ_DEADLINE: Duration = Duration::from_secs(1);

/// How long a scrape's answer may take to leave.
pub const METRICS_WRITE_TIMEOUT: Duration = Duration::from_secs(2);

/// How long, at most, what a scraper still sends after its answer is read
/// and dropped before the close.
pub const METRICS_DRAIN: Duration = Duration::from_millis(200);

/// Answers being written at once, each on a thread of its own (writing and
/// the drain before the close can block); a complete request past that is
/// told `503` and closed. Reading request heads takes none of them.
pub const METRICS_AT_ONCE: usize = 4;

/// Connections whose request head is still awaited, all on the endpoint's
/// one thread (a descriptor and up to [`METRICS_HEAD_LIMIT`] bytes each);
/// a new connection past that drops the oldest, so connections that say
/// nothing cannot keep a scraper, who speaks at once, out.
pub const METRICS_PENDING: usize = 64;

/// The drain before closing a connection told `503`: short, as it runs on
/// the accept thread (a scraper that reads the answer and closes ends it
/// sooner).
pub const METRICS_BUSY_DRAIN: Duration = Duration::from_millis(20);

// ---- `herd up` ----

/// How long a server of `herd up` may take, from its start (or restart),
/// to answer the readiness probe (`up/readiness.rs`). A debug build on a
/// busy machine answers within a few seconds; a server still silent after
/// this is not coming.
pub const UP_READY_DEADLINE: Duration = Duration::from_secs(10);

/// One readiness probe of `herd up`: the connect, and then the answer to
/// the probe line. A node that has bound its port answers an invalid line
/// in well under a millisecond; a probe that times out is simply made
/// again, so this only bounds how long one silent listener holds up the
/// supervisor.
pub const UP_PROBE_TIMEOUT: Duration = Duration::from_millis(500);

/// How often `herd up` looks for exited children and starts the ones whose
/// backoff has passed: a killed server is noticed within this, small
/// beside the 2 s a restart may take, and a `try_wait` per child this
/// often costs nothing.
pub const UP_POLL_INTERVAL: Duration = Duration::from_millis(50);

/// The first wait before `herd up` restarts a child that exited: short, so
/// that a server killed once is back within a second.
pub const UP_RESTART_MIN: Duration = Duration::from_millis(100);

/// The wait before a restart doubles with each exit up to this, so that a
/// child that fails at once (its port taken by another process, say) is
/// started at most once every 5 s instead of spinning.
pub const UP_RESTART_MAX: Duration = Duration::from_secs(5);

/// A child that answered for this long before it exited counts as healthy:
/// its restart waits [`UP_RESTART_MIN`] again, not the doubled wait of
/// earlier failures.
pub const UP_RESTART_RESET: Duration = Duration::from_secs(10);

/// How long a child of `herd up` may take to stop after SIGTERM before it
/// is killed.
pub const UP_CHILD_STOP_DEADLINE: Duration = Duration::from_secs(3);
