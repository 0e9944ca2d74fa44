#!/usr/bin/env bash
# Node lifecycle: join, ready, down when the agent dies, ready again (same id) when it comes
# back with its state dir, cordon/uncordon/drain, delete (credential revoked, agent stops).
. "$(dirname "$0")/lib.sh"
S=$SUANCHI
start_server "$T/data" --heartbeat-timeout 2s
"$S" region add mentougou >/dev/null
TOK=$("$S" token create --owner self --uses 2 2>/dev/null)

start_agent box1 "$T/a1" --join "$TOK" --region mentougou --devices cpu,sim:Ascend-910B-64GB:2 --heartbeat 1s
check "joined and ready" wait_for 15 bash -c "[ \"\$('$S' nodes --json | jq -r '.[0].state')\" = ready ]"
ID=$(node_field box1 id)
eq "owner kind self" "$(node_field box1 owner_kind)" "self"
eq "cpu + 2 Ascend devices" "$("$S" nodes --json | jq -c '[.[0].devices[] | .vendor]')" '["cpu","huawei","huawei"]'
HB1=$(node_field box1 last_heartbeat)
sleep 1.5
check "heartbeats advance" test "$(node_field box1 last_heartbeat)" -gt "$HB1"

# agent killed: down within the heartbeat timeout
kill -9 "$AGENT_PID"
check "down after timeout" wait_for 6 bash -c "[ \"\$('$S' nodes --json | jq -r '.[0].state')\" = down ]"
contains "metrics down" "$(curl -s "$URL/metrics")" 'suanchi_nodes{state="down"} 1'

# restarted with the same state dir: same node id, ready again, no new token use
start_agent box1 "$T/a1" --devices cpu,sim:Ascend-910B-64GB:2 --heartbeat 1s
check "ready again" wait_for 10 bash -c "[ \"\$('$S' nodes --json | jq -r '.[0].state')\" = ready ]"
eq "same node id" "$(node_field box1 id)" "$ID"
eq "still one node" "$("$S" nodes --json | jq length)" "1"
eq "token used once" "$("$S" token list --json | jq '.[0].uses')" "1"
eq "simulated uuids stable across restarts" "$("$S" nodes --json | jq -r '.[0].devices[1].uuid')" "$(jq -r .node_id "$T/a1/node.json" >/dev/null; "$S" devices --json | jq -r '.[1].uuid')"

# the device set changed on the host: the next heartbeat updates it
kill -TERM "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null
start_agent box1 "$T/a1" --devices cpu,sim:Ascend-910B-64GB:4 --heartbeat 1s
check "device set updated" wait_for 10 bash -c "[ \"\$('$S' nodes --json | jq '.[0].devices | length')\" = 5 ]"

# cordon / drain / uncordon
out=$("$S" node cordon "$ID"); contains "cordon says" "$out" "cordoned"
eq "cordoned" "$(node_field box1 state)" "cordoned"
check "cordon by name" "$S" node drain box1
eq "draining" "$(node_field box1 state)" "draining"
check "uncordon" "$S" node uncordon "$ID"
eq "ready after uncordon" "$(node_field box1 state)" "ready"
"$S" node cordon nosuch >/dev/null 2>"$T/err"; eq "unknown node exit" "$?" "1"
contains "unknown node message" "$(cat "$T/err")" "no node 'nosuch'"

# delete: the credential is revoked and the agent stops with a clear error
check "delete" "$S" node delete "$ID"
eq "no nodes" "$("$S" nodes --json | jq length)" "0"
check "agent exits after delete" wait_for 10 bash -c "! kill -0 $AGENT_PID 2>/dev/null"
contains "agent says deleted" "$(cat "$T/agent-box1.log")" "the node was deleted"

# a second node with the second use of the token
start_agent box2 "$T/a2" --join "$TOK" --region mentougou --devices cpu --heartbeat 1s
check "second node ready" wait_for 10 bash -c "[ \"\$('$S' nodes --json | jq -r '.[0].name')\" = box2 ]"
finish
