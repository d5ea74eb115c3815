#!/usr/bin/env bash
# quant_llamacpp.sh BUILD — `r1 quantize` against llama.cpp (prebuilt libllama/libggml).
#  1. a small random llama-architecture model (tests/oracle/quant_gen_model.py: 8 layers,
#     GQA 4, n_ff 544 so ffn_down rows need k-quant fallbacks) in F16 and BF16, plus
#     build/tools/gen_model's qwen2, qwen3 and deepseek2 (MoE + MLA) tiny presets, and
#     28/30-layer qwen2, llama and deepseek2 models for the mixture types (where the
#     order llama.cpp visits tensors in, blk.2 before blk.10, decides which layers get
#     more bits);
#  2. for each file type: llama.cpp quantizes it (llama_model_quantize) and r1's mixture
#     rules must pick the same type for every tensor;
#  3. r1 quantizes it: llama.cpp must load the result, every tensor must dequantize
#     bit-identically with ggml and r1, and the bytes must equal llama.cpp's own output;
#  4. bad input: unknown type (lists valid ones), missing/truncated input, a Q4_0 target that cannot
#     hold a 536-wide row, requantizing without --allow-requantize: clear message,
#     non-zero exit, no output file left behind.
# Steps 3-4 need the GGUF writer behind `r1 quantize`; without it they are reported as
# not run (the script says so) and only 1-2 are checked.
set -euo pipefail
build=${1:-build}
cd "$(dirname "$0")/../.."
make -s BUILD="$build" "$build/libr1.a" "$build/r1" >/dev/null
libdir=$(bash tests/oracle/setup.sh | tail -1)/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64
export R1_GGML_LIBDIR="$libdir"
out="$build/quant_llamacpp"; mkdir -p "$out"
# ggml's libraries come first: the harness calls ggml's gguf_* API, and r1's own gguf_*
# functions (same names, in libr1.a) must not be pulled in to shadow them.
${CC:-cc} -std=c11 -O2 -D_GNU_SOURCE -I.oracle/llama-include -Iinclude -Isrc tests/oracle/quant_llamacpp.c \
  "$libdir/libllama.v0.4.0.so" "$libdir/libggml.v0.4.0.so" "$libdir/libggml-base.so" "$build/libr1.a" \
  -Wl,-rpath,"$libdir" -lm -pthread -o "$out/harness"
if nm "$out/harness" | grep -q " T gguf_open$"; then echo "quant_llamacpp: r1's gguf.o leaked into the harness"; exit 1; fi
H="$out/harness"
/usr/bin/python3 tests/oracle/quant_gen_model.py "$out/model-f16.gguf" f16
/usr/bin/python3 tests/oracle/quant_gen_model.py "$out/model-bf16.gguf" bf16
/usr/bin/python3 tests/oracle/quant_gen_model.py "$out/model-odd.gguf" f16 odd

have_r1=1
probe=$("$build/r1" quantize "$out/model-f16.gguf" "$out/probe.gguf" Q8_0 2>&1 || true)
case $probe in *"not implemented"*) have_r1=0;; esac
rm -f "$out/probe.gguf"

fail=0
declare -A FT=([Q8_0]=7 [Q4_0]=2 [Q4_1]=3 [Q5_0]=8 [Q5_1]=9 [Q2_K]=10 [Q3_K_M]=12 [Q4_K_M]=15 [Q4_K_S]=14
               [Q5_K_M]=17 [Q5_K_S]=16 [Q6_K]=18 [IQ4_NL]=25 [IQ4_XS]=30)
for src in f16 bf16; do
  for name in Q8_0 Q4_0 Q4_1 Q5_0 Q5_1 Q2_K Q3_K_M Q4_K_M Q4_K_S Q5_K_M Q5_K_S Q6_K IQ4_NL IQ4_XS; do
    [ "$src" = bf16 ] && case $name in Q8_0|Q4_K_M|Q6_K) ;; *) continue;; esac
    in="$out/model-$src.gguf"; ref="$out/ref-$src-$name.gguf"; mine="$out/r1-$src-$name.gguf"
    "$H" ref "$in" "$ref" "${FT[$name]}" || { echo "FAIL: llama.cpp could not quantize to $name"; fail=1; continue; }
    "$H" mix "$in" "$ref" "${FT[$name]}" | tail -1 | sed "s/^/[$src] /" | tee "$out/last.log" || true
    grep -q "; ok$" "$out/last.log" || fail=1
    if [ $have_r1 = 1 ]; then
      if "$build/r1" quantize "$in" "$mine" "$name" --threads 2 2>"$out/err.log"; then
        "$H" check "$mine" "$ref" | tail -1 | sed "s/^/[$src $name] /" | tee "$out/last.log" || true
        grep -q "; ok$" "$out/last.log" || fail=1
      else echo "FAIL: r1 quantize $name: $(cat "$out/err.log")"; fail=1; fi
      rm -f "$mine"
    fi
    rm -f "$ref"
  done
done

