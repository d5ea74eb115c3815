/*
 * cmd_info.c — `r1 info MODEL`: architecture, hyper-parameters, tokenizer summary (from
 * the GGUF metadata), the tensor table (name, type, shape, bytes), totals and the KV cache
 * bytes per token. Exit status: 0 ok, 1 failure (one-line message), 2 usage error.
 */
#include "cli.h"
#include "model.h"

static void usage(FILE *f) {
    fprintf(f, "usage: r1 info [-m] MODEL [--no-tensors] [--vocab-only]\n"
               "  prints architecture, hyper-parameters, tokenizer summary, the tensor table and totals\n"
               "  --vocab-only   do not bind/validate the weights (files with only a tokenizer)\n");
}

static void print_meta_int(const gguf_file *gf, const char *label, const char *key) {
    int64_t v;
    if (gguf_get_i64(gf, key, &v)) printf("  %-18s %lld\n", label, (long long)v);
}

int cmd_info(int argc, char **argv) {
    const char *path = NULL;
    bool tensors = true, vocab_only = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) { usage(stdout); return 0; }
        if (!strcmp(argv[i], "--no-tensors")) { tensors = false; continue; }
        if (!strcmp(argv[i], "--vocab-only")) { vocab_only = true; continue; }
        if (!strcmp(argv[i], "-m") || !strcmp(argv[i], "--model")) {
            if (i + 1 >= argc) { fprintf(stderr, "r1 info: option '%s' needs a value\n", argv[i]); return 2; }
            path = argv[++i];
            continue;
        }
        if (argv[i][0] == '-' || path) { fprintf(stderr, "r1 info: unexpected argument '%s' (see r1 info --help)\n", argv[i]); return 2; }
        path = argv[i];
    }
    if (!path) path = cli_default_model();
    r1_error err = {0};
    r1_model *m = NULL;
    r1_model_params mp = r1_model_default_params();
    mp.vocab_only = vocab_only;
    mp.mmap_weights = true;   /* nothing is evaluated: no huge-page copy */
    if (r1_model_load(path, &mp, &m, &err) != R1_OK) return cli_fail("info", &err);
    const r1_model_info *I = r1_model_get_info(m);
    const gguf_file *gf = r1_model_gguf(m);
    printf("file:          %s (%.2f MiB, GGUF v%u)\n", path, I->file_bytes / 1048576.0, gguf_version(gf));
    printf("name:          %s\n", I->name);
    printf("architecture:  %s\n", I->arch);
    double np = (double)I->n_params;
    printf("parameters:    %lld (%.3g %s)\n", (long long)I->n_params, np >= 1e9 ? np / 1e9 : np / 1e6,
           np >= 1e9 ? "B" : "M");
    printf("hyper-parameters:\n");
    printf("  %-18s %d\n  %-18s %d\n  %-18s %d\n  %-18s %d\n  %-18s %d\n  %-18s %d\n  %-18s %d\n  %-18s %d\n",
           "n_vocab", I->n_vocab, "n_ctx_train", I->n_ctx_train, "n_embd", I->n_embd, "n_layer", I->n_layer,
           "n_head", I->n_head, "n_head_kv", I->n_head_kv, "head_dim", I->head_dim, "n_ff", I->n_ff);
    printf("  %-18s %g\n", "rms_eps", (double)m->rms_eps);
    if (m->arch != R1_ARCH_DEEPSEEK2) {
        printf("  %-18s %d (%s)\n", "rope dims", m->n_rot, m->rope_neox ? "neox: half split" : "normal: consecutive pairs");
        printf("  %-18s %s\n", "rope_freqs", gguf_find_tensor(gf, "rope_freqs.weight") ? "yes (per-pair factors)" : "no");
    } else {
        printf("  %-18s q_lora %d, kv_lora %d, qk_nope %d, qk_rope %d, v_head %d, yarn %s\n", "mla",
               m->mla.c.q_lora_rank, m->mla.c.kv_lora_rank, m->mla.c.qk_nope, m->mla.c.qk_rope, m->mla.c.v_head,
               m->mla.c.yarn ? "on" : "off");
        printf("  %-18s %d\n", "dense lead layers", m->n_layer_dense_lead);
        if (m->layers && m->n_layer_dense_lead < I->n_layer) {
            const r1_moe_layer *ml = &m->layers[I->n_layer - 1].moe;
            printf("  %-18s %d routed (%d used, ffn %d), %d shared, %s gating, groups %d/%d, scale %g%s\n", "moe",
                   ml->router.n_expert, ml->router.n_used, ml->n_ff_exp, ml->n_shared,
                   ml->router.gating == R1_GATING_SIGMOID ? "sigmoid" : "softmax", ml->router.topk_group,
                   ml->router.n_group, (double)ml->router.scale, ml->router.norm ? ", normalised" : "");
        }
    }
    printf("  %-18s %s\n", "output", !m->layers ? "(weights not loaded)"
                                      : gguf_find_tensor(gf, "output.weight") ? "separate" : "tied to token_embd");
    /* every cache element is a float: 4 bytes in the F32 cache, 2 in the F16 one (--kv-f16) */
    printf("  %-18s %zu bytes (f32), %zu bytes (f16) = %.1f KiB\n", "kv cache/token", I->kv_bytes_per_token,
           I->kv_bytes_per_token / 2, (double)(I->kv_bytes_per_token / 2) / 1024);
    printf("tokenizer:\n");
    const char *tm = r1_model_meta_str(m, "tokenizer.ggml.model"), *pre = r1_model_meta_str(m, "tokenizer.ggml.pre");
    printf("  %-18s %s\n  %-18s %s\n", "model", tm ? tm : "(none)", "pre", pre ? pre : "(none)");
    const gguf_kv *toks = gguf_find_kv(gf, "tokenizer.ggml.tokens");
    if (toks && toks->type == GGUF_ARRAY) printf("  %-18s %llu\n", "tokens", (unsigned long long)toks->arr_n);
    print_meta_int(gf, "bos", "tokenizer.ggml.bos_token_id");
    print_meta_int(gf, "eos", "tokenizer.ggml.eos_token_id");
    if (!r1_model_get_tokenizer(m)) printf("  %-18s %s\n", "status", m->tok_error[0] ? m->tok_error : "not loaded");
    printf("  %-18s %s\n", "chat template", r1_model_meta_str(m, "tokenizer.chat_template") ? "yes" : "no");
    uint64_t total = 0;
    const int64_t nt = gguf_n_tensors(gf);
    if (tensors) printf("tensors:\n  %-34s %-7s %-26s %12s\n", "name", "type", "shape", "bytes");
    for (int64_t i = 0; i < nt; i++) {
        const gguf_tensor *t = gguf_tensor_at(gf, i);
        total += t->nbytes;
        if (!tensors) continue;
        char shape[64];
        int o = snprintf(shape, sizeof shape, "[");
        for (int d = 0; d < t->n_dims && o < (int)sizeof shape; d++)
            o += snprintf(shape + o, sizeof shape - (size_t)o, "%s%lld", d ? ", " : "", (long long)t->ne[d]);
        if (o < (int)sizeof shape) snprintf(shape + o, sizeof shape - (size_t)o, "]");
        printf("  %-34s %-7s %-26s %12zu\n", t->name, r1_type_name(t->type), shape, t->nbytes);
    }
    printf("totals:        %lld tensors, %llu bytes of weights (%.2f MiB)\n", (long long)nt, (unsigned long long)total,
           total / 1048576.0);
    r1_model_free(m);
    return 0;
}
