#!/usr/bin/env bash
# `suanchi place --dry-run` against a live pool: where a request would go, the top candidates
# and their scores, counted rejection reasons, and requests that can never fit.
. "$(dirname "$0")/lib.sh"
S=$SUANCHI
start_server "$T/data" --heartbeat-timeout 3s
"$S" region add hainan >/dev/null
"$S" region add dallas >/dev/null
"$S" owner add lender --pool --share 70 >/dev/null
OWN=$("$S" token create --owner self --uses 5 2>/dev/null)
POOL=$("$S" token create --owner lender --uses 5 2>/dev/null)
start_agent h100 "$T/a1" --join "$OWN" --region hainan --devices sim:H100-SXM-80GB:8 --heartbeat 1s
start_agent l40s "$T/a2" --join "$OWN" --region dallas --devices sim:L40S-48GB:4 --heartbeat 1s
start_agent pool4090 "$T/a3" --join "$POOL" --region dallas --devices sim:RTX4090-24GB:4 --heartbeat 1s
check "three nodes ready" wait_for 15 bash -c "[ \"\$('$S' nodes --state ready --json | jq length)\" = 3 ]"

J=$("$S" place --dry-run --gpus 2 --region dallas --strict-region --json)
eq "strict region goes to dallas own node" "$(echo "$J" | jq -r .node)" "l40s"
eq "two devices" "$(echo "$J" | jq -c .devices)" "[0,1]"
eq "one feasible node (pool excluded)" "$(echo "$J" | jq .feasible_nodes)" "1"
check "candidates carry scores" test "$(echo "$J" | jq '.candidates[0].score | type == "number"')" = true
J=$("$S" place --dry-run --gpus 1 --gpu-mem 60 --json)
eq "60 GiB only fits the H100s" "$(echo "$J" | jq -r .node)" "h100"
J=$("$S" place --dry-run --gpus 1 --gpu-milli 300 --chips RTX4090-24GB --pool-ok --json)
eq "fraction on the pool node when allowed" "$(echo "$J" | jq -r .node)" "pool4090"
eq "fraction milli" "$(echo "$J" | jq .gpu_milli)" "300"

"$S" place --dry-run --gpus 1 --chips RTX4090-24GB >"$T/out" 2>&1
eq "pool node not allowed: exit 1" "$?" "1"
contains "says why" "$(cat "$T/out")" "open-pool node not allowed"
"$S" place --dry-run --gpus 8 --gpu-mem 100 --json >"$T/out"
eq "never fits" "$(jq .never "$T/out")" "true"
contains "never explained" "$(jq -r .why "$T/out")" "can never fit"
OUT=$("$S" place --dry-run --gpus 4)
contains "table names the node" "$OUT" "would place on"
contains "table has candidates" "$OUT" "CANDIDATE"

"$S" node cordon h100 >/dev/null
J=$("$S" place --dry-run --gpus 1 --gpu-mem 60 --json)
eq "cordoned node takes nothing" "$(echo "$J" | jq .placed)" "false"
"$S" place --dry-run --gpus 9 >"$T/out" 2>&1; eq "9 devices is a usage error" "$?" "2"
"$S" place --gpus 1 >"$T/out" 2>&1; eq "without --dry-run" "$?" "2"
r=$(api POST /api/v1/place '{"dry_run":false,"gpus":1}')
eq "only dry runs 400" "${r%% *}" "400"
contains "only dry runs says why" "$r" "only dry runs are supported"
r=$(api POST /api/v1/place '{"dry_run":true,"policy":"magic"}')
eq "unknown policy 400" "${r%% *}" "400"
r=$(api POST /api/v1/place '{"dry_run":true,"gpus":2,"gpu_milli":500}')
eq "fraction of several devices 400" "${r%% *}" "400"
finish
