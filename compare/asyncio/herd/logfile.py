"""The per-node log file, ``<log-dir>/<NAME>.log`` (src/logfile.rs).

Entries are formatted where they happen (every line received ``<`` and sent
``>``, with the other end's address, and ``*`` notices) and appended to one
buffer; the buffer is written to the file once per turn of the event loop
(``call_soon``), so a burst of entries costs one ``write``. Bytes other than
printable ASCII are written ``\\xNN`` so that a client cannot forge an
entry, and entries are cut at 4 KiB. No API key ever reaches this module.
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
    def __init__(self, log_dir: str, name: str) -> None:
        os.makedirs(log_dir, exist_ok=True)
        self.path = os.path.join(log_dir, f"{name}.log")
        self._file = open(self.path, "ab", buffering=0)
        self._pending: list[bytes] = []
        self._scheduled = False
        self._failed = False

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
        data = b"".join(self._pending)
        self._pending.clear()
        try:
            self._file.write(data)
        except OSError as e:
            if not self._failed:
                self._failed = True
                print(f"herd: cannot write the node log: {e}", file=sys.stderr)

    def close(self) -> None:
        self.flush()
        try:
            self._file.close()
        except OSError:
            pass
