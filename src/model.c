/*
 * model.c — r1_model_*: reads hyper-parameters from GGUF metadata, binds every tensor
 * (validating shape and type against the hyper-parameters) as a view into the map, and
 * builds the per-layer description (attention kind, FFN kind, cache widths) that
 * forward.c runs. By default the tensor data is then copied into 2 MiB huge-page memory
 * (gguf_load_anon; all but an untied token_embd) and the tensors bound again; with
 * r1_model_params.mmap_weights / R1_MMAP=1, or on fallback, weights stay in the mmap.
 *
 * Metadata read (all under "<arch>."; defaults in brackets):
 *   context_length [4096], embedding_length, block_count, feed_forward_length,
 *   attention.head_count, attention.head_count_kv [head_count],
 *   attention.key_length [n_embd/n_head], attention.value_length [key_length],
 *   attention.layer_norm_rms_epsilon [1e-6], rope.freq_base [10000],
 *   rope.dimension_count [key_length], rope.scaling.type ("none"|"linear") and
 *   rope.scaling.factor (linear: angles × 1/factor);
 *   llama: optional tensor rope_freqs.weight [n_rot/2] F32 (Llama 3.1 scaling: pair i's
 *   angle is divided by rope_freqs[i], as llama.cpp's converter writes it and
 *   ggml_rope_ext applies it);
 *   deepseek2: see mla.h / moe.h, plus leading_dense_block_count [1].
 */
#include "model.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static const char *const k_arch_names[] = {"llama", "qwen2", "qwen3", "deepseek2"};

r1_model_params r1_model_default_params(void) {
    r1_model_params p = {.pretokenizer = NULL, .vocab_only = false, .progress = false, .progress_cb = NULL,
                         .progress_user = NULL, .mmap_weights = false};
    return p;
}

const gguf_file *r1_model_gguf(const r1_model *m) { return m->gf; }
const r1_model_info *r1_model_get_info(const r1_model *m) { return &m->info; }
const r1_tokenizer *r1_model_get_tokenizer(const r1_model *m) { return m->tok; }
const char *r1_model_tokenizer_error(const r1_model *m) { return m->tok ? "" : m->tok_error; }

/* ---- metadata helpers ------------------------------------------------------------ */
typedef struct loader {
    r1_model   *m;
    const char *file;
    const char *arch;
    r1_error   *err;
} loader;

/* Integer "<arch>.<key>" into *out, or def when absent (required: def < 0 means the key
 * must exist). Range-checked against [lo, hi]. */
static r1_status meta_int(loader *L, const char *key, int64_t def, int64_t lo, int64_t hi, int *out) {
    char full[160];
    snprintf(full, sizeof full, "%s.%s", L->arch, key);
    int64_t v = def;
    const gguf_kv *kv = gguf_find_kv(L->m->gf, full);
    if (kv && kv->type == GGUF_ARRAY) {
        /* per-layer arrays (e.g. head_count_kv): accepted when all entries are equal */
        if (kv->arr_n == 0 || !gguf_arr_i64(kv, 0, &v))
            return r1_set_error(L->err, R1_ERR_FORMAT, "%s: key '%s' is an empty or non-integer array", L->file, full);
        for (uint64_t i = 1; i < kv->arr_n; i++) {
            int64_t w;
            if (!gguf_arr_i64(kv, i, &w) || w != v)
                return r1_set_error(L->err, R1_ERR_UNSUPPORTED, "%s: key '%s' varies per layer (unsupported)", L->file, full);
        }
    } else if (kv) {
        if (!gguf_get_i64(L->m->gf, full, &v))
            return r1_set_error(L->err, R1_ERR_FORMAT, "%s: key '%s' is not an integer", L->file, full);
    } else if (def < 0) {
        return r1_set_error(L->err, R1_ERR_FORMAT, "%s: missing key '%s'", L->file, full);
    }
    if (v < lo || v > hi)
        return r1_set_error(L->err, R1_ERR_FORMAT, "%s: key '%s' = %lld out of range [%lld, %lld]", L->file, full,
                            (long long)v, (long long)lo, (long long)hi);
    *out = (int)v;
    return R1_OK;
}

