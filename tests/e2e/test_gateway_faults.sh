#!/usr/bin/env bash
# End-to-end: metering under concurrency and faults. Many concurrent plain and streamed requests
# give exactly one usage record each, with the engines' token counts; engines killed (-9) in the
# middle of streams give each client an error event and [DONE], and each stream one record with
# the tokens it produced; afterwards the dead replica gets no traffic and no records.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/gateway_lib.sh"

D=$T/data
start_server "$D"
"$SUANCHI" tenant add t1 >/dev/null || fail "tenant"
KEY=$("$SUANCHI" key create --tenant t1 2>/dev/null)
start_engine a m1; "$SUANCHI" endpoint add a --model m1 --url "$ENG_URL" >/dev/null
start_engine b m1; "$SUANCHI" endpoint add b --model m1 --url "$ENG_URL" >/dev/null

# ---- concurrency: N requests, N records, same token totals as the clients saw ----
N=200
mkdir -p "$T/c"
one() {
  local i=$1
  if (( i % 2 )); then
    curl -sN --max-time 60 "$URL/v1/chat/completions" -H "Authorization: Bearer $KEY" \
      -d "{\"model\":\"m1\",\"messages\":[{\"role\":\"user\",\"content\":\"req $i\"}],\"max_tokens\":$((i % 7 + 1)),\"stream\":true,\"stream_options\":{\"include_usage\":true}}" \
      | grep '"choices":\[\]' | sed 's/^data: //' | jq .usage.completion_tokens >"$T/c/$i"
  else
    curl -s --max-time 60 "$URL/v1/completions" -H "Authorization: Bearer $KEY" \
      -d "{\"model\":\"m1\",\"prompt\":\"req $i\",\"max_tokens\":$((i % 5 + 1))}" | jq .usage.completion_tokens >"$T/c/$i"
  fi
}
export -f one
export URL KEY T
seq 1 $N | xargs -P 40 -I{} bash -c 'one {}'
got=$(cat "$T"/c/* | grep -c '^[0-9]')
eq "every client got its usage" "$got" "$N"
want=$(cat "$T"/c/* | paste -sd+ | bc)
eq "records" "$(usage_sum requests)" "$N"
eq "completion tokens metered = told to clients" "$(usage_sum completion_tokens)" "$want"
eq "no failed records" "$(usage_sum failed)" "0"
eq "one record per request id" "$(sqlite3 "$D/suanchi.db" 'SELECT COUNT(DISTINCT request_id) FROM usage')" "$N"

# ---- engine killed mid-stream ----
start_engine slow slowm 1
SLOW_PID=$ENG_PID
"$SUANCHI" endpoint add slow --model slowm --url "$ENG_URL" --region eu >/dev/null 2>&1 || \
  { "$SUANCHI" region add eu >/dev/null; "$SUANCHI" endpoint add slow --model slowm --url "$ENG_URL" --region eu >/dev/null; }
S=12
spids=()
for i in $(seq 1 $S); do
  curl -sN --max-time 60 "$URL/v1/chat/completions" -H "Authorization: Bearer $KEY" \
    -d "{\"model\":\"slowm\",\"messages\":[{\"role\":\"user\",\"content\":\"long $i\"}],\"max_tokens\":3000,\"stream\":true}" >"$T/k$i" &
  spids+=($!)
done
wait_for 20 bash -c "[ \$(cat $T/k* | grep -c '\"content\":\"[^\"]') -ge $((S * 5)) ]" || fail "streams did not start"
kill -KILL "$SLOW_PID"
for p in "${spids[@]}"; do wait "$p"; done
errs=0; dones=0; seen=0
for i in $(seq 1 $S); do
  grep -q '"code":"upstream_failed"' "$T/k$i" && errs=$((errs + 1))
  [ "$(grep '^data:' "$T/k$i" | tail -1)" == "data: [DONE]" ] && dones=$((dones + 1))
  seen=$((seen + $(grep -c '"content":"[^"]' "$T/k$i")))
done
eq "every killed stream got an error event" "$errs" "$S"
eq "every killed stream ended with [DONE]" "$dones" "$S"
eq "killed streams: one record each" "$("$SUANCHI" usage --by model --json | jq '.rows[] | select(.group == "slowm") | .requests')" "$S"
eq "killed streams: all failed" "$("$SUANCHI" usage --by model --json | jq '.rows[] | select(.group == "slowm") | .failed')" "$S"
eq "killed streams: produced tokens metered" \
  "$("$SUANCHI" usage --by model --json | jq '.rows[] | select(.group == "slowm") | .completion_tokens')" "$seen"
[ "$seen" -gt 0 ] && ok || fail "no tokens before the kill"

# the dead replica: no answer, no record, no lost records elsewhere
r=$(v1 POST /v1/chat/completions '{"model":"slowm","messages":[{"role":"user","content":"x"}]}' "$KEY")
eq "dead replica" "${r%% *}" "502"
eq "no record for a request that reached no engine" "$(usage_sum requests)" "$((N + S))"

# a client that leaves mid-stream: its record says so
start_engine slow2 slowm2 1
"$SUANCHI" endpoint add slow2 --model slowm2 --url "$ENG_URL" >/dev/null
curl -sN --max-time 1 "$URL/v1/chat/completions" -H "Authorization: Bearer $KEY" \
  -d '{"model":"slowm2","messages":[{"role":"user","content":"bye"}],"max_tokens":3000,"stream":true}' >"$T/gone" 2>/dev/null
wait_for 10 bash -c "[ \"\$(\"$SUANCHI\" usage --by status --json | jq -r '[.rows[].group] | index(\"client_gone\")')\" != null ]" \
  && ok || fail "client_gone record: $("$SUANCHI" usage --by status --json)"
eq "total records" "$(usage_sum requests)" "$((N + S + 1))"

echo "test_gateway_faults: $CHECKS checks, $FAILS failures"
[ "$FAILS" -eq 0 ]
