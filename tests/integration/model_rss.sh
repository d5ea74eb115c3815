#!/usr/bin/env bash
# model_rss.sh BUILD — peak RSS of `r1 logits` on an R1-Distill-Qwen-1.5B-shape F16 file
# (3.5 GB, random weights, generated once into BUILD/models/ and reused) must be <= file
# size + KV cache + 10%, both with the default huge-page copy of the weights and with
# --mmap (weights used in place from the map); the logits of the two must be identical.
# `r1 bench --json` must report "weights": "hugepages" where transparent huge pages are
# "madvise"/"always" (else "mmap" with a note), and "mmap" with --mmap.
# Also checks prefill == decode on that file (first 4 tokens). Runtime: ~15 s once the
# file exists (generating it takes about a minute).
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
out2=$("$build/r1" logits -m "$m" --mmap --tokens 151646,40,1079,264 --out "$d/m.bin" -c $ctx --rss 2>&1) || { echo "model_rss: r1 logits --mmap failed: $out2"; exit 1; }
cmp -s "$d/p.bin" "$d/m.bin" || { echo "model_rss: FAILED (logits differ between huge-page and mmap weights)"; exit 1; }
rss=$(sed -n 's/^peak_rss_bytes //p' <<<"$out")
rss2=$(sed -n 's/^peak_rss_bytes //p' <<<"$out2")
want=mmap
grep -qE '\[(madvise|always)\]' /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null && want=hugepages
for mode in "" --mmap; do
  j=$("$build/r1" bench -m "$m" $mode -p 0 -n 1 -r 1 --bw-mib 0 --json) || { echo "model_rss: r1 bench $mode failed"; exit 1; }
  w=$(sed -n 's/.*"weights": "\([a-z]*\)".*/\1/p' <<<"$j")
  exp=$want; [ -n "$mode" ] && exp=mmap
  echo "model_rss: r1 bench ${mode:-(default)}: weights $w, $(sed -n 's/.*"load_s": \([0-9.]*\).*/load \1 s/p' <<<"$j")"
  [ "$w" = "$exp" ] || { echo "model_rss: FAILED (weights '$w', expected '$exp': $j)"; exit 1; }
done
file=$(stat -L -c %s "$m")
kv=$(( $("$build/r1" info "$m" --no-tensors | sed -n 's/^ *kv cache\/token *\([0-9]*\) bytes.*/\1/p') * ctx ))
limit=$(( (file + kv) * 11 / 10 ))
echo "model_rss: peak RSS $((rss >> 20)) MiB (huge pages) / $((rss2 >> 20)) MiB (--mmap), file $((file >> 20)) MiB, KV $((kv >> 10)) KiB, limit $((limit >> 20)) MiB"
/usr/bin/python3 - "$d/p.bin" "$d/d.bin" <<'PY' || exit 1
import sys, numpy as np
p = np.fromfile(sys.argv[1], dtype='<f4'); d = np.fromfile(sys.argv[2], dtype='<f4')
r = np.abs(p - d).max() / np.abs(p).max()
print("model_rss: prefill vs decode max relative difference %.2e" % r)
sys.exit(0 if r <= 1e-5 and np.isfinite(p).all() else 1)
PY
[ "$rss" -le "$limit" ] && [ "$rss2" -le "$limit" ] || { echo "model_rss: FAILED (peak RSS above the limit)"; exit 1; }
echo "model_rss: ok"
