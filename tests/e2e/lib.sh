# lib.sh — helpers for end-to-end tests: start the real binaries on 127.0.0.1, call the API,
# assert, and clean up every process on exit. Source it; $SUANCHI is the binary under test.
set -u
: "${SUANCHI:?SUANCHI must point at the suanchi binary}"
SUANCHI=$(realpath "$SUANCHI")
T=$(mktemp -d "${TMPDIR:-/tmp}/suanchi-e2e.XXXXXX")
PIDS=()
FAILS=0
CHECKS=0

cleanup() {
  local p
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill -TERM "$p" 2>/dev/null; done
  sleep 0.2
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill -KILL "$p" 2>/dev/null; done
  wait 2>/dev/null
  if [ "$FAILS" -ne 0 ]; then
    echo "---- logs ----"
    for f in "$T"/*.log; do [ -f "$f" ] && { echo "== $f"; tail -30 "$f"; }; done
  fi
  rm -rf "$T"
}
trap cleanup EXIT

fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
ok() { CHECKS=$((CHECKS + 1)); }

# check DESCRIPTION CMD...: the command must succeed
check() { local d=$1; shift; if "$@"; then ok; else fail "$d"; fi; }
# eq DESCRIPTION GOT WANT
eq() { if [ "$2" == "$3" ]; then ok; else fail "$1: got '$2', want '$3'"; return 1; fi; }
# contains DESCRIPTION HAYSTACK NEEDLE
contains() { if [[ "$2" == *"$3"* ]]; then ok; else fail "$1: '$3' not in: $2"; fi; }

# wait_for SECONDS CMD...: polls every 0.1 s until CMD succeeds
wait_for() {
  local limit=$1; shift
  local end=$(( $(date +%s%N) / 1000000 + limit * 1000 ))
  while (( $(date +%s%N) / 1000000 < end )); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  return 1
}

# start_server DATADIR [FLAGS...]: starts `suanchi serve` on a free port; sets SERVER_PID, URL, ADMIN
start_server() {
  local dir=$1; shift
  rm -f "$dir/serve.addr"
  "$SUANCHI" serve --data "$dir" --listen "${LISTEN:-127.0.0.1:0}" "$@" >>"$T/server.log" 2>&1 &
  SERVER_PID=$!
  PIDS+=("$SERVER_PID")
  wait_for 20 test -s "$dir/serve.addr" || { fail "server did not start"; exit 1; }
  URL=$(cat "$dir/serve.addr")
  ADMIN=$(cat "$dir/admin.token")
  export SUANCHI_SERVER=$URL SUANCHI_TOKEN=$ADMIN
}

# start_agent NAME STATEDIR [FLAGS...]: starts an agent; sets AGENT_PID
start_agent() {
  local name=$1 state=$2; shift 2
  "$SUANCHI" agent --server "$URL" --state "$state" --name "$name" "$@" >>"$T/agent-$name.log" 2>&1 &
  AGENT_PID=$!
  PIDS+=("$AGENT_PID")
}

# api METHOD PATH [BODY] [TOKEN]: prints "STATUS BODY"
api() {
  local m=$1 p=$2 body=${3:-} tok=${4-$ADMIN}
  local args=(-s --max-time 20 -o "$T/resp" -w '%{http_code}' -X "$m" "$URL$p")
  [ -n "$tok" ] && args+=(-H "Authorization: Bearer $tok")
  [ -n "$body" ] && args+=(-H 'Content-Type: application/json' --data-binary "$body")
  local code
  code=$(curl "${args[@]}")
  echo "$code $(cat "$T/resp")"
}

node_field() { # NAME FIELD
  "$SUANCHI" nodes --json | jq -r --arg n "$1" ".[] | select(.name == \$n) | .$2"
}

finish() {
  echo "$CHECKS checks, $FAILS failed"
  [ "$FAILS" -eq 0 ]
  exit $?
}
