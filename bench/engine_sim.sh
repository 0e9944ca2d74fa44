#!/usr/bin/env bash
# Checks that `suanchi engine --simulate` paces tokens in wall-clock time as its step-time model
# says (docs/internals/engine-sim.md): aggregate decode tokens/s measured over HTTP at 1 and 32
# concurrent streams, next to the model's own prediction (`--sim-table`), for an 8B model on H100.
# Each request: a ~513-token prompt and 512 generated tokens. Usage: bench/engine_sim.sh [suanchi]
set -euo pipefail
SUANCHI=${1:-build/suanchi}
CHIP=${CHIP:-H100-SXM-80GB}
TMP=$(mktemp -d)
"$SUANCHI" engine --simulate "$CHIP" --sim-params 8e9 --listen 127.0.0.1:0 --port-file "$TMP/port" --log-level warn &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$TMP"' EXIT
for _ in $(seq 100); do [ -s "$TMP/port" ] && break; sleep 0.05; done
URL="http://$(cat "$TMP/port")"
PROMPT=$(printf 'word %.0s' $(seq 512))
run() { # streams -> aggregate generated tokens/s (wall clock, first byte of the first request to the last)
  local n=$1 t0 t1
  t0=$(date +%s.%N)
  for i in $(seq "$n"); do
    curl -s "$URL/v1/completions" -d '{"prompt":"'"$PROMPT"'","max_tokens":512,"temperature":0}' >"$TMP/r$i" &
  done
  wait $(jobs -p | grep -v -x "$PID")
  t1=$(date +%s.%N)
  local toks=0
  for i in $(seq "$n"); do toks=$((toks + $(jq .usage.completion_tokens "$TMP/r$i"))); done
  echo "scale=0; $toks / ($t1 - $t0)" | bc
}
for n in 1 32; do
  echo "streams=$n: measured $(run "$n") tok/s (wall clock, includes prefill and HTTP)"
done
"$SUANCHI" engine --sim-table --sim-params 8e9 | grep -E "^\| (chip|$CHIP) "
