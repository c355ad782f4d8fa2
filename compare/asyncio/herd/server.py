"""The node: shared state, the listening socket, admission, the ordered stop
(src/node.rs, src/accept.rs, src/shutdown.rs).

``asyncio.start_server`` runs the accept loop; ``_on_client`` is the
admission step: a connection over ``max_clients`` is closed at once,
unanswered, and the refusal logged; an admitted one gets its own task
(``connection.serve``), kept in a set so that it is neither garbage
collected nor forgotten at stop. Stopping closes the listener, aborts every
client and link transport (so blocked reads and drains return at once),
cancels the sender tasks, waits for every task (bounded), logs the stop and
closes the log.
"""

from __future__ import annotations

import asyncio
import socket
import time

from . import connection
from .cache import Cache
from .cmd import system_clock
from .flood import Flooder, keep_link
from .logfile import NodeLog, format_addr
from .peer import InboundLinks

STOP_DEADLINE = 1.5


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
        self.cache = Cache()
        addrs = {s.name: s.addr for s in config.servers}
        self.neighbours = frozenset(me.peers)
        self.flooder = Flooder([(p, addrs[p]) for p in me.peers], config.limits.peer_queue)
        self.log = NodeLog(log_dir, name)
        self.inbound = InboundLinks()
        self.clients = 0
        self.client_writers: set[asyncio.StreamWriter] = set()
        self.tasks: set[asyncio.Task] = set()
        self.senders: list[asyncio.Task] = []
        self.server: asyncio.base_events.Server | None = None
        self.stopping = False
        self.addr = None

    # -- start ---------------------------------------------------------------

    async def start(self, sock: socket.socket) -> None:
        """Serves on an already bound and listening socket."""
        # start_server listens again with its own backlog (100 by default),
        # which drops SYNs of a burst of connections: 1024, as tokio and
        # Node listen with.
        self.server = await asyncio.start_server(
            self._on_client,
            sock=sock,
            limit=2 * self.limits.max_line_bytes + 1024,
            backlog=1024,
        )
        self.addr = sock.getsockname()
        self.log.notice(
            f"{self.name} listening on {format_addr(self.addr)}, {self.limits.threads} workers "
            f"(asyncio: one event loop), neighbours: {', '.join(self.me.peers)}"
        )
        for link in self.flooder.links:
            task = asyncio.create_task(keep_link(self, link), name=f"flood-{link.name}")
            self.senders.append(task)

    def _on_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        addr = writer.get_extra_info("peername")
        if addr is None or self.stopping:
            writer.transport.abort()
            return
        if self.clients >= self.limits.max_clients:
            self.log.notice(
                f"refused {format_addr(addr)}: {self.limits.max_clients} client connections already open"
            )
            writer.transport.close()
            return
        self.clients += 1
        self.client_writers.add(writer)
        sock = writer.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass
        task = asyncio.create_task(self._serve(reader, writer, addr))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _serve(self, reader, writer, addr) -> None:
        try:
            await connection.serve(self, reader, writer, addr)
        except asyncio.CancelledError:
            raise
        except Exception as e:  # noqa: BLE001 - one client never stops the node
            self.log.notice(f"{format_addr(addr)}: connection task failed: {type(e).__name__}: {e}")
        finally:
            self.release_client(writer)
            transport = writer.transport
            if not transport.is_closing():
                transport.close()

    def release_client(self, writer) -> None:
        if writer in self.client_writers:
            self.client_writers.discard(writer)
            self.clients -= 1

    # -- stop ----------------------------------------------------------------

    async def stop(self) -> float:
        started = time.monotonic()
        self.stopping = True
        if self.server is not None:
            self.server.close()
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
