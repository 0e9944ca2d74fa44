#!/usr/bin/env bash
# End-to-end: `suanchi engine --model` on a synthesized tiny model (`suanchi model synth`): the
# OpenAI API over the real CPU engine, tokenizer and chat template. Exact usage counts (checked
# against `suanchi tokenize`), greedy and seeded determinism, streamed text equal to plain text,
# context errors, sleep/wake, concurrency, client disconnects while asleep, bad --model files.
set -euo pipefail
SUANCHI=${SUANCHI:?set SUANCHI to the suanchi binary}
TMP=$(mktemp -d)
PID=
cleanup() {
  [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  tail -20 "$TMP/engine.log" >&2 || true
  exit 1
}
check() { [ "$2" == "$3" ] || fail "$1: got '$2', want '$3'"; }
post() { # url, body -> R, CODE
  CODE=$(curl -s -o "$TMP/out" -w '%{http_code}' --max-time 120 "$1" -d "$2")
  R=$(cat "$TMP/out")
}

"$SUANCHI" model synth "$TMP/tiny.gguf" --arch qwen2 --preset tiny --seed 7 >"$TMP/synth.log" 2>&1 || {
  cat "$TMP/synth.log"
  fail "model synth"
}
"$SUANCHI" engine --model "$TMP/tiny.gguf" --listen 127.0.0.1:0 --port-file "$TMP/port" --threads 1 --parallel 4 \
  --ctx 256 >"$TMP/engine.log" 2>&1 &
PID=$!
for _ in $(seq 400); do
  [ -s "$TMP/port" ] && break
  kill -0 "$PID" 2>/dev/null || fail "engine exited"
  sleep 0.05
done
[ -s "$TMP/port" ] || fail "engine did not start"
URL="http://$(cat "$TMP/port")"
check "model id" "$(curl -s "$URL/v1/models" | jq -r '.data[0].id')" "tiny"
check "max_model_len" "$(curl -s "$URL/v1/models" | jq -r '.data[0].max_model_len')" "256"

# Exact prompt token counts: the same tokenizer through `suanchi tokenize`.
post "$URL/v1/completions" '{"prompt":"Hello, world! 你好","max_tokens":5,"temperature":0}'
check "completion status" "$CODE" "200"
WANT=$("$SUANCHI" tokenize --model "$TMP/tiny.gguf" --json --special 'Hello, world! 你好' | jq -r .count)
check "completion prompt_tokens" "$(jq -r .usage.prompt_tokens <<<"$R")" "$WANT"
C=$(jq -r .usage.completion_tokens <<<"$R")
[ "$C" -ge 1 ] && [ "$C" -le 5 ] || fail "completion_tokens $C"
CHATML=$'<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n'
WANT=$("$SUANCHI" tokenize --model "$TMP/tiny.gguf" --json --special "$CHATML" | jq -r .count)
post "$URL/v1/chat/completions" '{"messages":[{"role":"user","content":"Hi there"}],"max_tokens":8,"temperature":0}'
check "chat status" "$CODE" "200"
check "chat prompt_tokens (chatml)" "$(jq -r .usage.prompt_tokens <<<"$R")" "$WANT"
FIRST=$(jq -c '.choices[0].message.content' <<<"$R") # JSON-encoded: keeps whitespace
FIRST_N=$(jq -r .usage.completion_tokens <<<"$R")

# Greedy is deterministic, and the stream carries the same text and counts.
post "$URL/v1/chat/completions" '{"messages":[{"role":"user","content":"Hi there"}],"max_tokens":8,"temperature":0}'
check "greedy repeat" "$(jq -c '.choices[0].message.content' <<<"$R")" "$FIRST"
curl -sN --max-time 120 "$URL/v1/chat/completions" -d '{"messages":[{"role":"user","content":"Hi there"}],"max_tokens":8,"temperature":0,"stream":true,"stream_options":{"include_usage":true}}' >"$TMP/sse"
check "stream DONE" "$(grep -v '^$' "$TMP/sse" | tail -1)" "data: [DONE]"
grep '^data: {' "$TMP/sse" | sed 's/^data: //' >"$TMP/chunks"
check "stream text" "$(jq -s -c '[.[].choices[0].delta.content // empty] | join("")' "$TMP/chunks")" "$FIRST"
check "stream usage" "$(tail -1 "$TMP/chunks" | jq -r .usage.completion_tokens)" "$FIRST_N"

# Seeded sampling is reproducible.
post "$URL/v1/completions" '{"prompt":"Once","max_tokens":6,"temperature":0.9,"top_p":0.9,"top_k":20,"seed":42}'
S1=$(jq -c '.choices[0].text' <<<"$R")
post "$URL/v1/completions" '{"prompt":"Once","max_tokens":6,"temperature":0.9,"top_p":0.9,"top_k":20,"seed":42}'
check "seeded repeat" "$(jq -c '.choices[0].text' <<<"$R")" "$S1"

# Errors
LONG=$(printf 'token %.0s' $(seq 400))
post "$URL/v1/completions" '{"prompt":"'"$LONG"'","max_tokens":2}'
check "long prompt" "$CODE $(jq -r .error.code <<<"$R")" "400 context_length_exceeded"
post "$URL/v1/completions" '{"prompt":"x","max_tokens":300}'
check "prompt + max_tokens over ctx" "$CODE $(jq -r .error.param <<<"$R")" "400 max_tokens"
post "$URL/v1/completions" '{"prompt":[999999999],"max_tokens":2}'
check "token id outside vocab" "$CODE" "400"
post "$URL/v1/chat/completions" '{"model":"other","messages":[{"role":"user","content":"x"}]}'
check "unknown model" "$CODE" "404"

# Concurrency (continuous batching) and disconnects
for i in 1 2 3 4 5 6; do
  curl -s --max-time 120 "$URL/v1/completions" -d '{"prompt":"req '$i'","max_tokens":6,"temperature":0}' >"$TMP/c$i" &
done
wait $(jobs -p | grep -v -x "$PID") 2>/dev/null || true
for i in 1 2 3 4 5 6; do
  check "concurrent $i" "$(jq -r '.choices | length' "$TMP/c$i")" "1"
done
metric() { curl -s "$URL/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }

# Sleep / wake. While asleep requests queue; clients that leave (streamed or not) are cancelled
# in the back end without waiting for the wake.
check "sleep" "$(curl -s -X POST "$URL/sleep" | jq -r .status)" "sleeping"
check "sleeping" "$(curl -s "$URL/health" | jq -r .sleeping)" "true"
curl -sN --max-time 1 "$URL/v1/completions" -d '{"prompt":"x","max_tokens":50,"stream":true}' >/dev/null || true
curl -s --max-time 1 "$URL/v1/completions" -d '{"prompt":"x","max_tokens":50}' >/dev/null || true
for _ in $(seq 200); do
  [ "$(metric 'suanchi_engine_requests_total{finish_reason="cancelled"}')" == "2" ] && break
  sleep 0.05
done
check "cancelled while asleep" "$(metric 'suanchi_engine_requests_total{finish_reason="cancelled"}')" "2"
check "queue empty after disconnects" "$(metric suanchi_engine_requests_waiting)" "0"
check "front idle after disconnects" "$(metric suanchi_engine_active_requests)" "0"
check "wake" "$(curl -s -X POST "$URL/wake" | jq -r .status)" "awake"
post "$URL/v1/chat/completions" '{"messages":[{"role":"user","content":"Hi there"}],"max_tokens":8,"temperature":0}'
check "same answer after wake" "$(jq -c '.choices[0].message.content' <<<"$R")" "$FIRST"

kill -TERM "$PID"
wait "$PID" || fail "engine exit code $?"
PID=

# Bad model files: a clear error, exit 1.
printf 'not a gguf file at all' >"$TMP/bad.gguf"
set +e
"$SUANCHI" engine --model "$TMP/bad.gguf" --listen 127.0.0.1:0 >"$TMP/bad.out" 2>&1
RC=$?
"$SUANCHI" engine --model "$TMP/missing.gguf" --listen 127.0.0.1:0 >"$TMP/missing.out" 2>&1
RC2=$?
"$SUANCHI" engine --model "$TMP/tiny.gguf" --chat-template vicuna --listen 127.0.0.1:0 >"$TMP/tmpl.out" 2>&1
RC3=$?
set -e
check "bad file exit" "$RC" "1"
grep -q "bad.gguf" "$TMP/bad.out" || fail "bad file message: $(cat "$TMP/bad.out")"
check "missing file exit" "$RC2" "1"
grep -q "missing.gguf" "$TMP/missing.out" || fail "missing file message: $(cat "$TMP/missing.out")"
check "bad template exit" "$RC3" "2"
grep -q "vicuna" "$TMP/tmpl.out" || fail "template message: $(cat "$TMP/tmpl.out")"
echo "test_engine_real: ok"
