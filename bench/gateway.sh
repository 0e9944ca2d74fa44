#!/usr/bin/env bash
# bench/gateway.sh — the gateway's proxy overhead, side by side in one run: wrk at 64 connections
# against a simulated engine answering at once (--sim-speed 0), directly, through nginx as a plain
# reverse proxy (1 and 2 workers, keep-alive upstream), and through `suanchi serve`'s gateway
# (API key check, routing, metering with a usage record committed per request). Rounds alternate
# the targets; the medians are printed. Then 5,000 concurrent streams through nginx (1 worker) and
# through the gateway.
#
# Needs: wrk, nginx (Debian: apt-get install wrk nginx-light), jq, curl, sqlite3.
# Usage: bench/gateway.sh [BUILD_DIR]   env: DUR (seconds per run, 8), ROUNDS (3), CONNS (64),
#        STREAMS (5000)
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$SRC/build}
SUANCHI=$BUILD/suanchi
DUR=${DUR:-8}
ROUNDS=${ROUNDS:-3}
CONNS=${CONNS:-64}
STREAMS=${STREAMS:-5000}
for t in wrk nginx jq curl sqlite3; do
  command -v "$t" >/dev/null || { echo "bench/gateway.sh needs $t (apt-get install wrk nginx-light jq curl sqlite3)"; exit 2; }
