# usage: OUT=DIR HERD_EXP=<herd built with exp-yield.patch> bash compare/runs/sender-yield-20261206/curve.sh
# Interleaved rounds: the shipped build (yield), the yield only for local
# updates, no yield, a timed gather of 50 or 200 us instead of the yield
# (outside issue 12's rules; for comparison), the shipped build with the
# senders' slice at 0.4 ms, and tokio (2 workers).
B=target/release; R=compare/runs/sender-yield-20261206; X=${HERD_EXP:-/tmp/herd-exp}
mkdir -p $OUT
for i in 1 2 3; do
  bash $R/run.sh $B/herd $OUT/c-yield-$i >/dev/null 2>&1
  HERD_EXP_YIELD=local bash $R/run.sh $X $OUT/c-local-$i >/dev/null 2>&1
  HERD_EXP_YIELD=none bash $R/run.sh $X $OUT/c-none-$i >/dev/null 2>&1
  HERD_EXP_YIELD=gather HERD_EXP_GATHER_US=50 bash $R/run.sh $X $OUT/c-gather50-$i >/dev/null 2>&1
  HERD_EXP_YIELD=gather HERD_EXP_GATHER_US=200 bash $R/run.sh $X $OUT/c-gather200-$i >/dev/null 2>&1
  SLICE=400000 SLICEPAT=flood- bash $R/run.sh $B/herd $OUT/c-slice400-$i >/dev/null 2>&1
  THREADS=2 bash $R/run.sh $B/herd-tokio $OUT/c-tokio-$i >/dev/null 2>&1
done
