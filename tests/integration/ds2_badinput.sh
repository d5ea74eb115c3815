#!/usr/bin/env bash
# ds2_badinput.sh BUILD — broken deepseek2 files must fail with a clear one-line error that
# names the file and the key or tensor at fault, and a non-zero exit (never a crash).
# The bad files are edits of a good V3-like tiny model (tests/integration/ds2_gguf_edit.py):
# inconsistent expert counts and shapes, missing MLA tensors, expert_used_count larger than
# expert_count, unknown gating function, groups that do not divide the experts.
set -u
build=${1:-build}
py=/usr/bin/python3
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
good="$tmp/good.gguf"
"$build/tools/gen_model" --preset v3-tiny -o "$good" || exit 1
"$build/r1" logits -m "$good" --tokens 1,2,3 -o "$tmp/out.bin" || { echo "good model failed"; exit 1; }

# case NAME EXPECTED-SUBSTRING EDIT...
case_() {
  local name=$1 want=$2; shift 2
  local bad="$tmp/$name.gguf"
  "$py" "$here/ds2_gguf_edit.py" "$good" "$bad" "$@" || { echo "FAIL $name: edit failed"; fail=1; return; }
  "$build/r1" logits -m "$bad" --tokens 1,2,3 -o "$tmp/out.bin" > "$tmp/stdout" 2> "$tmp/stderr"
  local rc=$?
  local msg; msg=$(cat "$tmp/stderr")
  if [ $rc -eq 0 ] || [ $rc -ge 128 ]; then
    echo "FAIL $name: exit $rc (want a clean non-zero exit)"; fail=1
  elif ! grep -qF "$want" "$tmp/stderr" || ! grep -qF "$name.gguf" "$tmp/stderr"; then
    echo "FAIL $name: message lacks '$want' or the file name: $msg"; fail=1
  elif [ "$(wc -l < "$tmp/stderr")" -ne 1 ]; then
    echo "FAIL $name: expected one line, got: $msg"; fail=1
  else
    echo "ok   $name: $msg"
  fi
}

case_ expert_count_mismatch  "blk.1.ffn_gate_inp.weight" set:deepseek2.expert_count=8
case_ expert_shape           "blk.1.ffn_up_exps.weight"  reshape:blk.1.ffn_up_exps.weight=64,16,32
case_ missing_kv_a_mqa       "blk.0.attn_kv_a_mqa.weight" drop:blk.0.attn_kv_a_mqa.weight
case_ missing_kv_b           "attn_kv_b"                 drop:blk.2.attn_kv_b.weight
case_ missing_q_a_norm       "blk.0.attn_q_a_norm.weight" drop:blk.0.attn_q_a_norm.weight
case_ missing_down_exps      "blk.2.ffn_down_exps.weight" drop:blk.2.ffn_down_exps.weight
case_ used_gt_count          "expert_used_count"         set:deepseek2.expert_used_count=17
case_ unknown_gating         "expert_gating_func"        set:deepseek2.expert_gating_func=3
case_ groups_not_dividing    "expert_group_count"        set:deepseek2.expert_group_count=3
case_ missing_kv_lora_rank   "kv_lora_rank"              drop_key:deepseek2.attention.kv_lora_rank
case_ bias_shape             "blk.1.exp_probs_b.bias"    reshape:blk.1.exp_probs_b.bias=8,2
[ "$fail" -eq 0 ] && echo "ds2_badinput: all ok"
exit "$fail"
