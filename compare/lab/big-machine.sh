#!/usr/bin/env bash
# The lab on a lent wide machine (16 cores, python3 and taskset, but no Rust
# toolchain, no Node, no network), in two steps:
#
#   bash compare/lab/big-machine.sh pack [--no-build]
#       here: builds the release herd, herd-tokio, herd-loadgen, herd-standin
#       and herd-lab (cargo, $CARGO_TARGET_DIR or target/), strips them into
#       target/big-machine/release/ (some 30 MiB) with packed.json (commit,
#       rustc). --no-build packs what $CARGO_TARGET_DIR/release already holds.
#
#   bash compare/lab/big-machine.sh run [--smoke] [DIR]
#       there, in the repository root with target/big-machine carried:
#       herd-lab run --no-build on the carried binaries, builds blocking,
#       blocking-parked, blocking-tpc and tokio (asyncio needs its venv,
#       which cannot be installed offline there; Node is not installed),
#       scenarios cores_sweep, iamat_conns, iamat_herd, iamat_open, memory;
#       servers on SERVER_CPUS (default: the first half of the CPUs, 0-7 of
#       16), the load generator on LOADGEN_CPUS (the other half; the cores
#       sweep pins each of its points itself, over the whole machine).
#       Writes DIR (default: $OUT/big-machine-<UTC stamp>) and stops the run
#       at BUDGET_S seconds (default 450: 8 minutes with room for the
#       machine's own start and the transfer back), then writes the report
#       from the rows it has. --smoke: a tiny quick run of two builds on a
#       two-core machine (CPU 1 servers, CPU 0 load generator), to test this
#       script where the wide machine is not at hand.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
pack_dir=$root/target/big-machine
bins=(herd herd-tokio herd-loadgen herd-standin herd-lab)

pack() {
  local build=1
  [ "${1:-}" = "--no-build" ] && build=0
  local target=${CARGO_TARGET_DIR:-$root/target}
  if [ "$build" = 1 ]; then
    (cd "$root" && cargo build --release -p herd -p herd-tokio -p herd-loadgen -p herd-standin -p herd-lab)
  fi
  rm -rf "$pack_dir"
  mkdir -p "$pack_dir/release"
  for b in "${bins[@]}"; do
    [ -x "$target/release/$b" ] || { echo "big-machine: no $target/release/$b (pack without --no-build)" >&2; exit 1; }
    strip -o "$pack_dir/release/$b" "$target/release/$b"
  done
  local commit dirty rustc
  commit=$(git -C "$root" rev-parse HEAD 2>/dev/null || echo unknown)
  if [ -n "$(git -C "$root" status --porcelain --untracked-files=no 2>/dev/null)" ]; then dirty=true; else dirty=false; fi
  rustc=$(rustc --version 2>/dev/null || echo unknown)
  python3 - "$pack_dir/packed.json" "$commit" "$dirty" "$rustc" <<'PY'
import json, sys, datetime
path, commit, dirty, rustc = sys.argv[1:]
json.dump({"git_commit": commit, "git_dirty": dirty == "true", "rustc": rustc,
           "packed_at": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")},
          open(path, "w"), indent=2)
PY
  du -sh "$pack_dir"
  echo "big-machine: packed $commit$([ "$dirty" = true ] && echo ' (with uncommitted changes)') into $pack_dir; carry target/big-machine"
}

# Adds what the lent machine cannot say itself (no git, no rustc there) to
# environment.json: the commit and compiler the carried binaries were
# built from.
stamp_environment() {
  local dir=$1
  python3 - "$dir/environment.json" "$pack_dir/packed.json" <<'PY'
import json, sys
env_path, packed_path = sys.argv[1:]
env = json.load(open(env_path))
packed = json.load(open(packed_path))
env["packed"] = packed
for key in ("git_commit", "git_dirty", "rustc"):
    if env.get(key) is None:
        env[key] = packed.get(key)
json.dump(env, open(env_path, "w"), indent=2)
PY
}

run() {
  local smoke=0 dir=""
  for a in "$@"; do
    case $a in
      --smoke) smoke=1 ;;
      -*) echo "big-machine: unknown flag $a" >&2; exit 2 ;;
      *) dir=$a ;;
    esac
  done
  local lab=$pack_dir/release/herd-lab
  [ -x "$lab" ] || { echo "big-machine: no $lab: run 'big-machine.sh pack' first and carry target/big-machine" >&2; exit 1; }
  local cpus; cpus=$(nproc)
  local stamp; stamp=$(date -u +%Y%m%dT%H%MZ)
  if [ -z "$dir" ]; then
    dir=${OUT:?give a DIR or set OUT}/big-machine-$stamp$([ "$smoke" = 1 ] && echo -smoke)
  fi
  local budget builds scenarios server_cpus loadgen_cpus
  local -a flags
  if [ "$smoke" = 1 ]; then
    budget=${BUDGET_S:-150}
    builds=blocking,tokio
    scenarios=cores_sweep,iamat_conns,iamat_open,memory
    server_cpus=${SERVER_CPUS:-1}
    loadgen_cpus=${LOADGEN_CPUS:-0}
    flags=(--quick --connections 64)
  else
    budget=${BUDGET_S:-450}
    builds=blocking,blocking-parked,blocking-tpc,tokio
    scenarios=cores_sweep,iamat_conns,iamat_herd,iamat_open,memory
    local half=$((cpus / 2))
    server_cpus=${SERVER_CPUS:-0-$((half - 1))}
    loadgen_cpus=${LOADGEN_CPUS:-$half-$((cpus - 1))}
    flags=(--connections 64,1024)
  fi
  # One repeat where this herd-lab repeats points (issue 15): the budget
  # holds one pass of every point; the cores sweep's k are its spread.
  if "$lab" run --help 2>/dev/null | grep -q -- '--repeats'; then
    flags+=(--repeats 1)
  fi
  mkdir -p "$dir"
  {
    echo "big-machine: $cpus CPUs; servers on $server_cpus, load generator on $loadgen_cpus"
    echo "big-machine: builds $builds; scenarios $scenarios; flags ${flags[*]}"
    echo "big-machine: budget $budget s for the whole run (the report is written from the rows so far if it runs out)"
    if [ "$smoke" = 0 ]; then
      echo "big-machine: expected, at 3 s windows: cores_sweep ~190 s (5 k x node/herd x 3 builds), iamat_conns ~55 s, iamat_herd ~20 s, iamat_open ~20 s, memory ~65 s"
    fi
  } | tee "$dir/budget.txt"
  local began=$SECONDS rc=0
  timeout --signal=INT --kill-after=20 "$budget" \
    "$lab" run --no-build --root "$root" --target-dir "$pack_dir" \
    --builds "$builds" --scenarios "$scenarios" \
    --server-cpus "$server_cpus" --loadgen-cpus "$loadgen_cpus" \
    --out "$dir" "${flags[@]}" || rc=$?
  local took=$((SECONDS - began))
  if [ -f "$dir/environment.json" ]; then
    stamp_environment "$dir"
  fi
  if [ -f "$dir/rows.jsonl" ]; then
    # Again, with the stamped environment; out of budget, this is the
    # report of what was measured.
    "$lab" report "$dir" || true
  fi
  lscpu > "$dir/lscpu.txt" 2>&1 || true
  echo "big-machine: herd-lab exited $rc after $took s (budget $budget s); run in $dir" | tee -a "$dir/budget.txt"
  return "$rc"
}

case ${1:-} in
  pack) shift; pack "$@" ;;
  run) shift; run "$@" ;;
  *) sed -n '2,28p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
