/*
 * forward.c — the forward pass for a chunk of tokens, driven by the per-layer kinds:
 *
 *   x[t]  = token_embd[tokens[t]]                                  (dequantized row)
 *   for each layer l:
 *     xn  = RMSNorm(x) * attn_norm
 *     GQA: q = Wq xn (+bq), k = Wk xn (+bk) → cache K rows, v = Wv xn (+bv) → cache V rows
 *          [qwen3: per-head RMSNorm of q and k]; RoPE(q, k) at pos0+t;
 *          att[t][h] = softmax(q_h·K_{g(h)}[0..pos0+t] / sqrt(hd)) V_{g(h)}, g(h) = h / (H/Hkv)
 *          y = Wo att
 *     MLA: y = r1_mla_forward(xn) over the layer's latent cache rows
 *     x  += y
 *     xn  = RMSNorm(x) * ffn_norm
 *     DENSE: y = Wdown( silu(Wgate xn) * Wup xn );   MOE: y = r1_moe_forward(xn)
 *     x  += y
 *   logits = Woutput RMSNorm(x) * output_norm       (all rows or only the last)
 *
 * Every product handles the whole chunk at once (each weight row is read once per chunk),
 * so prefill costs about one decode step's memory traffic per chunk.
 */
#include "attn.h"
#include "context.h"
#include "ops.h"
#include <math.h>

/* Stores n rows of w floats (stride w) into the cache rows pos0.. of plane p of layer l,
 * converting to the cache type. */
static void cache_store(r1_kvcache *kv, int l, int p, int pos0, const float *src, int n, int w) {
    for (int t = 0; t < n; t++) {
        void *dst = kvcache_row(kv, l, p, pos0 + t);
        if (kv->type == R1_TYPE_F32) {
            memcpy(dst, src + (size_t)t * w, (size_t)w * sizeof(float));
        } else {
            uint16_t *h = dst;
            for (int i = 0; i < w; i++) h[i] = r1_fp32_to_fp16(src[(size_t)t * w + i]);
        }
    }
}

/* Per-token post-processing of q and k: bias, per-head norm, RoPE. */
static void qk_prepare(const r1_model *m, const r1_layer *l, float *q, float *k, int pos) {
    const r1_model_info *I = &m->info;
    const int hd = I->head_dim;
    if (l->q_norm)
        for (int h = 0; h < I->n_head; h++) ops_rmsnorm(q + h * hd, q + h * hd, l->q_norm, hd, m->rms_eps);
    if (l->k_norm)
        for (int h = 0; h < I->n_head_kv; h++) ops_rmsnorm(k + h * hd, k + h * hd, l->k_norm, hd, m->rms_eps);
    ops_rope(q, I->n_head, hd, m->n_rot, pos, m->rope_inv_freq, m->rope_neox);
    ops_rope(k, I->n_head_kv, hd, m->n_rot, pos, m->rope_inv_freq, m->rope_neox);
}

/* ---- decode: one dispatch per group of products of the same input ----------------------- */
/* One token (n == 1) is all memory traffic: each product is one pass over its weights, and
 * every threadpool_run costs a wake-up, a barrier and the imbalance of its last task. q/k/v
 * (and gate/up) read the same activations, so they run as ONE job whose tasks are equal
 * byte ranges of the concatenated weight rows (k and v are small: alone they would be
 * mostly dispatch overhead). Single products (o, down, the output projection; the last
 * also for prefill's last-token logits) use the same byte-balanced split. Used only when
 * the products share the activation format (vec_dot_type); prefill keeps ops_matmul_q's
 * cache-blocked path. */
enum { FUSED_MAX = 3 };
typedef struct fused_job {
    const r1_type_traits *tr[FUSED_MAX];
    const r1_wmat *w[FUSED_MAX];
    float *y[FUSED_MAX];
    uint64_t beg[FUSED_MAX + 1];   /* byte offset of product k in the concatenation */
    int n_mat, n_tasks;
    const void *xq;
} fused_job;

/* Rows of product k whose start byte lies in [lo, hi): ceil on both ends, then up to whole
 * row groups (r1_wmat_row_group: 16 for a repacked matrix, whose row count is a multiple),
 * so consecutive tasks partition every product exactly. */
