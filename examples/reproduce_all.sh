#!/usr/bin/env bash
# Full-size runs of every reproduction, one after the other, with their wall times.
#
#   examples/reproduce_all.sh [OUT_DIR] [extra krtheory-reproduce options, e.g. --device cuda]
#
# Resumable: finished points are cached in OUT_DIR/<name>/cache, so rerunning after an
# interruption (Ctrl-C, a killed nohup job) recomputes only what is missing. Wall times are
# appended to OUT_DIR/walltimes.txt; each run's printed table goes to OUT_DIR/<name>.log.
# Run it in the background on a shared machine:  nohup examples/reproduce_all.sh runs/full &
set -u
# one BLAS thread per process: on shared cores multi-threaded OpenBLAS oversubscribes and was
# measured ~40x slower for the solver's 100 x 1000 least-squares steps
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1} OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} MKL_NUM_THREADS=${MKL_NUM_THREADS:-1}
OUT=${1:-runs/full}
shift || true
PY=${PYTHON:-python}
mkdir -p "$OUT"
# cheapest first, so a time-limited run finishes as many as it can
for name in potentials q-vs-r sample-complexity lazy-distance time-to-fit depth-threshold sparse-regression; do
  start=$(date +%s)
  "$PY" -m krtheory reproduce "$name" --out "$OUT" --seed 0 --no-progress "$@" > "$OUT/$name.log" 2>&1
  rc=$?
  echo "$name exit=$rc wall=$(( $(date +%s) - start ))s finished=$(date -u +%H:%M:%SZ)" | tee -a "$OUT/walltimes.txt"
done
