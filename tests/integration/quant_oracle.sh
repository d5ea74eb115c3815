#!/usr/bin/env bash
# quant_oracle.sh BUILD — r1's quantized formats vs llama.cpp's ggml (bit-exact
# dequantization both ways, quantizer RMSE within 1%, activation quantizers identical).
# Builds tests/oracle/quant_oracle.c against $BUILD/libr1.a and the prebuilt libggml-base.so.
set -euo pipefail
build=${1:-build}
cd "$(dirname "$0")/../.."
make -s BUILD="$build" "$build/libr1.a" >/dev/null
libdir=$(bash tests/oracle/setup.sh | tail -1)/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64
[ -f "$libdir/libggml-base.so" ] || { echo "quant_oracle: libggml-base.so not found in $libdir"; exit 1; }
mkdir -p "$build/oracle"
${CC:-cc} -std=c11 -O2 -D_GNU_SOURCE -Iinclude -Isrc -I.oracle/llama-include tests/oracle/quant_oracle.c \
  -L"$libdir" -lggml-base "$build/libr1.a" -Wl,-rpath,"$libdir" -lm -pthread -o "$build/oracle/quant_oracle"
# forced lower ISA levels (R1_ISA) must give the same results
for isa in scalar avx2; do
  echo "R1_ISA=$isa:"; R1_ISA=$isa "$build/oracle/quant_oracle" | tail -4
done
"$build/oracle/quant_oracle"
# forced lower ISA levels (R1_ISA) must give the same results
for isa in scalar avx2; do
  echo "R1_ISA=$isa:"; R1_ISA=$isa "$build/oracle/quant_oracle" | tail -4
done
