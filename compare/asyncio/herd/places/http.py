"""The HTTP plumbing both Google providers share (src/places/http.rs): one
aiohttp ClientSession per node (made on first use, closed at stop) with a
total timeout over the whole exchange, no redirects (they would carry the
key elsewhere), bodies read up to 4 MiB, and transport failures put into
our own words. aiohttp's exceptions can carry the request URL (the legacy
API puts the key in it), so their text is never formatted into a message or
a log line.
"""

from __future__ import annotations

import asyncio
import math
import socket
from decimal import Decimal

import aiohttp

BODY_LIMIT = 4 * 1024 * 1024
CONNECT = "connect"
BODY = "body"


class BodyTooBig(Exception):
    pass


class Session:
    """One ClientSession per node, created inside the running loop."""

    def __init__(self, timeout_ms: int) -> None:
        self.timeout_ms = timeout_ms
        self._session: aiohttp.ClientSession | None = None

    def get(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout_ms / 1000),
                # No cookies, no proxy settings from the environment.
                cookie_jar=aiohttp.DummyCookieJar(),
                trust_env=False,
                auto_decompress=True,
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()


async def read_body(response: aiohttp.ClientResponse) -> bytes:
    chunks = []
    size = 0
    while True:
        chunk = await response.content.read(64 * 1024)
        if not chunk:
            break
        size += len(chunk)
        if size > BODY_LIMIT:
            raise BodyTooBig()
        chunks.append(chunk)
    return b"".join(chunks)


def describe(error: BaseException, phase: str, timeout_ms: int) -> str:
    """A failure in words safe to show a client (never the URL or key)."""
    if isinstance(error, (asyncio.TimeoutError, TimeoutError, aiohttp.ServerTimeoutError)):
        return f"Places did not answer within {timeout_ms} ms"
    if isinstance(error, BodyTooBig):
        return "Places answered with more than 4 MiB"
    if isinstance(error, aiohttp.InvalidURL):
        return "the configured Places URL is not usable"
    if isinstance(error, aiohttp.ClientSSLError):
        return "Places could not be reached (TLS failure)"
    if isinstance(error, aiohttp.ClientConnectorError):
        os_error = error.os_error
        if isinstance(os_error, socket.gaierror) or type(error).__name__ == "ClientConnectorDNSError":
            return "Places could not be reached (host not found)"
        return f"Places could not be reached ({_io_word(os_error)})"
    if isinstance(error, aiohttp.ServerDisconnectedError):
        if phase == CONNECT:
            return "Places closed the connection without answering"
        return "Places closed the connection mid-answer"
    if isinstance(error, aiohttp.ClientPayloadError):
        return "Places closed the connection mid-answer"
    if isinstance(error, aiohttp.ClientResponseError):
        return "Places answered with malformed HTTP"
    if isinstance(error, (OSError, aiohttp.ClientOSError)):
        why = _io_word(error)
        if phase == CONNECT:
            return f"Places could not be reached ({why})"
        return f"the connection to Places failed mid-answer ({why})"
    if phase == CONNECT:
        return "the request to Places failed"
    return "reading the answer from Places failed"


def _io_word(error) -> str:
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, ConnectionResetError):
        return "connection reset"
    if isinstance(error, ConnectionAbortedError):
        return "connection aborted"
    if isinstance(error, BrokenPipeError):
        return "broken pipe"
    errno = getattr(error, "errno", None)
    return {
        99: "address not available",
        101: "network unreachable",
        113: "host unreachable",
        100: "network down",
        107: "not connected",
        111: "connection refused",
        104: "connection reset",
    }.get(errno, "I/O error")


def safe_word(word: str) -> str:
    return "".join(c for c in word if c.isascii() and (c.isalnum() or c == "_"))[:40]


def rust_f64(x: float) -> str:
    """A float as Rust's ``{}`` writes it: shortest round-trip digits, never
    an exponent, no ``.0`` on whole numbers (34.06893, -118.445127, 0, 1e-7 ->
    0.0000001)."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    text = format(Decimal(repr(x)), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text
