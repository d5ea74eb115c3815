#!/usr/bin/env bash
# model_badinput.sh BUILD — `r1 info` / `r1 logits` on bad input: every failure exits 1
# (usage errors 2) with ONE line naming the file/tensor/argument, never a signal.
# Bad files are byte-level edits of a good tiny qwen2 file from tools/gen_model.
set -u
build=${1:-build}
cd "$(dirname "$0")/../.."
make -s BUILD="$build" "$build/r1" "$build/tools/gen_model" >/dev/null || exit 1
d=$(mktemp -d); trap 'rm -rf "$d"' EXIT
R1=$build/r1
"$build/tools/gen_model" --arch qwen2 --preset tiny -o "$d/good.gguf" >/dev/null || exit 1
fail=0; n=0
# expect WANT_RC NEEDLE cmd...  (stderr must be one line containing NEEDLE)
expect() {
  local want=$1 needle=$2; shift 2
  local out rc
  out=$("$@" 2>&1 >/dev/null); rc=$?
  n=$((n+1))
  if [ "$rc" -ne "$want" ] || ! grep -qF -- "$needle" <<<"$out" || [ "$(wc -l <<<"$out")" -ne 1 ]; then
    echo "FAIL: $* -> rc=$rc '$out' (want rc $want and '$needle')"; fail=1
  fi
}
# edit IN OUT PYTHON-EXPR-ON-b  (b = bytearray of the file)
edit() {
  /usr/bin/python3 - "$1" "$2" "$3" <<'PY'
import struct, sys
b = bytearray(open(sys.argv[1], 'rb').read())
def at(s): i = b.find(s.encode()); assert i >= 0, s; return i
exec(sys.argv[3])
open(sys.argv[2], 'wb').write(b)
PY
}
g=$d/good.gguf
expect 0 "" true
expect 1 "$d/none.gguf" "$R1" info "$d/none.gguf"
expect 1 "$d/none.gguf" "$R1" logits -m "$d/none.gguf" --tokens 1 --out "$d/o.bin"
edit "$g" "$d/magic.gguf" 'b[0:4] = b"GGUX"'
expect 1 "magic.gguf" "$R1" info "$d/magic.gguf"
edit "$g" "$d/trunc.gguf" 'del b[200:]'
expect 1 "trunc.gguf" "$R1" info "$d/trunc.gguf"
edit "$g" "$d/past.gguf" 'del b[len(b)-100:]'
expect 1 "past.gguf" "$R1" logits -m "$d/past.gguf" --tokens 1 --out "$d/o.bin"
# unknown tensor type id (the u32 after name, n_dims, ne[0] of the 1-D output_norm)
edit "$g" "$d/type.gguf" 'i = at("output_norm.weight") + 18 + 4 + 8; b[i:i+4] = struct.pack("<I", 77)'
expect 1 "output_norm.weight" "$R1" info "$d/type.gguf"
# unknown architecture (same-length rename of the general.architecture value)
edit "$g" "$d/arch.gguf" 'i = at("general.architecture") + 20 + 4 + 8; b[i:i+5] = b"qwen9"'
expect 1 "unknown architecture 'qwen9'" "$R1" info "$d/arch.gguf"
# missing tensor (same-length rename)
edit "$g" "$d/missing.gguf" 'i = at("blk.1.ffn_up.weight"); b[i:i+19] = b"blk.1.ffn_uX.weight"'
expect 1 "missing tensor 'blk.1.ffn_up.weight'" "$R1" logits -m "$d/missing.gguf" --tokens 1 --out "$d/o.bin"
# shape disagreeing with the hyper-parameters (feed_forward_length 128 -> 96)
edit "$g" "$d/shape.gguf" 'i = at("qwen2.feed_forward_length") + 25 + 4; b[i:i+4] = struct.pack("<I", 96)'
expect 1 "tensor 'blk.0.ffn_gate.weight' has shape [64, 128], expected [64, 96]" "$R1" info "$d/shape.gguf"
# evaluation errors
expect 1 "out of range" "$R1" logits -m "$g" --tokens 1,99999999 --out "$d/o.bin"
expect 1 "out of range" "$R1" logits -m "$g" --tokens 1,-3 --out "$d/o.bin"
expect 1 "context full" "$R1" logits -m "$g" --tokens 1,2,3,4,5,6 -c 4 --out "$d/o.bin"
expect 1 "$d/nodir/o.bin" "$R1" logits -m "$g" --tokens 1 --out "$d/nodir/o.bin"
# usage errors
expect 2 "--tokens" "$R1" logits -m "$g" --out "$d/o.bin"
expect 2 "--tokens" "$R1" logits -m "$g" --tokens 1,x --out "$d/o.bin"
expect 2 "mode" "$R1" logits -m "$g" --tokens 1 --out "$d/o.bin" --mode sideways
expect 2 "-t" "$R1" logits -m "$g" --tokens 1 --out "$d/o.bin" -t many
expect 2 "--bogus" "$R1" info --bogus
echo "model_badinput: $n checks, $([ $fail = 0 ] && echo ok || echo FAILED)"
exit $fail
