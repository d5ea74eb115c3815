#!/usr/bin/env bash
# quant.sh [BUILD] [MiB] [repeats] [gemm tokens] — per weight type, the engine's product path
# (ops_quantize_rows + ops_matmul_q on 1 and 2 threads): matrix-vector GB/s vs measured memory
# bandwidth, and GEMM GOP/s (4096 x 4096 weights x 512 tokens), for the dispatched ISA (set
# R1_ISA=scalar|avx2|avx512 to compare levels). Builds bench/quant_bench.c against
# BUILD/libr1.a. bench/kernels.sh puts these figures beside ggml's.
set -euo pipefail
build=${1:-build}; mib=${2:-256}; reps=${3:-5}; ntok=${4:-512}
cd "$(dirname "$0")/.."
make -s BUILD="$build" "$build/libr1.a" >/dev/null
mkdir -p "$build/bench"
${CC:-cc} -std=c11 -O3 -march=native -D_GNU_SOURCE -Wall -Wextra -Werror -Iinclude -Isrc bench/quant_bench.c \
  "$build/libr1.a" -lm -pthread -o "$build/bench/quant_bench"
"$build/bench/quant_bench" "$mib" "$reps" "$ntok" ${QUANT_BENCH_ROWS:+rows}
