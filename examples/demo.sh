#!/bin/sh
# make demo: run the example scripts with the freshly built interpreter.
set -eu
cd "$(dirname "$0")/.."
SANDLUA=${B:-build}/sandlua
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }
step "$SANDLUA" --version
step "$SANDLUA" -e 'print("hello from " .. _VERSION)'
step "$SANDLUA" examples/errors.lua
step "$SANDLUA" examples/json.lua

# WebSocket: the reference's price-stream example against a local price
# server, under a policy allowing exactly its URL; then a refused URL.
PY=${PYTHON:-/usr/bin/python3}
TMP=$(mktemp -d)
SERVER_PID=
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT INT TERM
"$PY" tests/integration/wsservers.py price --interval 0.2 --count 10 \
  > "$TMP/price.out" &
SERVER_PID=$!
i=0
until grep -q '^PORT ' "$TMP/price.out" 2>/dev/null; do
  i=$((i + 1)); [ $i -lt 100 ] || { echo "price server did not start"; exit 1; }
  sleep 0.1
done
PORT=$(sed -n 's/^PORT //p' "$TMP/price.out")
sed "s/:8765\//:$PORT\//" policies/examples/price-stream.yaml > "$TMP/policy.yaml"
step "$SANDLUA" --policy "$TMP/policy.yaml" examples/price_stream.lua \
  "ws://127.0.0.1:$PORT/prices"
step "$SANDLUA" --policy "$TMP/policy.yaml" examples/denied.lua \
  "ws://127.0.0.1:$PORT/admin"
"$PY" tests/integration/wsservers.py echo > "$TMP/echo.out" &
ECHO_PID=$!
i=0
until grep -q '^PORT ' "$TMP/echo.out" 2>/dev/null; do
  i=$((i + 1)); [ $i -lt 100 ] || { echo "echo server did not start"; exit 1; }
  sleep 0.1
done
EPORT=$(sed -n 's/^PORT //p' "$TMP/echo.out")
step "$SANDLUA" --allow-url "ws://127.0.0.1:$EPORT/chat" examples/chat.lua \
  "ws://127.0.0.1:$EPORT/chat"
kill "$ECHO_PID" 2>/dev/null || true
