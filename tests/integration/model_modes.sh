#!/usr/bin/env bash
# model_modes.sh BUILD — `r1 logits` gives the same logits (<= 1e-5 relative) in prefill,
# decode, split:K and small-batch (-b 3) modes, 1 or 2 threads, F32 or F16 KV cache, for gen_model's
# tiny llama (with llama3 rope_freqs), qwen2 (tied output) and qwen3 (F16, Q8_0) files.
set -u
build=${1:-build}
cd "$(dirname "$0")/../.."
make -s BUILD="$build" "$build/r1" "$build/tools/gen_model" >/dev/null || exit 1
d=$(mktemp -d); trap 'rm -rf "$d"' EXIT
toks=1,500,9000,3,70000,11,2,1000,5,6,7,8,9,10,11,12,13,14,15,16
fail=0
for v in "llama --llama3-rope --rope-theta 500000" "qwen2 --tied" "qwen3 --type f16" "qwen3 --type q8_0"; do
  # shellcheck disable=SC2086
  "$build/tools/gen_model" --arch $v --preset tiny --vocab 80000 -o "$d/m.gguf" >/dev/null || { echo "gen_model $v failed"; exit 1; }
  "$build/r1" logits -m "$d/m.gguf" --tokens $toks --out "$d/prefill.bin" -t 1 || exit 1
  "$build/r1" logits -m "$d/m.gguf" --tokens $toks --out "$d/decode.bin" --mode decode -t 2 || exit 1
  "$build/r1" logits -m "$d/m.gguf" --tokens $toks --out "$d/split.bin" --mode split:7 -t 2 || exit 1
  "$build/r1" logits -m "$d/m.gguf" --tokens $toks --out "$d/batch.bin" -b 3 -c 64 -t 2 || exit 1
  "$build/r1" logits -m "$d/m.gguf" --tokens $toks --out "$d/f16p.bin" --kv-f16 -t 2 || exit 1
  "$build/r1" logits -m "$d/m.gguf" --tokens $toks --out "$d/f16d.bin" --kv-f16 --mode decode -t 1 || exit 1
  /usr/bin/python3 - "$d" "$v" <<'PY' || fail=1
import sys, numpy as np
d, v = sys.argv[1], sys.argv[2]
p = np.fromfile(d + "/prefill.bin", dtype="<f4").reshape(20, -1)
worst = 0.0
for m in ("decode", "split", "batch"):
    q = np.fromfile(d + "/%s.bin" % m, dtype="<f4").reshape(20, -1)
    worst = max(worst, float(np.abs(p - q).max() / np.abs(p).max()))
hp = np.fromfile(d + "/f16p.bin", dtype="<f4").reshape(20, -1)
hd = np.fromfile(d + "/f16d.bin", dtype="<f4").reshape(20, -1)
w16 = float(np.abs(hp - hd).max() / np.abs(hp).max())
ok = worst <= 1e-5 and w16 <= 1e-5 and np.isfinite(p).all() and np.abs(p[0] - p[1]).max() > 0
print("model_modes: %-40s max relative difference %.2e (f16 cache %.2e) %s" % (v, worst, w16, "ok" if ok else "FAILED"))
sys.exit(0 if ok else 1)
PY
done
exit $fail
