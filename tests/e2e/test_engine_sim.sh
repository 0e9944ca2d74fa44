#!/usr/bin/env bash
# End-to-end: `suanchi engine --simulate` speaks the OpenAI API on loopback: models, chat and
# completions (plain and streamed, include_usage, usage counts, stop strings, UTF-8 hold-back),
# errors (400/404/405/413) with the server still serving, sleep/wake, /health, /metrics, concurrent
# requests, client disconnects cancelling generation, --sim-speed 0, bad flags, clean shutdown.
set -euo pipefail
SUANCHI=${SUANCHI:?set SUANCHI to the suanchi binary}
TMP=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$TMP"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  for f in "$TMP"/*.log; do echo "--- $f" >&2; tail -20 "$f" >&2; done
  exit 1
}
check() { # description, actual, expected
  [ "$2" == "$3" ] || fail "$1: got '$2', want '$3'"
}

start_engine() { # name, extra flags... -> ENGINE_URL; the pid joins PIDS
  local name=$1
  shift
  rm -f "$TMP/$name.port"
  "$SUANCHI" engine --listen 127.0.0.1:0 --port-file "$TMP/$name.port" "$@" >"$TMP/$name.log" 2>&1 &
  PIDS+=($!)
  LAST_PID=$!
  for _ in $(seq 200); do
    [ -s "$TMP/$name.port" ] && break
    kill -0 "$LAST_PID" 2>/dev/null || fail "engine $name exited"
    sleep 0.05
  done
  [ -s "$TMP/$name.port" ] || fail "engine $name did not write its port file"
  ENGINE_URL="http://$(cat "$TMP/$name.port")"
}

post() { # url, body -> sets R (the body) and CODE (the status)
  CODE=$(curl -s -o "$TMP/out" -w '%{http_code}' -H 'Content-Type: application/json' --max-time 30 "$1" -d "$2")
  R=$(cat "$TMP/out")
}

start_engine main --simulate H100-SXM-80GB --sim-params 7B --max-body 65536
URL=$ENGINE_URL
MODEL=sim-H100-SXM-80GB-7B

# --- health, models
check "health" "$(curl -s "$URL/health" | jq -r .status)" "ok"
check "models id" "$(curl -s "$URL/v1/models" | jq -r '.data[0].id')" "$MODEL"
check "models object" "$(curl -s "$URL/v1/models" | jq -r '.object')" "list"
check "model retrieve" "$(curl -s "$URL/v1/models/$MODEL" | jq -r '.id')" "$MODEL"
check "unknown model retrieve" "$(curl -s -o /dev/null -w '%{http_code}' "$URL/v1/models/nope")" "404"
check "unknown path" "$(curl -s -o /dev/null -w '%{http_code}' "$URL/v2/nothing")" "404"
check "wrong method" "$(curl -s -o /dev/null -w '%{http_code}' "$URL/v1/chat/completions")" "405"

# --- chat, plain: deterministic filler at temperature 0, exact usage
post "$URL/v1/chat/completions" '{"model":"'$MODEL'","messages":[{"role":"user","content":"Hello there"}],"max_tokens":10,"temperature":0}'
check "chat status" "$CODE" "200"
check "chat object" "$(jq -r .object <<<"$R")" "chat.completion"
check "chat content" "$(jq -r '.choices[0].message.content' <<<"$R")" " The simulated engine answers at the pace of the chip"
check "chat role" "$(jq -r '.choices[0].message.role' <<<"$R")" "assistant"
check "chat finish" "$(jq -r '.choices[0].finish_reason' <<<"$R")" "length"
check "chat usage" "$(jq -c '[.usage.prompt_tokens,.usage.completion_tokens,.usage.total_tokens]' <<<"$R")" "[11,10,21]"
[[ $(jq -r .id <<<"$R") == chatcmpl-* ]] || fail "chat id $(jq -r .id <<<"$R")"

# --- completions, plain, and stop strings (not returned, finish_reason stop)
post "$URL/v1/completions" '{"prompt":"Hello there","max_tokens":20,"temperature":0,"stop":["pace","nothing"]}'
check "completion status" "$CODE" "200"
check "completion object" "$(jq -r .object <<<"$R")" "text_completion"
check "completion stop text" "$(jq -r '.choices[0].text' <<<"$R")" " The simulated engine answers at the "
check "completion stop finish" "$(jq -r '.choices[0].finish_reason' <<<"$R")" "stop"
check "completion usage" "$(jq -c '[.usage.prompt_tokens,.usage.completion_tokens]' <<<"$R")" "[5,7]"
post "$URL/v1/completions" '{"prompt":"Hi","max_tokens":3,"temperature":0,"echo":true}'
check "echo" "$(jq -r '.choices[0].text' <<<"$R")" "Hi The simulated engine"
post "$URL/v1/completions" '{"prompt":[5,6,7],"max_tokens":2,"temperature":0}'
check "token-id prompt usage" "$(jq -c '.usage.prompt_tokens' <<<"$R")" "3"

