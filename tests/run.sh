#!/bin/sh
# The single entry of `make check`: runs the cmocka unit tests, the Lua
# tests and the pytest suites against $B/sandlua, each in its own process
# under a timeout.  The last line is "N passed, N failed, N skipped", after
# the reason of each skip (a kernel feature this machine lacks, ...); the
# exit status is non-zero on any failure.
set -u
cd "$(dirname "$0")/.."
B=${B:-build}
PYTHON=${PYTHON:-/usr/bin/python3}
SANDLUA=$(pwd)/$B/sandlua
export SANDLUA B
passed=0
failed=0
skipped=0
skips=""
failures=""
log=$(mktemp)
trap 'rm -f "$log"' EXIT

fail() { failed=$((failed + $1)); failures="$failures
  $2"; }

# cmocka: one binary per source file; count its test cases.
for t in "$B"/tests/test_*; do
  [ -x "$t" ] || continue
  timeout 300 "$t" >"$log" 2>&1
  rc=$?
  p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -1)
  f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -1)
  s=$(sed -n 's/^\[  SKIPPED \] \([0-9][0-9]*\) test(s).*/\1/p' "$log" | tail -1)
  passed=$((passed + ${p:-0}))
  if [ -n "$s" ]; then
    skipped=$((skipped + s))
    skips="$skips
  $(basename "$t"): $(grep -m1 '^skipped: ' "$log" | cut -c10-)"
  fi
  if [ $rc -ne 0 ] || [ -n "$f" ]; then
    cat "$log"
    fail "${f:-1}" "$t (rc $rc)"
  fi
done
echo "unit: $passed passed so far"

# Lua tests: each file prints "# N passed, N failed" through tests/lua/testlib.
# A first line "-- sandlua-flags: ..." gives the file extra options.
for t in tests/lua/*_test.lua; do
  [ -f "$t" ] || continue
  # The sandbox is on: require finds testlib through --module-path.
  flags=$(sed -n '1s/^-- sandlua-flags: //p' "$t")
  # shellcheck disable=SC2086
  (cd tests/lua && timeout 300 "$SANDLUA" $flags --module-path . "$(basename "$t")") \
    >"$log" 2>&1
  rc=$?
  p=$(sed -n 's/^# \([0-9]*\) passed, \([0-9]*\) failed$/\1/p' "$log" | tail -1)
  f=$(sed -n 's/^# \([0-9]*\) passed, \([0-9]*\) failed$/\2/p' "$log" | tail -1)
  passed=$((passed + ${p:-0}))
  if [ $rc -ne 0 ] || [ "${f:-1}" != 0 ]; then
    grep -v '^ok ' "$log"
    fail "${f:-1}" "$t (rc $rc)"
  fi
done
echo "lua: $passed passed so far"

# Process-level and integration tests.
if ls tests/integration/test_*.py >/dev/null 2>&1; then
  timeout 900 "$PYTHON" -m pytest -q -rs -p no:cacheprovider \
    tests/integration >"$log" 2>&1
  rc=$?
  last=$(tail -1 "$log")
  count() { echo "$last" | grep -o "[0-9][0-9]* $1" | cut -d' ' -f1; }
  p=$(count passed); f=$(count failed); e=$(count error); s=$(count skipped)
  passed=$((passed + ${p:-0}))
  skipped=$((skipped + ${s:-0}))
  # "SKIPPED [N] file:line: reason" lines of -rs
  r=$(sed -n 's/^SKIPPED \[\([0-9]*\)\] [^ ]* /  (\1) /p' "$log")
  [ -n "$r" ] && skips="$skips
$r"
  f=$(( ${f:-0} + ${e:-0} ))
  if [ $rc -ne 0 ]; then
    cat "$log"
    [ $f -eq 0 ] && f=1
    fail "$f" "pytest tests/integration (rc $rc)"
  fi
fi

if [ $skipped -ne 0 ]; then
  echo "skipped:$skips"
fi
if [ $failed -ne 0 ]; then
  echo "failed:$failures"
fi
echo "$passed passed, $failed failed, $skipped skipped"
[ $failed -eq 0 ]
