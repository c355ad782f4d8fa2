"""Inbound neighbour links: AT lines flooded to this node (src/link/inbound.rs).

A connection whose first line is a valid ``PEER <name>`` is handed here by
``connection.py``; the same task goes on serving it as a link, with no idle
timeout. Each line goes to ``cmd.peer_line`` (AT -> cache -> flood). A
neighbour holds one inbound link at a time (PROTOCOL §3): without a secret,
a second ``PEER`` while the old link is open and alive is refused
(``InboundLinks.is_open``: a non-blocking ``MSG_PEEK`` on a dup of the old
socket, so that no byte is taken from it), and only a dead link is replaced;
with a secret, the new link replaces the old once its handshake succeeded.
A replaced link's transport is aborted, which ends its task. Accepted links
get TCP keepalive (5 s idle, 3 probes 1 s apart), so that a link whose host
vanished is found dead. Nothing is ever answered on a
link; invalid lines are logged and counted (``peer_garbage_lines``).
Where the herd has a secret, ``handshake`` runs the acceptor's side of the
challenge-response (PROTOCOL §7) before ``accept``.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import socket

from . import cmd, peer_auth
from .line_reader import EOF, IDLE, Line, LineReader, TooLong
from .logfile import format_addr

_ids = itertools.count()


class Inbound:
    def __init__(self, link_id: int, writer: asyncio.StreamWriter) -> None:
        self.id = link_id
        self.writer = writer


class InboundLinks:
    def __init__(self) -> None:
        self.open: dict[str, Inbound] = {}

    def close_all(self) -> None:
        links = list(self.open.values())
        self.open.clear()
        for link in links:
            _close(link.writer)

    def connected(self) -> list[str]:
        return sorted(self.open)

    def is_open(self, name: str) -> bool:
        """True when ``name`` has an inbound link that is open and alive."""
        link = self.open.get(name)
        if link is None:
            return False
        transport = link.writer.transport
        if transport is None or transport.is_closing():
            return False
        sock = link.writer.get_extra_info("socket")
        return sock is not None and link_alive(sock)


def link_alive(sock) -> bool:
    """Peeks at ``sock`` without blocking and without taking a byte: EOF
    (the neighbour closed) or an error (reset, ...) is dead; data waiting or
    nothing yet (EAGAIN) is alive. Works on a dup of the descriptor, since
    the event loop owns the socket object."""
    try:
        fd = sock.fileno()
        if fd < 0:
            return False
        dup = socket.socket(fileno=os.dup(fd))
    except OSError:
        return False
    try:
        dup.setblocking(False)
        return dup.recv(1, socket.MSG_PEEK) != b""
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        dup.close()


KEEPALIVE_IDLE_S = 5
KEEPALIVE_INTERVAL_S = 1
KEEPALIVE_PROBES = 3


def keepalive(sock) -> None:
    """TCP keepalive on an accepted link (PROTOCOL §5): a vanished host's
    link fails within about 8 s (Linux options; elsewhere SO_KEEPALIVE)."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        for option, value in (("TCP_KEEPIDLE", KEEPALIVE_IDLE_S), ("TCP_KEEPINTVL", KEEPALIVE_INTERVAL_S),
                              ("TCP_KEEPCNT", KEEPALIVE_PROBES)):
            if hasattr(socket, option):
                sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, option), value)
    except OSError:
        pass


def _close(writer: asyncio.StreamWriter) -> None:
    transport = writer.transport
    if transport is not None and not transport.is_closing():
        transport.abort()


async def handshake(state, name: str, nonce_o: str, lines: LineReader, writer, addr) -> bool:
    """CHALLENGE, then one PROOF line within the handshake timeout, then
    WELCOME. False (the refusal answered and logged) on any failure; the
    caller closes."""
    log = state.log
    nonce_a = peer_auth.new_nonce()
    lines.set_idle(state.limits.handshake_timeout_ms / 1000)
    why = None
    out = bytearray()
    try:
        await _say(state, writer, addr, f"CHALLENGE {nonce_a}".encode())
        event = await lines.next_line()
    except (OSError, TimeoutError) as e:
        event = None
        why = os_error_text(e)
    if isinstance(event, Line):
        log.received(addr, event.data)
        text = event.data.decode("utf-8", "replace")
        got = peer_auth.operand(text, "PROOF")
        expected = peer_auth.proof(state.secret, name, state.name, nonce_o, nonce_a)
        if got is None:
            why = "expected PROOF"
        elif not peer_auth.matches(expected, got):
            why = "wrong proof"
        if why is not None:
            cmd.invalid(event.data, out)
    elif isinstance(event, TooLong):
        log.received(addr, event.head)
        cmd.invalid(event.head, out)
        why = "line too long"
    elif event is EOF:
        why = "closed during the handshake"
    elif event is IDLE:
        why = f"no PROOF within {state.limits.handshake_timeout_ms} ms"
    if why is None:
        try:
            await _say(state, writer, addr,
                       f"WELCOME {peer_auth.welcome(state.secret, state.name, name, nonce_a, nonce_o)}".encode())
            return True
        except (OSError, TimeoutError) as e:
            why = os_error_text(e)
    log.notice(f"link from {name} ({format_addr(addr)}) refused: {why}")
    if out:
        try:
            await _say(state, writer, addr, bytes(out[:-1]))
        except (OSError, TimeoutError):
            pass
    return False


async def _say(state, writer, addr, line: bytes) -> None:
    state.log.sent(addr, line)
    writer.write(line + b"\n")
    async with asyncio.timeout(state.limits.write_timeout_ms / 1000):
        await writer.drain()


async def accept(state, name: str, lines: LineReader, reader, writer, addr) -> None:
    lines.set_idle(None)
    link_id = next(_ids)
    log = state.log
    log.notice(f"link from {name} ({format_addr(addr)}) up")
    sock = writer.get_extra_info("socket")
    if sock is not None:
        keepalive(sock)
    old = state.inbound.open.get(name)
    state.inbound.open[name] = Inbound(link_id, writer)
    if old is not None:
        log.notice(f"link from {name}: the new link replaces the old one")
        _close(old.writer)
    # The neighbour is up, so our own link to it can stop backing off.
    state.flooder.wake(name)
    await serve(state, name, link_id, lines, writer, addr)


async def serve(state, name: str, link_id: int, lines: LineReader, writer, addr) -> None:
    garbage_limit = state.limits.peer_garbage_lines
    garbage = 0
    log = state.log
    why = None
    while why is None:
        try:
            event = await lines.next_line()
        except OSError as e:
            why = os_error_text(e)
            break
        if isinstance(event, Line):
            log.received(addr, event.data)
            if not cmd.peer_line(state, name, event.data):
                garbage += 1
                if garbage >= garbage_limit:
                    why = f"{garbage} invalid lines"
        elif isinstance(event, TooLong):
            log.received(addr, event.head)
            why = "line too long"
        elif event is EOF:
            why = "closed by the neighbour"
        elif event is IDLE:
            pass
    log.notice(f"link from {name} ({format_addr(addr)}) down: {why}")
    _close(writer)
    current = state.inbound.open.get(name)
    if current is not None and current.id == link_id:
        del state.inbound.open[name]


def os_error_text(e: BaseException) -> str:
    """An OS error in Rust's words: 'Connection refused (os error 111)'."""
    if isinstance(e, OSError) and e.errno is not None and e.strerror:
        return f"{e.strerror} (os error {e.errno})"
    if isinstance(e, TimeoutError):
        return "timed out"
    return str(e) or type(e).__name__
