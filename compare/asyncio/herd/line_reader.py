"""Splits a byte stream into lines, with a length cap and an idle deadline
(src/line_reader.rs).

Input is an ``asyncio.StreamReader``; output is one event at a time for
``connection.py`` and ``peer.py``. It works on bytes: a line that is not
UTF-8 is still a line (the caller answers it ``? `` + the bytes). It does
not use ``StreamReader.readline()``/``readuntil()``, whose ``limit`` raises
``LimitOverrunError``/``ValueError`` and drops or keeps data in ways that
make "answer ``? `` + the first 1 KiB" awkward; it reads chunks with
``read()`` and scans them itself, exactly as the Rust reader does.

The idle deadline is set when the reader starts waiting for a line and
cleared when a line completes, so bytes trickling in do not extend it.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

TOO_LONG_ECHO = 1024
READ_CHUNK = 64 * 1024


@dataclass(frozen=True)
class Line:
    data: bytes


@dataclass(frozen=True)
class TooLong:
    head: bytes  # the first 1 KiB of the line


class _Eof:
    def __repr__(self) -> str:
        return "Eof"


class _Idle:
    def __repr__(self) -> str:
        return "Idle"


EOF = _Eof()
IDLE = _Idle()


class LineReader:
    def __init__(self, reader: asyncio.StreamReader, max_line: int, idle: float | None) -> None:
        self.reader = reader
        self.buf = bytearray()
        self.start = 0
        self.scanned = 0
        self.max_line = max_line
        self.idle = idle  # seconds, or None for no deadline
        self.deadline: float | None = None
        self.eof = False
        self.finished = False

    def set_idle(self, idle: float | None) -> None:
        self.idle = idle
        self.deadline = None

    def has_buffered_line(self) -> bool:
        return self.buf.find(b"\n", self.scanned) >= 0 or (self.eof and self.start < len(self.buf))

    async def next_line(self):
        """Line(bytes without LF / CR LF), TooLong(head), EOF or IDLE.
        Raises OSError (ConnectionResetError, ...) for a broken connection."""
        if self.finished:
            return EOF
        while True:
            newline = self.buf.find(b"\n", self.scanned)
            if newline >= 0:
                line_start = self.start
                line_end = newline
                if line_end > line_start and self.buf[line_end - 1] == 0x0D:
                    line_end -= 1
                self.start = newline + 1
                self.scanned = self.start
                self.deadline = None
                if line_end - line_start > self.max_line:
                    return self._too_long(line_start, line_end)
                line = bytes(self.buf[line_start:line_end])
                self._compact()
                return Line(line)
            self.scanned = len(self.buf)
            # One byte of slack: the cap may be followed by the CR of CR LF.
            if len(self.buf) - self.start > self.max_line + 1:
                return self._too_long(self.start, len(self.buf))
            if self.eof:
                self.finished = True
                if self.start < len(self.buf):
                    line_start, line_end = self.start, len(self.buf)
                    self.start = line_end
                    if line_end - line_start > self.max_line:
                        return self._too_long(line_start, line_end)
                    return Line(bytes(self.buf[line_start:line_end]))
                return EOF
            if not await self._fill():
                return IDLE

    def _too_long(self, line_start: int, line_end: int) -> TooLong:
        self.finished = True
        shown = min(line_end - line_start, TOO_LONG_ECHO)
        return TooLong(bytes(self.buf[line_start : line_start + shown]))

    def _compact(self) -> None:
        # Drop consumed bytes once they are a good part of the buffer.
        if self.start > 4096 and self.start * 2 > len(self.buf):
            del self.buf[: self.start]
            self.scanned -= self.start
            self.start = 0

    async def _fill(self) -> bool:
        """Reads more bytes; False when the idle deadline passed first."""
        want = max(1, min(READ_CHUNK, self.max_line + 2 - (len(self.buf) - self.start)))
        if self.idle is None:
            data = await self.reader.read(want)
        else:
            now = time.monotonic()
            if self.deadline is None:
                self.deadline = now + self.idle
            left = self.deadline - now
            if left <= 0:
                return False
            try:
                async with asyncio.timeout(left):
                    data = await self.reader.read(want)
            except TimeoutError:
                return False
        if not data:
            self.eof = True
        else:
            self.buf += data
        return True
