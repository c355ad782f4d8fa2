"""One client connection, served by one task from first byte to close
(src/connection.rs).

Reads lines with the bounded ``LineReader``, passes each to
``cmd.client_line`` and writes the answers back in order: answers to
pipelined lines are gathered and written together once no further complete
line is buffered, so each answer (a whole WHATSAT answer included) leaves in
one write. Each such write has one deadline for all of it (``write_out``);
a client that does not take it in time is reset (``finish``), so that its
socket is gone when it stops counting. A valid ``PEER``
first line turns the task into an inbound link (``peer.py``), after the
challenge-response handshake where the herd has a secret.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import time

from . import cmd, peer
from .line_reader import EOF, IDLE, Line, LineReader, TooLong

LINGER = 1.0
LINGER_BYTES = 8 * 1024 * 1024


def duration_debug(ms: int) -> str:
    """A duration as Rust's ``{:?}`` writes it: 60s, 1.5s, 500ms."""
    if ms >= 1000:
        whole, rest = divmod(ms, 1000)
        return f"{whole}.{rest:03d}".rstrip("0").rstrip(".") + "s"
    return f"{ms}ms"


async def write_out(state, writer: asyncio.StreamWriter, out: bytearray) -> None:
    """Writes ``out`` (the answers to lines that arrived together) and waits
    until the kernel took all of it: one deadline, ``write_timeout_ms`` from
    its first byte, for the whole of it (the transport's high-water mark is
    0, so ``drain()`` returns only once nothing is left). Raises OSError on
    a broken client and TimeoutError on one too slow to take it."""
    if not out:
        return
    writer.write(bytes(out))
    out.clear()
    async with asyncio.timeout(state.limits.write_timeout_ms / 1000):
        await writer.drain()


def finish(transport) -> None:
    """Closes ``transport`` now: gracefully when everything it was given has
    reached the kernel, else by ``reset``, so the socket never waits on a
    peer that does not read."""
    if transport is None:
        return
    if transport.get_write_buffer_size() == 0:
        transport.close()
    else:
        reset(transport)


def reset(transport) -> None:
    """Aborts with a TCP reset. ``transport.abort()`` alone only closes the
    descriptor: the kernel would still hold what it already took (megabytes
    on loopback) and trickle it to a slow reader for as long as it reads."""
    sock = transport.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
    transport.abort()


async def serve(state, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, addr) -> None:
    """Serves one admitted client; the caller counts it and closes it."""
    limits = state.limits
    lines = LineReader(reader, limits.max_line_bytes, limits.idle_timeout_ms / 1000)
    out = bytearray()
    log = state.log
    first = True
    ending = "closed"
    while True:
        try:
            event = await lines.next_line()
        except (OSError, asyncio.IncompleteReadError):
            ending = "broken"
            break
        if isinstance(event, Line):
            log.received(addr, event.data)
            answered_from = len(out)
            outcome = await cmd.client_line(state, event.data, first, out)
            first = False
            if isinstance(outcome, cmd.Answered):
                if state.log_answers:
                    log.sent(addr, _trim_newline(bytes(out[answered_from:])))
                else:
                    log.sent(addr, outcome.summary())
                outcome = cmd.CONTINUE
            elif len(out) > answered_from:
                log.sent(addr, _trim_newline(bytes(out[answered_from:])))
        elif isinstance(event, TooLong):
            log.received(addr, event.head)
            log.notice(f"{_addr(addr)}: line over {limits.max_line_bytes} bytes")
            cmd.invalid(event.head, out)
            log.sent(addr, _trim_newline(bytes(out)))
            outcome = cmd.CLOSE
        elif event is EOF:
            ending = "closed"
            break
        else:  # IDLE
            log.notice(f"{_addr(addr)}: idle for {duration_debug(limits.idle_timeout_ms)}, closed")
            ending = "closed"
            break
        if outcome == cmd.CONTINUE:
            if lines.has_buffered_line():
                # Pipelined lines: answers are gathered and written together,
                # but the loop gets a turn between lines, so a client that
                # sends thousands of WHATSATs at once cannot starve the rest.
                await asyncio.sleep(0)
                continue
            try:
                await write_out(state, writer, out)
            except (OSError, TimeoutError) as e:
                out.clear()
                _write_failed(state, addr, e)
                ending = "broken"
                break
        elif outcome == cmd.CLOSE:
            ending = "refused"
            break
        elif isinstance(outcome, cmd.RefusePeer):
            log.notice(f"link from {outcome.name} ({_addr(addr)}) refused: {outcome.why}")
            ending = "refused"
            break
        else:  # BecomePeer
            ending = outcome
            break
    if ending != "broken":
        try:
            await write_out(state, writer, out)
        except (OSError, TimeoutError) as e:
            _write_failed(state, addr, e)
            ending = "broken"
    if ending == "broken":
        # Whatever is left unsent is dropped with a reset, now.
        finish(writer.transport)
    if isinstance(ending, cmd.BecomePeer) and ending.nonce is not None:
        # Challenge-response first (PROTOCOL §7); until it succeeds the
        # connection still counts as a client.
        if await peer.handshake(state, ending.name, ending.nonce, lines, writer, addr):
            state.release_client(writer)
            await peer.accept(state, ending.name, lines, reader, writer, addr)
        else:
            await linger_close(reader, writer)
    elif isinstance(ending, cmd.BecomePeer):
        # The link no longer counts as a client.
        state.release_client(writer)
        await peer.accept(state, ending.name, lines, reader, writer, addr)
    elif ending == "refused":
        await linger_close(reader, writer)


async def linger_close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Half-closes, then drains what the client is still sending for up to
    1 s, so that the answer is not lost to a reset."""
    try:
        if writer.can_write_eof():
            writer.write_eof()
    except OSError:
        return
    deadline = time.monotonic() + LINGER
    drained = 0
    while drained < LINGER_BYTES:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        try:
            async with asyncio.timeout(left):
                data = await reader.read(64 * 1024)
        except (TimeoutError, OSError):
            break
        if not data:
            break
        drained += len(data)


def _write_failed(state, addr, e: BaseException) -> None:
    if isinstance(e, TimeoutError):
        ms = state.limits.write_timeout_ms
        state.log.notice(f"{_addr(addr)}: answer not taken within {duration_debug(ms)}, closed")


def _trim_newline(text: bytes) -> bytes:
    return text[:-1] if text.endswith(b"\n") else text


def _addr(addr) -> str:
    from .logfile import format_addr

    return format_addr(addr)
