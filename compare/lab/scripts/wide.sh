#!/usr/bin/env bash
# The lab on a wide machine (16 cores): the blocking node as the plain pool
# and as the parked pool, and tokio, IAMAT on one node at 64, 256 and 1,024
# connections against the thread-per-connection and tokio echo ceilings,
# the five-server herd, and flood propagation (idle and loaded). Servers run
# on SERVER_CPUS (0-7), the load generator on LOADGEN_CPUS (8-15).
#
#   bash compare/lab/scripts/wide.sh OUT_DIR [extra herd-lab run flags]
#
# It runs prebuilt release binaries only (no cargo), so that it can run on
# a machine without a Rust toolchain: build them first with
#   cargo build --release -p herd -p herd-tokio -p herd-loadgen -p herd-lab
set -euo pipefail
out=${1:?usage: wide.sh OUT_DIR [herd-lab run flags]}
shift
bin=${HERD_TARGET:-target/release}
"$bin/herd-lab" run --no-build --root . \
  --builds blocking,blocking-parked,tokio \
  --scenarios iamat_conns,iamat_herd,propagation \
  --connections 64,256,1024 \
  --server-cpus "${SERVER_CPUS:-0-7}" --loadgen-cpus "${LOADGEN_CPUS:-8-15}" \
  --out "$out" "$@"
