#!/usr/bin/env bash
# Engines behind NAT: an agent started with --tunnel serves its replicas through connections it
# dials to the control plane (no inbound port is used by the gateway). Chat plain and streamed
# through the tunnels, metering, metrics, the tunnel route's bad input, an engine restart and a
# control-plane kill -9: the tunnels come back and serving goes on.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/gateway_lib.sh"
S=$SUANCHI
start_server "$T/data" --heartbeat-timeout 3s
"$S" region add hainan >/dev/null
TOK=$("$S" token create --owner self --uses 2 2>/dev/null)
start_agent nat1 "$T/a-nat" --join "$TOK" --region hainan --devices sim:H100-SXM-80GB:1 --heartbeat 1s \
  --tunnel --tunnels 4
AGENT=$AGENT_PID
check "node ready" wait_for 15 bash -c "[ \"\$('$S' nodes --state ready --json | jq length)\" = 1 ]"
"$S" model synth "$T/tiny.gguf" --arch qwen2 --preset tiny >/dev/null 2>&1
check "model add" "$S" model add tiny --gguf "$T/tiny.gguf"
check "deploy" "$S" deploy natchat --model tiny --chips H100-SXM-80GB
check "replica ready" wait_for 60 bash -c "[ \"\$('$S' replicas --json | jq -r '.[0].state')\" = ready ]"
RID=$("$S" replicas --json | jq -r '.[0].id')
eq "the endpoint is a tunnel" "$("$S" replicas --json | jq -r '.[0].endpoint')" "tunnel://$RID"
contains "the agent says so" "$(cat "$T/agent-nat1.log")" "served through tunnels"

