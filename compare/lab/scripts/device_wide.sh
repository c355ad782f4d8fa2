#!/usr/bin/env bash
# One device session's measurements (a 16-core machine with no Rust
# toolchain): RUNS runs of wide.sh with the stripped release binaries in
# target/wide/release, then everything packed into one archive under $OUT
# (the transfer back carries few files).
#
#   RUNS=2 bash compare/lab/scripts/device_wide.sh
set -euo pipefail
: "${OUT:?OUT must name the folder that comes back}"
runs=${RUNS:-2}
stamp=$(date -u +%Y%m%dT%H%MZ)
work=$(mktemp -d)
lscpu > "$work/lscpu.txt" 2>&1 || true
uname -a > "$work/uname.txt"
for i in $(seq 1 "$runs"); do
  HERD_TARGET=target/wide/release CARGO_TARGET_DIR=target/wide \
    bash compare/lab/scripts/wide.sh "$work/run$i" > "$work/run$i.log" 2>&1 || echo "run $i failed" >> "$work/failures.txt"
  # Packed after every run: a time limit that ends the last run early
  # still leaves the earlier ones.
  tar -C "$work" -czf "$OUT/wide-$stamp.tar.gz" .
done
ls -la "$OUT"
