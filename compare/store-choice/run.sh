#!/usr/bin/env bash
# Runs every measurement for each store (or the ones named) and keeps the
# output under results/. Data goes under /tmp/store-choice-data, removed
# afterwards.
set -euo pipefail
cd "$(dirname "$0")"
cargo build --release
mkdir -p results
export STORE_CHOICE_DIR=${STORE_CHOICE_DIR:-/tmp/store-choice-data}
{ echo "nproc: $(nproc)"; mkdir -p "$STORE_CHOICE_DIR"; df -T "$STORE_CHOICE_DIR"; uname -r; } > results/machine.txt
for store in "${@:-fjall sqlite redb}"; do
  for s in $store; do
    /usr/bin/time -f "wall %e s, max RSS %M KiB" ./target/release/store-choice "$s" all 2>&1 | tee "results/$s.txt"
    if [ "$s" = sqlite ]; then
      /usr/bin/time -f "wall %e s, max RSS %M KiB" ./target/release/store-choice sqlite write-normal 2>&1 | tee results/sqlite-normal.txt
    fi
  done
done
rm -rf "$STORE_CHOICE_DIR"
