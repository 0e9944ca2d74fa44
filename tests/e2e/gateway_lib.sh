# gateway_lib.sh — helpers for the gateway's end-to-end tests (sourced after lib.sh).

# start_engine NAME MODEL [SPEED]: starts a simulated engine on a free port serving MODEL;
# sets ENG_URL and ENG_PID (also ENG_PID_<NAME>)
start_engine() {
  local name=$1 model=$2 speed=${3:-0}
  rm -f "$T/eng-$name.port"
  "$SUANCHI" engine --simulate H100-SXM-80GB --sim-params 7e9 --sim-speed "$speed" --model-name "$model" \
    --listen 127.0.0.1:0 --port-file "$T/eng-$name.port" >>"$T/engine-$name.log" 2>&1 &
  ENG_PID=$!
  PIDS+=("$ENG_PID")
  printf -v "ENG_PID_$name" '%s' "$ENG_PID"
  wait_for 20 test -s "$T/eng-$name.port" || { fail "engine $name did not start"; exit 1; }
  ENG_URL="http://$(cat "$T/eng-$name.port")"
}

# v1 METHOD PATH BODY KEY [CURL ARGS...]: calls the gateway; prints "STATUS BODY"; headers in $T/hdr
v1() {
  local m=$1 p=$2 body=$3 key=$4; shift 4
  local args=(-s --max-time 30 -D "$T/hdr" -o "$T/resp" -w '%{http_code}' -X "$m" "$URL$p")
  [ -n "$key" ] && args+=(-H "Authorization: Bearer $key")
  [ -n "$body" ] && args+=(-H 'Content-Type: application/json' --data-binary "$body")
  local code
  code=$(curl "${args[@]}" "$@")
  echo "$code $(cat "$T/resp")"
}

# header NAME: a response header of the last v1 call
header() { grep -i "^$1:" "$T/hdr" | head -1 | cut -d' ' -f2- | tr -d '\r'; }

# usage_sum FIELD [ARGS...]: sum of a usage column over all groups
usage_sum() {
  local f=$1; shift
  "$SUANCHI" usage --json "$@" | jq "[.rows[].$f] | add // 0"
}
