#!/bin/bash
cd /work/main
for i in 1 2; do
  for v in yield noyield; do
    cp /tmp/herd-$v target/release/herd
    target/release/herd-lab run --no-build --builds blocking,blocking-parked,tokio --scenarios propagation,iamat_herd --server-cpus 1 --loadgen-cpus 0 --out /tmp/ab/$v-$i > /tmp/ab/$v-$i.log 2>&1
    echo "$v-$i done $(date +%T)" >> /tmp/ab/progress
  done
done
cp /tmp/herd-yield target/release/herd