# models from the project's generator (build/tools/gen_model), incl. DeepSeek-V3-style MoE
# (3-D expert tensors, MLA attn_kv_b) and qwen2/qwen3
if [ $have_r1 = 1 ] && make -s BUILD="$build" "$build/tools/gen_model" >/dev/null 2>&1; then
  for spec in "qwen2 tiny" "qwen3 tiny" "deepseek2 v3-tiny"; do
    set -- $spec
    "$build/tools/gen_model" --arch "$1" --preset "$2" --type f16 -o "$out/gen.gguf" >/dev/null
    for name in Q4_K_M Q3_K_M Q5_K_S Q8_0; do
      "$H" ref "$out/gen.gguf" "$out/gen-ref.gguf" "${FT[$name]}" || { echo "FAIL: llama.cpp quantize $spec $name"; fail=1; continue; }
      "$H" mix "$out/gen.gguf" "$out/gen-ref.gguf" "${FT[$name]}" | tail -1 | sed "s/^/[$1] /" | tee "$out/last.log" || true
      grep -q "; ok$" "$out/last.log" || fail=1
      if "$build/r1" quantize "$out/gen.gguf" "$out/gen-r1.gguf" "$name" 2>"$out/err.log"; then
        "$H" check "$out/gen-r1.gguf" "$out/gen-ref.gguf" | tail -1 | sed "s/^/[$1 $name] /" | tee "$out/last.log" || true
        grep -q "; ok$" "$out/last.log" || fail=1
      else echo "FAIL: r1 quantize $spec $name: $(cat "$out/err.log")"; fail=1; fi
    done
  done
  rm -f "$out"/gen*.gguf

  # Deep models: llama.cpp visits tensors by layer NUMBER (blk.2 before blk.10), and the
  # attn_v / ffn_down counters decide which layers get more bits, so with more than 10
  # layers the visiting order matters (the 8-layer models above cannot show it). Small
  # widths (multiples of 256, so the k-quants are used without fallbacks), 28-30 layers.
  for spec in "qwen2 28 --layers 28 --embd 256 --heads 8 --kv-heads 2 --ff 512 --vocab 512" \
              "llama 30 --layers 30 --embd 256 --heads 4 --kv-heads 2 --ff 768 --vocab 512" \
              "deepseek2 28 --preset v3-tiny --layers 28 --embd 256 --kv-lora 256 --ff 512 --ff-exp 256 --experts 4 --experts-used 2 --groups 1 --groups-used 1 --vocab 512"; do
    set -- $spec
    arch=$1 nl=$2; shift 2
    "$build/tools/gen_model" --arch "$arch" "$@" --type f16 -o "$out/deep.gguf" >/dev/null
    for name in Q2_K Q3_K_M Q4_K_M Q4_K_S Q5_K_M Q5_K_S IQ4_NL IQ4_XS; do
      "$H" ref "$out/deep.gguf" "$out/deep-ref.gguf" "${FT[$name]}" || { echo "FAIL: llama.cpp quantize $arch-$nl $name"; fail=1; continue; }
      "$H" mix "$out/deep.gguf" "$out/deep-ref.gguf" "${FT[$name]}" | tail -1 | sed "s/^/[$arch $nl layers] /" | tee "$out/last.log" || true
      grep -q "; ok$" "$out/last.log" || fail=1
      if "$build/r1" quantize "$out/deep.gguf" "$out/deep-r1.gguf" "$name" --threads 2 2>"$out/err.log"; then
        "$H" check "$out/deep-r1.gguf" "$out/deep-ref.gguf" | tail -1 | sed "s/^/[$arch $nl layers $name] /" | tee "$out/last.log" || true
        grep -q "; ok$" "$out/last.log" || fail=1
      else echo "FAIL: r1 quantize $arch-$nl $name: $(cat "$out/err.log")"; fail=1; fi
    done
  done
  rm -f "$out"/deep*.gguf
fi

if [ $have_r1 = 1 ]; then
  expect_fail() {  # expect_fail DESCRIPTION GREP-PATTERN r1-args...
    local what=$1 pat=$2; shift 2
    rm -f "$out/bad.gguf"
    if "$build/r1" quantize "$@" 2>"$out/err.log"; then echo "FAIL: $what: exit 0"; fail=1; return; fi
    if ! grep -qi -- "$pat" "$out/err.log"; then echo "FAIL: $what: message: $(cat "$out/err.log")"; fail=1; return; fi
    if ls "$out"/bad.gguf* >/dev/null 2>&1; then echo "FAIL: $what: output left behind"; fail=1; return; fi
    echo "bad input ok: $what: $(head -1 "$out/err.log")"
  }
  expect_fail "unknown type" "Q4_K_M" "$out/model-f16.gguf" "$out/bad.gguf" Q4_K_X
  expect_fail "missing input" "nonexistent" "$out/nonexistent.gguf" "$out/bad.gguf" Q8_0
  head -c 4000000 "$out/model-f16.gguf" > "$out/trunc.gguf"
  expect_fail "truncated input" "past the end" "$out/trunc.gguf" "$out/bad.gguf" Q4_K_M
  rm -f "$out/trunc.gguf"
  expect_fail "row 536 in Q4_0" "ffn_down" "$out/model-odd.gguf" "$out/bad.gguf" Q4_0
  "$build/r1" quantize "$out/model-f16.gguf" "$out/q8.gguf" Q8_0 2>/dev/null
  expect_fail "requantize without flag" "allow-requantize" "$out/q8.gguf" "$out/bad.gguf" Q4_K_M
  "$build/r1" quantize "$out/q8.gguf" "$out/bad.gguf" Q4_K_M --allow-requantize 2>"$out/err.log" \
    && grep -qi warning "$out/err.log" && echo "requantize with flag ok (warned)" || { echo "FAIL: --allow-requantize"; fail=1; }
  rm -f "$out/q8.gguf" "$out/bad.gguf"
else
  echo "quant_llamacpp: NOTE: r1 quantize is not available in this build (no GGUF writer yet):"
  echo "  checked llama.cpp's mixture choices against r1's rules only; steps 3-4 not run"
fi
rm -f "$out"/model-*.gguf
[ $fail = 0 ] && echo "quant_llamacpp: ok" || { echo "quant_llamacpp: FAIL"; exit 1; }
