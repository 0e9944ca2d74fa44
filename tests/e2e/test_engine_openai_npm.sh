#!/usr/bin/env bash
# End-to-end: the official `openai` npm client against `suanchi engine --simulate`. The package is
# installed into the build dir; the test skips (passes with a message) only when node/npm are
# missing or the npm registry is unreachable.
set -euo pipefail
SUANCHI=${SUANCHI:?set SUANCHI}
SC_SRC=${SC_SRC:?set SC_SRC}
SC_BUILD=${SC_BUILD:?set SC_BUILD}
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "SKIP: node/npm not installed"
  exit 0
fi
DIR="$SC_BUILD/npm/openai"
if [ ! -f "$DIR/node_modules/openai/package.json" ]; then
  mkdir -p "$DIR"
  if ! timeout 180 npm install --prefix "$DIR" --no-audit --no-fund --silent openai@4 >"$DIR/install.log" 2>&1; then
    echo "SKIP: npm registry unreachable (npm install openai failed: $(tail -1 "$DIR/install.log"))"
    exit 0
  fi
fi
TMP=$(mktemp -d)
PID=
cleanup() {
  [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT
"$SUANCHI" engine --simulate H100-SXM-80GB --sim-params 7B --listen 127.0.0.1:0 --port-file "$TMP/port" >"$TMP/log" 2>&1 &
PID=$!
for _ in $(seq 200); do
  [ -s "$TMP/port" ] && break
  sleep 0.05
done
[ -s "$TMP/port" ] || { cat "$TMP/log"; echo "FAIL: engine did not start"; exit 1; }
if ! OPENAI_DIR="$DIR/node_modules/openai" timeout 120 node "$SC_SRC/tests/e2e/js/openai_client.mjs" \
  "http://$(cat "$TMP/port")" sim-H100-SXM-80GB-7B; then
  tail -20 "$TMP/log"
  echo "FAIL: openai client checks"
  exit 1
fi
echo "test_engine_openai_npm: ok"
