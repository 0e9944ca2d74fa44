#!/usr/bin/env bash
# Regions, owners, join tokens and nodes through the CLI, as an operator uses them.
. "$(dirname "$0")/lib.sh"
S=$SUANCHI
start_server "$T/data"

eq "admin token file mode" "$(stat -c %a "$T/data/admin.token")" "600"
contains "healthz" "$(curl -s "$URL/healthz")" '"status":"ok"'

check "region add" "$S" region add hainan --lat 19.2 --lon 109.7
check "region add without location" "$S" region add dallas
eq "regions json" "$("$S" regions --json | jq -c '[.[] | .name]')" '["dallas","hainan"]'
eq "region lat" "$("$S" regions --json | jq '.[] | select(.name=="hainan") | .lat')" "19.2"

check "pool owner add" "$S" owner add qingyang-co --pool --share 70
eq "share in basis points" "$("$S" owners --json | jq '.[] | select(.name=="qingyang-co") | .share_bp')" "7000"
eq "self owner exists" "$("$S" owners --json | jq -r '.[] | select(.name=="self") | .kind')" "self"
contains "owners table" "$("$S" owners)" "70.00%"

# the secret alone on the first line of stdout, shown once, stored hashed
"$S" token create --owner qingyang-co --region hainan --ttl 2h --uses 3 >"$T/tok.out" 2>"$T/tok.err"
eq "token create exit" "$?" "0"
eq "token stdout is one line" "$(wc -l <"$T/tok.out")" "1"
TOK=$(head -1 "$T/tok.out")
check "token looks like a join token" grep -Eq '^scj\.[0-9a-f]{16}\.[0-9a-f]{64}$' "$T/tok.out"
TID=$(echo "$TOK" | cut -d. -f2)
eq "token listed" "$("$S" token list --json | jq -r '.[0].id')" "$TID"
eq "token uses" "$("$S" token list --json | jq -r '.[0].max_uses')" "3"
check "token secret not in list" bash -c "! '$S' token list --json | grep -q '${TOK##*.}'"
check "secret not stored in clear" bash -c "! grep -qa '${TOK##*.}' '$T/data/suanchi.db'"

# a node joins with it and shows up with the documented JSON shape
start_agent gpu-a "$T/agent-a" --join "$TOK" --region hainan --devices sim:H100-SXM-80GB:8 --heartbeat 1s
check "node ready" wait_for 15 bash -c "[ \"\$('$S' nodes --json | jq -r '.[0].state')\" = ready ]"
N=$("$S" nodes --json)
eq "nodes json keys" "$(echo "$N" | jq -c '.[0] | [has("id","name","region","owner","owner_kind","state","last_heartbeat","devices")] | all')" "true"
eq "node region" "$(echo "$N" | jq -r '.[0].region')" "hainan"
eq "node owner" "$(echo "$N" | jq -r '.[0].owner')" "qingyang-co"
eq "node owner_kind" "$(echo "$N" | jq -r '.[0].owner_kind')" "pool"
eq "device count" "$(echo "$N" | jq '.[0].devices | length')" "8"
eq "device keys" "$(echo "$N" | jq -c '.[0].devices[3] | [.index, .vendor, .chip, .memory_mib, .health]')" '[3,"nvidia","H100-SXM-80GB",81920,"ok"]'
eq "credential file mode" "$(stat -c %a "$T/agent-a/node.json")" "600"
eq "token use counted" "$("$S" token list --json | jq -r '.[0].uses')" "1"
contains "nodes table" "$("$S" nodes)" "8x H100-SXM-80GB"
eq "devices json" "$("$S" devices --json | jq -r '[.[] | .chip] | unique | .[0]')" "H100-SXM-80GB"
check "nodes filter by region" bash -c "[ \"\$('$S' nodes --region dallas --json | jq length)\" = 0 ]"
check "nodes filter by owner" bash -c "[ \"\$('$S' nodes --owner qingyang-co --json | jq length)\" = 1 ]"

# revoke: the token stops working
check "token revoke" "$S" token revoke "$TID"
eq "token revoked" "$("$S" token list --json | jq -r '.[0].status')" "revoked"

# metrics in Prometheus text format
M=$(curl -s "$URL/metrics")
contains "metrics nodes" "$M" 'suanchi_nodes{state="ready"} 1'
contains "metrics devices" "$M" 'suanchi_devices{vendor="nvidia",chip="H100-SXM-80GB",health="ok"} 8'
contains "metrics heartbeats" "$M" "suanchi_heartbeats_total"
contains "metrics histogram" "$M" 'suanchi_api_request_duration_seconds_bucket{le="+Inf"}'

# the credential can also come from --data DIR
check "--data reads admin.token" env -u SUANCHI_TOKEN "$S" regions --data "$T/data"
finish
