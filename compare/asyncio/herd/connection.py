"""One client connection, served by one task from first byte to close
(src/connection.rs).

Reads lines with the bounded ``LineReader``, passes each to
``cmd.client_line`` and writes the answers back in order: answers to
pipelined lines are gathered and written together once no further complete
line is buffered, so each answer (a whole WHATSAT answer included) leaves in
one write. Every ``drain`` is bounded by the write timeout. A valid ``PEER``
first line turns the task into an inbound link (``peer.py``), after the
challenge-response handshake where the herd has a secret.
"""

from __future__ import annotations

import asyncio
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
    """Writes ``out`` and waits (at most the write timeout) for the kernel to
    take it; raises on a broken or too slow client."""
    if not out:
        return
    writer.write(bytes(out))
    out.clear()
    async with asyncio.timeout(state.limits.write_timeout_ms / 1000):
        await writer.drain()


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
            if len(out) > answered_from:
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
            except (OSError, TimeoutError):
                out.clear()
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
        except (OSError, TimeoutError):
            ending = "broken"
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


def _trim_newline(text: bytes) -> bytes:
    return text[:-1] if text.endswith(b"\n") else text


def _addr(addr) -> str:
    from .logfile import format_addr

    return format_addr(addr)
