#!/usr/bin/env bash
# e2e: `suanchi sched-bench` on a tiny hand-made openb-style trace: table, JSON shape, and bad input.
set -euo pipefail
: "${SUANCHI:?}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

cat >"$tmp/nodes.csv" <<'CSV'
sn,cpu_milli,memory_mib,gpu,model
n-a,96000,786432,8,G2
n-b,32000,262144,2,T4
n-c,64000,262144,2,P100
CSV
cat >"$tmp/openb_pod_list_tiny.csv" <<'CSV'
name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec
p0,4000,8192,1,500,
p1,8000,16384,1,1000,
p2,2000,4096,0,0,
p3,16000,65536,2,1000,
p4,1000,1024,1,250,T4|P100
p5,6000,12288,1,300,
CSV

out=$("$SUANCHI" sched-bench --nodes "$tmp/nodes.csv" --pods "$tmp/openb_pod_list_tiny.csv" --seeds 3 --data "$tmp")
echo "$out" | grep -q "^tiny *fgd *3" || fail "table has no fgd row: $out"
echo "$out" | grep -q "^tiny *suanchi" || fail "table has no suanchi row"
echo "$out" | grep -q "DECISIONS/S" || fail "no speed table"

json=$("$SUANCHI" sched-bench --nodes "$tmp/nodes.csv" --pods "$tmp/openb_pod_list_tiny.csv" --seeds 2 \
  --policy fgd,best-fit --json --quiet --data "$tmp")
python3 - "$json" <<'PY'
import json, sys
o = json.loads(sys.argv[1])
r = o["results"]
assert {x["policy"] for x in r} == {"fgd", "best-fit"}, r
assert all(x["trace"] == "tiny" and x["arrived_pct"] in (100, 130) for x in r), r
assert all(0 <= x["alloc_pct"] <= 100 for x in r), r
s = o["speed"]
assert len(s) == 2 and all(x["decisions_per_s"] > 0 and x["p99_decision_us"] >= 0 for x in s), s
PY

# bad input: a clear message naming file, line and column; usage errors exit 2
printf 'sn,cpu_milli,memory_mib,gpu,model\nn,100,1,2,H999\n' >"$tmp/bad.csv"
set +e
err=$("$SUANCHI" sched-bench --nodes "$tmp/bad.csv" --pods "$tmp/openb_pod_list_tiny.csv" 2>&1 >/dev/null)
rc=$?
set -e
[ $rc -eq 1 ] || fail "bad nodes: rc $rc"
echo "$err" | grep -q "bad.csv:2: column model (5): unknown GPU model 'H999'" || fail "bad nodes message: $err"
set +e
err=$("$SUANCHI" sched-bench --nodes "$tmp/nodes.csv" --pods "$tmp/openb_pod_list_tiny.csv" --policy tetris 2>&1)
rc=$?
set -e
[ $rc -eq 2 ] || fail "unknown policy: rc $rc"
echo "$err" | grep -q "unknown policy 'tetris'" || fail "policy message: $err"
set +e
err=$("$SUANCHI" sched-bench --nodes "$tmp/missing.csv" 2>&1)
rc=$?
set -e
[ $rc -eq 1 ] || fail "missing file: rc $rc"
echo "$err" | grep -q "missing.csv" || fail "missing file message: $err"
echo "ok"
