#!/usr/bin/env bash
# ds2_ref.sh BUILD — deepseek2 logits of r1 against the independent float64 numpy reference
# (tests/ref/deepseek2_ds2.py; also tests/ref/deepseek2.py when present), on tiny
# random-weight models shaped like DeepSeek-V2-Lite (plain query, softmax gating, no
# groups, 2 shared experts, unnormalised weights) and like V3/R1 (low-rank query, sigmoid
# gating + selection bias, 4 groups keep 2, normalised weights × 2.5), each in both GGUF
# layouts (attn_kv_b and attn_k_b/attn_v_b). 40 tokens with YaRN's original context 16,
# so most positions lie past it. r1 runs as one prefill, token-by-token decode, and
# chunked prefill (split:7, which mixes the expanded and absorbed forms).
# Pass: max_p |r1 - ref|_inf / |ref|_inf <= 1e-4 for F32 and F16 weights (the reference
# dequantizes the same F16 values; r1 dots them against F32 activations). Q8_0 is not
# compared here: r1 rounds activations to Q8_0 too, and MoE routing is discontinuous, so
# a few near-tie expert choices flip (observed 1e-2..8e-2 relative on these tiny models).
set -eu
build=${1:-build}
py=/usr/bin/python3
here=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
toks=$(seq -s, 3 42)
fail=0

compare() {   # compare REF.npy R1.bin TOL LABEL
  "$py" - "$1" "$2" "$3" "$4" <<'EOF'
import sys, numpy as np
ref = np.load(sys.argv[1]); tol = float(sys.argv[3])
r1 = np.fromfile(sys.argv[2], dtype="<f4").reshape(ref.shape)
err = (np.abs(r1 - ref).max(axis=1) / np.abs(ref).max(axis=1)).max()
agree = (r1.argmax(1) == ref.argmax(1)).mean()
print(f"  {sys.argv[4]:44s} rel err {err:.2e}  argmax {agree*100:.0f}%  {'ok' if err <= tol else 'FAIL'}")
sys.exit(0 if err <= tol else 1)
EOF
}

for preset in v2-tiny v3-tiny; do
  for layout in kv_b split; do
    for type in f32 f16; do
      m="$tmp/$preset-$layout-$type.gguf"
      "$build/tools/gen_model" --preset "$preset" --kv-layout "$layout" --type "$type" -o "$m"
      tol=1e-4
      refs=("$here/tests/ref/deepseek2_ds2.py")
      for ref in "${refs[@]}"; do
        rn=$(basename "$ref" .py)
        if ! "$py" "$ref" "$m" "$toks" "$tmp/ref.npy" > "$tmp/ref.log" 2>&1; then
          echo "  $rn failed on $preset/$layout/$type:"; tail -3 "$tmp/ref.log"; fail=1; continue
        fi
        for mode in prefill decode split:7; do
          "$build/r1" logits -m "$m" --tokens "$toks" --mode "$mode" -t 2 -o "$tmp/r1.bin"
          compare "$tmp/ref.npy" "$tmp/r1.bin" "$tol" "$preset $layout $type $mode vs $rn" || fail=1
        done
      done
    done
  done
done
[ "$fail" -eq 0 ] && echo "ds2_ref: all ok"
exit "$fail"
