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
