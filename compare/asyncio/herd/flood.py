"""Flooding: one outgoing link and one sender task per neighbour (src/link/outbound.rs).

``Flooder.flood`` puts each record that changed the cache on every other
neighbour's bounded ``asyncio.Queue`` with ``put_nowait``, so a client's
task never waits on a slow or dead neighbour; a full queue drops the update
and marks the link for a catch-up dump, which carries everything the dropped
updates did. Each sender task owns one persistent TCP link: it connects
(retrying with backoff from ``reconnect_min_ms`` doubling to
``reconnect_max_ms`` while the neighbour is down), says ``PEER <name>``
(or, where the herd has a secret, runs the opener's side of the PROTOCOL §7
challenge-response; a refused handshake counts as a failed attempt),
sends the catch-up dump of the whole cache, then writes queued AT lines as
they come. It notices a link the neighbour closed by reading it (EOF), and a
neighbour that connects to us wakes it out of its backoff. A partition stalls
a link rather than closing it, so each link's socket gets ``TCP_USER_TIMEOUT``
of ``write_timeout_ms``: the kernel closes a link whose sent data stays
unacknowledged that long, the read fails, and the task reconnects.
"""

from __future__ import annotations

import asyncio
import socket

from . import peer_auth
from .config import rust_debug, split_host_port
from .line_reader import EOF, IDLE, Line, LineReader, TooLong
from .logfile import format_addr
from .peer import os_error_text

CONNECT_TIMEOUT = 1.0
BATCH = 1024


class LinkQueue:
    def __init__(self, name: str, addr: str, capacity: int) -> None:
        self.name = name
        self.addr = addr
        self.updates: asyncio.Queue = asyncio.Queue(maxsize=capacity)
        self.resync = False
        self.wake = asyncio.Event()


class Flooder:
    def __init__(self, neighbours: list[tuple[str, str]], capacity: int) -> None:
        self.links = [LinkQueue(name, addr, capacity) for name, addr in neighbours]

    def flood(self, record, except_name: str | None) -> None:
        for link in self.links:
            if link.name == except_name:
                continue
            try:
                link.updates.put_nowait(record)
            except asyncio.QueueFull:
                link.resync = True

    def wake(self, neighbour: str) -> None:
        for link in self.links:
            if link.name == neighbour:
                link.wake.set()

    def queued(self, neighbour: str) -> int | None:
        for link in self.links:
            if link.name == neighbour:
                return link.updates.qsize()
        return None


class LinkDown(Exception):
    pass


async def keep_link(state, link: LinkQueue) -> None:
    """Runs until cancelled (the node stopping)."""
    limits = state.limits
    backoff = limits.reconnect_min_ms / 1000
    reported_down = False
    while not state.stopping:
        try:
            reader, writer, addr = await connect(link.addr)
        except (OSError, TimeoutError) as e:
            if not reported_down:
                reported_down = True
                state.log.notice(
                    f"cannot reach {link.name} ({link.addr}): {os_error_text(e)}; retrying with backoff"
                )
        else:
            try:
                refused = await open_link(state, link, reader, writer, addr)
                if refused is None:
                    backoff = limits.reconnect_min_ms / 1000
                    reported_down = False
                    state.log.notice(f"link to {link.name} ({format_addr(addr)}) up")
                    why = await serve_link(state, link, reader, writer, addr)
                    state.log.notice(f"link to {link.name} ({format_addr(addr)}) down: {why}")
                else:
                    state.log.notice(f"link to {link.name} ({format_addr(addr)}) refused: {refused}")
            finally:
                writer.transport.abort()
        try:
            async with asyncio.timeout(backoff):
                await link.wake.wait()
            link.wake.clear()
            backoff = limits.reconnect_min_ms / 1000
        except TimeoutError:
            backoff = min(backoff * 2, limits.reconnect_max_ms / 1000)


async def connect(addr: str):
    host, port = split_host_port(addr)
    async with asyncio.timeout(CONNECT_TIMEOUT):
        reader, writer = await asyncio.open_connection(host, port)
    peer = writer.get_extra_info("peername")
    return reader, writer, peer


def limit_unacked(sock, limit_ms: int) -> None:
    """Has the kernel close ``sock``'s connection when data it sent stays
    unacknowledged for ``limit_ms`` (Linux; elsewhere nothing). Zero would
    mean the system default, so it is raised to 1 ms."""
    option = getattr(socket, "TCP_USER_TIMEOUT", None)
    if option is not None:
        sock.setsockopt(socket.IPPROTO_TCP, option, max(1, int(limit_ms)))


