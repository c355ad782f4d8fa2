"""The ``offline`` Places provider: answers WHATSAT with no network at all
(src/places/offline.rs, whose doc comments specify the search exactly).

Input: ``data/places.tsv.gz`` (the very file the Rust build embeds; GeoNames,
CC-BY 4.0). Output: a legacy Nearby Search object.

* Distance: haversine on a sphere of R = 6371008.8 m, radians(x) = x * (pi/180),
  squares as ``s * s``; a place is in range when its distance is <= radius.
* Grid: 1 x 1 degree cells keyed by (floor(lat), floor(lng)), rows clamped
  to [-90, 89], columns wrapped into [-180, 179]; ``cells_near`` says which
  cells a query visits.
* Order: nearest first; equal distances keep data-file row order; at most 20.
"""

from __future__ import annotations

import gzip
import math
import os
import re

from . import NearbyQuery, PlacesError  # noqa: F401
from .json_format import RawNumber

EARTH_RADIUS_M = 6_371_008.8
GOOGLE_PAGE = 20
HEADER = "place_id\tlat\tlng\tname\tadmin1\tadmin2\tcc"
ROWS, COLS = 180, 360
_DEG_TO_RAD = math.pi / 180.0
_RAD_TO_DEG = 180.0 / math.pi

DATA_FILE = os.environ.get(
    "HERD_PLACES_DATA",
    os.path.normpath(
        os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "data", "places.tsv.gz")
    ),
)


def radians(x: float) -> float:
    return x * _DEG_TO_RAD


def degrees(x: float) -> float:
    return x * _RAD_TO_DEG


def haversine_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    s_lat = math.sin(radians(lat2 - lat1) / 2.0)
    s_lng = math.sin(radians(lng2 - lng1) / 2.0)
    a = s_lat * s_lat + math.cos(radians(lat1)) * math.cos(radians(lat2)) * s_lng * s_lng
    return 2.0 * EARTH_RADIUS_M * math.asin(min(math.sqrt(a), 1.0))


def wrap_col(col: float) -> int:
    """A whole-degree column wrapped into [-180, 179] (rem_euclid)."""
    return int(math.fmod(math.fmod(col + 180.0, 360.0) + 360.0, 360.0) - 180.0)


def cell_of(lat: float) -> int:
    return int(min(max(math.floor(lat), -90), 89))


def columns_near(lng: float, dlat: float, first: int, last: int) -> list[int]:
    if first == -90 or last == 89:
        return list(range(-180, 180))
    widest = float(max(abs(first), abs(last + 1)))
    dlng = dlat / math.cos(radians(widest))
    lo, hi = math.floor(lng - dlng), math.floor(lng + dlng)
    if dlng >= 180.0 or hi - lo + 1 >= 360:
        return list(range(-180, 180))
    return [wrap_col(float(c)) for c in range(lo, hi + 1)]


def cells_near(lat: float, lng: float, radius_m: float) -> list[tuple[int, int]]:
    """The cells (row, col) a query visits, each once (see offline.rs)."""
    dlat = degrees(radius_m / EARTH_RADIUS_M)
    first = int(max(math.floor(lat - dlat), -90))
    last = int(min(math.floor(lat + dlat), 89))
    cols = columns_near(lng, dlat, first, last)
    return [(row, col) for row in range(first, last + 1) for col in cols]


_PLAIN = re.compile(r"-?[0-9]+(?:\.[0-9]+)?\Z")


