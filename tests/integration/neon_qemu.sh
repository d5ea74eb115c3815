#!/usr/bin/env bash
# neon_qemu.sh BUILD — cross-compiles the quant library files + tests/unit/test_quant.c
# for aarch64 (static, armv8.2-a+dotprod+fp16 for the NEON file) and runs it under
# qemu-aarch64 with a CPU that has dotprod/fp16: every NEON kernel vs scalar.
# Fails when the cross compiler or qemu is missing.
set -euo pipefail
build=${1:-build}
cd "$(dirname "$0")/../.."
CROSS=${CROSS:-aarch64-linux-gnu-gcc}
if ! command -v "$CROSS" >/dev/null || ! command -v qemu-aarch64 >/dev/null; then
  echo "neon_qemu: FAIL ($CROSS or qemu-aarch64 not installed)"; exit 1
fi
out="$build/neon"; mkdir -p "$out"
flags="-std=c11 -Wall -Wextra -Werror -O2 -D_GNU_SOURCE -Iinclude -Isrc -pthread"
objs=()
for f in src/quant.c src/quant_legacy.c src/quant_k.c src/cpu.c src/simd/quant_neon.c; do
  o="$out/$(basename "${f%.c}").o"
  extra=""; [[ $f == *_neon.c ]] && extra="-march=armv8.2-a+dotprod+fp16"
  $CROSS $flags $extra -c "$f" -o "$o"
  objs+=("$o")
done
$CROSS $flags -static -o "$out/test_quant" tests/unit/test_quant.c "${objs[@]}" -lm
qemu-aarch64 -cpu max "$out/test_quant" | tee "$out/test_quant.log"
grep -q "active isa neon" "$out/test_quant.log" || { echo "neon_qemu: NEON level was not active"; exit 1; }
