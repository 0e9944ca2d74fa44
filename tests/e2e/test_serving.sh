#!/usr/bin/env bash
# Serving through the pool: models (upload by hash, resumable, verified), deployments placed by the
# scheduler, agents running engine replicas (built-in engine on cpu, simulator on sim devices),
# restarts of crashed engines, rescheduling when a node dies, re-adoption after a control-plane
# kill -9, undeploy.
. "$(dirname "$0")/lib.sh"
S=$SUANCHI
start_server "$T/data" --heartbeat-timeout 3s
"$S" region add hainan >/dev/null
"$S" region add dallas >/dev/null
TOK=$("$S" token create --owner self --uses 5 2>/dev/null)
start_agent cpu1 "$T/a-cpu" --join "$TOK" --region hainan --devices cpu --heartbeat 1s
start_agent gpu1 "$T/a-g1" --join "$TOK" --region hainan --devices sim:H100-SXM-80GB:2 --heartbeat 1s
G1=$AGENT_PID
start_agent gpu2 "$T/a-g2" --join "$TOK" --region dallas --devices sim:H100-SXM-80GB:2 --heartbeat 1s
check "three nodes" wait_for 15 bash -c "[ \"\$('$S' nodes --state ready --json | jq length)\" = 3 ]"

# models
"$S" model synth "$T/tiny.gguf" --arch qwen2 --preset tiny >/dev/null 2>&1
check "model add gguf" "$S" model add tiny --gguf "$T/tiny.gguf"
SHA=$(sha256sum "$T/tiny.gguf" | cut -d' ' -f1)
eq "stored by content hash" "$(stat -c %s "$T/data/models/$SHA.gguf")" "$(stat -c %s "$T/tiny.gguf")"
eq "model shape read" "$("$S" models --json | jq -r '.[] | select(.name=="tiny") | .arch')" "qwen2"
check "model add external" "$S" model add big --engine vllm --weights-gib 140
"$S" model add tiny --gguf "$T/tiny.gguf" >/dev/null 2>"$T/err"; eq "duplicate model exit" "$?" "1"
contains "duplicate model message" "$(cat "$T/err")" "already exists"
"$S" model add x --engine triton --weights-gib 1 >/dev/null 2>"$T/err"; eq "unknown engine exit" "$?" "1"
contains "unknown engine message" "$(cat "$T/err")" "vllm, sglang, llama.cpp or mindie"
# a file that fails its hash is discarded and never registered
BAD=0000000000000000000000000000000000000000000000000000000000000000
r=$(curl -s -X PUT -H "Authorization: Bearer $ADMIN" --data-binary @"$T/tiny.gguf" "$URL/api/v1/blobs/$BAD?offset=0")
r=$(api POST /api/v1/models "{\"name\":\"liar\",\"kind\":\"gguf\",\"sha256\":\"$BAD\",\"size_bytes\":$(stat -c %s "$T/tiny.gguf")}")
eq "hash mismatch 400" "${r%% *}" "400"
contains "hash mismatch says so" "$r" "hash_mismatch"
check "bad upload discarded" test ! -e "$T/data/blobs/$BAD.part"
eq "no model registered" "$("$S" models --json | jq '[.[] | select(.name=="liar")] | length')" "0"
# a resumed upload must continue at the right offset
r=$(curl -s -o /dev/null -w '%{http_code}' -X PUT -H "Authorization: Bearer $ADMIN" --data-binary abc "$URL/api/v1/blobs/$BAD?offset=7")
eq "wrong offset 409" "$r" "409"
# not a GGUF file
head -c 4096 /dev/urandom >"$T/junk.bin"
"$S" model add junk --gguf "$T/junk.bin" >/dev/null 2>"$T/err"; eq "junk model exit" "$?" "1"
contains "junk model message" "$(cat "$T/err")" "not a model this engine can serve"

# deployments
"$S" deploy nope --model ghost >/dev/null 2>"$T/err"; eq "unknown model exit" "$?" "1"
contains "unknown model message" "$(cat "$T/err")" "unknown model 'ghost'"
"$S" deploy huge --model big >/dev/null 2>"$T/err"; eq "unschedulable exit" "$?" "1"
contains "unschedulable says why" "$(cat "$T/err")" "no node can host a replica of 'huge'"
eq "unschedulable not stored" "$("$S" deployments --json | jq length)" "0"
"$S" deploy bad --model tiny --slice mem=x >/dev/null 2>&1; eq "bad slice exit" "$?" "2"

