# usage: OUT=DIR HERD_EXP=<herd built with exp-yield.patch> bash compare/runs/sender-yield-20261206/curve.sh
# Interleaved rounds: the shipped build, the yield only for local updates, no yield, sender slice 0.4 ms, tokio (2 workers).
B=target/release; R=compare/runs/sender-yield-20261206; X=${HERD_EXP:-/tmp/herd-exp}
for i in 1 2 3; do
  bash $R/run.sh $B/herd $OUT/c-yield-$i >/dev/null 2>&1
  HERD_EXP_YIELD=local bash $R/run.sh $X $OUT/c-local-$i >/dev/null 2>&1
  HERD_EXP_YIELD=none bash $R/run.sh $X $OUT/c-none-$i >/dev/null 2>&1
  SLICE=400000 SLICEPAT=flood- bash $R/run.sh $B/herd $OUT/c-slice400-$i >/dev/null 2>&1
  THREADS=2 bash $R/run.sh $B/herd-tokio $OUT/c-tokio-$i >/dev/null 2>&1
done
