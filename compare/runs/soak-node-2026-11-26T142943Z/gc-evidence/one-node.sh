#!/usr/bin/env bash
# The targeted runs behind NOTES.md: one Node node (offline Places, no
# neighbours) under steady open-loop load, one-shot churn and re-opened idle
# hoarders, with --trace-gc and an RSS sample a second; a heap snapshot
# (SIGUSR2, which runs a full GC first) after the load has stopped.
# Usage: one-node.sh OUT_DIR   (env: DUR s, IDLE ms, HOARD, PORT, EXTRA = more node flags)
# Needs target/release/herd-loadgen (cargo build --release -p herd-loadgen).
set -u
R="$(git -C "$(dirname "$0")" rev-parse --show-toplevel)"; LG=$R/target/release/herd-loadgen
OUT=$1; DUR=${DUR:-120}; PORT=${PORT:-23451}; T=127.0.0.1:$PORT
mkdir -p "$OUT"; cd "$OUT" || exit 1
printf '[places]\nprovider = "offline"\n\n[[server]]\nname = "Solo"\naddr = "%s"\npeers = []\n' "$T" > herd.toml
# shellcheck disable=SC2086
nice -n 5 node --trace-gc --heapsnapshot-signal=SIGUSR2 ${EXTRA:-} "$R/compare/node/bin/herd.js" node Solo --config herd.toml \
  --log-dir logs --idle-timeout-ms "${IDLE:-10000}" --max-clients 2000 > gc.log 2> node.err &
NP=$!
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.1; done
( while kill -0 $NP 2>/dev/null; do echo "$(date +%s.%N) $(awk '/VmRSS/{print $2}' /proc/$NP/status)"; sleep 1; done ) > rss.txt &
SP=$!
nice -n 5 "$LG" hold --target $T --connections "${HOARD:-200}" --reopen --ramp-s 5 --for-s "$DUR" --ignore-stdin > hold.json 2> hold.err &
H=$!
nice -n 5 "$LG" run --target $T --mode open --rate 100 --connections 20 --clients 1000 --duration-s "$DUR" --warmup-s 1 > steady.json 2> steady.err &
S=$!
nice -n 5 "$LG" run --target $T --mode open --one-shot --rate 20 --connections 8 --mix iamat=1 --clients 1000 \
  --duration-s "$DUR" --warmup-s 1 > churn.json 2> churn.err &
C=$!
wait $H $S $C
sleep 3
kill -USR2 $NP
sleep 8
kill $NP; wait $NP; kill $SP