static void fused_task(void *arg, int task) {
    const fused_job *j = arg;
    const uint64_t B = j->beg[j->n_mat];
    const uint64_t lo = B * (uint64_t)task / (uint64_t)j->n_tasks, hi = B * (uint64_t)(task + 1) / (uint64_t)j->n_tasks;
    for (int k = 0; k < j->n_mat; k++) {
        if (hi <= j->beg[k] || lo >= j->beg[k + 1]) continue;
        const r1_wmat *w = j->w[k];
        const uint64_t rb = w->row_bytes;
        const uint64_t a = lo > j->beg[k] ? lo - j->beg[k] : 0, b = (hi < j->beg[k + 1] ? hi : j->beg[k + 1]) - j->beg[k];
        const uint64_t grb = rb * (uint64_t)r1_wmat_row_group(w);   /* bytes of a row group */
        const int64_t r0 = (int64_t)((a + grb - 1) / grb * grb / rb), r1 = (int64_t)((b + grb - 1) / grb * grb / rb);
        if (r1 > r0)
            r1_gemm(j->tr[k], (int)w->n_cols, (int)(r1 - r0), 1, (const char *)w->data + (size_t)r0 * rb, rb, j->xq, 0,
                    j->y[k] + r0, 0);
    }
}

/* y[k] = W[k] x for one token (x: n_cols floats, the same width for all W[k]). Returns false
 * (nothing done) when the products do not share an activation format. */
static bool fused_decode(r1_context *c, const float *x, int n_mat, const r1_wmat *const *w, float *const *y) {
    fused_job j = {.n_mat = n_mat};
    for (int k = 0; k < n_mat; k++) {
        j.tr[k] = r1_type_get_traits(w[k]->type);
        j.w[k] = w[k];
        j.y[k] = y[k];
        if (j.tr[k]->vec_dot_type != j.tr[0]->vec_dot_type || w[k]->n_cols != w[0]->n_cols) return false;
        j.beg[k + 1] = j.beg[k] + (uint64_t)w[k]->n_rows * w[k]->row_bytes;
    }
    ops_quantize_rows(c->pool, w[0]->type, x, 1, w[0]->n_cols, (size_t)w[0]->n_cols, c->act);
    j.xq = c->act;
    /* a few tasks per thread so uneven progress balances: ~1 MiB each, 4..16 per thread
     * (the 150k-row output projection: 16, so the last task's tail is short), each
     * >= 64 KiB */
    const int64_t nth = threadpool_n_threads(c->pool);
    int64_t nt = (int64_t)(j.beg[n_mat] >> 20);
    nt = nt < nth * 4 ? nth * 4 : nt > nth * 16 ? nth * 16 : nt;
    if ((uint64_t)nt > j.beg[n_mat] / 65536) nt = (int64_t)(j.beg[n_mat] / 65536);
    j.n_tasks = nt < 1 ? 1 : (int)nt;
    threadpool_run(c->pool, fused_task, &j, j.n_tasks);
    return true;
}

/* GQA attention of layer il for the chunk: reads c->xn [n][E], writes c->y [n][E] and the
 * chunk's K/V rows pos0..pos0+n-1 of the layer's cache. */
static void gqa_block(r1_context *c, int il, int n, int pos0) {
    const r1_model *m = c->model;
    const r1_layer *l = &m->layers[il];
    const r1_model_info *I = &m->info;
    const int E = I->n_embd, qw = I->n_head * I->head_dim;
    const int kw = c->kv.width[0][il], vw = c->kv.width[1][il];
    float *kc = c->kb;   /* [n][kw] this chunk's keys   */
    float *vc = c->vb;   /* [n][vw] this chunk's values */
    const r1_wmat *qkv[3] = {&l->wq, &l->wk, &l->wv};
    float *qkv_y[3] = {c->q, kc, vc};
    if (n != 1 || !fused_decode(c, c->xn, 3, qkv, qkv_y)) {
        /* one activation conversion for q, k and v when their types agree */
        size_t st = ops_quantize_rows(c->pool, l->wq.type, c->xn, n, E, E, c->act);
        ops_matmul_q(c->pool, &l->wq, n, c->act, st, c->q, qw);
        if (l->wk.type != l->wq.type) st = ops_quantize_rows(c->pool, l->wk.type, c->xn, n, E, E, c->act);
        ops_matmul_q(c->pool, &l->wk, n, c->act, st, kc, kw);
        if (l->wv.type != l->wk.type) st = ops_quantize_rows(c->pool, l->wv.type, c->xn, n, E, E, c->act);
        ops_matmul_q(c->pool, &l->wv, n, c->act, st, vc, vw);
    }
    if (l->bq) ops_add_bias(c->q, n, qw, qw, l->bq);
    if (l->bk) ops_add_bias(kc, n, kw, kw, l->bk);
    if (l->bv) ops_add_bias(vc, n, vw, vw, l->bv);
    for (int t = 0; t < n; t++) qk_prepare(m, l, c->q + (size_t)t * qw, kc + (size_t)t * kw, pos0 + t);
    cache_store(&c->kv, il, 0, pos0, kc, n, kw);
    cache_store(&c->kv, il, 1, pos0, vc, n, vw);
    /* causal GQA attention of the chunk over the cache rows 0..pos0+n-1 (attn.h) */
    const r1_attn_args aa = {
        .n = n, .pos0 = pos0, .n_head = I->n_head, .n_head_kv = I->n_head_kv, .head_dim = I->head_dim,
        .scale = 1.0f / sqrtf((float)I->head_dim), .q = c->q, .ldq = (size_t)qw, .out = c->att, .ldo = (size_t)qw,
        .type = c->kv.type, .k = kvcache_row(&c->kv, il, 0, 0), .v = kvcache_row(&c->kv, il, 1, 0),
        .k_stride = kvcache_stride(&c->kv, il, 0), .v_stride = kvcache_stride(&c->kv, il, 1)};
    r1_attn(c->pool, &aa, r1_isa_active());
    const r1_wmat *wo = &l->wo;
    if (n != 1 || !fused_decode(c, c->att, 1, &wo, &c->y)) ops_matmul(c->pool, &l->wo, n, c->att, qw, c->act, c->y, E);
}

