#!/usr/bin/env bash
# bench/tunnel.sh — what a tunnel (agent behind NAT, `suanchi agent --tunnel`) costs, side by side in one
# run: two agents with one simulated H100 each, one reached directly (--advertise) and one through
# tunnels; the same tiny model deployed on each (regions pin them). wrk posts non-streamed chat requests
# (max_tokens 8) to the engine directly, through the gateway to the direct node, and through the gateway
# and a tunnel; rounds alternate the targets; medians are printed. The agents run with SUANCHI_SIM_SPEED=0, so
# their simulated engines answer at once and what is measured is the path, not the simulated chip.
#
# Needs: wrk, jq, curl. Usage: bench/tunnel.sh [BUILD_DIR]   env: DUR (5), ROUNDS (3), CONNS (16), TUNNELS (16)
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$SRC/build}
DUR=${DUR:-5}
ROUNDS=${ROUNDS:-3}
CONNS=${CONNS:-16}
TUNNELS=${TUNNELS:-16}
for t in wrk jq curl; do command -v "$t" >/dev/null || { echo "bench/tunnel.sh needs $t"; exit 2; }; done
[ -x "$BUILD/suanchi" ] || { echo "build first: make build"; exit 2; }
T=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$T"
}
trap cleanup EXIT
cp "$BUILD/suanchi" "$T/scbench"
S=$T/scbench
wait_for() { local n=$1; shift; for _ in $(seq $((n * 10))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done; return 1; }

"$S" serve --data "$T/data" --listen 127.0.0.1:0 --log-level warn >"$T/serve.log" 2>&1 &
PIDS+=($!)
wait_for 20 test -s "$T/data/serve.addr"
GW=$(cat "$T/data/serve.addr")
export SUANCHI_SERVER=$GW SUANCHI_TOKEN=$(cat "$T/data/admin.token")
"$S" region add direct >/dev/null
"$S" region add nat >/dev/null
TOK=$("$S" token create --owner self --uses 2 2>/dev/null)
SUANCHI_SIM_SPEED=0 "$S" agent --server "$GW" --join "$TOK" --region direct --devices sim:H100-SXM-80GB:1 --state "$T/a1" --name direct \
  --heartbeat 1s --log-level warn >"$T/a1.log" 2>&1 &
PIDS+=($!)
SUANCHI_SIM_SPEED=0 "$S" agent --server "$GW" --join "$TOK" --region nat --devices sim:H100-SXM-80GB:1 --state "$T/a2" --name nat \
  --heartbeat 1s --tunnel --tunnels "$TUNNELS" --log-level warn >"$T/a2.log" 2>&1 &
PIDS+=($!)
wait_for 20 bash -c "[ \"\$('$S' nodes --state ready --json | jq length)\" = 2 ]"
"$S" model synth "$T/tiny.gguf" --arch qwen2 --preset tiny >/dev/null 2>&1
"$S" model add tiny --gguf "$T/tiny.gguf" >/dev/null
"$S" deploy viadirect --model tiny --regions direct >/dev/null
"$S" deploy viatunnel --model tiny --regions nat >/dev/null
wait_for 60 bash -c "[ \"\$('$S' replicas --json | jq '[.[] | select(.state==\"ready\")] | length')\" = 2 ]"
ENG=$("$S" replicas --json | jq -r '.[] | select(.deployment=="viadirect") | .endpoint')
"$S" tenant add bench >/dev/null
KEY=$("$S" key create --tenant bench 2>/dev/null)
for m in viadirect viatunnel; do
  cat >"$T/$m.lua" <<LUA
wrk.method = "POST"
wrk.body = '{"model":"$m","messages":[{"role":"user","content":"Hello there"}],"max_tokens":8}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $KEY"
LUA
  code=$(curl -s -o /dev/null -w '%{http_code}' "$GW/v1/chat/completions" -H "Authorization: Bearer $KEY" \
    -d "{\"model\":\"$m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":2}")
  [ "$code" = 200 ] || { echo "warm-up of $m answered $code"; exit 1; }
done

to_us() { awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) print n; else if (v ~ /ms$/) print n * 1000; else if (v ~ /s$/) print n * 1000000; else print n }'; }
run() { # NAME URL LUA
  local out
  out=$(wrk -t2 -c"$CONNS" -d"${DUR}s" --latency -s "$3" "$2/v1/chat/completions")
  echo "$1 $(awk '/Requests\/sec/ {print $2}' <<<"$out") $(to_us "$(awk '$1 == "50%" {print $2}' <<<"$out")") \
$(to_us "$(awk '$1 == "99%" {print $2}' <<<"$out")") $( (grep -cE 'Non-2xx|Socket errors' <<<"$out" || true) | tr -d '\n')" |
    tee -a "$T/results"
}
echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, wrk -t2 -c$CONNS -d${DUR}s, $ROUNDS rounds, $TUNNELS tunnels"
echo "# target req/s p50_us p99_us error_lines"
for r in $(seq "$ROUNDS"); do
  run engine "$ENG" "$T/viadirect.lua"
  run gateway-direct "$GW" "$T/viadirect.lua"
  run gateway-tunnel "$GW" "$T/viatunnel.lua"
done
echo
echo "medians over $ROUNDS rounds:"
printf '%-16s %10s %9s %9s\n' target req/s p50_us p99_us
for t in engine gateway-direct gateway-tunnel; do
  med() { awk -v t="$t" -v c="$1" '$1 == t {print $c}' "$T/results" | sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
  printf '%-16s %10.0f %9.0f %9.0f\n' "$t" "$(med 2)" "$(med 3)" "$(med 4)"
done