static r1_status meta_float(loader *L, const char *key, float def, float *out) {
    char full[160];
    snprintf(full, sizeof full, "%s.%s", L->arch, key);
    float v = def;
    if (gguf_find_kv(L->m->gf, full) && !gguf_get_f32(L->m->gf, full, &v))
        return r1_set_error(L->err, R1_ERR_FORMAT, "%s: key '%s' is not a number", L->file, full);
    if (!isfinite(v))
        return r1_set_error(L->err, R1_ERR_FORMAT, "%s: key '%s' is not finite", L->file, full);
    *out = v;
    return R1_OK;
}

/* ---- tensor binding --------------------------------------------------------------- */
static void fmt_shape(char *buf, size_t cap, int n_dims, const int64_t *ne) {
    size_t o = 0;
    o += (size_t)snprintf(buf + o, cap - o, "[");
    for (int i = 0; i < n_dims && o < cap; i++)
        o += (size_t)snprintf(buf + o, cap - o, "%s%lld", i ? ", " : "", (long long)ne[i]);
    if (o < cap) snprintf(buf + o, cap - o, "]");
}

/* Finds tensor `name` and checks it has exactly the shape ne[0..n_dims) (trailing 1s of
 * the file's shape are ignored). Missing and optional: *out = NULL, R1_OK. */
static r1_status find_shaped(loader *L, const char *name, int n_dims, const int64_t *ne, bool optional,
                             const gguf_tensor **out) {
    const gguf_tensor *t = gguf_find_tensor(L->m->gf, name);
    *out = NULL;
    if (!t) {
        if (optional) return R1_OK;
        return r1_set_error(L->err, R1_ERR_FORMAT, "%s: missing tensor '%s'", L->file, name);
    }
    bool ok = true;
    for (int i = 0; i < 4; i++) ok = ok && t->ne[i] == (i < n_dims ? ne[i] : 1);
    if (!ok) {
        char got[96], want[96];
        fmt_shape(got, sizeof got, t->n_dims, t->ne);
        fmt_shape(want, sizeof want, n_dims, ne);
        return r1_set_error(L->err, R1_ERR_FORMAT, "%s: tensor '%s' has shape %s, expected %s", L->file, name, got, want);
    }
    *out = t;
    return R1_OK;
}

/* Binds matrix `name` with ne = [n_in, n_out] as an r1_wmat. */
static r1_status bind_mat(loader *L, const char *name, int64_t n_in, int64_t n_out, bool optional, r1_wmat *w,
                          bool *found) {
    const int64_t ne[2] = {n_in, n_out};
    const gguf_tensor *t;
    r1_status s = find_shaped(L, name, 2, ne, optional, &t);
    if (found) *found = t != NULL;
    if (s != R1_OK || !t) return s;
    char what[320];
    snprintf(what, sizeof what, "%s: tensor '%s'", L->file, name);
    return r1_wmat_init(w, t->type, t->data, n_in, n_out, what, L->err);
}

/* Binds F32 vector `name` of n elements (norm weights, biases, rope factors). */
static r1_status bind_vec(loader *L, const char *name, int64_t n, bool optional, const float **v) {
    const gguf_tensor *t;
    r1_status s = find_shaped(L, name, 1, &n, optional, &t);
    *v = NULL;
    if (s != R1_OK || !t) return s;
    if (t->type != R1_TYPE_F32)
        return r1_set_error(L->err, R1_ERR_UNSUPPORTED, "%s: tensor '%s' has type %s, expected f32", L->file, name,
                            r1_type_name(t->type));
    *v = t->data;
    return R1_OK;
}

#define TRY(expr) do { r1_status s_ = (expr); if (s_ != R1_OK) return s_; } while (0)