# --- streaming chat with include_usage: exact OpenAI chunk sequence
curl -sN --max-time 30 "$URL/v1/chat/completions" -d '{"messages":[{"role":"user","content":"Hello there"}],"max_tokens":13,"temperature":0,"stream":true,"stream_options":{"include_usage":true}}' >"$TMP/sse"
grep -v '^$' "$TMP/sse" | grep -v '^data: ' && fail "non-data SSE line"
check "stream ends with DONE" "$(grep -v '^$' "$TMP/sse" | tail -1)" "data: [DONE]"
grep '^data: {' "$TMP/sse" | sed 's/^data: //' >"$TMP/chunks"
check "one id" "$(jq -r .id "$TMP/chunks" | sort -u | wc -l)" "1"
check "chunk objects" "$(jq -r .object "$TMP/chunks" | sort -u)" "chat.completion.chunk"
check "first chunk role" "$(head -1 "$TMP/chunks" | jq -c '.choices[0].delta')" '{"role":"assistant","content":""}'
check "streamed text" "$(jq -j '.choices[0].delta.content // empty' "$TMP/chunks")" " The simulated engine answers at the pace of the chip. 算"
check "finish chunk" "$(tail -2 "$TMP/chunks" | head -1 | jq -c '[.choices[0].delta,.choices[0].finish_reason]')" '[{},"length"]'
check "usage chunk" "$(tail -1 "$TMP/chunks" | jq -c '[.choices,.usage.prompt_tokens,.usage.completion_tokens]')" '[[],11,13]'
check "usage null before" "$(head -1 "$TMP/chunks" | jq -c '.usage')" "null"
# 算 arrives split over two tokens: no chunk may carry half of it (or a replacement char).
grep -q $'\xef\xbf\xbd' "$TMP/chunks" && fail "a chunk carries U+FFFD"
check "held-back char arrives whole" "$(jq -r '.choices[0].delta.content // empty' "$TMP/chunks" | grep -c '算')" "1"
# Cut inside the character: the end of generation turns the partial byte into U+FFFD.
post "$URL/v1/chat/completions" '{"messages":[{"role":"user","content":"x"}],"max_tokens":12,"temperature":0}'
check "truncated char" "$(jq -r '.choices[0].message.content' <<<"$R")" " The simulated engine answers at the pace of the chip. �"

# --- streaming completions with a stop string spanning tokens
curl -sN --max-time 30 "$URL/v1/completions" -d '{"prompt":"x","max_tokens":30,"temperature":0,"stream":true,"stop":"engine ans"}' >"$TMP/sse2"
grep '^data: {' "$TMP/sse2" | sed 's/^data: //' >"$TMP/chunks2"
check "stream stop text" "$(jq -j '.choices[0].text' "$TMP/chunks2")" " The simulated "
check "stream stop finish" "$(tail -1 "$TMP/chunks2" | jq -r '.choices[0].finish_reason')" "stop"
check "stream no usage without include_usage" "$(jq -c 'has("usage")' "$TMP/chunks2" | sort -u)" "false"
check "stream 2 DONE" "$(grep -v '^$' "$TMP/sse2" | tail -1)" "data: [DONE]"

