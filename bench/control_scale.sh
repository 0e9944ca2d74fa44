#!/usr/bin/env bash
# Control-plane scale benchmark: N simulated nodes of 8 devices heartbeating every INTERVAL
# seconds against one `suanchi serve`. Reports heartbeat latency (client side, p50/p99), the
# server's CPU use (cores) and RSS over the steady-state window, as one JSON line.
#
#   bench/control_scale.sh [NODES=10000] [SECONDS=60] [INTERVAL=5] [THREADS=4]
#
# Targets (issue: the pool): heartbeat p99 <= 20 ms, server CPU <= 1 core, RSS <= 512 MiB
# at 10,000 nodes x 8 devices every 5 s (2,000 heartbeats/s).
set -eu
cd "$(dirname "$0")/.."
NODES=${1:-10000}
SECS=${2:-60}
INTERVAL=${3:-5}
THREADS=${4:-4}
S=${SUANCHI:-build/suanchi}
W=$(mktemp -d)
trap 'kill $SP $AP 2>/dev/null; wait 2>/dev/null; rm -rf "$W"' EXIT
AP=""

"$S" serve --data "$W/data" --listen 127.0.0.1:0 --log-level warn 2>"$W/serve.log" &
SP=$!
for _ in $(seq 100); do [ -s "$W/data/serve.addr" ] && break; sleep 0.1; done
export SUANCHI_SERVER=$(cat "$W/data/serve.addr") SUANCHI_TOKEN=$(cat "$W/data/admin.token")
"$S" region add bench >/dev/null
TOK=$("$S" token create --owner self --uses "$NODES" 2>/dev/null)

# join all nodes first (registration is a one-off), then measure the steady state
t0=$(date +%s.%N)
"$S" agent --server "$SUANCHI_SERVER" --join "$TOK" --region bench --devices sim:H100-SXM-80GB:8 \
  --state "$W/agent" --simulate-nodes "$NODES" --threads "$THREADS" --heartbeat 1h --run-for 1s \
  --log-level warn >/dev/null 2>"$W/join.log"
t1=$(date +%s.%N)

cpu_ticks() { awk '{print $14 + $15}' "/proc/$SP/stat"; }
"$S" agent --server "$SUANCHI_SERVER" --devices sim:H100-SXM-80GB:8 --state "$W/agent" \
  --simulate-nodes "$NODES" --threads "$THREADS" --heartbeat "${INTERVAL}s" --run-for "$((SECS + 10))s" \
  --log-level warn >"$W/agent.json" 2>"$W/agent.log" &
AP=$!
sleep 10   # warm-up: every node has heartbeated at least once
c0=$(cpu_ticks); w0=$(date +%s.%N)
sleep "$SECS"
c1=$(cpu_ticks); w1=$(date +%s.%N)
wait "$AP"
AP=""
HZ=$(getconf CLK_TCK)
RSS=$(awk '/VmRSS/ {print $2}' "/proc/$SP/status")
HWM=$(awk '/VmHWM/ {print $2}' "/proc/$SP/status")
READY=$("$S" nodes --state ready --json | jq length)
jq -c --argjson cpu "$(echo "($c1 - $c0) / $HZ / ($w1 - $w0)" | bc -l)" \
  --argjson rss "$((RSS / 1024))" --argjson hwm "$((HWM / 1024))" --argjson ready "$READY" \
  --argjson join_s "$(echo "$t1 - $t0" | bc -l)" \
  '. + {server_cpu_cores: ($cpu * 1000 | round / 1000), server_rss_mib: $rss, server_peak_rss_mib: $hwm,
        nodes_ready: $ready, join_all_s: ($join_s * 10 | round / 10)}' "$W/agent.json"
