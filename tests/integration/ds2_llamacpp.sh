#!/usr/bin/env bash
# ds2_llamacpp.sh BUILD — deepseek2 logits of r1 against llama.cpp (the prebuilt library
# from node-llama-cpp, tests/oracle/setup.sh) on the same files: V3-like (q-lora, sigmoid +
# bias, groups, YaRN) and V2-Lite-like tiny random models in both layouts, F32 and F16,
# prefill and decode (llama.cpp with an F32 KV cache, no flash attention).
# Pass: max_p |r1 - llama|_inf / |llama|_inf <= 1e-3 and argmax agreement >= 99%.
# (F16 only for the attn_kv_b layout: this llama.cpp build aborts in its scheduler on the
# tiny F16 split-layout files.) V2-like files have 27 layers: llama.cpp only treats a file without q_lora_rank as
# "lite" (plain attn_q) when it has 26 or 27 layers.
#
# Known difference, shown and checked: group-limited routing. DeepSeek scores a group by
# its maximum when the gate has no bias (DeepSeek-V2 236B / V2.5, softmax), llama.cpp always
# by the sum of its top-2 scores. On a grouped softmax model r1 follows DeepSeek (agrees with
# the numpy reference), and llama.cpp agrees with the same reference only when that uses
# the top-2 rule (DS2_GROUP_RULE=top2), i.e. the group rule is the whole difference.
set -eu
build=${1:-build}
py=/usr/bin/python3
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
libdir=$(bash tests/oracle/setup.sh | tail -1)/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64
export R1_GGML_LIBDIR="$libdir"
out="$build/ds2_llamacpp"; mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# harness: ll MODEL TOKENS prefill|decode OUT.bin -> n_tok x n_vocab float32 logits
cat > "$tmp/ll.c" <<'EOF'
#include "ggml-backend.h"
#include "llama.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
static void quiet(enum ggml_log_level l, const char *t, void *u) { (void)u; if (l >= GGML_LOG_LEVEL_ERROR) fputs(t, stderr); }
int main(int argc, char **argv) {
    if (argc < 5) return 2;
    llama_log_set(quiet, NULL);
    llama_backend_init();
    const char *dir = getenv("R1_GGML_LIBDIR");
    if (dir) ggml_backend_load_all_from_path(dir); else ggml_backend_load_all();
    struct llama_model *m = llama_model_load_from_file(argv[1], llama_model_default_params());
    if (!m) { fprintf(stderr, "llama.cpp cannot load %s\n", argv[1]); return 1; }
    int n = 0;
    static llama_token t[8192];
    for (char *p = strtok(argv[2], ","); p && n < 8192; p = strtok(NULL, ",")) t[n++] = atoi(p);
    struct llama_context_params cp = llama_context_default_params();
    cp.n_ctx = n + 16; cp.n_batch = n; cp.n_ubatch = n; cp.n_threads = 2; cp.n_threads_batch = 2;
    cp.type_k = GGML_TYPE_F32; cp.type_v = GGML_TYPE_F32; cp.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_DISABLED;
    struct llama_context *c = llama_init_from_model(m, cp);
    if (!c) { fprintf(stderr, "llama.cpp: no context\n"); return 1; }
    const int V = llama_vocab_n_tokens(llama_model_get_vocab(m));
    float *out = malloc(sizeof(float) * (size_t)V * (size_t)n);
    if (!strcmp(argv[3], "prefill")) {
        struct llama_batch b = llama_batch_init(n, 0, 1);
        for (int i = 0; i < n; i++) { b.token[i] = t[i]; b.pos[i] = i; b.n_seq_id[i] = 1; b.seq_id[i][0] = 0; b.logits[i] = 1; }
        b.n_tokens = n;
        if (llama_decode(c, b)) { fprintf(stderr, "llama_decode failed\n"); return 1; }
        for (int i = 0; i < n; i++) memcpy(out + (size_t)i * V, llama_get_logits_ith(c, i), sizeof(float) * V);
        llama_batch_free(b);
    } else {
        for (int i = 0; i < n; i++) {
            if (llama_decode(c, llama_batch_get_one(&t[i], 1))) { fprintf(stderr, "llama_decode failed\n"); return 1; }
            memcpy(out + (size_t)i * V, llama_get_logits_ith(c, -1), sizeof(float) * V);
        }
    }
    FILE *f = fopen(argv[4], "wb");
    if (!f || fwrite(out, sizeof(float), (size_t)V * n, f) != (size_t)V * n) return 1;
    fclose(f);
    llama_free(c);
    llama_model_free(m);
    free(out);
    return 0;
}
EOF
${CC:-cc} -std=c11 -O2 -D_GNU_SOURCE -I.oracle/llama-include "$tmp/ll.c" "$libdir/libllama.v0.4.0.so" \
  "$libdir/libggml.v0.4.0.so" "$libdir/libggml-base.so" -Wl,-rpath,"$libdir" -lm -pthread -o "$out/ll"