/* ---- hyper-parameters ------------------------------------------------------------- */
/* Fills m->info and the RoPE / MLA constants from the metadata (see the file header). */
static r1_status load_hparams(loader *L) {
    r1_model *m = L->m;
    r1_model_info *I = &m->info;
    TRY(meta_int(L, "context_length", 4096, 1, 1 << 30, &I->n_ctx_train));
    TRY(meta_int(L, "embedding_length", -1, 1, 1 << 20, &I->n_embd));
    TRY(meta_int(L, "block_count", -1, 1, 4096, &I->n_layer));
    TRY(meta_int(L, "attention.head_count", -1, 1, 1 << 16, &I->n_head));
    TRY(meta_int(L, "attention.head_count_kv", I->n_head, 1, I->n_head, &I->n_head_kv));
    TRY(meta_float(L, "attention.layer_norm_rms_epsilon", 1e-6f, &m->rms_eps));
    if (m->rms_eps < 0) return r1_set_error(L->err, R1_ERR_FORMAT, "%s: negative rms epsilon", L->file);
    if (m->arch == R1_ARCH_DEEPSEEK2) {
        TRY(meta_int(L, "feed_forward_length", 0, 0, 1 << 24, &I->n_ff));
        TRY(meta_int(L, "leading_dense_block_count", 1, 0, I->n_layer, &m->n_layer_dense_lead));
        r1_mla_config c;
        TRY(r1_mla_config_from_gguf(m->gf, L->arch, L->file, &c, L->err));
        TRY(r1_mla_init(&m->mla, &c, L->file, L->err));
        I->head_dim = c.qk_nope + c.qk_rope;
        m->head_dim_v = c.v_head;
        I->n_head_kv = I->n_head;
        I->kv_bytes_per_token = (size_t)I->n_layer * r1_mla_cache_row_bytes(&c, R1_TYPE_F32);
        return R1_OK;
    }
    TRY(meta_int(L, "feed_forward_length", -1, 1, 1 << 24, &I->n_ff));
    if (I->n_head % I->n_head_kv)
        return r1_set_error(L->err, R1_ERR_FORMAT, "%s: head_count %d is not a multiple of head_count_kv %d", L->file,
                            I->n_head, I->n_head_kv);
    const int hd_def = I->n_embd % I->n_head == 0 ? I->n_embd / I->n_head : -1;
    TRY(meta_int(L, "attention.key_length", hd_def, 2, R1_MAX_HEAD_DIM, &I->head_dim));
    TRY(meta_int(L, "attention.value_length", I->head_dim, 1, R1_MAX_HEAD_DIM, &m->head_dim_v));
    if (m->head_dim_v != I->head_dim)
        return r1_set_error(L->err, R1_ERR_UNSUPPORTED, "%s: value_length %d != key_length %d (unsupported)", L->file,
                            m->head_dim_v, I->head_dim);
    TRY(meta_int(L, "rope.dimension_count", I->head_dim, 2, I->head_dim, &m->n_rot));
    if (m->n_rot % 2) return r1_set_error(L->err, R1_ERR_FORMAT, "%s: rope.dimension_count %d is odd", L->file, m->n_rot);
    float base, freq_scale = 1.0f;
    TRY(meta_float(L, "rope.freq_base", 10000.0f, &base));
    if (base <= 1.0f) return r1_set_error(L->err, R1_ERR_FORMAT, "%s: rope.freq_base %g must be > 1", L->file, base);
    char key[160];
    snprintf(key, sizeof key, "%s.rope.scaling.type", L->arch);
    char *stype = gguf_get_str_dup(m->gf, key);
    float factor = 1.0f;
    TRY(meta_float(L, "rope.scaling.factor", 1.0f, &factor));
    const float *ff = NULL;
    if (m->arch == R1_ARCH_LLAMA) {
        r1_status s = bind_vec(L, "rope_freqs.weight", m->n_rot / 2, true, &ff);
        if (s != R1_OK) { free(stype); return s; }
    }
    /* With rope_freqs (Llama 3.1), the per-pair factors are the scaling: a scaling type
     * written beside them is not applied again. */
    if (stype && strcmp(stype, "none") && factor != 1.0f && !ff) {
        if (strcmp(stype, "linear")) {
            r1_status s = r1_set_error(L->err, R1_ERR_UNSUPPORTED, "%s: rope.scaling.type '%s' unsupported (none, linear)",
                                       L->file, stype);
            free(stype);
            return s;
        }
        if (factor <= 0) { free(stype); return r1_set_error(L->err, R1_ERR_FORMAT, "%s: rope.scaling.factor %g", L->file, factor); }
        freq_scale = 1.0f / factor;
    }
    free(stype);
    for (int i = 0; i < m->n_rot / 2; i++) {
        double f = pow((double)base, -2.0 * i / m->n_rot) * freq_scale;
        if (ff) {
            if (!(ff[i] > 0) || !isfinite(ff[i]))
                return r1_set_error(L->err, R1_ERR_FORMAT, "%s: tensor 'rope_freqs.weight'[%d] = %g is not positive", L->file,
                                    i, ff[i]);
            f /= ff[i];
        }
        m->rope_inv_freq[i] = f;
    }
    m->rope_neox = m->arch == R1_ARCH_QWEN2 || m->arch == R1_ARCH_QWEN3;
    I->kv_bytes_per_token = (size_t)I->n_layer * (size_t)I->n_head_kv * (size_t)(I->head_dim + m->head_dim_v) * sizeof(float);
    return R1_OK;
}

