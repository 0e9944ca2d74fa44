#!/usr/bin/env bash
# Engine speed on a synthesized model of Qwen2-0.5B's shape: prefill tok/s, single-stream decode
# tok/s, and aggregate decode tok/s at 1, 4 and 16 concurrent streams, for Q8_0 and Q4_K.
# usage: bench/engine.sh [THREADS]   (default 2). Needs a built tree (make build).
# Models are written once to build/bench/ (about 0.5 GB each).
set -eu
cd "$(dirname "$0")/.."
THREADS=${1:-2}
BIN=${SUANCHI:-build/suanchi}
DIR=build/bench
mkdir -p "$DIR"
for t in q8_0 q4_k; do
  f="$DIR/qwen2-0.5b-$t.gguf"
  [ -f "$f" ] || "$BIN" model synth "$f" --arch qwen2 --preset 0.5b --type "$t" --seed 1
done
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); load: $(cut -d' ' -f1-3 /proc/loadavg)"
for t in q8_0 q4_k; do
  echo "== $t"
  "$BIN" model bench "$DIR/qwen2-0.5b-$t.gguf" --threads "$THREADS" --prompt 128 --gen 16 --reps 3 --streams 1,4,16
done
