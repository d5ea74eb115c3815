#!/usr/bin/env bash
# Runs every unit-test binary in $1/tests; prints "unit: N passed, N failed".
set -u
build=${1:-build}
pass=0; fail=0; failed=()
for t in "$build"/tests/test_*; do
  [ -x "$t" ] || continue
  if "$t" > "$t.log" 2>&1; then pass=$((pass+1)); else fail=$((fail+1)); failed+=("$(basename "$t")"); tail -20 "$t.log"; fi
  grep -h ': [0-9]* passed, [0-9]* failed' "$t.log" | sed 's/^/  /'
done
[ ${#failed[@]} -gt 0 ] && echo "failed unit tests: ${failed[*]}"
echo "unit: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
