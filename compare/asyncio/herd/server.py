"""The node: shared state, the listening socket, admission, the ordered stop
(src/node.rs, src/accept.rs, src/shutdown.rs).

``_accept_loop`` accepts with ``loop.sock_accept`` (not
``asyncio.start_server``, whose accept loop logs a traceback for every
failed ``accept()`` and, on EMFILE, retries it hundreds of times in a row);
an accept that fails is logged once per burst and retried after a short
pause. ``_admit`` is the admission step: a connection over ``max_clients``
is closed at once, unanswered, and the refusal logged; an admitted one gets
its own task (``connection.serve``), kept in a set so that it is neither
garbage collected nor forgotten at stop. A connection stops counting only
when its socket is gone: ``finish`` closes a transport with nothing left to
send and resets one with a backlog, since ``close()`` would keep the socket
until a peer that may never read took the rest. Stopping closes the
listener, aborts every client and link transport (so blocked reads and
drains return at once), cancels the sender tasks, waits for every task
(bounded), logs the stop and closes the log.
"""

from __future__ import annotations

import asyncio
import errno
import socket
import time

from . import connection
from .connection import finish
from .cache import Cache
from .cmd import system_clock
from .flood import Flooder, keep_link
from .logfile import NodeLog, format_addr
from .peer import InboundLinks, os_error_text

STOP_DEADLINE = 1.5
# After a failed accept() (EMFILE, ENFILE, ENOBUFS, ENOMEM, ...), as the
# blocking build's ACCEPT_ERROR_PAUSE: other connections get to finish and
# free their descriptors instead of the loop spinning on accept().
ACCEPT_ERROR_PAUSE = 0.05
ACCEPT_BURST_GAP = 1.0
EVICTION_NOTICE_GAP = 1.0
LISTEN_BACKLOG = 1024