/* ---- tensors ------------------------------------------------------------------------ */
/* Binds layer il's tensors (by the arch's attention / FFN kinds) and sets its cache widths. */
static r1_status bind_layer(loader *L, int il) {
    r1_model *m = L->m;
    const r1_model_info *I = &m->info;
    r1_layer *l = &m->layers[il];
    const int64_t E = I->n_embd, hd = I->head_dim, H = I->n_head, Hkv = I->n_head_kv;
    char nm[96];
#define NAME(suffix) (snprintf(nm, sizeof nm, "blk.%d." suffix, il), nm)
    TRY(bind_vec(L, NAME("attn_norm.weight"), E, false, &l->attn_norm));
    TRY(bind_vec(L, NAME("ffn_norm.weight"), E, false, &l->ffn_norm));
    if (m->arch == R1_ARCH_DEEPSEEK2) {
        l->attn = R1_ATTN_MLA;
        TRY(r1_mla_weights_from_gguf(m->gf, il, &m->mla.c, L->file, &l->mla, L->err));
        l->cache_width[0] = (int)(r1_mla_cache_row_bytes(&m->mla.c, R1_TYPE_F32) / sizeof(float));
        l->cache_width[1] = 0;
    } else {
        l->attn = R1_ATTN_GQA;
        TRY(bind_mat(L, NAME("attn_q.weight"), E, H * hd, false, &l->wq, NULL));
        TRY(bind_mat(L, NAME("attn_k.weight"), E, Hkv * hd, false, &l->wk, NULL));
        TRY(bind_mat(L, NAME("attn_v.weight"), E, Hkv * hd, false, &l->wv, NULL));
        TRY(bind_mat(L, NAME("attn_output.weight"), H * hd, E, false, &l->wo, NULL));
        const bool bias_req = m->arch == R1_ARCH_QWEN2;   /* qwen2: q/k/v biases always present */
        TRY(bind_vec(L, NAME("attn_q.bias"), H * hd, !bias_req, &l->bq));
        TRY(bind_vec(L, NAME("attn_k.bias"), Hkv * hd, !bias_req, &l->bk));
        TRY(bind_vec(L, NAME("attn_v.bias"), Hkv * hd, !bias_req, &l->bv));
        const bool qk_norm = m->arch == R1_ARCH_QWEN3;
        TRY(bind_vec(L, NAME("attn_q_norm.weight"), hd, !qk_norm, &l->q_norm));
        TRY(bind_vec(L, NAME("attn_k_norm.weight"), hd, !qk_norm, &l->k_norm));
        l->cache_width[0] = (int)(Hkv * hd);
        l->cache_width[1] = (int)(Hkv * m->head_dim_v);
    }
    if (m->arch == R1_ARCH_DEEPSEEK2 && il >= m->n_layer_dense_lead) {
        l->ffn = R1_FFN_MOE;
        r1_moe_router r;
        int n_shared, n_ff_exp;
        TRY(r1_moe_router_from_gguf(m->gf, L->arch, L->file, &r, &n_shared, &n_ff_exp, L->err));
        TRY(r1_moe_layer_from_gguf(m->gf, il, &r, I->n_embd, n_ff_exp, n_shared, L->file, &l->moe, L->err));
    } else {
        l->ffn = R1_FFN_DENSE;
        if (I->n_ff < 1) return r1_set_error(L->err, R1_ERR_FORMAT, "%s: missing key '%s.feed_forward_length'", L->file, L->arch);
        TRY(bind_mat(L, NAME("ffn_gate.weight"), E, I->n_ff, false, &l->gate, NULL));
        TRY(bind_mat(L, NAME("ffn_up.weight"), E, I->n_ff, false, &l->up, NULL));
        TRY(bind_mat(L, NAME("ffn_down.weight"), I->n_ff, E, false, &l->down, NULL));
    }
#undef NAME
    return R1_OK;
}

/* Binds token_embd (sets n_vocab), output_norm, output (or the tied embedding) and every
 * layer; sets kv_bytes_per_token. */
