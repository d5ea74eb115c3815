#!/usr/bin/env bash
# model_rss.sh BUILD — weights are used in place from the mmap: peak RSS of `r1 logits`
# on an R1-Distill-Qwen-1.5B-shape F16 file (3.5 GB, random weights, generated once into
# BUILD/models/ and reused) must be <= file size + KV cache + 10%.
# Also checks prefill == decode on that file (first 4 tokens). Runtime: a few seconds
# once the file exists (generating it takes about a minute).
set -u
build=${1:-build}
cd "$(dirname "$0")/../.."
make -s BUILD="$build" "$build/r1" "$build/tools/gen_model" >/dev/null || exit 1
m=$build/models/qwen2-1.5b-f16.gguf
mkdir -p "$build/models"
if [ ! -s "$m" ]; then
  "$build/tools/gen_model" --arch qwen2 --preset r1-distill-qwen-1.5b --type f16 -o "$m" >/dev/null || exit 1
fi
d=$(mktemp -d); trap 'rm -rf "$d"' EXIT
ctx=16
out=$("$build/r1" logits -m "$m" --tokens 151646,40,1079,264 --out "$d/p.bin" -c $ctx --rss 2>&1) || { echo "model_rss: r1 logits failed: $out"; exit 1; }
"$build/r1" logits -m "$m" --tokens 151646,40,1079,264 --out "$d/d.bin" -c $ctx --mode decode || exit 1
rss=$(sed -n 's/^peak_rss_bytes //p' <<<"$out")
file=$(stat -c %s "$m")
kv=$(( $("$build/r1" info "$m" --no-tensors | sed -n 's/^ *kv cache\/token *\([0-9]*\) bytes.*/\1/p') * ctx ))
limit=$(( (file + kv) * 11 / 10 ))
echo "model_rss: peak RSS $((rss >> 20)) MiB, file $((file >> 20)) MiB, KV $((kv >> 10)) KiB, limit $((limit >> 20)) MiB"
/usr/bin/python3 - "$d/p.bin" "$d/d.bin" <<'PY' || exit 1
import sys, numpy as np
p = np.fromfile(sys.argv[1], dtype='<f4'); d = np.fromfile(sys.argv[2], dtype='<f4')
r = np.abs(p - d).max() / np.abs(p).max()
print("model_rss: prefill vs decode max relative difference %.2e" % r)
sys.exit(0 if r <= 1e-5 and np.isfinite(p).all() else 1)
PY
[ "$rss" -le "$limit" ] || { echo "model_rss: FAILED (peak RSS above the limit)"; exit 1; }
echo "model_rss: ok"
