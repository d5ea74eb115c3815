#!/usr/bin/env bash
# quant.sh [BUILD] [MiB] [repeats] — matrix-vector GB/s per weight type (1 and 2 threads)
# vs measured memory bandwidth, for the dispatched ISA (set R1_ISA=scalar|avx2|avx512 to
# compare levels). Builds bench/quant_bench.c against BUILD/libr1.a.
set -euo pipefail
build=${1:-build}; mib=${2:-256}; reps=${3:-5}
cd "$(dirname "$0")/.."
make -s BUILD="$build" "$build/libr1.a" >/dev/null
mkdir -p "$build/bench"
${CC:-cc} -std=c11 -O3 -march=native -D_GNU_SOURCE -Iinclude -Isrc bench/quant_bench.c "$build/libr1.a" -lm -pthread \
  -o "$build/bench/quant_bench"
"$build/bench/quant_bench" "$mib" "$reps"
