#!/usr/bin/env bash
# End-to-end: the gateway with real simulated engines behind external endpoints — tenants and
# keys (CLI), /v1/models, plain and streamed chat and completions, routing preference (home
# region, X-Suanchi-Region, prefix affinity), retry past a dead replica, every error the
# gateway answers itself, and the usage records matching what the clients were told.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/gateway_lib.sh"

D=$T/data
start_server "$D" --max-body 8192
"$SUANCHI" region add eu >/dev/null && "$SUANCHI" region add us >/dev/null && "$SUANCHI" region add ap >/dev/null

# ---- tenants and keys ----
out=$("$SUANCHI" tenant add acme --region eu) && ok || fail "tenant add"
contains "tenant add" "$out" "tenant acme added (home region eu)"
"$SUANCHI" tenant add beta >/dev/null || fail "tenant add beta"
err=$("$SUANCHI" tenant add acme 2>&1) && fail "duplicate tenant accepted"
contains "duplicate tenant" "$err" "tenant 'acme' already exists"
err=$("$SUANCHI" tenant add gamma --region mars 2>&1) && fail "unknown region accepted"
contains "tenant unknown region" "$err" "unknown region 'mars'"
err=$("$SUANCHI" tenant add 'bad name' 2>&1) && fail "bad tenant name accepted"
contains "bad tenant name" "$err" "must be 1-63 letters"
err=$("$SUANCHI" key create --tenant nobody 2>&1) && fail "key for unknown tenant"
contains "key unknown tenant" "$err" "unknown tenant 'nobody'"
err=$("$SUANCHI" key create 2>&1) && fail "key without tenant"
contains "key without tenant" "$err" "--tenant is required"
err=$("$SUANCHI" key create --tenant acme --rpm 0 2>&1) && fail "rpm 0 accepted"
contains "rpm 0" "$err" "rpm"

"$SUANCHI" key create --tenant acme >"$T/k1.out" 2>"$T/k1.err" || fail "key create"
KEY=$(head -1 "$T/k1.out")
eq "key output is the secret alone" "$(wc -l <"$T/k1.out" | tr -d ' ')" "1"
[[ "$KEY" =~ ^sck\.[0-9a-f]{16}\.[0-9a-f]{64}$ ]] && ok || fail "key format: $KEY"
contains "key note" "$(cat "$T/k1.err")" "shown only once"
KID=$(cut -d. -f2 <<<"$KEY")
KEYB=$("$SUANCHI" key create --tenant beta 2>/dev/null)
KEYRL=$("$SUANCHI" key create --tenant beta --rpm 2 2>/dev/null)
contains "keys list" "$("$SUANCHI" keys)" "$KID"
eq "keys --tenant" "$("$SUANCHI" keys --tenant acme --json | jq length)" "1"
eq "key region from tenant" "$("$SUANCHI" keys --json | jq -r ".[] | select(.id == \"$KID\") | .region")" "eu"
contains "tenants" "$("$SUANCHI" tenants)" "acme"
! grep -rq "${KEY##*.}" "$D"/suanchi.db* && ok || fail "the secret is stored in clear"