static r1_status bind_tensors(loader *L) {
    r1_model *m = L->m;
    r1_model_info *I = &m->info;
    m->tok_embd = gguf_find_tensor(m->gf, "token_embd.weight");
    if (!m->tok_embd) return r1_set_error(L->err, R1_ERR_FORMAT, "%s: missing tensor 'token_embd.weight'", L->file);
    const gguf_tensor *te = m->tok_embd;
    if (te->ne[0] != I->n_embd || te->ne[2] != 1 || te->ne[3] != 1 || te->ne[1] < 1 || te->ne[1] > (1 << 24)) {
        char got[96];
        fmt_shape(got, sizeof got, te->n_dims, te->ne);
        return r1_set_error(L->err, R1_ERR_FORMAT, "%s: tensor 'token_embd.weight' has shape %s, expected [%d, n_vocab]",
                            L->file, got, I->n_embd);
    }
    const r1_type_traits *tt = r1_type_get_traits(te->type);
    if (!tt || !tt->to_float)
        return r1_set_error(L->err, R1_ERR_UNSUPPORTED, "%s: tensor 'token_embd.weight' has type %s (no conversion)", L->file,
                            r1_type_name(te->type));
    I->n_vocab = (int)te->ne[1];
    TRY(bind_vec(L, "output_norm.weight", I->n_embd, false, &m->output_norm));
    bool found = false;
    TRY(bind_mat(L, "output.weight", I->n_embd, I->n_vocab, true, &m->output, &found));
    if (!found) {   /* tied embeddings */
        char what[320];
        snprintf(what, sizeof what, "%s: tensor 'token_embd.weight' (tied output)", L->file);
        TRY(r1_wmat_init(&m->output, te->type, te->data, I->n_embd, I->n_vocab, what, L->err));
    }
    m->layers = calloc((size_t)I->n_layer, sizeof *m->layers);
    if (!m->layers) return r1_set_error(L->err, R1_ERR_NOMEM, "%s: out of memory", L->file);
    size_t kv = 0;
    for (int il = 0; il < I->n_layer; il++) {
        TRY(bind_layer(L, il));
        kv += (size_t)(m->layers[il].cache_width[0] + m->layers[il].cache_width[1]) * sizeof(float);
    }
    I->kv_bytes_per_token = kv;
    return R1_OK;
}

/* ---- tokenizer ------------------------------------------------------------------------- */

/* Builds m->tok from the file; on failure leaves it NULL with the reason in tok_error
 * (the weights stay usable: r1 logits / r1 info need no tokenizer). */
static void load_tokenizer(r1_model *m, const r1_model_params *p) {
    r1_error e = {0};
    if (r1_tokenizer_load_gguf(m->path, p->pretokenizer, &m->tok, &e) != R1_OK) {
        m->tok = NULL;
        snprintf(m->tok_error, sizeof m->tok_error, "%s", e.msg);
    }
}

/* ---- paging the weights in (r1_model_params.progress) ----------------------------------- */
typedef struct span { const char *p; size_t n; } span;

static int span_cmp(const void *a, const void *b) {
    const uintptr_t x = (uintptr_t)((const span *)a)->p, y = (uintptr_t)((const span *)b)->p;
    return x < y ? -1 : x > y;
}

/* Hint that [a, b) will be read soon (the start rounded down to its page; errors ignored). */
static void will_need(const char *a, const char *b, uintptr_t pg) {
    const uintptr_t s = (uintptr_t)a & ~(pg - 1);
    if ((uintptr_t)b > s) (void)madvise((void *)s, (uintptr_t)b - s, MADV_WILLNEED);
}

/* Reads one byte of every page holding tensor data, in address order (the parts of a split
 * model are separate maps; tensors sharing a page touch it once), one 16 MiB chunk at a
 * time with MADV_WILLNEED on the next chunk so the kernel reads ahead while this one is
 * faulted in. The maps are PROT_READ: reading maps the page cache, it copies nothing.
 * Progress is reported in tensor bytes: 0 first, after every chunk, total last. */
