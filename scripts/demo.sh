#!/usr/bin/env bash
# `make demo`: starts, on this machine, a pool shaped like the operator's footprint — five own
# regions and one open-pool owner's region, agents with simulated NVIDIA, Ascend and Enflame
# devices and one real CPU agent — deploys a synthesized model on the CPU node and simulated-chip
# deployments in the regions, creates a demo API key, prints what to try, and stops everything on Ctrl-C.
#
# Environment: SUANCHI (binary, default build/suanchi), DEMO_DIR (default ./demo-run),
# DEMO_LISTEN (default 127.0.0.1:7700), DEMO_SECONDS (stop by itself after N seconds; for tests),
# DEMO_MODEL_PRESET (synthesized model shape: 0.5b, the default, or tiny).
set -u
cd "$(dirname "$0")/.."
S=${SUANCHI:-$PWD/build/suanchi}
DIR=${DEMO_DIR:-$PWD/demo-run}
LISTEN=${DEMO_LISTEN:-127.0.0.1:7700}
PIDS=()

stop() {
  trap - INT TERM EXIT
  echo
  echo "stopping the demo pool..."
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
  wait 2>/dev/null
  echo "stopped. State is kept in $DIR (delete it to start afresh)."
  exit 0
}
trap stop INT TERM EXIT

[ -x "$S" ] || { echo "demo: $S not found; run 'make build' first" >&2; exit 1; }
rm -rf "$DIR"
mkdir -p "$DIR/logs"

"$S" serve --data "$DIR/data" --listen "$LISTEN" --heartbeat-timeout 15s >"$DIR/logs/serve.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do [ -s "$DIR/data/serve.addr" ] && break; sleep 0.1; done
if [ ! -s "$DIR/data/serve.addr" ]; then
  echo "demo: the control plane did not start:" >&2
  tail -5 "$DIR/logs/serve.log" >&2
  exit 1
fi
export SUANCHI_SERVER
SUANCHI_SERVER=$(cat "$DIR/data/serve.addr")
export SUANCHI_TOKEN
SUANCHI_TOKEN=$(cat "$DIR/data/admin.token")

q() { "$S" "$@" >/dev/null || { echo "demo: 'suanchi $*' failed" >&2; exit 1; }; }
# regions with their coordinates
q region add hainan --lat 19.20 --lon 109.73
q region add suqian --lat 33.96 --lon 118.28
q region add inner-mongolia --lat 40.84 --lon 111.75
q region add mentougou --lat 39.94 --lon 116.10
q region add dallas --lat 32.78 --lon -96.80
q region add qingyang --lat 35.71 --lon 107.64
# an open-pool owner lending idle accelerators for a 70% revenue share
q owner add qingyang-compute --pool --share 70

OWN=$("$S" token create --owner self --uses 16 --ttl 1h 2>/dev/null)
POOL=$("$S" token create --owner qingyang-compute --region qingyang --uses 4 --ttl 1h 2>/dev/null)

agent() { # NAME REGION TOKEN SPEC
  "$S" agent --server "$SUANCHI_SERVER" --join "$3" --region "$2" --devices "$4" --state "$DIR/agents/$1" \
    --name "$1" --heartbeat 5s >"$DIR/logs/agent-$1.log" 2>&1 &
  PIDS+=($!)
}
agent hainan-h100-01 hainan "$OWN" sim:H100-SXM-80GB:8
agent hainan-h100-02 hainan "$OWN" sim:H100-SXM-80GB:8
agent suqian-h20-01 suqian "$OWN" sim:H20-96GB:8
agent imongolia-910b-01 inner-mongolia "$OWN" sim:Ascend-910B-64GB:8
agent imongolia-910b-02 inner-mongolia "$OWN" sim:Ascend-910B-64GB:8
agent mentougou-l40s-01 mentougou "$OWN" sim:L40S-48GB:4
agent mentougou-cpu-01 mentougou "$OWN" cpu
agent dallas-h100-01 dallas "$OWN" sim:H100-SXM-80GB:8
agent qingyang-i20-01 qingyang "$POOL" sim:Enflame-i20-16GB:8
agent qingyang-4090-01 qingyang "$POOL" sim:RTX4090-24GB:4

