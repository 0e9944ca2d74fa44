#!/usr/bin/env bash
# `make demo`: starts, on this machine, a pool shaped like the operator's footprint — five own
# regions and one open-pool owner's region, agents with simulated NVIDIA, Ascend and Enflame
# devices and one real CPU agent — prints what to try, and stops everything on Ctrl-C.
#
# Environment: SUANCHI (binary, default build/suanchi), DEMO_DIR (default ./demo-run),
# DEMO_LISTEN (default 127.0.0.1:7700), DEMO_SECONDS (stop by itself after N seconds; for tests).
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

  Ctrl-C stops everything.

MSG
"$S" nodes
if [ -n "${DEMO_SECONDS:-}" ]; then
  sleep "$DEMO_SECONDS"
else
  while true; do sleep 3600; done
fi
