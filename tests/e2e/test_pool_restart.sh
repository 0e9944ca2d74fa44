#!/usr/bin/env bash
# kill -9 of the control plane and a restart: regions, owners, tokens and nodes are intact,
# agents keep running through the outage and reconnect by themselves, nothing is marked down.
. "$(dirname "$0")/lib.sh"
S=$SUANCHI
start_server "$T/data" --heartbeat-timeout 3s
"$S" region add dallas --lat 32.8 --lon -96.8 >/dev/null
"$S" owner add lender --pool --share 65.5 >/dev/null
TOK=$("$S" token create --owner lender --uses 4 2>/dev/null)
start_agent d1 "$T/a1" --join "$TOK" --region dallas --devices sim:H20-96GB:8 --heartbeat 1s
A1=$AGENT_PID
start_agent d2 "$T/a2" --join "$TOK" --region dallas --devices sim:L40S-48GB:4 --heartbeat 1s
A2=$AGENT_PID
check "both ready" wait_for 15 bash -c "[ \"\$('$S' nodes --state ready --json | jq length)\" = 2 ]"
BEFORE=$(for p in regions owners tokens; do "$S" $p --json; done; "$S" nodes --json | jq -c 'map(del(.last_heartbeat, .devices[].memory_used_mib, .devices[].utilization_pct, .state, .alive))')
PORT=${URL##*:}

kill -9 "$SERVER_PID"
sleep 2.5   # agents notice and back off
check "agents survive the outage" kill -0 "$A1"
check "agents survive the outage (2)" kill -0 "$A2"
LISTEN=127.0.0.1:$PORT start_server "$T/data" --heartbeat-timeout 3s
AFTER=$(for p in regions owners tokens; do "$S" $p --json; done; "$S" nodes --json | jq -c 'map(del(.last_heartbeat, .devices[].memory_used_mib, .devices[].utilization_pct, .state, .alive))')
eq "state intact after kill -9" "$AFTER" "$BEFORE" || { echo "$BEFORE" > "${DIFFDIR:-/dev/null}/before"; echo "$AFTER" > "${DIFFDIR:-/dev/null}/after"; }
eq "admin token unchanged" "$(cat "$T/data/admin.token")" "$ADMIN"
check "agents reconnect" wait_for 10 bash -c "[ \"\$('$S' nodes --state ready --json | jq length)\" = 2 ]"
T0=$(node_field d1 last_heartbeat)
sleep 1.5
check "heartbeats flow again" test "$(node_field d1 last_heartbeat)" -gt "$T0"
# nothing was marked down during or after the outage
check "never marked down" bash -c "! grep -q 'is down' '$T/server.log'"
contains "agent logged the outage" "$(cat "$T/agent-d1.log")" "retrying with backoff"
contains "agent logged the recovery" "$(cat "$T/agent-d1.log")" "reachable again"
eq "pool share kept in basis points" "$("$S" owners --json | jq '.[] | select(.name=="lender") | .share_bp')" "6550"
finish
