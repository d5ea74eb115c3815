#!/usr/bin/env bash
# make test: unit tests, then every integration script tests/integration/*.sh
# (each gets the build folder as $1 and must exit non-zero on failure).
# Ends with one line "N passed, N failed" counting test programs and scripts.
set -u
build=${1:-build}
pass=0; fail=0; failed=()
# The oracles (npm: node-llama-cpp, @lenml/tokenizers) are installed once, up front; the
# integration tests need them and fail without them.
if ! bash tests/oracle/setup.sh > /dev/null; then
  echo "tests/oracle/setup.sh failed: the oracles could not be installed (npm registry reachable?)"
  echo "0 passed, 1 failed"; exit 1
fi
for t in "$build"/tests/test_*; do
  [ -x "$t" ] || continue
  case "$t" in *.log) continue;; esac
  if "$t" > "$t.log" 2>&1; then pass=$((pass+1)); else fail=$((fail+1)); failed+=("$(basename "$t")"); tail -30 "$t.log"; fi
  grep -h ': [0-9]* passed, [0-9]* failed' "$t.log" | sed 's/^/  unit /'
done
for s in tests/integration/*.sh; do
  [ -f "$s" ] || continue
  name=$(basename "$s" .sh)
  log="$build/tests/$name.log"; mkdir -p "$build/tests"
  start=$(date +%s)
  if bash "$s" "$build" > "$log" 2>&1; then
    pass=$((pass+1)); echo "  ok   $name ($(( $(date +%s) - start ))s)"
  else
    fail=$((fail+1)); failed+=("$name"); echo "  FAIL $name ($(( $(date +%s) - start ))s)"; tail -40 "$log"
  fi
done
[ ${#failed[@]} -gt 0 ] && echo "failed: ${failed[*]}"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