compare() {   # compare REF(.npy or .bin) OTHER.bin N_TOK TOL LABEL [differ]
  "$py" - "$@" <<'EOF'
import sys, numpy as np
ref_p, oth_p, n_tok, tol, label = sys.argv[1:6]
differ = len(sys.argv) > 6
n_tok, tol = int(n_tok), float(tol)
ref = np.load(ref_p) if ref_p.endswith(".npy") else np.fromfile(ref_p, dtype="<f4").reshape(n_tok, -1)
oth = np.fromfile(oth_p, dtype="<f4").reshape(ref.shape)
err = (np.abs(oth - ref).max(axis=1) / np.abs(ref).max(axis=1)).max()
agree = (oth.argmax(1) == ref.argmax(1)).mean()
ok = (err > tol) if differ else (err <= tol and agree >= 0.99)
want = f"> {tol:g} (expected difference)" if differ else f"<= {tol:g}"
print(f"  {label:52s} rel err {err:.2e} argmax {agree*100:3.0f}%  want {want}  {'ok' if ok else 'FAIL'}")
sys.exit(0 if ok else 1)
EOF
}

toks=$(seq -s, 3 42)
ntok=40
fail=0
for spec in "v3-tiny" "v2-tiny --layers 27"; do
  for layout in kv_b split; do
    types="f32 f16"
    [ "$layout" = split ] && types=f32   # this llama.cpp build aborts (ggml_backend_sched assert) on F16 attn_k_b
    for type in $types; do
      set -- $spec
      m="$tmp/$1-$layout-$type.gguf"
      "$build/tools/gen_model" --preset $spec --kv-layout "$layout" --type "$type" -o "$m"
      for mode in prefill decode; do
        "$out/ll" "$m" "$toks" "$mode" "$tmp/ll.bin"
        "$build/r1" logits -m "$m" --tokens "$toks" --mode "$mode" -t 2 -o "$tmp/r1.bin"
        compare "$tmp/ll.bin" "$tmp/r1.bin" "$ntok" 1e-3 "r1 vs llama.cpp: $1 $layout $type $mode" || fail=1
      done
    done
  done
done

echo "group-limited routing on a grouped softmax model (no bias): DeepSeek's max rule vs llama.cpp's top-2 sum"
m="$tmp/v2-grouped.gguf"
"$build/tools/gen_model" --preset v2-tiny --layers 27 --groups 4 --groups-used 2 -o "$m"
"$py" tests/ref/deepseek2_ds2.py "$m" "$toks" "$tmp/ref_max.npy"
DS2_GROUP_RULE=top2 "$py" tests/ref/deepseek2_ds2.py "$m" "$toks" "$tmp/ref_top2.npy"
"$out/ll" "$m" "$toks" prefill "$tmp/ll.bin"
"$build/r1" logits -m "$m" --tokens "$toks" -t 2 -o "$tmp/r1.bin"
compare "$tmp/ref_max.npy" "$tmp/r1.bin" "$ntok" 1e-4 "r1 vs reference (DeepSeek's rule)" || fail=1
compare "$tmp/ref_top2.npy" "$tmp/ll.bin" "$ntok" 1e-4 "llama.cpp vs reference with llama.cpp's rule" || fail=1
compare "$tmp/ll.bin" "$tmp/r1.bin" "$ntok" 1e-3 "r1 vs llama.cpp" differ || fail=1
[ "$fail" -eq 0 ] && echo "ds2_llamacpp: all ok"
exit "$fail"
