#!/usr/bin/env bash
# train_eval_engine: the engine's own held-out evaluation of an exported model, through the
# user path — `r1 run` (GGUF tokenizer, chat template, KV-cached greedy decoding) on each
# held-out prompt — scored by the trainer's checker (`r1 train --score`), for the F32 GGUF
# and its Q8_0 quantization (`r1 quantize`). With a trainer checkpoint, the engine's greedy
# accuracy must equal the trainer's own (`r1 train --eval`) within 1 point per task.
#   usage: train_eval_engine.sh BUILD [MODEL.gguf [CKPT]]
#   env:   TASKS (add,sub,mul,countdown)  DIGITS (3)  N (held-out problems per task, 200)
# Defaults: the committed demo model, and the checkpoint `make train` leaves for it
# (BUILD/train/grpo.ckpt, else BUILD/train/sft.ckpt — make train reproduces the demo model
# byte for byte).
set -euo pipefail
build=${1:-build}
model=${2:-models/r1-demo.gguf}
ckpt=${3:-}
if [ -z "$ckpt" ] && [ -z "${2:-}" ]; then
  for c in "$build/train/grpo.ckpt" "$build/train/sft.ckpt"; do [ -f "$c" ] && { ckpt=$c; break; }; done
fi
r1="$build/r1"
tasks=${TASKS:-add,sub,mul,countdown}; digits=${DIGITS:-3}; n=${N:-200}
sel=(--tasks "$tasks" --digits "$digits" --eval-n "$n")
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
"$r1" train "${sel[@]}" --heldout-prompts "$tmp/prompts.txt"
"$r1" quantize "$model" "$tmp/q8.gguf" Q8_0 > /dev/null 2>&1
declare -A acc
for v in f32 q8_0; do
  m=$model; [ $v = q8_0 ] && m=$tmp/q8.gguf
  mkdir -p "$tmp/$v"; i=0
  while IFS= read -r p; do
    "$r1" run -m "$m" --temp 0 -t 1 -c 0 -n 256 -p "$p" > "$tmp/$v/$(printf %05d $i).txt" 2> /dev/null
    i=$((i + 1))
  done < "$tmp/prompts.txt"
  echo "engine ($v, r1 run --temp 0): $model"
  "$r1" train "${sel[@]}" --score "$tmp/$v" | tee "$tmp/$v.score"
  acc[$v]=$(awk 'NR > 1 && $3 ~ /%$/ { sub("%", "", $3); printf "%s=%s ", $1, $3 }' "$tmp/$v.score")
done
fail=0
if [ -n "$ckpt" ]; then
  echo "trainer (r1 train --eval, greedy): $ckpt"
  "$r1" train --eval --ckpt "$ckpt" "${sel[@]}" --eval-samples 1 --threads 1 2> /dev/null | tee "$tmp/trainer.txt"
  for v in f32 q8_0; do
    for kv in ${acc[$v]}; do
      k=${kv%%=*}; a=${kv#*=}
      t=$(awk -v k="$k" '$1 == k { sub("%", "", $3); print $3; exit }' "$tmp/trainer.txt")
      if awk -v a="$a" -v t="$t" 'BEGIN { d = a - t; exit !(t != "" && d <= 1.0 && d >= -1.0) }'; then
        echo "ok   $v $k: engine $a% vs trainer $t%"
      else echo "FAIL $v $k: engine $a% vs trainer ${t:-?}% (more than 1 point apart)"; fail=1; fi
    done
  done
else
  echo "(no trainer checkpoint given: engine figures only)"
  for kv in ${acc[f32]}; do [ "${kv#*=}" != "0.0" ] || { echo "FAIL f32 ${kv%%=*}: 0%"; fail=1; }; done
fi
exit $fail
