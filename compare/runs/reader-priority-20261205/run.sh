#!/bin/bash
# usage: run.sh BIN OUTDIR
BIN=$1; OUT=$2; rm -rf $OUT; mkdir -p $OUT
pids=()
for n in Bernard Clark Jaquez Johnson Juzang; do
  $BIN node $n --config /tmp/diag/herd.toml --log-dir $OUT --threads ${THREADS:-64} --park-idle-ms 0 >$OUT/$n.out 2>&1 &
  pids+=($!)
done
sleep 1.5
if [ -n "$NICE" ]; then for p in ${pids[@]}; do for t in /proc/$p/task/*; do c=$(cat $t/comm); case $c in flood-*|peer-*) renice -n $NICE -p $(basename $t) >/dev/null;; esac; done; done; fi
if [ -n "$RNICE" ]; then for p in ${pids[@]}; do for t in /proc/$p/task/*; do c=$(cat $t/comm); case $c in peer-*) renice -n $RNICE -p $(basename $t) >/dev/null;; esac; done; done; fi
if [ -n "$WNICE" ]; then for p in ${pids[@]}; do for t in /proc/$p/task/*; do c=$(cat $t/comm); case $c in worker-*) renice -n $WNICE -p $(basename $t) >/dev/null;; esac; done; done; fi
taskset -c 0 /work/main/target/release/herd-loadgen propagate --at 127.0.0.1:23331 --others 127.0.0.1:23332,127.0.0.1:23333,127.0.0.1:23334,127.0.0.1:23335 --probes 400 --interval-ms 50 --load-target 127.0.0.1:23331,127.0.0.1:23332,127.0.0.1:23333,127.0.0.1:23334,127.0.0.1:23335 --load-connections 32 > $OUT/loadgen.json
sleep 0.3
kill ${pids[@]}; wait
