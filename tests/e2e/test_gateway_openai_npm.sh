#!/usr/bin/env bash
# End-to-end: the official `openai` npm client against the gateway (tests/gateway-openai/). The
# package is installed into the build dir; the test skips (passes with a message) only when
# node/npm are missing or the npm registry is unreachable.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/gateway_lib.sh"
: "${SC_SRC:?set SC_SRC}" "${SC_BUILD:?set SC_BUILD}"
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "SKIP: node/npm not installed"
  exit 0
fi
DIR="$SC_BUILD/npm/gateway-openai"
mkdir -p "$DIR"
cp "$SC_SRC/tests/gateway-openai/package.json" "$SC_SRC/tests/gateway-openai/client.mjs" "$DIR/"
if [ ! -f "$DIR/node_modules/openai/package.json" ]; then
  if ! timeout 180 npm install --prefix "$DIR" --no-audit --no-fund --silent >"$DIR/install.log" 2>&1; then
    echo "SKIP: npm registry unreachable (npm install openai failed: $(tail -1 "$DIR/install.log"))"
    exit 0
  fi
fi
start_server "$T/data"
"$SUANCHI" tenant add t1 >/dev/null
KEY=$("$SUANCHI" key create --tenant t1 2>/dev/null)
LIMITED=$("$SUANCHI" key create --tenant t1 --rpm 1 2>/dev/null)
start_engine e1 m1
"$SUANCHI" endpoint add e1 --model m1 --url "$ENG_URL" >/dev/null
if timeout 120 node "$DIR/client.mjs" "$URL" "$KEY" "$LIMITED" >"$T/node.log" 2>&1; then ok; else fail "openai client: $(cat "$T/node.log")"; fi
# every request that reached the engine has its record: 2 chat + 2 streams + 2 completions + 1 limited
eq "usage records" "$(usage_sum requests)" "7"
echo "test_gateway_openai_npm: $CHECKS checks, $FAILS failures"
[ "$FAILS" -eq 0 ]
