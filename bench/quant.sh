#!/usr/bin/env bash
# quant.sh [BUILD] [MiB] [repeats] [gemm tokens] — per weight type, the engine's product path
# (ops_quantize_rows + ops_matmul_q on 1 and 2 threads): matrix-vector GB/s vs measured memory
# bandwidth, and GEMM GOP/s (4096 x 4096 weights x 512 tokens), for the dispatched ISA (set
# R1_ISA=scalar|avx2|avx512 to compare levels). Builds bench/quant_bench.c against
# BUILD/libr1.a. bench/kernels.sh puts these figures beside ggml's.
#
# quant.sh --quality BUILD F16.gguf [FTYPES...] — logit error of each `r1 quantize` file type
# against the F16 file, beside llama.cpp's quantizer (llama_model_quantize through
# tests/oracle/quant_llamacpp.c) for the same type: r1 logits of a fixed 32-token sequence,
# relative L2 error per position (mean, max) and argmax agreement vs the F16 logits, plus
# whether the two quantized files hold byte-identical tensors. Quantized files go to
# BUILD/quality/ and are deleted after use (1-2 GB each at the 1.5B shape).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = --quality ]; then
  build=${2:?BUILD}; f16=${3:?F16.gguf}; shift 3
  types=("$@"); [ ${#types[@]} -gt 0 ] || types=(Q8_0 Q4_0 Q4_1 Q5_0 Q5_1 Q2_K Q3_K_M Q4_K_S Q4_K_M Q5_K_S Q5_K_M Q6_K IQ4_NL IQ4_XS)
  declare -A FT=([Q8_0]=7 [Q4_0]=2 [Q4_1]=3 [Q5_0]=8 [Q5_1]=9 [Q2_K]=10 [Q3_K_M]=12 [Q4_K_M]=15 [Q4_K_S]=14
                 [Q5_K_M]=17 [Q5_K_S]=16 [Q6_K]=18 [IQ4_NL]=25 [IQ4_XS]=30)
  make -s BUILD="$build" "$build/libr1.a" "$build/r1" >/dev/null
  libdir=$(bash tests/oracle/setup.sh | tail -1)/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64
  export R1_GGML_LIBDIR="$libdir"
  out="$build/quality"; mkdir -p "$out"
  H="$out/quant_llamacpp"
  ${CC:-cc} -std=c11 -O2 -D_GNU_SOURCE -I.oracle/llama-include -Iinclude -Isrc tests/oracle/quant_llamacpp.c \
    "$libdir/libllama.v0.4.0.so" "$libdir/libggml.v0.4.0.so" "$libdir/libggml-base.so" "$build/libr1.a" \
    -Wl,-rpath,"$libdir" -lm -pthread -o "$H"
  toks=$(seq -s, 1000 997 31900)   # 32 tokens
  "$build/r1" logits -m "$f16" --tokens "$toks" -t 2 -o "$out/f16.bin" >/dev/null
  echo "| ftype | file GiB | r1 rel L2 mean / max | llama.cpp rel L2 mean / max | argmax = F16 r1 / llama.cpp | tensors byte-identical |"
  echo "|---|---:|---:|---:|---:|---|"
  for t in "${types[@]}"; do
    mine="$out/r1-$t.gguf"; ref="$out/ref-$t.gguf"
    "$build/r1" quantize "$f16" "$mine" "$t" --threads 2 >/dev/null 2>"$out/err.log" || { echo "| $t | r1 quantize failed: $(tail -1 "$out/err.log") |"; continue; }
    "$H" ref "$f16" "$ref" "${FT[$t]}" || { echo "| $t | llama.cpp quantize failed |"; rm -f "$mine"; continue; }
    same=$("$H" check "$mine" "$ref" | tail -1 || true)
    "$build/r1" logits -m "$mine" --tokens "$toks" -t 2 -o "$out/r1.bin" >/dev/null
    "$build/r1" logits -m "$ref" --tokens "$toks" -t 2 -o "$out/ref.bin" >/dev/null
    gib=$(stat -c %s "$mine")
    rm -f "$mine" "$ref"
    /usr/bin/python3 - "$out" "$t" "$gib" "$same" <<'PY'
import sys, numpy as np
d, t, size, same = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
f = np.fromfile(f"{d}/f16.bin", dtype="<f4").reshape(32, -1)
def err(name):
    q = np.fromfile(f"{d}/{name}.bin", dtype="<f4").reshape(f.shape)
    rel = np.linalg.norm(q - f, axis=1) / np.linalg.norm(f, axis=1)
    return rel.mean(), rel.max(), int((q.argmax(1) == f.argmax(1)).sum())
a, b = err("r1"), err("ref")
import re
m = re.search(r"byte-identical to llama.cpp's quantization: (\d+) tensors", same)
ok = "yes" if same.rstrip().endswith("; ok") else f"NO ({m.group(1) if m else '?'} identical; see quant_llamacpp check)"
print(f"| {t} | {size / 2**30:.2f} | {a[0]:.4f} / {a[1]:.4f} | {b[0]:.4f} / {b[1]:.4f} | {a[2]}/32 / {b[2]}/32 | {ok} |")
PY
  done
  rm -f "$out"/*.bin
  exit 0
fi
build=${1:-build}; mib=${2:-256}; reps=${3:-5}; ntok=${4:-512}
make -s BUILD="$build" "$build/libr1.a" >/dev/null
mkdir -p "$build/bench"
${CC:-cc} -std=c11 -O3 -march=native -D_GNU_SOURCE -Wall -Wextra -Werror -Iinclude -Isrc bench/quant_bench.c \
  "$build/libr1.a" -lm -pthread -o "$build/bench/quant_bench"
"$build/bench/quant_bench" "$mib" "$reps" "$ntok" ${QUANT_BENCH_ROWS:+rows}
