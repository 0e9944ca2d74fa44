#!/usr/bin/env bash
# `make demo` brings up the operator-shaped pool with deployments and a demo key, the curl it
# prints works as printed, and Ctrl-C stops everything cleanly.
. "$(dirname "$0")/lib.sh"
DEMO_DIR=$T/demo DEMO_LISTEN=127.0.0.1:0 DEMO_SECONDS=120 DEMO_MODEL_PRESET=tiny SUANCHI=$SUANCHI \
  bash "$SC_SRC/scripts/demo.sh" >"$T/demo.out" 2>&1 &
DEMO=$!
PIDS+=("$DEMO")
check "demo comes up" wait_for 90 grep -q "Ctrl-C stops everything" "$T/demo.out"
OUT=$(cat "$T/demo.out")
contains "prints what to try" "$OUT" "In another terminal"
export SUANCHI_SERVER=$(cat "$T/demo/data/serve.addr") SUANCHI_TOKEN=$(cat "$T/demo/data/admin.token")
S=$SUANCHI
eq "ten nodes, all ready" "$("$S" nodes --state ready --json | jq length)" "10"
eq "six regions" "$("$S" regions --json | jq length)" "6"
eq "pool owner's nodes" "$("$S" nodes --owner qingyang-compute --json | jq length)" "2"
for d in chat llama-8b qwen-14b; do contains "deployment $d" "$("$S" deployments)" "$d"; done
check "replicas ready" wait_for 30 bash -c "[ \"\$('$S' replicas --json | jq '[.[] | select(.state==\"ready\")] | length')\" -ge 5 ]"
# llama-8b asks for 3 replicas in hainan (2 nodes), then dallas: spread over 3 nodes, the third in dallas
check "llama-8b spread over three nodes" wait_for 20 bash -c "[ \"\$('$S' replicas --json | jq '[.[] | select(.deployment==\"llama-8b\") | .node] | unique | length')\" = 3 ]"
eq "llama-8b regions in order of preference" "$("$S" replicas --json | jq -c '[.[] | select(.deployment=="llama-8b") | .region] | sort')" '["dallas","hainan","hainan"]'
# run the printed curl exactly as printed
CURL=$(awk '/^    curl -s .*\/v1\/chat\/completions/ {sub(/\\$/, ""); printf "%s ", $0; getline; print; exit}' "$T/demo.out")
contains "curl printed" "$CURL" "Authorization: Bearer sck"
R=$(bash -c "$CURL")
eq "printed curl answers" "$(echo "$R" | jq -r .object)" "chat.completion"
# and the openai-client example, when the demo could install the client
if grep -q 'NODE_PATH=' "$T/demo.out"; then
  SNIP=$(awk '/NODE_PATH=/ {f = 1} f {print} /\.then\(r =>/ {exit}' "$T/demo.out")
  R=$(bash -c "$SNIP" 2>&1)
  contains "printed openai example answers" "$R" "completion_tokens"
else
  echo "note: npm unavailable, the demo printed no openai example"
fi
M=$(curl -s "$SUANCHI_SERVER/metrics")
check "gateway requests counted in /metrics" bash -c "echo '$M' | grep -Eq '^suanchi_gateway_requests_total [1-9]'"
contains "replica readiness in /metrics" "$M" 'suanchi_gateway_replica_ready{replica="'
check "usage metered" bash -c "'$S' usage --json | jq -e 'length > 0' >/dev/null"
kill -INT "$DEMO"
wait "$DEMO"
eq "demo exits cleanly" "$?" "0"
contains "stops" "$(cat "$T/demo.out")" "stopped."
if pgrep -f "[s]uanchi (serve|agent|engine) .*$T/demo" >/dev/null; then fail "processes left behind"; else ok; fi
finish