"$S" tenant add acme >/dev/null
KEY=$("$S" key create --tenant acme 2>/dev/null)
r=$(v1 POST /v1/chat/completions '{"model":"natchat","messages":[{"role":"user","content":"hi"}],"max_tokens":5}' "$KEY")
eq "chat through the tunnel" "${r%% *}" "200"
eq "the engine's answer" "$(echo "${r#* }" | jq .usage.completion_tokens)" "5"
r=$(v1 POST /v1/chat/completions '{"model":"natchat","messages":[{"role":"user","content":"hi"}],"max_tokens":6,"stream":true,"stream_options":{"include_usage":true}}' "$KEY")
eq "stream through the tunnel" "${r%% *}" "200"
eq "six tokens streamed" "$(echo "${r#* }" | grep '"usage":{' | sed 's/^data: //' | jq .usage.completion_tokens)" "6"
contains "stream ends" "$r" "data: [DONE]"
# big transfers both ways cross the relay whole: a ~300 KB request (the engine's own 400 comes back)
# and a 1,500-token stream
python3 -c "import json; print(json.dumps({'model':'natchat','messages':[{'role':'user','content':'word '*60000}],'max_tokens':2}))" >"$T/big.json"
r=$(curl -s -w ' %{http_code}' -H "Authorization: Bearer $KEY" "$URL/v1/chat/completions" --data-binary @"$T/big.json")
eq "300 KB request reaches the engine" "${r##* }" "400"
contains "the engine's own error" "$r" "but the prompt has 60007 tokens"
r=$(v1 POST /v1/chat/completions '{"model":"natchat","messages":[{"role":"user","content":"hi"}],"max_tokens":1500,"stream":true,"stream_options":{"include_usage":true}}' "$KEY")
eq "long stream through the tunnel" "$(echo "${r#* }" | grep '"usage":{' | sed 's/^data: //' | jq .usage.completion_tokens)" "1500"
# more requests at once than tunnels: the extra ones wait for a free connection
CURLS=()
for i in $(seq 12); do
  curl -s --max-time 20 -o "$T/par$i" -H "Authorization: Bearer $KEY" "$URL/v1/chat/completions" \
    -d '{"model":"natchat","messages":[{"role":"user","content":"hello"}],"max_tokens":3}' &
  CURLS+=($!)
done
wait "${CURLS[@]}"
n=0; for i in $(seq 12); do [ "$(jq .usage.completion_tokens "$T/par$i" 2>/dev/null)" = 3 ] && n=$((n + 1)); done
eq "12 concurrent requests over 4 tunnels" "$n" "12"
eq "metered on the node behind NAT" "$("$S" usage --json --by chip | jq -r '.rows[0].requests')" "16"
M=$(curl -s "$URL/metrics")
contains "tunnels per replica in metrics" "$M" "suanchi_gateway_replica_tunnels{replica=\"$RID\",model=\"natchat\"} 4"
contains "tunnels counted" "$M" "suanchi_tunnels_total"

# the tunnel route refuses what it must
NODECRED=$(jq -r .credential "$T/a-nat/node.json")
up=(-H "Connection: Upgrade" -H "Upgrade: suanchi-tunnel")
r=$(curl -s -o /dev/null -w '%{http_code}' "${up[@]}" "$URL/api/v1/agent/tunnel?replica=$RID")
eq "no credential 401" "$r" "401"
r=$(curl -s -o /dev/null -w '%{http_code}' "${up[@]}" -H "Authorization: Bearer $ADMIN" "$URL/api/v1/agent/tunnel?replica=$RID")
eq "admin token 403" "$r" "403"
r=$(curl -s -o /dev/null -w '%{http_code}' "${up[@]}" -H "Authorization: Bearer ${NODECRED%?}x" "$URL/api/v1/agent/tunnel?replica=$RID")
eq "wrong node secret 401" "$r" "401"
r=$(curl -s -w ' %{http_code}' -H "Authorization: Bearer $NODECRED" "$URL/api/v1/agent/tunnel?replica=$RID")
eq "no upgrade header 400" "${r##* }" "400"
contains "says what is missing" "$r" "Upgrade: suanchi-tunnel"
r=$(curl -s -w ' %{http_code}' "${up[@]}" -H "Authorization: Bearer $NODECRED" "$URL/api/v1/agent/tunnel?replica=r-nope")
eq "unknown replica 404" "${r##* }" "404"
r=$(curl -s -o /dev/null -w '%{http_code}' "${up[@]}" -H "Authorization: Bearer $NODECRED" "$URL/api/v1/agent/tunnel")
eq "no replica 400" "$r" "400"
r=$(curl -s -o /dev/null -w '%{http_code}' "${up[@]}" -H "Authorization: Bearer $NODECRED" -d 'x' -X GET "$URL/api/v1/agent/tunnel?replica=$RID")
eq "a body is refused 400" "$r" "400"
# a refused tunnel changed nothing: still 4, and serving goes on
contains "still four tunnels" "$(curl -s "$URL/metrics")" "suanchi_gateway_replica_tunnels{replica=\"$RID\",model=\"natchat\"} 4"
r=$(v1 POST /v1/chat/completions '{"model":"natchat","messages":[{"role":"user","content":"hi"}],"max_tokens":2}' "$KEY")
eq "serving after refused tunnels" "${r%% *}" "200"

# the engine dies: the agent restarts it and opens new tunnels
PID=$(pgrep -f "[e]ngine --simulate.*$T/a-nat" | head -1)
kill -9 "$PID"
check "restarted and ready" wait_for 30 bash -c "[ \"\$('$S' replicas --json | jq -r '.[0] | \"\(.state) \(.restarts)\"')\" = 'ready 1' ]"
check "serving again through new tunnels" wait_for 15 bash -c "curl -sf -H 'Authorization: Bearer $KEY' '$URL/v1/chat/completions' -d '{\"model\":\"natchat\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":2}' | jq -e '.usage.completion_tokens == 2'"

# the control plane is killed: the agent dials the new one, the engine is the same process
ENGPID=$(pgrep -f "[e]ngine --simulate.*$T/a-nat" | head -1)
PORT=${URL##*:}
kill -9 "$SERVER_PID"
sleep 1
LISTEN=127.0.0.1:$PORT start_server "$T/data" --heartbeat-timeout 3s
check "serving after a control-plane restart" wait_for 20 bash -c "curl -sf -H 'Authorization: Bearer $KEY' '$URL/v1/chat/completions' -d '{\"model\":\"natchat\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":2}' | jq -e '.usage.completion_tokens == 2'"
eq "the same engine" "$(pgrep -f "[e]ngine --simulate.*$T/a-nat" | head -1)" "$ENGPID"
check "agent still running" kill -0 "$AGENT"
finish
