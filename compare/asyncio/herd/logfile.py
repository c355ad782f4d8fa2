"""The per-node log file, ``<log-dir>/<NAME>.log`` (src/logfile.rs).

Entries are formatted where they happen (every line received ``<`` and sent
``>``, with the other end's address, and ``*`` notices) and appended to one
buffer; the buffer is written to the file once per turn of the event loop
(``call_soon``), so a burst of entries costs one ``write``. Bytes other than
printable ASCII are written ``\\xNN`` so that a client cannot forge an
entry, and entries are cut at 4 KiB. No API key ever reaches this module.

Size rotation (``[log] max_bytes``, ``keep``; PROTOCOL §4): when the next
entry would take the file past ``max_bytes``, ``NAME.log`` becomes
``NAME.log.1``, older ones shift up to ``NAME.log.K`` and the oldest is
deleted; an entry is never split, and one larger than the limit goes alone
into a fresh file. The size counts what the file held when it was opened.
``reopen`` (SIGHUP) opens ``NAME.log`` again, creating it if it was moved
away, and writes ``log reopened`` as the new file's first entry.
"""

from __future__ import annotations

import asyncio
import datetime
import os
import sys

MAX_LOGGED_BYTES = 4096

_ESCAPES = {0x5C: b"\\\\", 0x0A: b"\\n", 0x0D: b"\\r", 0x09: b"\\t"}
_TABLE = [
    _ESCAPES.get(b, bytes([b]) if 0x20 <= b <= 0x7E else b"\\x%02x" % b) for b in range(256)
]


def escape(data: bytes) -> bytes:
    shown = data[:MAX_LOGGED_BYTES]
    if shown.isascii() and all(0x20 <= b <= 0x7E and b != 0x5C for b in shown):
        out = bytes(shown)
    else:
        out = b"".join(_TABLE[b] for b in shown)
    if len(data) > len(shown):
        out += b"... (+%d bytes)" % (len(data) - len(shown))
    return out


def timestamp() -> str:
    """RFC 3339 UTC with microseconds, as humantime writes it."""
    now = datetime.datetime.now(datetime.timezone.utc)
    return now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def format_addr(addr) -> str:
    """A socket address as Rust's SocketAddr displays it."""
    if isinstance(addr, str):
        return addr
    if addr is None:
        return "?"
    host, port = addr[0], addr[1]
    if ":" in host:
        return f"[{host}]:{port}"
    return f"{host}:{port}"


class NodeLog:
    def __init__(self, log_dir: str, name: str, max_bytes: int = 0, keep: int = 5) -> None:
        os.makedirs(log_dir, exist_ok=True)
        self.path = os.path.join(log_dir, f"{name}.log")
        self.max_bytes = max_bytes  # 0: no size rotation
        self.keep = max(1, keep)
        self._file = None
        self._size = 0
        self._open()
        self._pending: list[bytes] = []
        self._scheduled = False
        self._failed = False
        self._closed = False

    def _open(self) -> None:
        self._file = open(self.path, "ab", buffering=0)
        self._size = os.fstat(self._file.fileno()).st_size

    def entry(self, direction: str, other_end, data: bytes) -> None:
        text = f"{timestamp()} {direction} {format_addr(other_end)} ".encode() + escape(data) + b"\n"
        self._append(text)

    def received(self, other_end, line: bytes) -> None:
        self.entry("<", other_end, line)

    def sent(self, other_end, data: bytes) -> None:
        self.entry(">", other_end, data)

    def notice(self, text: str) -> None:
        self._append(f"{timestamp()} * {text}\n".encode("utf-8", "backslashreplace"))

    def _append(self, text: bytes) -> None:
        self._pending.append(text)
        if not self._scheduled:
            self._scheduled = True
            try:
                asyncio.get_running_loop().call_soon(self.flush)
            except RuntimeError:
                self.flush()

    def flush(self) -> None:
        self._scheduled = False
        if not self._pending:
            return
        entries = self._pending
        self._pending = []
        if not self.max_bytes:
            self._write(b"".join(entries))
            return
        chunk: list[bytes] = []
        size = self._size
        for entry in entries:
            if size > 0 and size + len(entry) > self.max_bytes:
                self._write(b"".join(chunk))
                chunk = []
                self._rotate()
                size = self._size
            chunk.append(entry)
            size += len(entry)
        self._write(b"".join(chunk))

    def _write(self, data: bytes) -> None:
        if not data:
            return
        try:
            self._file.write(data)
            self._size += len(data)
        except (OSError, ValueError) as e:
            self._complain(e)

    def _rotate(self) -> None:
        """NAME.log -> NAME.log.1 -> ... -> NAME.log.K (the old K deleted)."""
        try:
            self._file.close()
            for i in range(self.keep - 1, 0, -1):
                older = f"{self.path}.{i}"
                if os.path.exists(older):
                    os.replace(older, f"{self.path}.{i + 1}")
            os.replace(self.path, f"{self.path}.1")
        except OSError as e:
            self._complain(e)
        try:
            self._open()
        except OSError as e:
            self._complain(e)

    def reopen(self) -> None:
        """SIGHUP: what is pending goes to the old file, then NAME.log is
        opened again (created if it was moved away)."""
        if self._closed:
            return
        self.flush()
        try:
            fresh = open(self.path, "ab", buffering=0)
        except OSError as e:
            self._complain(e)
            return
        try:
            self._file.close()
        except OSError:
            pass
        self._file = fresh
        self._size = os.fstat(fresh.fileno()).st_size
        self.notice("log reopened")

    def _complain(self, e: BaseException) -> None:
        if not self._failed:
            self._failed = True
            print(f"herd: cannot write the node log: {e}", file=sys.stderr)

    def close(self) -> None:
        self.flush()
        self._closed = True
        try:
            self._file.close()
        except OSError:
            pass
