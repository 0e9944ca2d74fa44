#!/usr/bin/env bash
# Bad input to the REST API: each gets a 4xx JSON error, nothing in the store changes, the
# server goes on.
. "$(dirname "$0")/lib.sh"
S=$SUANCHI
start_server "$T/data" --max-body 4096
"$S" region add hainan >/dev/null
"$S" region add suqian >/dev/null
"$S" owner add qy --pool --share 70 >/dev/null
TOK=$("$S" token create --owner qy --region hainan --uses 5 2>/dev/null)

snapshot() {
  for p in regions owners tokens nodes; do api GET /api/v1/$p | cut -d' ' -f2- | jq -c 'map(del(.last_heartbeat, .devices))'; done
}
BEFORE=$(snapshot)

# expect STATUS CODE METHOD PATH BODY [TOKEN]
expect() {
  local want=$1 code=$2; shift 2
  local r
  r=$(api "$@")
  local got=${r%% *} body=${r#* }
  local body3=${3:-}; local what="$1 $2 ${body3:0:40}"
  eq "$what: status" "$got" "$want"
  eq "$what: error code" "$(echo "$body" | jq -r '.error.code' 2>/dev/null)" "$code"
  [ "$(echo "$body" | jq -r '.error.message | length > 0' 2>/dev/null)" = true ] && ok || fail "no error message: $body"
}
expect 400 invalid_json POST /api/v1/regions '{"name":'
expect 400 invalid_json POST /api/v1/regions '[1,2]'
expect 400 invalid_json POST /api/v1/regions ''
expect 400 invalid_request POST /api/v1/regions '{"name":5}'
expect 400 invalid_request POST /api/v1/regions '{}'
expect 400 invalid_request POST /api/v1/regions '{"name":"x","colour":"red"}'
expect 400 invalid_request POST /api/v1/regions '{"name":"bad name!"}'
expect 400 invalid_request POST /api/v1/regions '{"name":"x","lat":91,"lon":0}'
expect 400 invalid_request POST /api/v1/regions '{"name":"x","lat":10}'
expect 413 body_too_large POST /api/v1/regions "{\"name\":\"$(head -c 5000 /dev/zero | tr '\0' a)\"}"
expect 409 already_exists POST /api/v1/regions '{"name":"hainan"}'
expect 409 already_exists POST /api/v1/owners '{"name":"qy","kind":"pool","share_bp":10}'
expect 400 invalid_request POST /api/v1/owners '{"name":"z","kind":"pool"}'
expect 400 invalid_request POST /api/v1/owners '{"name":"z","kind":"pool","share_bp":10001}'
expect 400 invalid_request POST /api/v1/owners '{"name":"z","kind":"martian"}'
expect 400 invalid_request POST /api/v1/owners '{"name":"z","share_bp":"70"}'
expect 400 unknown_owner POST /api/v1/tokens '{"owner":"nobody"}'
expect 400 unknown_region POST /api/v1/tokens '{"owner":"qy","region":"atlantis"}'
expect 400 invalid_request POST /api/v1/tokens '{"owner":"qy","uses":0}'
expect 400 invalid_request POST /api/v1/tokens '{"owner":"qy","ttl_s":-5}'
expect 404 not_found DELETE /api/v1/tokens/ffffffffffffffff
expect 404 not_found POST /api/v1/nodes/nosuchnode/cordon
expect 404 not_found GET /api/v1/nowhere
# authentication and roles
expect 401 unauthenticated GET /api/v1/regions '' ''
expect 401 unauthenticated GET /api/v1/regions '' 'sca.0000000000000000.0000000000000000000000000000000000000000000000000000000000000000'
expect 401 unauthenticated GET /api/v1/regions '' 'garbage'
expect 403 forbidden GET /api/v1/regions '' "$TOK"
expect 403 forbidden POST /api/v1/agent/heartbeat '{"devices":[]}' "$ADMIN"
expect 403 forbidden POST /api/v1/agent/register '{}' "$ADMIN"
# joining with bad input or bad tokens
DEV='[{"index":0,"vendor":"cpu","chip":"CPU-x86_64","uuid":"u0","memory_mib":1024,"health":"ok"}]'
expect 401 invalid_token POST /api/v1/agent/register "{\"name\":\"n1\",\"region\":\"hainan\",\"devices\":$DEV}" "${TOK%.*}.$(printf '%064d' 0)"
expect 403 wrong_region POST /api/v1/agent/register "{\"name\":\"n1\",\"region\":\"suqian\",\"devices\":$DEV}" "$TOK"
expect 400 unknown_region POST /api/v1/agent/register "{\"name\":\"n1\",\"region\":\"atlantis\",\"devices\":$DEV}" "$TOK"
expect 400 invalid_request POST /api/v1/agent/register "{\"name\":\"n1\",\"region\":\"hainan\"}" "$TOK"
expect 400 invalid_request POST /api/v1/agent/register "{\"name\":\"n1\",\"region\":\"hainan\",\"devices\":[{\"index\":0}]}" "$TOK"
expect 400 invalid_request POST /api/v1/agent/register "{\"name\":\"n1\",\"region\":\"hainan\",\"devices\":[{\"index\":1,\"vendor\":\"cpu\",\"chip\":\"c\",\"uuid\":\"u\",\"memory_mib\":1,\"health\":\"ok\"}]}" "$TOK"
expect 400 invalid_request POST /api/v1/agent/register "{\"name\":\"n1\",\"region\":\"hainan\",\"devices\":[{\"index\":0,\"vendor\":\"cpu\",\"chip\":\"c\",\"uuid\":\"u\",\"memory_mib\":-1,\"health\":\"ok\"}]}" "$TOK"
expect 401 invalid_credential POST /api/v1/agent/heartbeat '{"devices":[]}' "scn.0123456789abcdef.$(printf '%064d' 0)"
eq "store unchanged by bad input" "$(snapshot)" "$BEFORE"
eq "token uses unchanged" "$("$S" token list --json | jq '.[0].uses')" "0"

# expired, used-up and revoked tokens
EXP=$("$S" token create --owner qy --ttl 1s 2>/dev/null)
ONE=$("$S" token create --owner qy --uses 1 2>/dev/null)
REV=$("$S" token create --owner qy 2>/dev/null)
"$S" token revoke "$(echo "$REV" | cut -d. -f2)" >/dev/null
sleep 1.2
expect 401 token_expired POST /api/v1/agent/register "{\"name\":\"n2\",\"region\":\"hainan\",\"devices\":$DEV}" "$EXP"
expect 401 token_revoked POST /api/v1/agent/register "{\"name\":\"n2\",\"region\":\"hainan\",\"devices\":$DEV}" "$REV"
r=$(api POST /api/v1/agent/register "{\"name\":\"n2\",\"region\":\"hainan\",\"devices\":$DEV}" "$ONE")
eq "one-use token works once" "${r%% *}" "201"
expect 401 token_used_up POST /api/v1/agent/register "{\"name\":\"n3\",\"region\":\"hainan\",\"devices\":$DEV}" "$ONE"
expect 409 already_exists POST /api/v1/agent/register "{\"name\":\"n2\",\"region\":\"hainan\",\"devices\":$DEV}" "$TOK"
eq "duplicate node name did not use the token" "$("$S" token list --json | jq --arg id "$(echo "$TOK" | cut -d. -f2)" '.[] | select(.id==$id) | .uses')" "0"
eq "one node registered" "$("$S" nodes --json | jq length)" "1"

# the agent reports a bad token clearly and exits non-zero
"$S" agent --server "$URL" --join "$EXP" --region hainan --devices cpu --state "$T/ag-exp" >"$T/ag-exp.out" 2>&1
eq "agent with expired token exits 1" "$?" "1"
contains "agent says why" "$(cat "$T/ag-exp.out")" "has expired"

contains "server still healthy" "$(curl -s "$URL/healthz")" '"status":"ok"'
finish