/* Dense SwiGLU FFN: c->y [n][E] = down(silu(gate xn) * up xn), xn = c->xn [n][E]. */
static void dense_ffn(r1_context *c, const r1_layer *l, int n) {
    const int E = c->model->info.n_embd, F = c->model->info.n_ff;
    const r1_wmat *gu[2] = {&l->gate, &l->up};
    float *gu_y[2] = {c->ffa, c->ffb};
    if (n != 1 || !fused_decode(c, c->xn, 2, gu, gu_y)) {
        size_t st = ops_quantize_rows(c->pool, l->gate.type, c->xn, n, E, E, c->act);
        ops_matmul_q(c->pool, &l->gate, n, c->act, st, c->ffa, F);
        if (l->up.type != l->gate.type) st = ops_quantize_rows(c->pool, l->up.type, c->xn, n, E, E, c->act);
        ops_matmul_q(c->pool, &l->up, n, c->act, st, c->ffb, F);
    }
    ops_swiglu(c->ffa, c->ffa, c->ffb, n * F);
    const r1_wmat *down = &l->down;
    if (n != 1 || !fused_decode(c, c->ffa, 1, &down, &c->y)) ops_matmul(c->pool, &l->down, n, c->ffa, F, c->act, c->y, E);
}

r1_status forward_chunk(r1_context *c, const int32_t *tokens, int n, int pos0, float *logits, bool all,
                        r1_error *err) {
    const r1_model *m = c->model;
    const r1_model_info *I = &m->info;
    const int E = I->n_embd;
    /* embeddings */
    const r1_type_traits *et = r1_type_get_traits(m->tok_embd->type);
    const size_t erb = r1_row_size(m->tok_embd->type, E);
    for (int t = 0; t < n; t++)
        et->to_float((const char *)m->tok_embd->data + (size_t)tokens[t] * erb, c->x + (size_t)t * E, E);

    for (int il = 0; il < I->n_layer; il++) {
        if (c->abort_fn && c->abort_fn(c->abort_user))
            return r1_set_error(err, R1_ERR_CANCELLED, "evaluation cancelled at layer %d", il);
        const r1_layer *l = &m->layers[il];
        for (int t = 0; t < n; t++) ops_rmsnorm(c->xn + (size_t)t * E, c->x + (size_t)t * E, l->attn_norm, E, m->rms_eps);
        if (l->attn == R1_ATTN_GQA) {
            gqa_block(c, il, n, pos0);
        } else {
            r1_mla_cache cache = {c->kv.type, c->kv.plane[0][il], c->n_ctx};
            r1_status s = r1_mla_forward(&m->mla, &l->mla, &cache, c->xn, n, pos0, c->y, R1_MLA_AUTO, &c->par, err);
            if (s != R1_OK) return s;
        }
        ops_add(c->x, c->x, c->y, n * E);
        for (int t = 0; t < n; t++) ops_rmsnorm(c->xn + (size_t)t * E, c->x + (size_t)t * E, l->ffn_norm, E, m->rms_eps);
        if (l->ffn == R1_FFN_DENSE) {
            dense_ffn(c, l, n);
        } else {
            r1_status s = r1_moe_forward(&l->moe, c->xn, n, c->y, NULL, &c->par, err);
            if (s != R1_OK) return s;
        }
        ops_add(c->x, c->x, c->y, n * E);
    }
    if (!logits) return R1_OK;
    const int first = all ? 0 : n - 1, rows = n - first;
    for (int t = first; t < n; t++) ops_rmsnorm(c->xn + (size_t)t * E, c->x + (size_t)t * E, m->output_norm, E, m->rms_eps);
    const r1_wmat *out = &m->output;
    if (rows != 1 || !fused_decode(c, c->xn + (size_t)first * E, 1, &out, &logits))
        ops_matmul(c->pool, &m->output, rows, c->xn + (size_t)first * E, E, c->act, logits, (size_t)I->n_vocab);
    return R1_OK;
}
