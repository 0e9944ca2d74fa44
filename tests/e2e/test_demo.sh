#!/usr/bin/env bash
# `make demo` brings up the operator-shaped pool and stops cleanly.
. "$(dirname "$0")/lib.sh"
DEMO_DIR=$T/demo DEMO_LISTEN=127.0.0.1:0 DEMO_SECONDS=3 SUANCHI=$SUANCHI bash "$SC_SRC/scripts/demo.sh" >"$T/demo.out" 2>&1
eq "demo exits cleanly" "$?" "0"
OUT=$(cat "$T/demo.out")
contains "prints what to try" "$OUT" "In another terminal"
contains "has the pool owner's node" "$OUT" "qingyang-i20-01"
eq "ten nodes, all ready" "$(grep -c ' ready ' "$T/demo.out")" "10"
for r in hainan suqian inner-mongolia mentougou dallas qingyang; do contains "region $r" "$OUT" "$r"; done
contains "stops" "$OUT" "stopped."
if pgrep -f "[s]uanchi (serve|agent) .*$T/demo" >/dev/null; then fail "processes left behind"; else ok; fi
finish
