#!/usr/bin/env bash
# bench/sched.sh — the placement benchmark: the FGD paper's grid (17 openb traces × 7 policies ×
# SEEDS seeds, tune 1.3) and the speed test on a synthetic 100,000-GPU fleet.
# Usage: bench/sched.sh [SEEDS] [OUTDIR]   (run from anywhere; needs a build in build/)
# Env: SC_BUILD (default build), SC_OPENB (default ../shared/data/alibaba_gpu_v2023 from the source dir).
set -euo pipefail
cd "$(dirname "$0")/.."
SEEDS=${1:-10}
OUT=${2:-build/bench-sched}
BIN=${SC_BUILD:-build}/suanchi
DATA=${SC_OPENB:-../shared/data/alibaba_gpu_v2023}
mkdir -p "$OUT"
[ -x "$BIN" ] || { echo "bench/sched.sh: build first (make build)" >&2; exit 1; }
[ -f "$DATA/openb_node_list_gpu_node.csv" ] || { echo "bench/sched.sh: no openb traces in $DATA" >&2; exit 1; }
echo "== grid: 17 traces x 7 policies x $SEEDS seeds ($(date -u +%FT%TZ), $(nproc) cores)"
"$BIN" sched-bench --data "$DATA" --traces all --seeds "$SEEDS" | tee "$OUT/grid.txt"
"$BIN" sched-bench --data "$DATA" --traces all --seeds "$SEEDS" --json --quiet >"$OUT/grid.json"
python3 bench/sched_table.py "$OUT/grid.json" "$DATA/fgd_expected.csv" >"$OUT/grid.md"
echo "== speed: synthetic 100,000-GPU fleet (openb nodes repeated), default pods, 1 seed, arrivals = 100% of capacity"
"$BIN" sched-bench --data "$DATA" --policy fgd,suanchi --seeds 1 --synthetic-gpus 100000 --tune 1.0 | tee "$OUT/synthetic.txt"
