"""The location cache: for each client id, the AT line with the newest time
(src/cache.rs).

Written by an IAMAT (a client's own update) and an AT (flooded by a
neighbour); read by WHATSAT and by the catch-up dump. ``newer`` is the merge
rule. One event loop owns the dict, so the check and the write need no lock:
no ``await`` lies between them.
"""

from __future__ import annotations

from dataclasses import dataclass

from .protocol import AtLine, Location


@dataclass(frozen=True)
class AtRecord:
    client_time: int  # nanoseconds
    location: Location
    line: str  # canonical AT line
    client: str
    line_bytes: bytes

    @staticmethod
    def new(at: AtLine) -> "AtRecord":
        line = at.canonical()
        return AtRecord(at.time, at.location, line, at.client, line.encode("utf-8"))


def newer(candidate: AtRecord, kept: AtRecord) -> bool:
    """Newest client time wins; on equal times the byte-wise larger line."""
    return (candidate.client_time, candidate.line_bytes) > (kept.client_time, kept.line_bytes)


class Cache:
    def __init__(self) -> None:
        self._records: dict[str, AtRecord] = {}

    def offer(self, record: AtRecord) -> AtRecord | None:
        """Keeps ``record`` if it is newer than the kept one (or the first);
        returns it when it changed the cache, else None."""
        kept = self._records.get(record.client)
        if kept is not None and not newer(record, kept):
            return None
        self._records[record.client] = record
        return record

    def get(self, client: str) -> AtRecord | None:
        return self._records.get(client)

    def snapshot(self) -> list[AtRecord]:
        return list(self._records.values())

    def __len__(self) -> int:
        return len(self._records)