class Node:
    def __init__(
        self, config, name: str, places, log_dir: str, clock=system_clock, secret: bytes | None = None
    ) -> None:
        me = config.server(name)
        self.config = config
        self.me = me
        self.name = name
        self.limits = config.limits
        self.places = places
        self.clock = clock
        # The herd secret (PROTOCOL §7): None means bare ``PEER <name>`` links.
        self.secret = secret
        self.cache = Cache(capacity=config.limits.max_cached_clients)
        # The eviction notice: at most one a second (PROTOCOL §5).
        self._eviction_notice_at = float("-inf")
        self._eviction_notice: asyncio.TimerHandle | None = None
        addrs = {s.name: s.addr for s in config.servers}
        self.neighbours = frozenset(me.peers)
        self.flooder = Flooder([(p, addrs[p]) for p in me.peers], config.limits.peer_queue)
        self.log = NodeLog(log_dir, name, max_bytes=config.log.max_bytes, keep=config.log.keep)
        # WHATSAT answers: whole in the log, or one summary entry (PROTOCOL §4).
        self.log_answers = config.log.answers
        self.inbound = InboundLinks()
        # Admitted client connections, counted from accept() until their
        # socket is gone (or they became a link).
        self.clients = 0
        self.client_writers: set[asyncio.StreamWriter] = set()
        self.tasks: set[asyncio.Task] = set()
        self.senders: list[asyncio.Task] = []
        self.listener: socket.socket | None = None
        self.acceptor: asyncio.Task | None = None
        self.stopping = False
        self.addr = None

    # -- start ---------------------------------------------------------------

    async def start(self, sock: socket.socket) -> None:
        """Serves on an already bound and listening socket."""
        # A burst of connections needs a deep accept queue: 1024, as tokio
        # and Node listen with.
        sock.listen(LISTEN_BACKLOG)
        sock.setblocking(False)
        self.listener = sock
        self.addr = sock.getsockname()
        self.log.notice(
            f"{self.name} listening on {format_addr(self.addr)}, {self.limits.threads} workers "
            f"(asyncio: one event loop), neighbours: {', '.join(self.me.peers)}"
        )
        self.acceptor = asyncio.create_task(self._accept_loop(sock), name="accept")
        for link in self.flooder.links:
            task = asyncio.create_task(keep_link(self, link), name=f"flood-{link.name}")
            self.senders.append(task)

    async def _accept_loop(self, sock: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        last_failure = None
        while not self.stopping:
            try:
                conn, addr = await loop.sock_accept(sock)
            except (BlockingIOError, InterruptedError, ConnectionAbortedError):
                continue
            except OSError as e:
                if self.stopping or e.errno == errno.EBADF:
                    return
                now = time.monotonic()
                # One notice per burst: failures less than a second apart
                # (with a few accepts between them) are the same burst.
                if last_failure is None or now - last_failure > ACCEPT_BURST_GAP:
                    self.log.notice(
                        f"accept failed: {os_error_text(e)}; retrying after "
                        f"{int(ACCEPT_ERROR_PAUSE * 1000)} ms pauses (logged once per burst)"
                    )
                last_failure = now
                await asyncio.sleep(ACCEPT_ERROR_PAUSE)
                continue
            self._admit(conn, addr)

    def _admit(self, conn: socket.socket, addr) -> None:
        if self.stopping:
            conn.close()
            return
        if self.clients >= self.limits.max_clients:
            self.log.notice(
                f"refused {format_addr(addr)}: {self.limits.max_clients} client connections already open"
            )
            conn.close()
            return
        self.clients += 1
        try:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        task = asyncio.create_task(self._serve(conn, addr))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _streams(self, conn: socket.socket):
        """A StreamReader/StreamWriter pair on an accepted socket, as
        ``start_server`` makes them."""
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=2 * self.limits.max_line_bytes + 1024, loop=loop)
        protocol = asyncio.StreamReaderProtocol(reader, loop=loop)
        transport, _ = await loop.connect_accepted_socket(lambda: protocol, sock=conn)
        # drain() returns only once the transport holds nothing more: the
        # write deadline covers a whole answer, not all but its last 16 KiB.
        transport.set_write_buffer_limits(high=0)
        return reader, asyncio.StreamWriter(transport, protocol, reader, loop)

    async def _serve(self, conn: socket.socket, addr) -> None:
        try:
            reader, writer = await self._streams(conn)
        except (OSError, asyncio.CancelledError) as e:
            conn.close()
            self.clients -= 1
            if isinstance(e, asyncio.CancelledError):
                raise
            return
        self.client_writers.add(writer)
        try:
            if self.stopping:
                return
            await connection.serve(self, reader, writer, addr)
        except asyncio.CancelledError:
            raise
        except Exception as e:  # noqa: BLE001 - one client never stops the node
            self.log.notice(f"{format_addr(addr)}: connection task failed: {type(e).__name__}: {e}")
        finally:
            self.release_client(writer)
            finish(writer.transport)

    def note_evictions(self) -> None:
        """Called when the cache evicted: the notice now, or once a second
        has passed since the last one."""
        if self._eviction_notice is not None:
            return
        wait = self._eviction_notice_at + EVICTION_NOTICE_GAP - time.monotonic()
        if wait <= 0:
            self._report_evictions()
        else:
            self._eviction_notice = asyncio.get_running_loop().call_later(wait, self._report_evictions)

    def _report_evictions(self) -> None:
        self._eviction_notice = None
        count = self.cache.take_unreported()
        if count:
            self._eviction_notice_at = time.monotonic()
            self.log.notice(
                f"cache full at {self.limits.max_cached_clients} clients: "
                f"evicted {count} since the last notice"
            )

    def release_client(self, writer) -> None:
        """The connection stops counting (it ends, or became a link)."""
        if writer in self.client_writers:
            self.client_writers.discard(writer)
            self.clients -= 1

    # -- stop ----------------------------------------------------------------

    async def stop(self) -> float:
        started = time.monotonic()
        self.stopping = True
        if self.acceptor is not None:
            self.acceptor.cancel()
        if self.listener is not None:
            self.listener.close()
        for writer in list(self.client_writers):
            writer.transport.abort()
        self.inbound.close_all()
        for task in self.senders:
            task.cancel()
        pending = list(self.tasks) + self.senders
        abandoned = 0
        if pending:
            done, not_done = await asyncio.wait(pending, timeout=STOP_DEADLINE)
            for task in not_done:
                task.cancel()
            abandoned = len(not_done)
        if self._eviction_notice is not None:
            self._eviction_notice.cancel()
            self._report_evictions()
        took = time.monotonic() - started
        self.log.notice(
            f"{self.name} stopped in {int(took * 1000)} ms (0 worker panics, {abandoned} tasks abandoned)"
        )
        closer = getattr(self.places, "close", None)
        if closer is not None:
            try:
                await closer()
            except Exception:  # noqa: BLE001
                pass
        self.log.close()
        return took


def bind(addr: str) -> socket.socket:
    """Binds ``host:port`` like std's TcpListener::bind: each resolved
    address in turn, the first that works; SO_REUSEADDR as std sets it."""
    from .config import split_host_port

    host, port = split_host_port(addr)
    last: OSError | None = None
    for family, kind, proto, _, sockaddr in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
        sock = socket.socket(family, kind, proto)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(sockaddr)
            sock.listen(socket.SOMAXCONN)
            sock.setblocking(False)
            return sock
        except OSError as e:
            sock.close()
            last = e
    raise last or OSError("address resolves to nothing")