static r1_status touch_weights(r1_model *m, const r1_model_params *p, r1_error *err) {
    enum { CHUNK = 16 << 20 };
    const int64_t nt = gguf_n_tensors(m->gf);
    span *sp = malloc((size_t)(nt > 0 ? nt : 1) * sizeof *sp);
    if (!sp) return r1_set_error(err, R1_ERR_NOMEM, "%s: out of memory", m->path);
    uint64_t total = 0, done = 0;
    int64_t n = 0;
    for (int64_t i = 0; i < nt; i++) {
        const gguf_tensor *t = gguf_tensor_at(m->gf, i);
        if (t->nbytes) { sp[n++] = (span){t->data, t->nbytes}; total += t->nbytes; }
    }
    qsort(sp, (size_t)n, sizeof *sp, span_cmp);
    long ps = sysconf(_SC_PAGESIZE);
    const uintptr_t pg = ps > 0 ? (uintptr_t)ps : 4096;
    if (p->progress_cb) p->progress_cb(p->progress_user, 0, total);
    uintptr_t next = 0;              /* first address not yet touched (pages below are done) */
    for (int64_t i = 0; i < n; i++) {
        const char *a = sp[i].p, *end = sp[i].p + sp[i].n;
        will_need(a, a + (sp[i].n < CHUNK ? sp[i].n : CHUNK), pg);
        while (a < end) {
            const char *b = (size_t)(end - a) > CHUNK ? a + CHUNK : end;
            if (b < end) will_need(b, (size_t)(end - b) > CHUNK ? b + CHUNK : end, pg);
            uintptr_t q = (uintptr_t)a & ~(pg - 1);
            if (q < next) q = next;
            for (; q < (uintptr_t)b; q += pg) (void)*(const volatile char *)q;
            if (q > next) next = q;
            done += (uint64_t)(b - a);
            a = b;
            if (p->progress_cb) p->progress_cb(p->progress_user, done, total);
        }
    }
    free(sp);
    return R1_OK;
}

/* ---- Q8_0 weights repacked by 16 rows (quant_q8r.h) -------------------------------------
 * With the AVX-512 kernels active, every Q8_0 matrix that is only used through products
 * (r1_gemm) in whole 16-row groups becomes R1_TYPE_Q8_0_R16, rewritten in place in the
 * huge-page copy (memory the model owns; a mapped file is never written). Left plain: the
 * token embedding (gathered by rows; also when tied to the output), MLA's attn_kv_b /
 * attn_k_b / attn_v_b (per-head row views and the dequantizing transposed product),
 * matrices whose row count (per expert for the 3-D expert tensors) is not a multiple of 16.
 * R1_REPACK=0 keeps them all plain. */
typedef struct repacker {
    r1_model *m;
    void     *scratch;      /* 16 plain rows (the longest row seen so far)             */
    size_t    cap;
    bool      failed;       /* out of memory for the scratch: the rest stays plain      */
} repacker;

/* Repacks n_rows rows of n_cols Q8_0 elements at data (n_mat consecutive matrices of
 * n_rows / n_mat rows each) in place and sets *type, when allowed. */
static void repack_rows(repacker *R, r1_type *type, const void *data, int64_t n_cols, int64_t n_rows, int64_t n_mat) {
    const r1_model *m = R->m;
    if (R->failed || *type != R1_TYPE_Q8_0 || !data || n_mat < 1 || n_rows % n_mat || (n_rows / n_mat) % R1_Q8R_ROWS ||
        n_cols % 32 || data == m->tok_embd->data)
        return;
    const size_t rb = r1_row_size(R1_TYPE_Q8_0, n_cols), gb = r1_q8r_group_bytes(n_cols);
    if (!gguf_anon_owns(m->gf, data, rb * (size_t)n_rows)) return;
    if (gb > R->cap) {
        void *p = realloc(R->scratch, gb);
        if (!p) { R->failed = true; return; }
        R->scratch = p;
        R->cap = gb;
    }
    char *d = (char *)(uintptr_t)data;   /* the copy is ours and writable (gguf_anon_writable) */
    for (int64_t g = 0; g < n_rows; g += R1_Q8R_ROWS) r1_q8r_repack_inplace(d + (size_t)g * rb, n_cols, R->scratch);
    *type = R1_TYPE_Q8_0_R16;
}

static void repack_mat(repacker *R, r1_wmat *w) { repack_rows(R, &w->type, w->data, w->n_cols, w->n_rows, 1); }