# ---- engines behind external endpoints ----
start_engine eu m1; EU=$ENG_URL
start_engine us m1; US=$ENG_URL
"$SUANCHI" endpoint add m1-eu --model m1 --url "$EU" --region eu --chip H100-SXM-80GB >/dev/null || fail "endpoint add"
"$SUANCHI" endpoint add m1-us --model m1 --url "$US" --region us --chip H100-SXM-80GB >/dev/null || fail "endpoint add"
"$SUANCHI" endpoint add alias --model friendly --url "$US" --region us --upstream-model m1 >/dev/null || fail "endpoint alias"
"$SUANCHI" endpoint add m1-dead --model m1 --url http://127.0.0.1:1 --region ap >/dev/null || fail "endpoint dead"
"$SUANCHI" endpoint add gone --model m9 --url http://127.0.0.1:1 --region ap >/dev/null || fail "endpoint m9"
err=$("$SUANCHI" endpoint add x --model m1 --url https://example.com 2>&1) && fail "https endpoint accepted"
contains "endpoint bad url" "$err" "must be http://HOST:PORT"
err=$("$SUANCHI" endpoint add x --model m1 --url "$EU" --region mars 2>&1) && fail "endpoint unknown region"
contains "endpoint unknown region" "$err" "unknown region 'mars'"
err=$("$SUANCHI" endpoint remove nope 2>&1) && fail "remove unknown endpoint"
contains "endpoint remove unknown" "$err" "no endpoint 'nope'"
eq "endpoints" "$("$SUANCHI" endpoints --json | jq length)" "5"

# ---- /v1/models ----
r=$(v1 GET /v1/models "" "$KEY")
eq "models status" "${r%% *}" "200"
eq "models ids" "$(jq -c '[.data[].id] | sort' <<<"${r#* }")" '["friendly","m1","m9"]'

# ---- errors the gateway answers itself ----
CHAT='{"model":"m1","messages":[{"role":"user","content":"hello"}],"max_tokens":5}'
r=$(v1 POST /v1/chat/completions "$CHAT" "")
eq "no key" "${r%% *}" "401"
eq "no key code" "$(jq -r .error.code <<<"${r#* }")" "invalid_api_key"
r=$(v1 POST /v1/chat/completions "$CHAT" "sck.0123456789abcdef.00")
eq "bad key" "${r%% *}" "401"
r=$(v1 POST /v1/chat/completions "$CHAT" "$ADMIN")
eq "admin token is not an API key" "${r%% *}" "401"
r=$(v1 POST /v1/chat/completions '{"model":"nope","messages":[{"role":"user","content":"x"}]}' "$KEY")
eq "unknown model" "${r%% *}" "404"
eq "unknown model code" "$(jq -r .error.code <<<"${r#* }")" "model_not_found"
contains "unknown model message" "${r#* }" "'nope'"
r=$(v1 POST /v1/chat/completions '{"model":"m1","messages":[' "$KEY")
eq "malformed body" "${r%% *}" "400"
eq "malformed body code" "$(jq -r .error.code <<<"${r#* }")" "invalid_json"
r=$(v1 POST /v1/chat/completions '{"model":"m1"}' "$KEY")
eq "no messages" "${r%% *}" "400"
eq "no messages param" "$(jq -r .error.param <<<"${r#* }")" "messages"
r=$(v1 POST /v1/completions '{"model":"m1","prompt":{}}' "$KEY")
eq "bad prompt" "${r%% *}" "400"
r=$(v1 POST /v1/chat/completions '{"model":"m1","messages":[{"role":"user","content":"x"}],"max_tokens":1000000000}' "$KEY")
eq "absurd max_tokens" "${r%% *}" "400"
contains "absurd max_tokens message" "${r#* }" "'max_tokens' must be between 1 and"
r=$(v1 POST /v1/chat/completions '{"model":"m1","messages":[{"role":"user","content":"x"}],"max_tokens":0}' "$KEY")
eq "zero max_tokens" "${r%% *}" "400"
r=$(v1 POST /v1/chat/completions '{"model":"m1","messages":[{"role":"user","content":"x"}],"stream":"yes"}' "$KEY")
eq "bad stream" "${r%% *}" "400"
big=$(head -c 9000 /dev/zero | tr '\0' a)
r=$(v1 POST /v1/chat/completions "{\"model\":\"m1\",\"messages\":[{\"role\":\"user\",\"content\":\"$big\"}]}" "$KEY")
eq "oversized body" "${r%% *}" "413"
eq "oversized code" "$(jq -r .error.code <<<"${r#* }")" "request_too_large"
r=$(v1 GET /v1/chat/completions "" "$KEY")
eq "wrong method" "${r%% *}" "405"
r=$(v1 GET /v1/nothing "" "$KEY")
eq "unknown route" "${r%% *}" "404"
r=$(v1 POST /v1/chat/completions '{"model":"m9","messages":[{"role":"user","content":"x"}]}' "$KEY")
eq "only dead replicas" "${r%% *}" "502"
eq "only dead replicas code" "$(jq -r .error.code <<<"${r#* }")" "upstream_unavailable"
eq "no usage recorded for errors" "$(usage_sum requests)" "0"

# rpm 2: the third request in a minute is refused with Retry-After
v1 POST /v1/chat/completions "$CHAT" "$KEYRL" >/dev/null
v1 POST /v1/chat/completions "$CHAT" "$KEYRL" >/dev/null
r=$(v1 POST /v1/chat/completions "$CHAT" "$KEYRL")
eq "rpm limit" "${r%% *}" "429"
eq "rpm code" "$(jq -r .error.code <<<"${r#* }")" "rate_limit_exceeded"
ra=$(header Retry-After)
[[ "$ra" =~ ^[0-9]+$ ]] && [ "$ra" -ge 1 ] && [ "$ra" -le 31 ] && ok || fail "Retry-After: '$ra'"

# tpm 10: one request of ~13 tokens empties the token bucket; the next waits
KEYTPM=$("$SUANCHI" key create --tenant beta --tpm 10 2>/dev/null)
r=$(v1 POST /v1/chat/completions "$CHAT" "$KEYTPM")
eq "tpm first request" "${r%% *}" "200"
r=$(v1 POST /v1/chat/completions "$CHAT" "$KEYTPM")
eq "tpm limit" "${r%% *}" "429"
contains "tpm message" "${r#* }" "token limit of this key reached (10 per minute)"
[[ "$(header Retry-After)" =~ ^[0-9]+$ ]] && ok || fail "tpm Retry-After"

# ---- plain answers, routing ----
r=$(v1 POST /v1/chat/completions "$CHAT" "$KEY")
eq "chat status" "${r%% *}" "200"
eq "chat object" "$(jq -r .object <<<"${r#* }")" "chat.completion"
eq "chat usage" "$(jq -r .usage.completion_tokens <<<"${r#* }")" "5"
eq "home region eu" "$(header X-Suanchi-Replica)" "ep-m1-eu"
[[ "$(header X-Request-Id)" =~ ^req-[0-9a-f]{16}$ ]] && ok || fail "request id header"
r=$(v1 POST /v1/chat/completions "$CHAT" "$KEY" -H 'X-Suanchi-Region: us')
eq "region header" "$(header X-Suanchi-Replica)" "ep-m1-us"
r=$(v1 POST /v1/completions '{"model":"friendly","prompt":"Hello","max_tokens":3}' "$KEY")
eq "alias model" "${r%% *}" "200"
eq "alias object" "$(jq -r .object <<<"${r#* }")" "text_completion"
# the dead replica in ap is tried first, then another one answers
r=$(v1 POST /v1/chat/completions "$CHAT" "$KEY" -H 'X-Suanchi-Region: ap')
eq "retry past a dead replica" "${r%% *}" "200"
[[ "$(header X-Suanchi-Replica)" == ep-m1-eu || "$(header X-Suanchi-Replica)" == ep-m1-us ]] && ok || fail "retried replica"
# prefix affinity (tenant beta has no home region): same prompt -> same replica; many -> both
declare -A seen=()
for i in 1 2 3 4 5; do
  v1 POST /v1/chat/completions '{"model":"m1","messages":[{"role":"user","content":"same prefix"}],"max_tokens":1}' "$KEYB" >/dev/null
  seen[$(header X-Suanchi-Replica)]=1
done
eq "affinity: one replica" "${#seen[@]}" "1"
seen=()
for i in $(seq 1 16); do
  v1 POST /v1/chat/completions "{\"model\":\"m1\",\"messages\":[{\"role\":\"user\",\"content\":\"prompt $i\"}],\"max_tokens\":1}" "$KEYB" >/dev/null
  seen[$(header X-Suanchi-Replica)]=1
done
[ "${#seen[@]}" -ge 2 ] && ok || fail "distinct prompts spread over replicas: ${!seen[*]}"

# ---- streams ----
curl -sN --max-time 30 "$URL/v1/chat/completions" -H "Authorization: Bearer $KEY" \
  -d '{"model":"m1","messages":[{"role":"user","content":"hi"}],"max_tokens":4,"stream":true}' >"$T/s1"
eq "stream ends with DONE" "$(grep -c '^data: \[DONE\]' "$T/s1")" "1"
eq "no usage when not asked" "$(grep -c usage "$T/s1")" "0"
[ "$(grep -c 'chat.completion.chunk' "$T/s1")" -ge 3 ] && ok || fail "stream chunks: $(cat "$T/s1")"
curl -sN --max-time 30 "$URL/v1/chat/completions" -H "Authorization: Bearer $KEY" \
  -d '{"model":"m1","messages":[{"role":"user","content":"hi"}],"max_tokens":4,"stream":true,"stream_options":{"include_usage":true}}' >"$T/s2"
eq "usage when asked" "$(grep '"choices":\[\]' "$T/s2" | sed 's/^data: //' | jq .usage.completion_tokens)" "4"
eq "usage event before DONE" "$(grep '^data:' "$T/s2" | tail -2 | head -1 | sed 's/^data: //' | jq -c .choices)" "[]"
curl -sN --max-time 30 "$URL/v1/completions" -H "Authorization: Bearer $KEY" \
  -d '{"model":"m1","prompt":"hi","max_tokens":3,"stream":true}' >"$T/s3"
[ "$(grep -c '"text_completion"' "$T/s3")" -ge 2 ] && ok || fail "completion stream: $(cat "$T/s3")"

# ---- usage: one record per request that reached an engine, tokens from the engines ----
# acme: chat, region header, alias, retry, 2 streams + completion stream = 7; beta: 2 (rpm) + 1 (tpm) + 21
eq "acme requests" "$("$SUANCHI" usage --tenant acme --json | jq '.rows[0].requests')" "7"
eq "beta requests" "$("$SUANCHI" usage --tenant beta --json | jq '.rows[0].requests')" "24"
eq "acme completion tokens" "$("$SUANCHI" usage --tenant acme --json | jq '.rows[0].completion_tokens')" "$((5 + 5 + 3 + 5 + 4 + 4 + 3))"
eq "by region" "$("$SUANCHI" usage --tenant acme --by region --json | jq -c '[.rows[].group]')" '["eu","us"]'
contains "by chip table" "$("$SUANCHI" usage --by chip)" "H100-SXM-80GB"
eq "by model" "$("$SUANCHI" usage --by model --json | jq -c '[.rows[].group]')" '["friendly","m1"]'
eq "by owner" "$("$SUANCHI" usage --by owner --json | jq -r '.rows[0].group')" "external"
eq "by day" "$("$SUANCHI" usage --by day --json | jq -r '.rows[0].group')" "$(date -u +%Y-%m-%d)"
eq "usage --since today" "$("$SUANCHI" usage --tenant acme --since "$(date -u +%Y-%m-%d)" --json | jq '.rows[0].requests')" "7"
eq "usage --since 1h" "$("$SUANCHI" usage --tenant acme --since 1h --json | jq '.rows[0].requests')" "7"
eq "usage --until today" "$("$SUANCHI" usage --until "$(date -u +%Y-%m-%d)" --json | jq '.rows | length')" "0"
err=$("$SUANCHI" usage --since yesterday 2>&1) && fail "usage --since yesterday"
contains "usage bad since" "$err" "--since 'yesterday' is neither a UTC date"
err=$("$SUANCHI" usage --by color 2>&1) && fail "usage --by color"
contains "usage bad by" "$err" "--by 'color'"
eq "usage api bad by" "$(api GET '/api/v1/usage?by=color' | cut -d' ' -f1)" "400"

# ---- revoke ----
"$SUANCHI" key revoke "$KID" >/dev/null || fail "revoke"
r=$(v1 POST /v1/chat/completions "$CHAT" "$KEY")
eq "revoked key" "${r%% *}" "401"
contains "revoked message" "${r#* }" "revoked"
err=$("$SUANCHI" key revoke nosuchkey 2>&1) && fail "revoke unknown"
contains "revoke unknown" "$err" "no API key"
eq "admin routes need admin" "$(api GET /api/v1/tenants "" "$KEYB" | cut -d' ' -f1)" "401"

# ---- restart: tenants, keys, endpoints persist ----
kill -TERM "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null
start_server "$D" --max-body 8192
eq "endpoints after restart" "$("$SUANCHI" endpoints --json | jq length)" "5"
r=$(v1 POST /v1/chat/completions "$CHAT" "$KEYB")
eq "key after restart" "${r%% *}" "200"
r=$(v1 POST /v1/chat/completions "$CHAT" "$KEY")
eq "revoked after restart" "${r%% *}" "401"
"$SUANCHI" endpoint remove alias >/dev/null || fail "endpoint remove"
r=$(v1 POST /v1/completions '{"model":"friendly","prompt":"Hello","max_tokens":3}' "$KEYB")
eq "removed endpoint" "${r%% *}" "404"

echo "test_gateway_basics: $CHECKS checks, $FAILS failures"
[ "$FAILS" -eq 0 ]
