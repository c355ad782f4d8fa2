"""The location cache: for each client id, the AT line with the newest time
(src/cache.rs).

Written by an IAMAT (a client's own update) and an AT (flooded by a
neighbour); read by WHATSAT and by the catch-up dump. ``newer`` is the merge
rule. One event loop owns the dict, so the check and the write need no lock:
no ``await`` lies between them.

With a ``capacity`` (``max_cached_clients``, PROTOCOL §5) a new client that
arrives at a full cache evicts the oldest entry (least client time, then
byte-wise least line), or is dropped when its own line is older still; an
update of a kept client never evicts. The oldest is found with a min-heap of
``(client_time, line_bytes, client)`` and lazy deletion: an update pushes a
new entry and leaves the old one stale (skipped when it reaches the top);
the heap is rebuilt when stale entries outnumber live ones.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

from .protocol import AtLine, Location


@dataclass(frozen=True, slots=True)
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
    def __init__(self, capacity: int | None = None) -> None:
        self._records: dict[str, AtRecord] = {}
        self._heap: list[tuple[int, bytes, str]] = []
        self.capacity = capacity
        self.evicted = 0  # in all
        self._unreported = 0  # since the last take_unreported()

    def offer(self, record: AtRecord) -> AtRecord | None:
        """Keeps ``record`` if it is newer than the kept one (or the first,
        room permitting); returns it when it changed the cache, else None."""
        kept = self._records.get(record.client)
        if kept is not None:
            if not newer(record, kept):
                return None
        elif self.capacity is not None and len(self._records) >= self.capacity:
            oldest = self._oldest()
            if oldest is not None:
                if newer(oldest, record):
                    return None  # older than every kept client: dropped
                heapq.heappop(self._heap)
                del self._records[oldest.client]
                self.evicted += 1
                self._unreported += 1
        self._records[record.client] = record
        heapq.heappush(self._heap, (record.client_time, record.line_bytes, record.client))
        if len(self._heap) > 2 * len(self._records) + 64:
            self._compact()
        return record

    def _oldest(self) -> AtRecord | None:
        """The live entry at the top of the heap, stale ones popped."""
        heap = self._heap
        while heap:
            _, line_bytes, client = heap[0]
            kept = self._records.get(client)
            if kept is not None and kept.line_bytes is line_bytes:
                return kept
            heapq.heappop(heap)
        return None

    def _compact(self) -> None:
        self._heap = [(r.client_time, r.line_bytes, r.client) for r in self._records.values()]
        heapq.heapify(self._heap)

    @property
    def unreported(self) -> int:
        return self._unreported

    def take_unreported(self) -> int:
        """Evictions since the last call (for the once-a-second notice)."""
        count, self._unreported = self._unreported, 0
        return count

    def get(self, client: str) -> AtRecord | None:
        return self._records.get(client)

    def snapshot(self) -> list[AtRecord]:
        return list(self._records.values())

    def __len__(self) -> int:
        return len(self._records)
