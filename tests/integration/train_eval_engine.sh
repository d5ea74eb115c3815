#!/usr/bin/env bash
# train_eval_engine: the engine's own held-out evaluation of an exported model, through the
# user path — `r1 run` (GGUF tokenizer, chat template, KV-cached greedy decoding) on each
# held-out prompt — scored by the trainer's checker (`r1 train --score`), for the F32 GGUF
# and its Q8_0 quantization (`r1 quantize`). With a trainer checkpoint, the engine's greedy
# accuracy must equal the trainer's own (`r1 train --eval`) within 1 point per task; with
# SAMPLES=k (> 0) so must its pass@1 over k samples at T 0.6 (`r1 run --temp 0.6 --top-p 1
# --seed S`, S = the seed the trainer draws that sample with: `r1 train --heldout-seeds`).
#   usage: train_eval_engine.sh BUILD [MODEL.gguf [CKPT]]
#   env:   TASKS (add,sub,mul,countdown)  DIGITS (3)  N (held-out problems per task, 200)
#          SAMPLES (0: greedy only)
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
tasks=${TASKS:-add,sub,mul,countdown}; digits=${DIGITS:-3}; n=${N:-200}; k=${SAMPLES:-0}
sel=(--tasks "$tasks" --digits "$digits" --eval-n "$n")
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
"$r1" train "${sel[@]}" --heldout-prompts "$tmp/prompts.txt"
"$r1" quantize "$model" "$tmp/q8.gguf" Q8_0 > /dev/null 2>&1
# The trainer's completions end where prompt + completion fill its context (n_ctx_train);
# `r1 run -c C` also prints the token sampled from the last of its C cache slots, so C =
# n_ctx_train - 1 gives the same length limit.
ctx=$(( $("$r1" info -m "$model" | awk '$1 == "n_ctx_train" { print $2 }') - 1 ))
# one engine completion: gen MODEL OUT PROMPT [SEED] (greedy without a seed)
gen() {
  if [ -n "${4:-}" ]; then "$r1" run -m "$1" --temp 0.6 --top-p 1 --seed "$4" -t 1 -c "$ctx" -n 256 -p "$3" > "$2" 2> /dev/null
  else "$r1" run -m "$1" --temp 0 -t 1 -c "$ctx" -n 256 -p "$3" > "$2" 2> /dev/null; fi
}
export -f gen; export r1 ctx
declare -A acc
modes=(greedy); [ "$k" -gt 0 ] && { modes+=(sampled); "$r1" train "${sel[@]}" --eval-samples "$k" --heldout-seeds "$tmp/seeds.txt"; }
for v in f32 q8_0; do
  m=$model; [ $v = q8_0 ] && m=$tmp/q8.gguf
  for mode in "${modes[@]}"; do
    d="$tmp/$v.$mode"; mkdir -p "$d"
    if [ $mode = greedy ]; then
      awk -v d="$d" '{ printf "%s/%05d.txt\t%s\n", d, NR - 1, $0 }' "$tmp/prompts.txt"
    else  # line i*k + r of seeds.txt: sample r of prompt i
      awk -v d="$d" -v k="$k" 'NR == FNR { p[NR - 1] = $0; next } { i = FNR - 1; printf "%s/%05d.txt\t%s\t%s\n", d, i, p[int(i / k)], $0 }' \
        "$tmp/prompts.txt" "$tmp/seeds.txt"
    fi | tr '\n' '\0' | xargs -0 -P "$(nproc)" -n 1 bash -c 'IFS=$(printf "\t") read -r o p s <<< "$2"; gen "$1" "$o" "$p" "$s"' _ "$m"
    echo "engine ($v, $mode): $model"
    if [ $mode = greedy ]; then "$r1" train "${sel[@]}" --score "$d" | tee "$tmp/$v.$mode.score"
    else "$r1" train "${sel[@]}" --eval-samples "$k" --score-sampled "$d" | tee "$tmp/$v.$mode.score"; fi
    acc[$v.$mode]=$(awk 'NR > 1 && $3 ~ /%$/ { sub("%", "", $3); printf "%s=%s ", $1, $3 }' "$tmp/$v.$mode.score")
  done
done
fail=0
if [ -n "$ckpt" ]; then
  echo "trainer (r1 train --eval): $ckpt"
  "$r1" train --eval --ckpt "$ckpt" "${sel[@]}" --eval-samples "$((k > 0 ? k : 1))" --temp 0.6 --threads 1 \
    --eval-dump "$tmp/greedy.tsv" --eval-dump-sampled "$tmp/sampled.tsv" 2> /dev/null | tee "$tmp/trainer.txt"
  for v in f32 q8_0; do   # completions byte-identical to the trainer's
    for mode in "${modes[@]}"; do
      echo "completions as the trainer's, $v $mode: $(/usr/bin/python3 tests/integration/dump_match.py "$tmp/$mode.tsv" "$tmp/$v.$mode")"
    done
  done
  for v in f32 q8_0; do
    for mode in "${modes[@]}"; do
      col=3; [ $mode = sampled ] && col=5   # greedy / pass@1 column of the trainer's table
      for kv in ${acc[$v.$mode]}; do
        task=${kv%%=*}; a=${kv#*=}
        t=$(awk -v k="$task" -v c=$col '$1 == k { sub("%", "", $c); print $c; exit }' "$tmp/trainer.txt")
        if awk -v a="$a" -v t="$t" 'BEGIN { d = a - t; exit !(t != "" && d <= 1.0 && d >= -1.0) }'; then
          echo "ok   $v $mode $task: engine $a% vs trainer $t%"
        else echo "FAIL $v $mode $task: engine $a% vs trainer ${t:-?}% (more than 1 point apart)"; fail=1; fi
      done
    done
  done
else
  echo "(no trainer checkpoint given: engine figures only)"
  for kv in ${acc[f32.greedy]}; do [ "${kv#*=}" != "0.0" ] || { echo "FAIL f32 ${kv%%=*}: 0%"; fail=1; }; done
fi
exit $fail