# --- errors: OpenAI-shaped bodies, and the server keeps serving
post "$URL/v1/chat/completions" '{"messages":[{"role":"user","content":"x"}'
check "malformed status" "$CODE" "400"
check "malformed code" "$(jq -r .error.code <<<"$R")" "invalid_json"
jq -e '.error | has("message") and has("type") and has("param") and has("code")' <<<"$R" >/dev/null || fail "error shape: $R"
post "$URL/v1/chat/completions" '{"messages":[{"role":"user","content":"x"}],"temperature":3}'
check "temperature status" "$CODE" "400"
check "temperature param" "$(jq -r .error.param <<<"$R")" "temperature"
check "temperature message" "$(jq -r .error.message <<<"$R")" "'temperature' must be between 0 and 2, got 3"
post "$URL/v1/chat/completions" '{"messages":[{"role":"user","content":"x"}],"top_p":"a"}'
check "top_p type" "$(jq -r '[.error.param,.error.code]|join(" ")' <<<"$R")" "top_p invalid_type"
post "$URL/v1/completions" '{"prompt":"x","max_tokens":0}'
check "max_tokens status" "$CODE" "400"
check "max_tokens param" "$(jq -r .error.param <<<"$R")" "max_tokens"
post "$URL/v1/completions" '{"prompt":"x","max_tokens":99999999}'
check "absurd max_tokens" "$CODE" "400"
post "$URL/v1/chat/completions" '{"model":"gpt-9","messages":[{"role":"user","content":"x"}]}'
check "unknown model status" "$CODE" "404"
check "unknown model code" "$(jq -r .error.code <<<"$R")" "model_not_found"
post "$URL/v1/chat/completions" '{"messages":[{"role":"user","content":"x"}],"n":3}'
check "n>1" "$(jq -r '[.error.param,.error.code]|join(" ")' <<<"$R")" "n unsupported_value"
LONG=$(printf 'word %.0s' $(seq 5000))
post "$URL/v1/completions" '{"prompt":"'"$LONG"'","max_tokens":5}'
check "long prompt status" "$CODE" "400"
check "long prompt code" "$(jq -r .error.code <<<"$R")" "context_length_exceeded"
check "long prompt message" "$(jq -r .error.message <<<"$R")" "this model's maximum context length is 4096 tokens, but the prompt has 5001 tokens"
head -c 70000 /dev/zero | tr '\0' 'a' >"$TMP/big"
R=$(curl -s -w '\n%{http_code}' "$URL/v1/completions" --data-binary @"$TMP/big")
check "too big status" "$(tail -1 <<<"$R")" "413"
check "too big code" "$(head -1 <<<"$R" | jq -r .error.code)" "request_too_large"
post "$URL/v1/chat/completions" '{"messages":[{"role":"user","content":"still there?"}],"max_tokens":2,"temperature":0}'
check "served after errors" "$CODE" "200"

# --- concurrent requests
for i in $(seq 8); do
  curl -s --max-time 30 "$URL/v1/chat/completions" -d '{"messages":[{"role":"user","content":"req '$i'"}],"max_tokens":20}' >"$TMP/c$i" &
done
wait $(jobs -p | grep -v -F -x -f <(printf '%s\n' "${PIDS[@]}")) 2>/dev/null || true
for i in $(seq 8); do
  check "concurrent $i" "$(jq -r '.usage.completion_tokens' "$TMP/c$i")" "20"
done