for _ in $(seq 100); do
  [ "$("$S" nodes --json 2>/dev/null | grep -c '"state": "ready"')" -ge 10 ] && break
  sleep 0.2
done

# serving: a synthesized model on the cpu node, simulated-chip deployments in the regions, a demo key
PRESET=${DEMO_MODEL_PRESET:-0.5b}
echo "demo: synthesizing a Qwen2-shaped model ($PRESET, random weights) and deploying it..."
"$S" model synth "$DIR/qwen2-$PRESET-demo.gguf" --arch qwen2 --preset "$PRESET" --type q4_k >/dev/null 2>&1 \
  || { echo "demo: model synth failed" >&2; exit 1; }
q model add qwen-demo --gguf "$DIR/qwen2-$PRESET-demo.gguf"
q deploy chat --model qwen-demo --chips CPU-x86_64
q model add llama-8b --engine vllm --weights-gib 15 --params-b 8
q deploy llama-8b --model llama-8b --replicas 3 --slo-tpot 50 --regions hainan,dallas,suqian
q model add qwen-14b --engine mindie --weights-gib 28 --params-b 14
q deploy qwen-14b --model qwen-14b --chips huawei --regions inner-mongolia
q tenant add demo --region hainan
KEY=$("$S" key create --tenant demo 2>/dev/null)
for _ in $(seq 150); do
  [ "$("$S" replicas --json 2>/dev/null | grep -c '"state": "ready"')" -ge 5 ] && break
  sleep 0.2
done
OPENAI_DIR=$DIR/openai
if command -v npm >/dev/null && npm install --silent --prefix "$OPENAI_DIR" openai@4 >/dev/null 2>&1; then
  HAVE_OPENAI=1
else
  HAVE_OPENAI=0
fi

cat <<MSG

  suanchi demo pool is up: $SUANCHI_SERVER  (data in $DIR, logs in $DIR/logs)

  In another terminal:
    export SUANCHI_SERVER=$SUANCHI_SERVER
    export SUANCHI_TOKEN=\$(cat $DIR/data/admin.token)
    $S nodes                      # 10 nodes in 6 regions, own and open-pool
    $S devices                    # every accelerator, its memory and health
    $S regions; $S owners
    $S nodes --owner qingyang-compute --json
    $S node cordon mentougou-cpu-01
    curl -s $SUANCHI_SERVER/metrics | grep suanchi_
    $S deployments; $S replicas        # what is served where
    $S usage --by model                 # metered tokens

  Chat through the gateway with the demo key (the 'chat' model is a synthesized Qwen2 shape with random
  weights, so it answers noise; 'llama-8b' and 'qwen-14b' run on simulated H100/H20/910B chips):
    curl -s $SUANCHI_SERVER/v1/chat/completions -H "Authorization: Bearer $KEY" \\
      -d '{"model":"llama-8b","messages":[{"role":"user","content":"Hello"}],"max_tokens":32}'
MSG
if [ "$HAVE_OPENAI" = 1 ]; then
cat <<MSG
  With the official openai client (installed in $OPENAI_DIR):
    NODE_PATH=$OPENAI_DIR/node_modules node -e 'const OpenAI = require("openai");
      const c = new OpenAI({baseURL: "$SUANCHI_SERVER/v1", apiKey: "$KEY"});
      c.chat.completions.create({model: "chat", messages: [{role: "user", content: "Hi"}], max_tokens: 16})
        .then(r => console.log(r.choices[0].message.content, r.usage))'
MSG
fi
cat <<MSG

  Ctrl-C stops everything.

MSG
"$S" nodes
echo
"$S" replicas
if [ -n "${DEMO_SECONDS:-}" ]; then
  sleep "$DEMO_SECONDS"
else
  while true; do sleep 3600; done
fi