class OfflineIndex:
    def __init__(self, path: str = DATA_FILE) -> None:
        # Each place: (lat, lng, fields); fields = the 7 texts of its row.
        self.places: list[tuple[float, float, list[str], float]] = []
        self.cells: dict[int, list[int]] = {}
        with open(path, "rb") as f:
            text = gzip.decompress(f.read()).decode("utf-8")
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        if not lines or lines[0] != HEADER:
            header = lines[0] if lines else ""
            raise ValueError(f"places data: line 1: bad header {header!r}")
        places, cells, plain, floor = self.places, self.cells, _PLAIN.match, math.floor
        for number, line in enumerate(lines[1:], start=2):
            parts = line.split("\t")
            if len(parts) != 7:
                raise ValueError(f"places data: line {number}: {len(parts)} fields, expected 7")
            if not parts[0]:
                raise ValueError(f"places data: line {number}: empty place_id")
            lat_text, lng_text = parts[1], parts[2]
            if not plain(lat_text) or abs(lat := float(lat_text)) > 90.0:
                raise ValueError(
                    f"places data: line {number}: lat {lat_text!r} is not a plain decimal in [-90, 90]"
                )
            if not plain(lng_text) or abs(lng := float(lng_text)) > 180.0:
                raise ValueError(
                    f"places data: line {number}: lng {lng_text!r} is not a plain decimal in [-180, 180]"
                )
            # cell_of(lat) and wrap_col(floor(lng)), inlined: lat is within
            # [-90, 90] and lng within [-180, 180] here.
            row = floor(lat)
            col = floor(lng)
            slot = (min(row, 89) + 90) * COLS + (col - 360 if col >= 180 else col) + 180
            cell = cells.get(slot)
            if cell is None:
                cells[slot] = [len(places)]
            else:
                cell.append(len(places))
            # cos(radians(lat)) of the place, computed once here exactly as
            # haversine_m computes it per query (same operations, same bits).
            places.append((lat, lng, parts, math.cos(lat * _DEG_TO_RAD)))

    def within(self, lat: float, lng: float, radius_m: float, limit: int):
        """(fields, distance) of the places within radius_m of (lat, lng),
        nearest first, ties in row order, at most ``limit``."""
        if not (radius_m >= 0.0 and math.isfinite(lat) and math.isfinite(lng)):
            return []
        found: list[tuple[float, int]] = []
        places, cells = self.places, self.cells
        # haversine_m inlined (same operations in the same order), with the
        # place's cos(radians(lat2)) precomputed: a CPython loop of function
        # calls costs more than the arithmetic.
        sin, asqrt, asin, d2r, two_r = math.sin, math.sqrt, math.asin, _DEG_TO_RAD, 2.0 * EARTH_RADIUS_M
        cos1 = math.cos(lat * d2r)
        for row, col in cells_near(lat, lng, radius_m):
            for i in cells.get(_slot(row, col), ()):
                plat, plng, _, cos2 = places[i]
                s_lat = sin((plat - lat) * d2r / 2.0)
                s_lng = sin((plng - lng) * d2r / 2.0)
                a = s_lat * s_lat + cos1 * cos2 * s_lng * s_lng
                d = two_r * asin(min(asqrt(a), 1.0))
                if d <= radius_m:
                    found.append((d, i))
        found.sort()
        return [(places[i][2], d) for d, i in found[:limit]]


def _slot(row: int, col: int) -> int:
    return (row + 90) * COLS + (col + 180)


def vicinity(fields: list[str]) -> str:
    """admin2, admin1, cc, empty ones skipped, joined with ", "."""
    return ", ".join(p for p in (fields[5], fields[4], fields[6]) if p)


def legacy_result(fields: list[str]) -> dict:
    return {
        "geometry": {"location": {"lat": RawNumber(fields[1]), "lng": RawNumber(fields[2])}},
        "name": fields[3],
        "place_id": fields[0],
        "types": ["locality", "political"],
        "vicinity": vicinity(fields),
    }


_SHARED: OfflineIndex | None = None


def shared_index() -> OfflineIndex:
    global _SHARED
    if _SHARED is None:
        _SHARED = OfflineIndex()
    return _SHARED


class Offline:
    def __init__(self) -> None:
        self.index = shared_index()

    async def nearby(self, query: NearbyQuery) -> dict:
        found = self.index.within(query.lat, query.lng, query.radius_m, GOOGLE_PAGE)
        return {
            "html_attributions": [],
            "results": [legacy_result(fields) for fields, _ in found],
            "status": "OK" if found else "ZERO_RESULTS",
        }
