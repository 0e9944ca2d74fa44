#!/usr/bin/env bash
# End-to-end test of `suanchi discover`: real binary, vendor drivers pointed at the mock libraries
# in $SC_BUILD/mocks, JSON and table output, exit codes and the messages of bad specs.
set -euo pipefail
: "${SUANCHI:?}" "${SC_BUILD:?}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

export SUANCHI_NVML_LIB=/nonexistent/libnvidia-ml.so.1 SUANCHI_DCMI_LIB=/nonexistent/libdcmi.so \
  SUANCHI_EFML_LIB=/nonexistent/libefml.so
unset SC_MOCK_MODE

# No accelerators: auto falls back to the host CPU.
"$SUANCHI" discover --sample-ms 0 >"$tmp/out" 2>"$tmp/err" || fail "auto exited $?"
grep -q '^0 *cpu *cpu *CPU-' "$tmp/out" || fail "no cpu row: $(cat "$tmp/out")"
grep -q 'nvml: not present' "$tmp/err" || fail "no nvml note: $(cat "$tmp/err")"

# Mock vendor libraries: every driver reports its devices, in spec order.
export SUANCHI_NVML_LIB=$SC_BUILD/mocks/libmocknvml.so SUANCHI_DCMI_LIB=$SC_BUILD/mocks/libmockdcmi.so \
  SUANCHI_EFML_LIB=$SC_BUILD/mocks/libmockefml.so
"$SUANCHI" discover --devices auto --json --sample-ms 0 >"$tmp/json" || fail "auto with mocks exited $?"
for want in '"chip": "H100-SXM-80GB"' '"chip": "L40S-48GB"' '"chip": "Ascend-910B-64GB"' '"chip": "Enflame-i20-16GB"' \
  '"uuid": "GPU-11111111-2222-3333-4444-555555555555"' '"index": 5' '"health": "ok"'; do
  grep -q "$want" "$tmp/json" || fail "missing $want in $(cat "$tmp/json")"
done
grep -q '"driver": "cpu"' "$tmp/json" && fail "cpu listed although accelerators were found"

# Simulated devices keep their uuids for the same node name.
a=$("$SUANCHI" discover --devices sim:H20-96GB:2 --name node-a --json --sample-ms 0 | grep uuid)
b=$("$SUANCHI" discover --devices sim:H20-96GB:2 --name node-a --json --sample-ms 0 | grep uuid)
c=$("$SUANCHI" discover --devices sim:H20-96GB:2 --name node-b --json --sample-ms 0 | grep uuid)
[ "$a" = "$b" ] || fail "uuids changed for the same name"
[ "$a" != "$c" ] || fail "uuids equal for different names"

# A driver that finds nothing: exit 1 with a message.
if SC_MOCK_MODE=fail-init "$SUANCHI" discover --devices nvml --sample-ms 0 >"$tmp/out" 2>"$tmp/err"; then
  fail "no devices should exit non-zero"
fi
grep -q "no devices found for spec 'nvml'" "$tmp/err" || fail "$(cat "$tmp/err")"

# Bad specs: usage error (2) naming the bad part, nothing printed on stdout.
check_bad() { # spec expected-message
  local rc=0
  "$SUANCHI" discover --devices "$1" >"$tmp/out" 2>"$tmp/err" || rc=$?
  [ "$rc" -eq 2 ] || fail "spec '$1' exited $rc"
  grep -qF "$2" "$tmp/err" || fail "spec '$1': got '$(cat "$tmp/err")'"
  [ ! -s "$tmp/out" ] || fail "spec '$1' printed to stdout"
}
check_bad 'sim:Nope-1:2' "unknown chip 'Nope-1' (run 'suanchi chips' to list the catalogue)"
check_bad 'cpu,tpu' "unknown entry 'tpu'"
check_bad 'sim:L20-48GB:99' "COUNT '99' must be a whole number from 1 to 64"
check_bad '' "device spec is empty"
rc=0
"$SUANCHI" discover extra >/dev/null 2>"$tmp/err" || rc=$?
[ "$rc" -eq 2 ] && grep -q 'takes no arguments' "$tmp/err" || fail "positional argument accepted"
echo "discover e2e: ok"