static void repack_weights(r1_model *m) {
    const char *env = getenv("R1_REPACK");
    if ((env && !strcmp(env, "0")) || r1_isa_active() != R1_ISA_AVX512 || !m->info.hugepages) return;
    if (!gguf_anon_writable(m->gf, true)) return;
    repacker R = {m, NULL, 0, false};
    repack_mat(&R, &m->output);
    for (int il = 0; il < m->info.n_layer; il++) {
        r1_layer *l = &m->layers[il];
        if (l->attn == R1_ATTN_GQA) {
            repack_mat(&R, &l->wq);
            repack_mat(&R, &l->wk);
            repack_mat(&R, &l->wv);
            repack_mat(&R, &l->wo);
        } else {
            r1_mla_weights *a = &l->mla;
            if (a->wq.data) repack_mat(&R, &a->wq);
            if (a->wq_a.data) repack_mat(&R, &a->wq_a);
            if (a->wq_b.data) repack_mat(&R, &a->wq_b);
            repack_mat(&R, &a->wkv_a);
            repack_mat(&R, &a->wo);
        }
        if (l->ffn == R1_FFN_DENSE) {
            repack_mat(&R, &l->gate);
            repack_mat(&R, &l->up);
            repack_mat(&R, &l->down);
        } else {
            r1_moe_layer *e = &l->moe;
            repack_mat(&R, &e->gate_inp);
            if (e->n_shared > 0) {
                repack_mat(&R, &e->gate_sh);
                repack_mat(&R, &e->up_sh);
                repack_mat(&R, &e->down_sh);
            }
            const int64_t NE = e->router.n_expert, E = e->n_embd, F = e->n_ff_exp;
            for (int i = 0; i < 3; i++)
                repack_rows(&R, &e->exps_type[i], e->exps_data[i], i == 2 ? F : E, (i == 2 ? E : F) * NE, NE);
        }
    }
    free(R.scratch);
    (void)gguf_anon_writable(m->gf, false);
}

/* ---- huge-page weight memory (r1_model_params.mmap_weights == false) ------------------- */
/* Every tensor but token_embd when the output projection is a separate tensor: the embedding
 * is only gathered row by row, so it stays lazily mapped (most rows are never touched). */
static bool want_tensor(void *user, const gguf_tensor *t) {
    const r1_model *m = user;
    return !(t == m->tok_embd && m->output.data != t->data);
}

/* Progress of the copy in the r1_progress_fn contract (bytes of all tensor data): the
 * copied bytes, then all of it once done (the embedding left in the map counts as loaded). */
typedef struct copy_prog { const r1_model_params *p; uint64_t all; } copy_prog;

static void copy_progress(void *user, uint64_t done, uint64_t total) {
    const copy_prog *c = user;
    (void)total;
    if (c->p->progress_cb) c->p->progress_cb(c->p->progress_user, done, c->all);
}

/* Copies the weights into huge-page memory after validation, then binds again so every
 * view points into the copy; on fallback (gguf_load_anon's reasons) the map stays. */
static r1_status load_hugepages(loader *L, const r1_model_params *p) {
    r1_model *m = L->m;
    m->info.hugepages_note = m->hp_note;
    const char *env = getenv("R1_MMAP");
    if (p->mmap_weights || (env && *env && strcmp(env, "0"))) return R1_OK;
    copy_prog cp = {p, 0};
    for (int64_t i = 0; i < gguf_n_tensors(m->gf); i++) cp.all += gguf_tensor_at(m->gf, i)->nbytes;
    gguf_anon_opts o = {want_tensor, m, p->progress ? copy_progress : NULL, &cp, 2};
    bool copied = false;
    r1_status s = gguf_load_anon(m->gf, &o, &copied, m->hp_note, sizeof m->hp_note, L->err);
    if (s != R1_OK || !copied) return s;
    if (p->progress && p->progress_cb) p->progress_cb(p->progress_user, cp.all, cp.all);
    free(m->layers);
    m->layers = NULL;
    if ((s = bind_tensors(L)) != R1_OK) return s;
    m->info.hugepages = true;
    m->info.hugepages_bytes = gguf_anon_bytes(m->gf);
    repack_weights(m);
    return R1_OK;
}