# the cpu node already holds a corrupt partial download: it is resumed, fails its hash, is discarded,
# and the model is fetched again; the engine only ever sees a verified file
mkdir -p "$T/a-cpu/models"
head -c 1000 /dev/urandom >"$T/a-cpu/models/$SHA.part"
check "deploy on cpu" "$S" deploy chat --model tiny --chips CPU-x86_64
check "deploy on simulated H100s" "$S" deploy sim7 --model tiny --chips H100-SXM-80GB --replicas 2 --slice mem=8,compute=50
check "all replicas ready" wait_for 60 bash -c "[ \"\$('$S' replicas --json | jq '[.[] | select(.state==\"ready\")] | length')\" = 3 ]"
eq "sim replicas spread over nodes" "$("$S" replicas --json | jq -r '[.[] | select(.deployment=="sim7") | .node] | unique | length')" "2"
EP=$("$S" replicas --json | jq -r '.[] | select(.deployment=="chat") | .endpoint')
R=$(curl -s "$EP/v1/chat/completions" -d '{"model":"chat","messages":[{"role":"user","content":"hi"}],"max_tokens":4}')
eq "the cpu replica answers" "$(echo "$R" | jq .usage.completion_tokens)" "4"
eq "the deployment name is the model id" "$(echo "$R" | jq -r .model)" "chat"
contains "corrupt partial download discarded" "$(cat "$T/agent-cpu1.log")" "fails its sha256"
eq "cached model file is intact" "$(sha256sum "$T/a-cpu/models/$SHA.gguf" | cut -d' ' -f1)" "$SHA"
# model downloads: node credential only, resumable ranges checked
NODECRED=$(jq -r .credential "$T/a-cpu/node.json")
SIZE=$(stat -c %s "$T/tiny.gguf")
r=$(curl -s -o "$T/part" -w '%{http_code}' -H "Authorization: Bearer $NODECRED" -H "Range: bytes=1000-" "$URL/api/v1/agent/models/$SHA")
eq "ranged download 206" "$r" "206"
eq "ranged download returns the rest" "$(stat -c %s "$T/part")" "$((SIZE - 1000))"
r=$(curl -s -w ' %{http_code}' -H "Authorization: Bearer $NODECRED" -H "Range: bytes=$((SIZE + 1))-" "$URL/api/v1/agent/models/$SHA")
eq "range past the end 400" "${r##* }" "400"
contains "range error says why" "$r" "invalid_range"
r=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $NODECRED" "$URL/api/v1/agent/models/$BAD")
eq "unknown model file 404" "$r" "404"
r=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $ADMIN" "$URL/api/v1/agent/models/$SHA")
eq "admin token cannot download as a node" "$r" "403"
check "engine log kept" test -s "$(ls "$T"/a-cpu/replicas/*/engine.log | head -1)"

# an engine that dies is restarted by its agent
PID=$(pgrep -f "[e]ngine --model .*$T/a-cpu" | head -1)
kill -9 "$PID"
check "restarted" wait_for 30 bash -c "[ \"\$('$S' replicas --json | jq '.[] | select(.deployment==\"chat\") | .restarts')\" -ge 1 ]"
check "ready again" wait_for 30 bash -c "[ \"\$('$S' replicas --json | jq -r '.[] | select(.deployment==\"chat\") | .state')\" = ready ]"

# the control plane is killed: replicas keep serving and are re-adopted, not restarted
EP=$("$S" replicas --json | jq -r '.[] | select(.deployment=="chat") | .endpoint')
SIMPIDS=$(pgrep -f "[e]ngine --simulate.*$T/" | sort | tr '\n' ' ')
PORT=${URL##*:}
kill -9 "$SERVER_PID"
sleep 1
R=$(curl -s "$EP/v1/chat/completions" -d '{"model":"chat","messages":[{"role":"user","content":"hi"}],"max_tokens":2}')
eq "serving while the control plane is away" "$(echo "$R" | jq .usage.completion_tokens)" "2"
LISTEN=127.0.0.1:$PORT start_server "$T/data" --heartbeat-timeout 3s
sleep 3
eq "same engines after restart" "$(pgrep -f "[e]ngine --simulate.*$T/" | sort | tr '\n' ' ')" "$SIMPIDS"
eq "replicas still ready" "$("$S" replicas --json | jq '[.[] | select(.state=="ready")] | length')" "3"

# a node dies: its replica is rescheduled elsewhere
LOST=$("$S" replicas --json | jq -r '.[] | select(.deployment=="sim7" and .node=="gpu1") | .id')
kill -9 "$G1"
check "rescheduled within 30 s" wait_for 30 bash -c "'$S' replicas --json | jq -e '[.[] | select(.deployment==\"sim7\" and .state==\"ready\")] | length == 2' >/dev/null && ! '$S' replicas --json | jq -e '.[] | select(.id==\"$LOST\")' >/dev/null"
eq "both sim7 replicas on gpu2 now" "$("$S" replicas --json | jq -r '[.[] | select(.deployment=="sim7") | .node] | unique | join(",")')" "gpu2"

# undeploy stops the engines
check "undeploy" "$S" undeploy sim7
check "sim7 replicas gone" wait_for 20 bash -c "[ \"\$('$S' replicas --json | jq '[.[] | select(.deployment==\"sim7\")] | length')\" = 0 ]"
check "their engines stopped" wait_for 10 bash -c "! pgrep -f '[e]ngine --simulate.*$T/.*sim7' >/dev/null"
"$S" undeploy sim7 >/dev/null 2>&1; eq "undeploy twice" "$?" "1"
finish
