"""Commands: what each kind of line does to the node, and what it answers
(src/cmd/mod.rs, iamat.rs, whatsat.rs, at.rs in one file).

Invalid input is not an error here: it is the normal answer ``? `` + the line.
"""

from __future__ import annotations

import time

from . import peer_auth, protocol
from .cache import AtRecord
from .places import NearbyQuery, whatsat_answer

CONTINUE = "continue"
CLOSE = "close"


class BecomePeer:
    """A neighbour's hello: bare (no secret) or with its nonce (PROTOCOL §7)."""

    def __init__(self, name: str, nonce: str | None = None) -> None:
        self.name = name
        self.nonce = nonce


class Answered:
    """A WHATSAT answered: what its summary log entry says (PROTOCOL §4);
    otherwise the same as CONTINUE."""

    def __init__(self, at_line: bytes, status: str, results: int, size: int) -> None:
        self.at_line = at_line
        self.status = status
        self.results = results
        self.size = size

    def summary(self) -> bytes:
        return self.at_line + f" [answer: {self.status}, {self.results} results, {self.size} bytes]".encode()


class RefusePeer:
    """A hello refused where a secret is set; ``why`` goes to the log."""

    def __init__(self, name: str, why: str) -> None:
        self.name = name
        self.why = why


def invalid(line: bytes, out: bytearray) -> None:
    out += b"? "
    out += line
    out += b"\n"


async def client_line(state, line: bytes, first: bool, out: bytearray):
    """Handles one client line, appending its answer to ``out``; returns
    CONTINUE, Answered (a WHATSAT), CLOSE, BecomePeer(name[, nonce]) or
    RefusePeer(name, why)."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        invalid(line, out)
        return CONTINUE
    request = protocol.parse(text)
    if request is protocol.BLANK:
        return CONTINUE
    if isinstance(request, protocol.IAmAt):
        if not iamat(state, request, out):
            invalid(line, out)
        return CONTINUE
    if isinstance(request, protocol.WhatsAt):
        answered = await whatsat(state, request, out)
        if answered is None:
            invalid(line, out)
            return CONTINUE
        return answered
    if first and state.secret is not None and protocol.fields(text)[:1] == ["PEER"]:
        outcome = _authenticated_hello(state, text)
        if isinstance(outcome, RefusePeer):
            invalid(line, out)
        return outcome
    if isinstance(request, protocol.Peer) and first and request.name in state.neighbours:
        # One inbound link per neighbour (PROTOCOL §3): a repeated name
        # cannot make the real neighbour dump its whole cache again.
        if state.inbound.is_open(request.name):
            invalid(line, out)
            return RefusePeer(request.name, f"a link from {request.name} is open")
        return BecomePeer(request.name)
    # A neighbour's hello that fails (a stranger, a malformed PEER line) is
    # refused and the connection closed (PROTOCOL §3).
    if first and protocol.fields(text)[:1] == ["PEER"]:
        invalid(line, out)
        return CLOSE
    # Includes an AT line from a connection that is not a peer.
    invalid(line, out)
    return CONTINUE


def _authenticated_hello(state, text: str):
    """Where a secret is set the only good hello is ``PEER <neighbour>
    <nonce>``: BecomePeer(name, nonce), else RefusePeer(name, why)."""
    words = protocol.fields(text)
    name = words[1] if len(words) > 1 else "?"
    parsed = peer_auth.hello(text)
    if parsed is None:
        why = "no nonce (a bare PEER)" if len(words) == 2 else "malformed PEER line"
        return RefusePeer(name, why)
    name, nonce = parsed
    if name not in state.neighbours:
        return RefusePeer(name, "not a neighbour")
    if not peer_auth.valid_nonce(nonce):
        return RefusePeer(name, "bad nonce")
    return BecomePeer(name, nonce)


def iamat(state, request: protocol.IAmAt, out: bytearray) -> bool:
    """Stamps the receipt time, answers the AT line, offers it to the cache
    and, if it is the client's newest, floods it to every neighbour. False
    (nothing answered, nothing changed) when the client's time is more than
    ``max_clock_ahead_ms`` ahead of the receipt time: exact, in integer
    nanoseconds; exactly at the limit is still accepted."""
    now = state.clock()
    if request.time - now > state.limits.max_clock_ahead_ms * 1_000_000:
        return False
    diff = protocol.format_nanos(now - request.time)
    at = protocol.AtLine(
        state.name,
        diff,
        request.client,
        request.location_text,
        request.location,
        request.time_text,
        request.time,
    )
    record = AtRecord.new(at)
    out += record.line_bytes
    out += b"\n"
    stored = state.cache.offer(record)
    if stored is not None:
        state.flooder.flood(stored, None)
        if state.cache.unreported:
            state.note_evictions()
    return True


async def whatsat(state, request: protocol.WhatsAt, out: bytearray) -> Answered | None:
    """Appends the answer; None (nothing appended) for a client nobody knows."""
    record = state.cache.get(request.client)
    if record is None:
        return None
    query = NearbyQuery(
        record.location.lat,
        record.location.lng,
        request.radius.metres_text,
        request.radius.metres,
        request.bound,
    )
    json_text, status, results = await whatsat_answer(state.places, query)
    start = len(out)
    out += record.line_bytes
    out += b"\n"
    out += json_text.encode("utf-8")
    out += b"\n\n"
    return Answered(record.line_bytes, status, results, len(out) - start)


def peer_line(state, from_name: str, line: bytes) -> bool:
    """A line on an inbound link: True when it was valid (an AT or blank)."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        return False
    request = protocol.parse(text)
    if request is protocol.BLANK:
        return True
    if isinstance(request, protocol.AtLine):
        stored = state.cache.offer(AtRecord.new(request))
        if stored is not None:
            state.flooder.flood(stored, from_name)
            if state.cache.unreported:
                state.note_evictions()
        return True
    return False


def system_clock() -> int:
    return time.time_ns()