/* ---- public API ------------------------------------------------------------------------ */
r1_status r1_model_load(const char *path, const r1_model_params *params, r1_model **out, r1_error *err) {
    if (!out) return r1_set_error(err, R1_ERR_INVALID_ARG, "r1_model_load: out is NULL");
    *out = NULL;
    if (!path) return r1_set_error(err, R1_ERR_INVALID_ARG, "r1_model_load: path is NULL");
    r1_model_params defp = r1_model_default_params();
    if (!params) params = &defp;
    r1_model *m = calloc(1, sizeof *m);
    if (!m || !(m->path = strdup(path))) { free(m); return r1_set_error(err, R1_ERR_NOMEM, "%s: out of memory", path); }
    loader L = {m, path, NULL, err};
    r1_status s = gguf_open(path, &m->gf, err);
    if (s != R1_OK) goto fail;
    m->arch_name = gguf_get_str_dup(m->gf, "general.architecture");
    if (!m->arch_name) { s = r1_set_error(err, R1_ERR_FORMAT, "%s: missing key 'general.architecture'", path); goto fail; }
    size_t ai = 0;
    while (ai < R1_ARRAY_LEN(k_arch_names) && strcmp(k_arch_names[ai], m->arch_name)) ai++;
    if (ai == R1_ARRAY_LEN(k_arch_names)) {
        s = r1_set_error(err, R1_ERR_UNSUPPORTED, "%s: unknown architecture '%s' (known: llama, qwen2, qwen3, deepseek2)",
                         path, m->arch_name);
        goto fail;
    }
    m->arch = (r1_arch)ai;
    L.arch = m->arch_name;
    m->name = gguf_get_str_dup(m->gf, "general.name");
    if (!m->name && !(m->name = strdup(""))) { s = r1_set_error(err, R1_ERR_NOMEM, "%s: out of memory", path); goto fail; }
    m->info.arch = m->arch_name;
    m->info.name = m->name;
    m->info.file_bytes = gguf_file_bytes(m->gf);
    if ((s = load_hparams(&L)) != R1_OK) goto fail;
    if (!params->vocab_only && (s = bind_tensors(&L)) != R1_OK) goto fail;
    m->info.hugepages_note = m->hp_note;
    if (!params->vocab_only && (s = load_hugepages(&L, params)) != R1_OK) goto fail;
    if (!params->vocab_only && params->progress && !m->info.hugepages && (s = touch_weights(m, params, err)) != R1_OK)
        goto fail;
    if (params->vocab_only) {   /* no tensors bound: n_vocab from the token list */
        const gguf_kv *tk = gguf_find_kv(m->gf, "tokenizer.ggml.tokens");
        if (tk && tk->type == GGUF_ARRAY && tk->arr_n <= (1u << 24)) m->info.n_vocab = (int)tk->arr_n;
    }
    m->meta_str = calloc((size_t)gguf_n_kv(m->gf) + 1, sizeof *m->meta_str);
    if (!m->meta_str) { s = r1_set_error(err, R1_ERR_NOMEM, "%s: out of memory", path); goto fail; }
    for (int64_t i = 0; i < gguf_n_kv(m->gf); i++) {
        const gguf_kv *kv = gguf_kv_at(m->gf, i);
        if (kv->type == GGUF_STRING && !(m->meta_str[i] = strndup(kv->v.s.ptr, kv->v.s.len))) {
            s = r1_set_error(err, R1_ERR_NOMEM, "%s: out of memory", path);
            goto fail;
        }
    }
    for (int64_t i = 0; i < gguf_n_tensors(m->gf); i++) {
        const gguf_tensor *t = gguf_tensor_at(m->gf, i);
        m->info.n_params += t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3];
    }
    load_tokenizer(m, params);
    *out = m;
    return R1_OK;
fail:
    r1_model_free(m);
    return s;
}

void r1_model_free(r1_model *m) {
    if (!m) return;
    r1_tokenizer_free(m->tok);
    free(m->layers);
    if (m->meta_str)
        for (int64_t i = 0; i < gguf_n_kv(m->gf); i++) free(m->meta_str[i]);
    free(m->meta_str);
    free(m->arch_name);
    free(m->name);
    free(m->path);
    gguf_close(m->gf);
    free(m);
}

const char *r1_model_meta_str(const r1_model *m, const char *key) {
    if (!m || !key || !m->meta_str) return NULL;
    for (int64_t i = 0; i < gguf_n_kv(m->gf); i++)
        if (!strcmp(gguf_kv_at(m->gf, i)->key, key)) return m->meta_str[i];
    return NULL;
}
