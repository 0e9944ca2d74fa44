#!/usr/bin/env bash
# Builds and runs every test three ways: a normal build, an ASan+UBSan build (the whole suite,
# e2e included, runs against the sanitized binary), and a short libFuzzer run with clang.
# Prints one closing line: "test: N passed, N failed".
set -u
cd "$(dirname "$0")/.."
JOBS=${JOBS:-$(nproc)}
passed=0
failed=0
status=0

run_suite() { # name builddir cmake-args...
  local name=$1 dir=$2
  shift 2
  echo "== $name: configure and build ($dir)"
  if ! cmake -S . -B "$dir" "$@" >/dev/null || ! cmake --build "$dir" -j"$JOBS" >"$dir.build.log" 2>&1; then
    tail -50 "$dir.build.log" 2>/dev/null
    echo "== $name: BUILD FAILED"
    failed=$((failed + 1))
    status=1
    return
  fi
  echo "== $name: run"
  local log
  log=$(mktemp)
  ctest --test-dir "$dir" --output-on-failure -j"$JOBS" 2>&1 | tee "$log"
  local p f
  p=$(grep -Eo '[0-9]+% tests passed, [0-9]+ tests failed out of [0-9]+' "$log" | tail -1)
  if [ -z "$p" ]; then
    failed=$((failed + 1))
    status=1
  else
    f=$(echo "$p" | sed -E 's/.* ([0-9]+) tests failed out of ([0-9]+)/\1/')
    t=$(echo "$p" | sed -E 's/.* out of ([0-9]+)/\1/')
    passed=$((passed + t - f))
    failed=$((failed + f))
    [ "$f" -eq 0 ] || status=1
  fi
  rm -f "$log"
}

run_suite release build -DCMAKE_BUILD_TYPE=RelWithDebInfo
run_suite asan+ubsan build-asan -DCMAKE_BUILD_TYPE=Debug -DSC_SANITIZE=ON
if command -v clang >/dev/null; then
  CC=clang run_suite fuzz build-fuzz -DCMAKE_BUILD_TYPE=Debug -DSC_FUZZ=ON -DCMAKE_C_COMPILER=clang
fi
echo "test: $passed passed, $failed failed"
exit $status
