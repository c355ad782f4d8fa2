#!/bin/bash
# usage: run.sh BIN OUTDIR  (from the repository root; see NOTES.md)
# Five servers of BIN (the default herd, unpinned, as the lab runs its herd
# scenarios on two cores), herd-loadgen propagate on CPU 0, per-thread CPU
# and context switches snapshotted before the servers stop. Environment:
# THREADS (default 64), PARK (default 0), SLICE/SLICEPAT (slice.py),
# BATCHPAT (SCHED_BATCH for threads whose name matches), NICE/RNICE/WNICE.
BIN=$1; OUT=$2; rm -rf $OUT; mkdir -p $OUT
HERE=$(cd "$(dirname "$0")" && pwd)
target/release/herd config | sed "s/:1233\([1-5]\)/:2333\1/" > $OUT/herd.toml  # the ports hops.py names
pids=()
for n in Bernard Clark Jaquez Johnson Juzang; do
  $BIN node $n --config $OUT/herd.toml --log-dir $OUT --threads ${THREADS:-64} --park-idle-ms ${PARK:-0} >$OUT/$n.out 2>&1 &
  pids+=($!)
done
sleep 1.5
if [ -n "$SLICE" ]; then python3 $HERE/slice.py $SLICE ${SLICEPAT:-flood-,peer-} ${pids[@]}; fi
if [ -n "$BATCHPAT" ]; then for p in ${pids[@]}; do for t in /proc/$p/task/*; do c=$(cat $t/comm); case $c in $BATCHPAT) chrt -b -p 0 $(basename $t) >/dev/null;; esac; done; done; fi
if [ -n "$NICE" ]; then for p in ${pids[@]}; do for t in /proc/$p/task/*; do c=$(cat $t/comm); case $c in flood-*|peer-*) renice -n $NICE -p $(basename $t) >/dev/null;; esac; done; done; fi
if [ -n "$RNICE" ]; then for p in ${pids[@]}; do for t in /proc/$p/task/*; do c=$(cat $t/comm); case $c in peer-*) renice -n $RNICE -p $(basename $t) >/dev/null;; esac; done; done; fi
if [ -n "$WNICE" ]; then for p in ${pids[@]}; do for t in /proc/$p/task/*; do c=$(cat $t/comm); case $c in worker-*) renice -n $WNICE -p $(basename $t) >/dev/null;; esac; done; done; fi
if [ -n "$PERF" ]; then (sleep 8; perf sched record -a -o $OUT/perf.data -- sleep 3 >/dev/null 2>&1) & fi
taskset -c 0 target/release/herd-loadgen propagate --at 127.0.0.1:23331 --others 127.0.0.1:23332,127.0.0.1:23333,127.0.0.1:23334,127.0.0.1:23335 --probes 400 --interval-ms 50 --load-target 127.0.0.1:23331,127.0.0.1:23332,127.0.0.1:23333,127.0.0.1:23334,127.0.0.1:23335 --load-connections 32 > $OUT/loadgen.json
for p in ${pids[@]}; do for t in /proc/$p/task/*; do echo "$p $(cat $t/comm) $(grep -E '^(syscw|syscr)' $t/io | tr '\n' ' ') $(cut -d' ' -f14,15 $t/stat) $(grep ctxt $t/status | tr '\n' ' ')"; done; done > $OUT/threads.txt
sleep 0.3
kill ${pids[@]}; wait