done
[ -x "$SUANCHI" ] || { echo "build first: make build"; exit 2; }
T=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ -n "${KEEP_LOGS:-}" ]; then mkdir -p "$KEEP_LOGS" && cp "$T"/*.log "$KEEP_LOGS"/ 2>/dev/null; fi
  rm -rf "$T"
}
trap cleanup EXIT
# run a private copy: on a shared dev box, other people's clean-ups by process name must not hit the bench
cp "$SUANCHI" "$T/scbench"
SUANCHI=$T/scbench
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

wait_file() { for _ in $(seq 200); do [ -s "$1" ] && return 0; sleep 0.05; done; echo "timeout waiting for $1"; exit 1; }

"$SUANCHI" engine --simulate H100-SXM-80GB --sim-params 7e9 --sim-speed 0 --model-name m1 --listen 127.0.0.1:0 \
  --port-file "$T/eng.port" --log-level warn >"$T/engine.log" 2>&1 &
PIDS+=($!)
wait_file "$T/eng.port"
ENG=$(cat "$T/eng.port")

nginx_start() { # WORKERS PORT
  mkdir -p "$T/nginx$1"
  cat >"$T/nginx$1/nginx.conf" <<CONF
worker_processes $1;
pid $T/nginx$1/nginx.pid;
error_log $T/nginx$1/error.log warn;
events { worker_connections 16384; }
http {
  access_log off;
  client_body_temp_path $T/nginx$1; proxy_temp_path $T/nginx$1;
  fastcgi_temp_path $T/nginx$1; uwsgi_temp_path $T/nginx$1; scgi_temp_path $T/nginx$1;
  upstream engine { server $ENG; keepalive 256; }
  server {
    listen 127.0.0.1:$2;
    location / { proxy_pass http://engine; proxy_http_version 1.1; proxy_set_header Connection ""; proxy_buffering off; }
  }
}
CONF
  nginx -c "$T/nginx$1/nginx.conf" -p "$T/nginx$1" -g 'daemon off;' 2>>"$T/nginx$1/error.log" &
  PIDS+=($!)
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
N1=$(free_port); nginx_start 1 "$N1"
N2=$(free_port); nginx_start 2 "$N2"

"$SUANCHI" serve --data "$T/data" --listen 127.0.0.1:0 --log-level warn >"$T/serve.log" 2>&1 &
PIDS+=($!)
wait_file "$T/data/serve.addr"
GW=$(cat "$T/data/serve.addr")
export SUANCHI_SERVER=$GW SUANCHI_TOKEN=$(cat "$T/data/admin.token")
"$SUANCHI" tenant add bench >/dev/null
KEY=$("$SUANCHI" key create --tenant bench 2>/dev/null)
"$SUANCHI" endpoint add e1 --model m1 --url "http://$ENG" >/dev/null
sleep 0.5

BODY='{"model":"m1","messages":[{"role":"user","content":"Hello there"}],"max_tokens":8}'
cat >"$T/post.lua" <<LUA
wrk.method = "POST"
wrk.body = '$BODY'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $KEY"
LUA
for u in "http://$ENG" "http://127.0.0.1:$N1" "http://127.0.0.1:$N2" "$GW"; do
  code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$u/v1/chat/completions" -H "Authorization: Bearer $KEY" -d "$BODY")
  [ "$code" = 200 ] || { echo "warm-up against $u answered $code"; exit 1; }
done

to_us() { # wrk latency ("812.00us", "1.23ms", "1.02s") -> microseconds
  awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) print n; else if (v ~ /ms$/) print n * 1000; else if (v ~ /s$/) print n * 1000000; else print n }'
}
run() { # NAME URL -> appends "name rps p50us p99us requests errors" to $T/results
  local out
  out=$(wrk -t2 -c"$CONNS" -d"${DUR}s" --latency -s "$T/post.lua" "$2/v1/chat/completions")
  local rps p50 p99 reqs errs
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(to_us "$(awk '$1 == "50%" {print $2}' <<<"$out")")
  p99=$(to_us "$(awk '$1 == "99%" {print $2}' <<<"$out")")
  reqs=$(awk '/requests in/ {print $1}' <<<"$out")
  errs=$( (grep -E 'Non-2xx|Socket errors' <<<"$out" || true) | tr '\n' ' ')
  echo "$1 $rps $p50 $p99 $reqs ${errs:-none}" | tee -a "$T/results"
}
echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, wrk -t2 -c$CONNS -d${DUR}s, $ROUNDS rounds"
echo "# target req/s p50_us p99_us requests errors"
for r in $(seq "$ROUNDS"); do
  run direct "http://$ENG"
  run nginx-1w "http://127.0.0.1:$N1"
  run nginx-2w "http://127.0.0.1:$N2"
  run gateway "$GW"
done
sleep 1
gw_reqs=$(awk '$1 == "gateway" {s += $5} END {print s}' "$T/results")
recs=$("$SUANCHI" usage --json | jq '[.rows[].requests] | add')
echo
echo "medians over $ROUNDS rounds:"
printf '%-10s %10s %9s %9s %14s %14s\n' target req/s p50_us p99_us added_p50_us added_p99_us
for t in direct nginx-1w nginx-2w gateway; do
  med() { awk -v t="$t" -v c="$1" '$1 == t {print $c}' "$T/results" | sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
  dm() { awk -v c="$1" '$1 == "direct" {print $c}' "$T/results" | sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
  printf '%-10s %10.0f %9.0f %9.0f %14.0f %14.0f\n' "$t" "$(med 2)" "$(med 3)" "$(med 4)" "$(echo "$(med 3) - $(dm 3)" | bc)" \
    "$(echo "$(med 4) - $(dm 4)" | bc)"
done
echo "usage records written by the gateway: $recs for $gw_reqs completed requests (+1 warm-up)"

# 5,000 concurrent streams
SB='{"model":"m1","messages":[{"role":"user","content":"Hello there"}],"max_tokens":16,"stream":true}'
cat >"$T/stream.lua" <<LUA
wrk.method = "POST"
wrk.body = '$SB'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $KEY"
done = function(summary, latency, requests)
  io.write(string.format("streams completed: %d, errors: connect %d read %d write %d status %d timeout %d\n",
    summary.requests, summary.errors.connect, summary.errors.read, summary.errors.write, summary.errors.status,
    summary.errors.timeout))
end
LUA
before=$("$SUANCHI" usage --json | jq '[.rows[].requests] | add')
echo
echo "$STREAMS concurrent streams through nginx with 1 worker, for comparison (wrk -c$STREAMS, ${DUR}s):"
wrk -t2 -c"$STREAMS" -d"${DUR}s" --timeout 30s --latency -s "$T/stream.lua" "http://127.0.0.1:$N1/v1/chat/completions" |
  grep -E 'streams completed|Requests/sec|50%|90%|99%|Non-2xx|Socket errors'
echo
echo "$STREAMS concurrent streams through the gateway (wrk -c$STREAMS, ${DUR}s):"
wrk -t2 -c"$STREAMS" -d"${DUR}s" --timeout 30s --latency -s "$T/stream.lua" "$GW/v1/chat/completions" |
  grep -E 'streams completed|Requests/sec|50%|90%|99%|Non-2xx|Socket errors'
sleep 2
after=$("$SUANCHI" usage --json | jq '[.rows[].requests] | add')
echo "usage records for the streams: $((after - before)); by status over the whole run:" \
  "$("$SUANCHI" usage --by status --json | jq -r '[.rows[] | "\(.group) \(.requests)"] | join(", ")')"
echo "(client_gone: streams wrk cut off when its run ended, metered with the tokens they had received)"