async def open_link(state, link: LinkQueue, reader, writer, addr) -> str | None:
    """The opening lines: None once the link may carry AT lines, else why
    the neighbour refused it (or we refused its WELCOME)."""
    try:
        limit_unacked(writer.get_extra_info("socket"), state.limits.write_timeout_ms)
        if state.secret is None:
            await _send(state, writer, addr, [f"PEER {state.name}"])
            return None
        return await _handshake(state, link.name, reader, writer, addr)
    except (OSError, TimeoutError) as e:
        return os_error_text(e)


async def _handshake(state, neighbour: str, reader, writer, addr) -> str | None:
    limits = state.limits
    lines = LineReader(reader, limits.max_line_bytes, limits.handshake_timeout_ms / 1000)
    nonce_o = peer_auth.new_nonce()
    await _send(state, writer, addr, [peer_auth.hello_line(state.name, nonce_o)])
    text = await _handshake_line(state, lines, addr, "CHALLENGE")
    nonce_a = peer_auth.operand(text, "CHALLENGE") if isinstance(text, str) else None
    if nonce_a is None or not peer_auth.valid_nonce(nonce_a):
        return _unexpected(text, "CHALLENGE")
    mine = peer_auth.proof(state.secret, state.name, neighbour, nonce_o, nonce_a)
    await _send(state, writer, addr, [f"PROOF {mine}"])
    text = await _handshake_line(state, lines, addr, "WELCOME")
    got = peer_auth.operand(text, "WELCOME") if isinstance(text, str) else None
    if got is None:
        return _unexpected(text, "WELCOME")
    expected = peer_auth.welcome(state.secret, neighbour, state.name, nonce_a, nonce_o)
    if not peer_auth.matches(expected, got):
        return "wrong WELCOME"
    return None


class _NoLine:
    def __init__(self, why: str) -> None:
        self.why = why


async def _handshake_line(state, lines: LineReader, addr, expected: str):
    """The next line as text, or a _NoLine saying why there is none."""
    event = await lines.next_line()
    if isinstance(event, Line):
        state.log.received(addr, event.data)
        return event.data.decode("utf-8", "replace")
    if isinstance(event, TooLong):
        state.log.received(addr, event.head)
        return _NoLine("line too long")
    if event is EOF:
        return _NoLine("closed during the handshake")
    if event is IDLE:
        return _NoLine(f"no {expected} within {state.limits.handshake_timeout_ms} ms")
    return _NoLine("no answer")


def _unexpected(text, expected: str) -> str:
    if isinstance(text, _NoLine):
        return text.why
    shown = text if len(text) <= 200 else text[:200] + "..."
    return f"expected {expected}, got {rust_debug(shown)}"


async def serve_link(state, link: LinkQueue, reader, writer, addr) -> str:
    # Anything the neighbour sends on our link is ignored; EOF means it closed.
    eof_task = asyncio.ensure_future(_wait_eof(reader))
    get_task: asyncio.Future | None = None
    try:
        await catch_up(state, link, writer, addr)
        while True:
            if link.resync:
                await catch_up(state, link, writer, addr)
            get_task = asyncio.ensure_future(link.updates.get())
            done, _ = await asyncio.wait({get_task, eof_task}, return_when=asyncio.FIRST_COMPLETED)
            if get_task in done:
                batch = [get_task.result().line]
                get_task = None
                while len(batch) < BATCH:
                    try:
                        batch.append(link.updates.get_nowait().line)
                    except asyncio.QueueEmpty:
                        break
                await _send(state, writer, addr, batch)
            if eof_task in done:
                return eof_task.result()
    except (OSError, TimeoutError) as e:
        return os_error_text(e)
    finally:
        eof_task.cancel()
        if get_task is not None:
            get_task.cancel()


async def _wait_eof(reader: asyncio.StreamReader) -> str:
    try:
        while True:
            data = await reader.read(4096)
            if not data:
                return "closed by the neighbour"
    except OSError as e:
        return os_error_text(e)


async def catch_up(state, link: LinkQueue, writer, addr) -> None:
    link.resync = False
    while True:
        try:
            link.updates.get_nowait()
        except asyncio.QueueEmpty:
            break
    snapshot = state.cache.snapshot()
    await _send(state, writer, addr, [record.line for record in snapshot])
    state.log.notice(f"catch-up to {link.name}: {len(snapshot)} clients sent")


async def _send(state, writer, addr, lines: list[str]) -> None:
    if not lines:
        return
    data = "".join(line + "\n" for line in lines).encode("utf-8")
    for line in lines:
        state.log.sent(addr, line.encode("utf-8"))
    writer.write(data)
    async with asyncio.timeout(state.limits.write_timeout_ms / 1000):
        await writer.drain()
