#!/usr/bin/env bash
# kernels.sh [BUILD] [MiB] [repeats] [rounds] — per weight type, r1's product path
# (bench/quant_bench.c: ops_quantize_rows + ops_matmul_q) beside ggml's own mul_mat
# (tests/oracle/ggml_kernels.c: node-llama-cpp's prebuilt ggml, best CPU variant, weights in
# the extra buffer type llama.cpp would use), 1 and 2 threads:
#   matvec GB/s (rows x 4096, ~MiB of weights) and % of the probed read bandwidth,
#   GEMM GOP/s (4096 x 4096 weights x 512 tokens) and the r1/ggml ratio.
# Each side: 1 warm-up + median of `repeats` per cell; the two binaries run alternately
# `rounds` times (r1, ggml, r1, ggml, ...) and each cell is the median over rounds.
# Prints a markdown table; the raw outputs are kept in BUILD/bench/kernels-*.txt.
set -euo pipefail
build=${1:-build}; mib=${2:-256}; reps=${3:-5}; rounds=${4:-1}
cd "$(dirname "$0")/.."
make -s BUILD="$build" "$build/libr1.a" >/dev/null
mkdir -p "$build/bench"
${CC:-cc} -std=c11 -O3 -march=native -D_GNU_SOURCE -Wall -Wextra -Werror -Iinclude -Isrc bench/quant_bench.c \
  "$build/libr1.a" -lm -pthread -o "$build/bench/quant_bench"
gk=$(bash tests/oracle/build_kernels.sh "$build")
rm -f "$build"/bench/kernels-r1-*.txt "$build"/bench/kernels-ggml-*.txt
for ((i = 1; i <= rounds; i++)); do
  "$build/bench/quant_bench" "$mib" "$reps" 512 rows >"$build/bench/kernels-r1-$i.txt"
  "$gk" "$mib" "$reps" 512 rows >"$build/bench/kernels-ggml-$i.txt" 2>/dev/null
done
head -2 "$build/bench/kernels-r1-1.txt"; head -1 "$build/bench/kernels-ggml-1.txt"
echo "rounds: $rounds; $(nproc) CPUs; load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
python3 - "$build/bench" "$rounds" <<'PY'
import statistics, sys
d, rounds = sys.argv[1], int(sys.argv[2])
def rows(side):
    out = {}
    for i in range(1, rounds + 1):
        for line in open(f"{d}/kernels-{side}-{i}.txt"):
            f = line.split()
            if f and f[0] == "row":
                out.setdefault(f[1], []).append(f[2:])
    return out
r1, gg = rows("r1"), rows("ggml")
med = lambda runs, k: statistics.median(float(x[k]) for x in runs)
print("| type | bits/w | r1 matvec GB/s 1T / 2T | ggml matvec GB/s 1T / 2T | % of probed BW r1 / ggml (1T) "
      "| r1 GEMM GOP/s 1T / 2T | ggml GEMM GOP/s 1T / 2T | GEMM r1/ggml 1T / 2T | ggml buffer mv / GEMM |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---|")
for t, a in r1.items():
    if t not in gg:
        continue
    g = gg[t]
    bw1 = med(a, 5)
    m1, m2, q1, q2 = (med(a, k) for k in (1, 2, 3, 4))
    n1, n2, p1, p2 = (med(g, k) for k in (1, 2, 3, 4))
    print(f"| {t} | {float(a[0][0]):.2f} | {m1:.1f} / {m2:.1f} | {n1:.1f} / {n2:.1f} | "
          f"{100*m1/bw1:.0f}% / {100*n1/bw1:.0f}% | {q1:.1f} / {q2:.1f} | {p1:.1f} / {p2:.1f} | "
          f"{q1/p1:.2f} / {q2/p2:.2f} | {g[0][5]} / {g[0][6]} |")
print(f"\nprobed read bandwidth (r1 side, median over rounds): {bw1:.1f} GB/s 1T, {med(a, 6):.1f} GB/s 2T")
PY
