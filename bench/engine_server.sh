#!/usr/bin/env bash
# Throughput of the engine's HTTP front with the simulator answering at once (--sim-speed 0), so
# the figures are the front's own cost (parsing, queueing, SSE, JSON): requests/s for short plain
# requests at 1 and 8 concurrent clients, and streamed tokens/s for one long SSE response.
# Usage: bench/engine_server.sh [path/to/suanchi]   (default build/suanchi)
set -euo pipefail
SUANCHI=${1:-build/suanchi}
TMP=$(mktemp -d)
"$SUANCHI" engine --simulate H100-SXM-80GB --sim-params 7B --sim-speed 0 --ctx 200000 --listen 127.0.0.1:0 \
  --port-file "$TMP/port" --log-level warn &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$TMP"' EXIT
for _ in $(seq 100); do [ -s "$TMP/port" ] && break; sleep 0.05; done
URL="http://$(cat "$TMP/port")"
BODY='{"messages":[{"role":"user","content":"Hello there"}],"max_tokens":16,"temperature":0}'
run_clients() { # clients, requests per client -> requests/s
  local c=$1 n=$2 t0 t1
  t0=$(date +%s.%N)
  for _ in $(seq "$c"); do
    (cfg="$TMP/cfg.$BASHPID"
     echo "data = \"$(sed 's/"/\\"/g' <<<"$BODY")\"" >"$cfg"
     for _ in $(seq "$n"); do printf 'url = "%s"\noutput = /dev/null\n' "$URL/v1/chat/completions"; done >>"$cfg"
     curl -s -K "$cfg") &
  done
  wait $(jobs -p | grep -v -x "$PID")
  t1=$(date +%s.%N)
  echo "scale=0; $c * $n / ($t1 - $t0)" | bc
}
run_clients 1 50 >/dev/null # warm-up
for c in 1 8; do
  r=()
  for _ in 1 2 3; do r+=("$(run_clients "$c" 200)"); done
  echo "requests/s, $c client(s), 16 tokens each (3 runs): ${r[*]}"
done
r=()
for _ in 1 2 3; do
  t0=$(date +%s.%N)
  n=$(curl -sN "$URL/v1/completions" -d '{"prompt":"x","max_tokens":100000,"temperature":0,"stream":true}' | grep -c '^data: {')
  t1=$(date +%s.%N)
  r+=("$(echo "scale=0; $n / ($t1 - $t0)" | bc)")
done
echo "streamed tokens/s, one SSE response of 100000 tokens (3 runs): ${r[*]}"
# Sanity: every request above finished normally (a broken body would show as 4xx here).
curl -s "$URL/metrics" | grep -E '^suanchi_engine_http_responses_total\{status="(2xx|400|4xx|5xx)"\}'
