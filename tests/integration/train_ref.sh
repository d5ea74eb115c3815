#!/usr/bin/env bash
# train_ref: a tiny model's loss and every parameter gradient from `r1 train` (C, float32
# backward) against tests/ref/train_ref.py (independent float64 numpy forward + central
# finite differences), with both kernel families (gemm, loops). Also: checkpoint resume is
# exact (2+2 steps == 4 steps, bit for bit); the SIMD GEMM run equals the R1_ISA=scalar run;
# `r1 train --eval --eval-dump` writes one well-formed record per held-out problem.
set -euo pipefail
build=${1:-build}
r1="$build/r1"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
tiny=(--dim 8 --layers 2 --heads 4 --kv-heads 2 --hidden 12 --ctx 64 --digits 1 --batch 2 --lr 1e-2
      --eval-n 1 --threads 2 --chat-template models/chat_template.jinja)
"$r1" train --seed 3 --sft-steps 3 "${tiny[@]}" --ckpt "$tmp/a.ckpt" -o "$tmp/a.gguf" 2>/dev/null
toks=256,258,51,43,52,259,260,10,51,43,52,43,48,61,55,10,261
"$r1" train --ckpt "$tmp/a.ckpt" --grad-out "$tmp/a.grad" --tokens "$toks"
/usr/bin/python3 tests/ref/train_ref.py "$tmp/a.ckpt" "$tmp/a.grad" "$toks"
# the plain-loop kernels (--kernels loops, which trained the add/sub demo model) as well
"$r1" train --kernels loops --ckpt "$tmp/a.ckpt" --grad-out "$tmp/b.grad" --tokens "$toks"
/usr/bin/python3 tests/ref/train_ref.py "$tmp/a.ckpt" "$tmp/b.grad" "$toks"
# the GEMM kernels give the same bits on every ISA: SIMD run == R1_ISA=scalar run
"$r1" train --seed 4 --sft-steps 3 "${tiny[@]}" --ckpt "$tmp/simd.ckpt" -o "$tmp/simd.gguf" 2>/dev/null
R1_ISA=scalar "$r1" train --seed 4 --sft-steps 3 "${tiny[@]}" --ckpt "$tmp/scalar.ckpt" -o "$tmp/scalar.gguf" 2>/dev/null
cmp "$tmp/simd.ckpt" "$tmp/scalar.ckpt"
cmp "$tmp/simd.gguf" "$tmp/scalar.gguf"
echo "gemm kernels: SIMD and scalar runs bit-identical"

# exact resume: 4 steps straight vs 2 steps, then resume to 4
"$r1" train --seed 5 --sft-steps 4 "${tiny[@]}" --ckpt "$tmp/full.ckpt" -o "$tmp/full.gguf" 2>/dev/null
"$r1" train --seed 5 --sft-steps 2 "${tiny[@]}" --ckpt "$tmp/half.ckpt" -o "$tmp/half.gguf" 2>/dev/null
"$r1" train --resume --seed 5 --sft-steps 4 "${tiny[@]}" --ckpt "$tmp/half.ckpt" -o "$tmp/resumed.gguf" 2>/dev/null
cmp "$tmp/full.ckpt" "$tmp/half.ckpt"
cmp "$tmp/full.gguf" "$tmp/resumed.gguf"
echo "resume: bit-identical"
# bad input: a corrupt checkpoint is a clear error, not a crash
head -c 30 "$tmp/full.ckpt" > "$tmp/bad.ckpt"
if "$r1" train --eval --ckpt "$tmp/bad.ckpt" 2> "$tmp/err"; then echo "corrupt checkpoint accepted"; exit 1; fi
grep -q "bad.ckpt" "$tmp/err"
# --eval-dump: one record per held-out problem (7 tab-separated fields, flags 0/1, the
# prompt a held-out prompt), and its correct flags add up to the greedy accuracy printed
"$r1" train --eval --ckpt "$tmp/full.ckpt" --tasks add,countdown --digits 1 --eval-n 5 --eval-samples 2 \
  --eval-dump "$tmp/dump.tsv" > "$tmp/eval.txt" 2>/dev/null
awk -F'\t' 'NF != 7 || $3 !~ /^[01]$/ || $4 !~ /^[01]$/ || $5 !~ /^[01]$/ || $2 != 0 { bad++ }
             END { if (NR != 10 || bad) { print "eval dump: " NR " records, " bad+0 " malformed"; exit 1 } }' "$tmp/dump.tsv"
"$r1" train --digits 1 --eval-n 5 --tasks add,countdown --heldout-prompts "$tmp/prompts.txt"
cut -f6 "$tmp/dump.tsv" | cmp - "$tmp/prompts.txt"
for k in add countdown; do
  d=$(awk -F'\t' -v k=$k '$1 == k { c += $3 } END { printf "%.1f%%", 100 * c / 5 }' "$tmp/dump.tsv")
  p=$(awk -v k=$k '$1 == k { print $3; exit }' "$tmp/eval.txt")
  [ "$d" = "$p" ] || { echo "eval dump: $k greedy $d vs printed $p"; exit 1; }
done
echo "eval dump: 10 records, prompts and accuracies agree"
echo "train_ref: ok"
