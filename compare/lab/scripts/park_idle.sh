#!/usr/bin/env bash
# What parking quiet clients costs a client that pauses between lines:
# one blocking node on CPU 1 (`--park-idle-ms P`), 64 connections of
# herd-loadgen on CPU 0 in an open loop at RATE IAMAT/s in all (so each
# connection pauses 64/RATE s between lines), 5 s measured. Prints one line
# per run: park_idle_ms, rate, throughput, p50/p99/max latency (µs), and the
# node's CPU time in clock ticks (1/100 s) over the load.
#
#   bash compare/lab/scripts/park_idle.sh [REPEATS] [PORT]
#
# Needs target/release/herd and herd-loadgen, and CPUs 0 and 1.
set -euo pipefail
repeats=${1:-3}
port=${2:-24001}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cat > "$dir/one.toml" <<EOT
[places]
provider = "offline"
[[server]]
name = "Clark"
addr = "127.0.0.1:$port"
peers = []
EOT
for rep in $(seq "$repeats"); do
  for rate in 1280 6400; do
    for park in 0 10 100; do
      taskset -c 1 target/release/herd node Clark --config "$dir/one.toml" --threads 64 \
        --log-dir "$dir/logs" --max-clients 12000 --park-idle-ms "$park" 2>/dev/null &
      node=$!
      sleep 1
      before=$(awk '{print $14 + $15}' "/proc/$node/stat")
      taskset -c 0 target/release/herd-loadgen --workers 1 run --target "127.0.0.1:$port" \
        --connections 64 --mode open --rate "$rate" --mix iamat=1,whatsat=0 \
        --warmup-s 1 --duration-s 5 > "$dir/lg.json" 2>/dev/null
      after=$(awk '{print $14 + $15}' "/proc/$node/stat")
      kill "$node"; wait "$node" 2>/dev/null || true
      python3 - "$dir/lg.json" "$park" "$rate" "$((after - before))" <<'PY'
import json, sys
d = json.load(open(sys.argv[1])); l = d["latency_us"]
print(f"park_idle_ms={sys.argv[2]} rate={sys.argv[3]} rps={d['throughput_rps']} "
      f"p50={l['p50']} p99={l['p99']} max={l['max']} cpu_ticks={sys.argv[4]}")
PY
    done
  done
done