metric() { curl -s "$URL/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }

# --- client disconnect cancels (streamed and plain), counted in /metrics
curl -sN --max-time 1 "$URL/v1/chat/completions" -d '{"messages":[{"role":"user","content":"x"}],"max_tokens":3000,"stream":true}' >/dev/null || true
curl -s --max-time 1 "$URL/v1/completions" -d '{"prompt":"x","max_tokens":3000}' >/dev/null || true
for _ in $(seq 100); do
  [ "$(metric 'suanchi_engine_requests_total{finish_reason="cancelled"}')" == "2" ] && break
  sleep 0.05
done
check "cancelled after disconnect" "$(metric 'suanchi_engine_requests_total{finish_reason="cancelled"}')" "2"
check "nothing running after disconnect" "$(metric suanchi_engine_requests_running)" "0"

# --- metrics
M=$(curl -s "$URL/metrics")
for name in suanchi_engine_prompt_tokens_total suanchi_engine_generation_tokens_total suanchi_engine_requests_waiting \
  suanchi_engine_batch_size suanchi_engine_kv_cache_usage_ratio suanchi_engine_kv_cache_blocks_total \
  suanchi_engine_request_latency_seconds_count suanchi_engine_time_to_first_token_seconds_bucket; do
  grep -q "^$name" <<<"$M" || fail "metric $name missing"
done
[ "$(metric suanchi_engine_generation_tokens_total)" -gt 100 ] || fail "generation tokens not counted"

# --- sleep / wake: a request waits while asleep and completes after wake
check "sleep" "$(curl -s -X POST "$URL/sleep" | jq -r .status)" "sleeping"
check "is_sleeping" "$(curl -s "$URL/is_sleeping" | jq -r .is_sleeping)" "true"
check "sleeping metric" "$(metric suanchi_engine_sleeping)" "1"
curl -s --max-time 30 "$URL/v1/completions" -d '{"prompt":"x","max_tokens":3,"temperature":0}' >"$TMP/slept" &
SLEPT=$!
for _ in $(seq 100); do
  [ "$(metric suanchi_engine_requests_waiting)" == "1" ] && break
  sleep 0.05
done
check "request waits while asleep" "$(metric suanchi_engine_requests_waiting)" "1"
[ -s "$TMP/slept" ] && fail "a request completed while asleep"
check "wake" "$(curl -s -X POST "$URL/wake" | jq -r .status)" "awake"
wait $SLEPT
check "request after wake" "$(jq -r '.choices[0].text' "$TMP/slept")" " The simulated engine"

# --- --sim-speed 0 answers at once
start_engine fast --simulate A100-SXM-80GB --sim-params 0.5B --sim-speed 0 --ctx 8192 --sim-eff-bw 0.9
URL0=$ENGINE_URL
post "$URL0/v1/completions" '{"prompt":"x","max_tokens":5000}'
check "speed 0 tokens" "$(jq -r .usage.completion_tokens <<<"$R")" "5000"
grep -q "eff_bw 0.90, eff_fl 0.50" "$TMP/fast.log" || fail "--sim-eff-bw not applied: $(cat "$TMP/fast.log")"
check "speed 0 model" "$(curl -s "$URL0/v1/models" | jq -r '.data[0].id')" "sim-A100-SXM-80GB-0.5B"

# SUANCHI_SIM_SPEED sets the default (what an agent's simulated replicas inherit)
SUANCHI_SIM_SPEED=0 start_engine envfast --simulate A100-SXM-80GB --sim-params 30B --ctx 4096
t0=$(date +%s%N)
post "$ENGINE_URL/v1/completions" '{"prompt":"x","max_tokens":200}'
check "SUANCHI_SIM_SPEED=0 tokens" "$(jq -r .usage.completion_tokens <<<"$R")" "200"
[ $(( ($(date +%s%N) - t0) / 1000000 )) -lt 3000 ] || fail "SUANCHI_SIM_SPEED=0 did not answer at once (200 tokens of a 30B model take ~8 s in real time)"

# --- bad flags: a clear message and a usage exit code
bad() { # expected-exit expected-message args...
  local want=$1 msg=$2
  shift 2
  set +e
  "$SUANCHI" engine "$@" >"$TMP/bad.out" 2>&1
  local rc=$?
  set -e
  [ "$rc" == "$want" ] || fail "engine $*: exit $rc, want $want ($(cat "$TMP/bad.out"))"
  grep -qF -- "$msg" "$TMP/bad.out" || fail "engine $*: message '$(cat "$TMP/bad.out")' lacks '$msg'"
}
bad 2 "no chip 'NOPE' in the catalogue" --simulate NOPE --sim-params 7B
bad 2 "'7X' is not a parameter count" --simulate H100-SXM-80GB --sim-params 7X
bad 2 "--simulate needs --sim-params" --simulate H100-SXM-80GB
bad 2 "give exactly one of --model FILE or --simulate CHIP" --simulate H100-SXM-80GB --model x.gguf --sim-params 7B
bad 2 "give exactly one of --model FILE or --simulate CHIP"
bad 1 "does not fit" --simulate Enflame-i20-16GB --sim-params 8B
bad 2 "--sim-eff-bw: '1.5' is not a number in [0.01, 1]" --simulate H100-SXM-80GB --sim-params 8B --sim-eff-bw 1.5
bad 1 "--sim-dtype: 'fp2'" --simulate H100-SXM-80GB --sim-params 8B --sim-dtype fp2
bad 2 "must be non-empty, valid UTF-8 text" --simulate H100-SXM-80GB --sim-params 8B --model-name $'\xff'
bad 1 "--listen: 'nonsense' is not HOST:PORT" --simulate H100-SXM-80GB --sim-params 8B --listen nonsense
SUANCHI_SIM_SPEED=fast bad 2 "SUANCHI_SIM_SPEED='fast' is not a number from 0 to 1000" --simulate H100-SXM-80GB --sim-params 8B

# --- shutdown with a request in flight: answered, clean exit
curl -sN --max-time 30 "$URL/v1/chat/completions" -d '{"messages":[{"role":"user","content":"x"}],"max_tokens":3000,"stream":true}' >"$TMP/inflight" &
INF=$!
for _ in $(seq 100); do
  [ "$(metric suanchi_engine_requests_running)" == "1" ] && break
  sleep 0.05
done
kill -TERM "${PIDS[0]}"
set +e
wait "${PIDS[0]}"
RC=$?
set -e
check "engine exit code" "$RC" "0"
wait $INF || true
check "in-flight stream closed with DONE" "$(grep -v '^$' "$TMP/inflight" | tail -1)" "data: [DONE]"
echo "test_engine_sim: ok"
