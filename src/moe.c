/*
 * moe.c — DeepSeekMoE routing and expert FFN evaluation (see moe.h for the definitions).
 *
 * Batched evaluation (r1_moe_forward), for n_tok tokens x[n_tok][n_embd]:
 *   1. logits[n_tok][n_expert] = gate_inp · x; route every token (ids, weights).
 *   2. counting sort of the (token, slot) pairs by expert → per expert a token list.
 *   3. x converted once to the gate/up activation type(s) and gathered per expert.
 *   4. the shared experts (all tokens) and every expert with tokens as groups of one
 *      batched SwiGLU evaluation in two parallel runs (ffn_run, below): gate/up blocks with
 *      silu·up and h's conversion, then output-column blocks of the down products,
 *      out[token] = shared + sum over its experts (by index) of weight * y.
 *      Experts nobody chose are never read.
 */
#include "moe.h"
#include "act.h"
#include <assert.h>
#include <math.h>
#include <stdatomic.h>

/* ---- weight views ------------------------------------------------------------------ */
r1_status r1_wmat_init(r1_wmat *w, r1_type type, const void *data, int64_t n_cols,
                       int64_t n_rows, const char *what, r1_error *err) {
    const r1_type_traits *tr = r1_type_get_traits(type);
    if (!tr || !tr->vec_dot || !tr->to_float)
        return r1_set_error(err, R1_ERR_UNSUPPORTED, "%s: tensor type %s has no dot-product kernel",
                            what, r1_type_name(type));
    const r1_type_traits *vt = r1_type_get_traits(tr->vec_dot_type);
    if (!vt || !vt->from_float)
        return r1_set_error(err, R1_ERR_UNSUPPORTED, "%s: activation type of %s unsupported", what,
                            r1_type_name(type));
    size_t rb = r1_row_size(type, n_cols);
    if (n_cols <= 0 || n_rows <= 0 || rb == 0 || r1_row_size(tr->vec_dot_type, n_cols) == 0)
        return r1_set_error(err, R1_ERR_FORMAT, "%s: %lld × %lld is not a valid %s matrix", what,
                            (long long)n_rows, (long long)n_cols, r1_type_name(type));
    *w = (r1_wmat){type, data, n_cols, n_rows, rb};
    return R1_OK;
}

r1_wmat r1_wmat_rows(const r1_wmat *w, int64_t first, int64_t count) {
    assert(first % r1_wmat_row_group(w) == 0 && count % r1_wmat_row_group(w) == 0);
    r1_wmat v = *w;
    v.data = (const char *)w->data + (size_t)first * w->row_bytes;
    v.n_rows = count;
    return v;
}

void r1_par_run(const r1_par *par, r1_par_fn fn, void *arg) {
    if (par && par->run && par->n > 1) par->run(par->pool, par->n, fn, arg);
    else fn(arg, 0, 1);
}

/* Per-row work (conversions, copies): over the workers only when there are enough rows to
 * pay for a synchronisation — decode (1 token) runs it on the calling thread. */
static void par_rows(const r1_par *par, int n_rows, r1_par_fn fn, void *arg) {
    if (n_rows >= 16) r1_par_run(par, fn, arg);
    else fn(arg, 0, 1);
}

/* Converts rows [i*n_tok/n, (i+1)*n_tok/n) of x into up to 4 activation types. */
typedef struct conv_job {
    const float *x;
    size_t ldx;
    int n_tok, n_types;
    int64_t n;
    const r1_type_traits *t[4];
    char *dst[4];
    size_t ld[4];
} conv_job;
static void conv_worker(void *arg, int i, int nw) {
    const conv_job *j = arg;
    for (int t = j->n_tok * i / nw; t < j->n_tok * (i + 1) / nw; t++)
        for (int k = 0; k < j->n_types; k++) j->t[k]->from_float(j->x + (size_t)t * j->ldx, j->dst[k] + (size_t)t * j->ld[k], j->n);
}

/* Index of type t in conv's list, adding it (with its row stride) if new. */
static int conv_slot(conv_job *c, r1_type t, int64_t n) {
    const r1_type_traits *tr = r1_type_get_traits(t);
    for (int k = 0; k < c->n_types; k++)
        if (c->t[k] == tr) return k;
    c->t[c->n_types] = tr;
    c->ld[c->n_types] = r1_row_size(t, n);
    return c->n_types++;
}


/* One product's job, shared by the workers. */
typedef struct mul_job {
    const r1_wmat *w;
    const r1_type_traits *tr;
    int n_tok;
    const char *xq;      /* activations in the vec_dot type, stride ld bytes (mul)  */
    size_t ld;
    const float *x;      /* activations as floats, stride ldx (mul_t)               */
    size_t ldx;
    float *y;
    size_t ldy;
    float *rowbuf;       /* mul_t: n_cols floats per worker (quantized weights)      */
} mul_job;

/* Worker i of n: rows [i*R/n, (i+1)*R/n) for every token. Tokens go to the kernel in
 * large tiles (activations up to ~512 KiB, so they stay in L2 while a block of MUL_ROWS
 * weight rows, ~100 KiB, is swept over them): a batched kernel (the AMX GEMM packs each
 * weight block once per call) sees up to hundreds of tokens per call, and weights are
 * read from memory once per token tile — once for a batch up to ~250 tokens of 2048. */
enum { MUL_ROWS = 64 };
static void mul_worker(void *arg, int i, int n) {
    const mul_job *j = arg;
    const int grp = r1_wmat_row_group(j->w);   /* whole groups of a repacked matrix */
    const int64_t r0 = r1_rows_part(j->w->n_rows, grp, i, n), r1 = r1_rows_part(j->w->n_rows, grp, i + 1, n);
    const int tb = (int)R1_MAX(1, R1_MIN((size_t)j->n_tok, (size_t)(512 * 1024) / j->ld));
    for (int t0 = 0; t0 < j->n_tok; t0 += tb) {
        const int t1 = R1_MIN(j->n_tok, t0 + tb);
        for (int64_t rb = r0; rb < r1; rb += MUL_ROWS) {
            const int nr = (int)R1_MIN((int64_t)MUL_ROWS, r1 - rb);
            r1_gemm(j->tr, (int)j->w->n_cols, nr, t1 - t0, (const char *)j->w->data + (size_t)rb * j->w->row_bytes,
                    j->w->row_bytes, j->xq + (size_t)t0 * j->ld, j->ld, j->y + (size_t)t0 * j->ldy + (size_t)rb,
                    j->ldy);
        }
    }
}

static r1_arena *par_arena(const r1_par *par) { return par ? par->arena : NULL; }

r1_status r1_wmat_mul(const r1_wmat *w, int n_tok, const float *x, size_t ldx,
                      float *y, size_t ldy, const r1_par *par, r1_error *err) {
    if (n_tok <= 0) return R1_OK;
    mul_job j = {.w = w, .tr = r1_type_get_traits(w->type), .n_tok = n_tok, .y = y, .ldy = ldy};
    r1_tmp act = {0};
    if (j.tr->vec_dot_type == R1_TYPE_F32) {   /* rows used in place */
        j.xq = (const char *)x;
        j.ld = ldx * sizeof(float);
    } else {   /* converted once, rows split over the workers */
        conv_job cj = {.x = x, .ldx = ldx, .n_tok = n_tok, .n = w->n_cols};
        conv_slot(&cj, j.tr->vec_dot_type, w->n_cols);
        if (!(cj.dst[0] = r1_tmp_get(par_arena(par), cj.ld[0] * (size_t)n_tok, &act)))
            return r1_set_error(err, R1_ERR_NOMEM, "matmul: out of memory for %d activation rows", n_tok);
        par_rows(par, n_tok, conv_worker, &cj);
        j.xq = cj.dst[0];
        j.ld = cj.ld[0];
    }
    r1_par_run(par, mul_worker, &j);
    r1_tmp_put(&act);
    return R1_OK;
}

size_t r1_wmat_mul_scratch(const r1_wmat *w, int n_tok, bool transposed) {
    const r1_type vt = r1_type_get_traits(w->type)->vec_dot_type;
    size_t b = 0;
    if (transposed) b = w->type == R1_TYPE_F32 ? 0 : (size_t)w->n_cols * sizeof(float);
    else b = vt == R1_TYPE_F32 || n_tok <= 0 ? 0 : r1_row_size(vt, w->n_cols) * (size_t)n_tok;
    return (b + 63) & ~(size_t)63;
}

/* Worker i of n: tokens [i*T/n, (i+1)*T/n); every weight row is dequantized (into this
 * worker's buffer) and accumulated into those tokens' outputs. */
static void mul_t_worker(void *arg, int i, int n) {
    const mul_job *j = arg;
    const int t0 = j->n_tok * i / n, t1 = j->n_tok * (i + 1) / n;
    const int64_t nc = j->w->n_cols;
    float *rowf = j->rowbuf ? j->rowbuf + (size_t)i * (size_t)nc : NULL;
    for (int t = t0; t < t1; t++) memset(j->y + (size_t)t * j->ldy, 0, (size_t)nc * sizeof(float));
    if (t0 == t1) return;
    const char *row = j->w->data;
    for (int64_t r = 0; r < j->w->n_rows; r++, row += j->w->row_bytes) {
        const float *wr = (const float *)row;
        if (rowf) { j->tr->to_float(row, rowf, nc); wr = rowf; }
        for (int t = t0; t < t1; t++) {
            const float a = j->x[(size_t)t * j->ldx + (size_t)r];
            float *yt = j->y + (size_t)t * j->ldy;
            if (a == 0.0f) continue;
            for (int64_t c = 0; c < nc; c++) yt[c] += a * wr[c];
        }
    }
}

r1_status r1_wmat_mul_t(const r1_wmat *w, int n_tok, const float *x, size_t ldx,
                        float *y, size_t ldy, const r1_par *par, r1_error *err) {
    if (n_tok <= 0) return R1_OK;
    /* split over tokens only when each worker gets several (each re-reads all rows) */
    const r1_par *p = par && par->n > 1 && n_tok >= 4 * par->n ? par : NULL;
    const int nw = p ? p->n : 1;
    mul_job j = {.w = w, .tr = r1_type_get_traits(w->type), .n_tok = n_tok, .x = x, .ldx = ldx, .y = y, .ldy = ldy};
    r1_tmp rows = {0};
    if (w->type != R1_TYPE_F32 &&
        !(j.rowbuf = r1_tmp_get(par_arena(par), (size_t)nw * (size_t)w->n_cols * sizeof(float), &rows)))
        return r1_set_error(err, R1_ERR_NOMEM, "matmul_t: out of memory");
    r1_par_run(p, mul_t_worker, &j);
    r1_tmp_put(&rows);
    return R1_OK;
}

/* ---- routing ------------------------------------------------------------------------ */
r1_status r1_moe_router_check(const r1_moe_router *r, const char *file, r1_error *err) {
    if (r->n_expert < 1 || r->n_expert > R1_MOE_MAX_EXPERTS)
        return r1_set_error(err, R1_ERR_FORMAT, "%s: expert_count %d out of range 1..%d", file,
                            r->n_expert, R1_MOE_MAX_EXPERTS);
    if (r->n_used < 1 || r->n_used > r->n_expert)
        return r1_set_error(err, R1_ERR_FORMAT, "%s: expert_used_count %d must be in 1..expert_count (%d)",
                            file, r->n_used, r->n_expert);
    if (r->gating != R1_GATING_SOFTMAX && r->gating != R1_GATING_SIGMOID)
        return r1_set_error(err, R1_ERR_UNSUPPORTED, "%s: unknown expert_gating_func %d (1 softmax, 2 sigmoid)",
                            file, (int)r->gating);
    if (r->group_score < R1_GROUP_SCORE_AUTO || r->group_score > R1_GROUP_SCORE_TOP2_SUM)
        return r1_set_error(err, R1_ERR_INVALID_ARG, "%s: unknown group scoring rule %d", file, (int)r->group_score);
    if (!isfinite(r->scale) || r->scale <= 0)
        return r1_set_error(err, R1_ERR_FORMAT, "%s: expert_weights_scale %g must be positive", file, (double)r->scale);
    int ng = r->n_group > 1 ? r->n_group : 1;
    if (r->n_group < 0 || r->n_expert % ng != 0)
        return r1_set_error(err, R1_ERR_FORMAT, "%s: expert_group_count %d does not divide expert_count %d",
                            file, r->n_group, r->n_expert);
    if (ng > 1) {
        if (r->topk_group < 1 || r->topk_group > ng)
            return r1_set_error(err, R1_ERR_FORMAT, "%s: expert_group_used_count %d must be in 1..%d",
                                file, r->topk_group, ng);
        if ((int64_t)r->topk_group * (r->n_expert / ng) < r->n_used)
            return r1_set_error(err, R1_ERR_FORMAT,
                                "%s: %d groups of %d experts cannot supply expert_used_count %d", file,
                                r->topk_group, r->n_expert / ng, r->n_used);
    }
    return R1_OK;
}

/* Index of the largest v[i] over i < n with !taken[i] and v[i] > -inf; ties → lowest index.
 * Returns -1 if none. */
static int argmax_free(const float *v, const unsigned char *taken, int n) {
    int best = -1;
    for (int i = 0; i < n; i++)
        if (!taken[i] && v[i] != -INFINITY && (best < 0 || v[i] > v[best])) best = i;
    return best;
}

void r1_moe_route(const r1_moe_router *r, const float *logits, int32_t *ids, float *weights,
                  float *scratch) {
    const int ne = r->n_expert;
    float *p = scratch, *s = scratch + ne;   /* p: gate probabilities, s: selection scores */
    if (r->gating == R1_GATING_SOFTMAX) {
        float mx = logits[0];
        for (int e = 1; e < ne; e++) mx = fmaxf(mx, logits[e]);
        double sum = 0;
        for (int e = 0; e < ne; e++) sum += (p[e] = expf(logits[e] - mx));
        for (int e = 0; e < ne; e++) p[e] = (float)(p[e] / sum);
    } else {
        for (int e = 0; e < ne; e++) p[e] = 1.0f / (1.0f + expf(-logits[e]));
    }
    for (int e = 0; e < ne; e++) s[e] = p[e] + (r->bias ? r->bias[e] : 0.0f);

    unsigned char taken[R1_MOE_MAX_EXPERTS];
    if (r->n_group > 1) {
        const int ng = r->n_group, gs = ne / ng;
        r1_group_score rule = r->group_score;
        if (rule == R1_GROUP_SCORE_AUTO) rule = r->bias ? R1_GROUP_SCORE_TOP2_SUM : R1_GROUP_SCORE_MAX;
        float gscore[R1_MOE_MAX_EXPERTS];
        for (int g = 0; g < ng; g++) {
            const float *sg = s + (size_t)g * gs;
            float a = -INFINITY, b = -INFINITY;   /* best and second best */
            for (int i = 0; i < gs; i++) {
                if (sg[i] > a) { b = a; a = sg[i]; }
                else if (sg[i] > b) b = sg[i];
            }
            gscore[g] = (rule == R1_GROUP_SCORE_MAX || gs == 1) ? a : a + b;
        }
        memset(taken, 0, (size_t)ng);
        for (int k = 0; k < r->topk_group; k++) taken[argmax_free(gscore, taken, ng)] = 1;
        for (int g = 0; g < ng; g++)   /* groups not kept: exclude their experts */
            if (!taken[g])
                for (int i = 0; i < gs; i++) s[(size_t)g * gs + i] = -INFINITY;
    }
    memset(taken, 0, (size_t)ne);
    double sum = 0;
    for (int k = 0; k < r->n_used; k++) {
        int e = argmax_free(s, taken, ne);
        if (e < 0) {   /* only when scores are NaN/-inf: take the lowest free index */
            for (e = 0; taken[e]; e++) {}
        }
        taken[e] = 1;
        ids[k] = e;
        weights[k] = p[e];
        sum += p[e];
    }
    float mul = r->scale;
    if (r->norm && sum > 0) mul = (float)(r->scale / sum);
    for (int k = 0; k < r->n_used; k++) weights[k] *= mul;
}

/* ---- FFN ------------------------------------------------------------------------------- */
r1_wmat r1_moe_expert(const r1_moe_layer *l, int which, int expert) {
    int64_t cols = which == 2 ? l->n_ff_exp : l->n_embd;
    int64_t rows = which == 2 ? l->n_embd : l->n_ff_exp;
    r1_wmat w;
    w.type = l->exps_type[which];
    w.n_cols = cols;
    w.n_rows = rows;
    w.row_bytes = r1_row_size(w.type, cols);
    w.data = (const char *)l->exps_data[which] + (size_t)expert * (size_t)rows * w.row_bytes;
    return w;
}

/* ---- batched SwiGLU FFNs over token groups ----------------------------------------------
 * r1_moe_forward evaluates the shared experts (over all tokens) and every chosen expert
 * (over its tokens) as "groups"; r1_ffn_swiglu is one group. Two parallel runs, each over
 * many small work items that the workers claim one at a time (an atomic counter), so
 * uneven expert sizes do not leave a thread idle and a layer costs two synchronisations
 * instead of two per expert:
 *   A. item = (group, block of RB gate/up rows): the gate and up products of those rows
 *      for all the group's tokens (token tiles of <= TILE_BYTES of activations), then
 *      h = silu(g)·u, and h's RB columns converted straight into the down product's
 *      activation type (RB is a multiple of that type's block, so the converted blocks are
 *      exactly those of a whole-row conversion). Items are ordered largest group first.
 *   B. item = a block of FFN_COLS output columns: every group's down product for those
 *      columns, accumulated into out in group order (a first group that covers every
 *      output row in order with weight 1 stores; otherwise the columns are zeroed; the
 *      others add weight·y). An item owns its columns, so the summation order of every
 *      output does not depend on the threads. */
enum { FFN_COLS = 64, TILE_BYTES = 512 * 1024 };

typedef struct ffn_grp {
    r1_wmat gate, up, down;
    const r1_type_traits *tg, *tu, *td, *th;   /* gate, up, down traits; h's type's traits */
    r1_type ht;              /* h's type (the down product's vec_dot type)                 */
    int c;                   /* tokens (rows)                                              */
    const char *xg, *xu;     /* gate / up activation rows in their vec_dot types           */
    size_t ldg, ldu;
    char *h;                 /* c rows of ht, stride ldh                                   */
    size_t ldh;
    const int32_t *tok;      /* output row of row i (NULL: i)                              */
    const float *wt;         /* weight of row i (NULL: 1)                                  */
    int rb;                  /* phase A's row block                                        */
    int tb_a, tb_b;          /* token tiles of phases A and B                              */
} ffn_grp;

typedef struct ffn_job {
    ffn_grp *g;
    int n_grp;
    const int64_t *item;     /* phase A items: group << 32 | block index                   */
    int n_items;
    atomic_int next;
    float *out;
    size_t ldo;
    int n_out, n_rows_out;   /* output columns (D) and rows                                */
    bool first_stores;
    float *scratch;          /* per worker task: per_worker floats                         */
    size_t per_worker;
} ffn_job;

static void ffn_a_worker(void *arg, int wi, int nw) {
    ffn_job *j = arg;
    (void)nw;
    float *gb = j->scratch + j->per_worker * (size_t)wi;
    for (;;) {
        const int it = atomic_fetch_add_explicit(&j->next, 1, memory_order_relaxed);
        if (it >= j->n_items) break;
        const ffn_grp *g = &j->g[j->item[it] >> 32];
        const int F = (int)g->gate.n_rows, r0 = (int)(j->item[it] & 0xFFFFFFFF) * g->rb, nr = R1_MIN(g->rb, F - r0);
        float *ub = gb + (size_t)g->tb_a * (size_t)g->rb;
        const size_t hoff = r1_row_size(g->ht, r0);
        for (int t0 = 0; t0 < g->c; t0 += g->tb_a) {
            const int nt = R1_MIN(g->tb_a, g->c - t0);
            for (int s = 0; s < nr; s += MUL_ROWS) {
                const int ns = R1_MIN(MUL_ROWS, nr - s);
                r1_gemm(g->tg, (int)g->gate.n_cols, ns, nt,
                        (const char *)g->gate.data + (size_t)(r0 + s) * g->gate.row_bytes, g->gate.row_bytes,
                        g->xg + (size_t)t0 * g->ldg, g->ldg, gb + s, (size_t)g->rb);
                r1_gemm(g->tu, (int)g->up.n_cols, ns, nt,
                        (const char *)g->up.data + (size_t)(r0 + s) * g->up.row_bytes, g->up.row_bytes,
                        g->xu + (size_t)t0 * g->ldu, g->ldu, ub + s, (size_t)g->rb);
            }
            for (int t = 0; t < nt; t++) {
                float *gr = gb + (size_t)t * g->rb;
                const float *ur = ub + (size_t)t * g->rb;
                r1_silu_mul(gr, ur, nr);
                g->th->from_float(gr, g->h + (size_t)(t0 + t) * g->ldh + hoff, nr);
            }
        }
    }
}

static void ffn_b_worker(void *arg, int wi, int nw) {
    ffn_job *j = arg;
    (void)nw;
    float *yb = j->scratch + j->per_worker * (size_t)wi;
    const int n_blk = (j->n_out + FFN_COLS - 1) / FFN_COLS;
    for (;;) {
        const int it = atomic_fetch_add_explicit(&j->next, 1, memory_order_relaxed);
        if (it >= n_blk) break;
        const int c0 = it * FFN_COLS, nc = R1_MIN(FFN_COLS, j->n_out - c0);
        if (!j->first_stores)
            for (int t = 0; t < j->n_rows_out; t++) memset(j->out + (size_t)t * j->ldo + c0, 0, sizeof(float) * (size_t)nc);
        for (int gi = 0; gi < j->n_grp; gi++) {
            const ffn_grp *g = &j->g[gi];
            const bool store = gi == 0 && j->first_stores;
            for (int t0 = 0; t0 < g->c; t0 += g->tb_b) {
                const int nt = R1_MIN(g->tb_b, g->c - t0);
                r1_gemm(g->td, (int)g->down.n_cols, nc, nt, (const char *)g->down.data + (size_t)c0 * g->down.row_bytes,
                        g->down.row_bytes, g->h + (size_t)t0 * g->ldh, g->ldh, yb, FFN_COLS);
                for (int t = 0; t < nt; t++) {
                    const int row = g->tok ? g->tok[t0 + t] : t0 + t;
                    float *o = j->out + (size_t)row * j->ldo + c0;
                    const float *y = yb + (size_t)t * FFN_COLS;
                    if (store) {
                        memcpy(o, y, sizeof(float) * (size_t)nc);
                    } else {
                        const float w = g->wt ? g->wt[t0 + t] : 1.0f;
                        for (int d = 0; d < nc; d++) o[d] += w * y[d];
                    }
                }
            }
        }
    }
}

/* Fills a group's derived fields (traits, h's type and stride, blocks, tiles); the caller
 * has set gate/up/down, c, xg/xu/ldg/ldu, tok, wt. */
static void ffn_grp_setup(ffn_grp *g) {
    g->tg = r1_type_get_traits(g->gate.type);
    g->tu = r1_type_get_traits(g->up.type);
    g->td = r1_type_get_traits(g->down.type);
    g->ht = g->td->vec_dot_type;
    g->th = r1_type_get_traits(g->ht);
    g->ldh = r1_row_size(g->ht, g->down.n_cols);
    const int b = g->th->blck_size;   /* rb: a multiple of both MUL_ROWS and h's block */
    g->rb = b <= MUL_ROWS && MUL_ROWS % b == 0 ? MUL_ROWS : (b % MUL_ROWS == 0 ? b : b * MUL_ROWS);
    /* row blocks (rb, MUL_ROWS; phase B's FFN_COLS) are multiples of 16: whole groups of
     * repacked matrices, whose row counts model.c only repacks when multiples of 16 */
    _Static_assert(MUL_ROWS % R1_Q8R_ROWS == 0 && FFN_COLS % R1_Q8R_ROWS == 0, "row blocks of whole groups");
    assert(g->rb % R1_Q8R_ROWS == 0);
    assert(g->gate.n_rows % r1_wmat_row_group(&g->gate) == 0 && g->up.n_rows % r1_wmat_row_group(&g->up) == 0 &&
           g->down.n_rows % r1_wmat_row_group(&g->down) == 0);
    const size_t lx = R1_MAX(g->ldg, g->ldu);
    g->tb_a = (int)R1_MAX(1, R1_MIN((size_t)g->c, TILE_BYTES / lx));
    g->tb_b = (int)R1_MAX(1, R1_MIN((size_t)g->c, TILE_BYTES / g->ldh));
}

/* Runs phases A and B over n_grp set-up groups (every down.n_rows == n_out) into out:
 * n_rows_out rows of n_out floats, stride ldo. first_stores: group 0 covers rows
 * 0..n_rows_out-1 in order with weight 1 (it stores; otherwise out starts from zero). */
static r1_status ffn_run(ffn_grp *g, int n_grp, float *out, size_t ldo, int n_out, int n_rows_out,
                         bool first_stores, const r1_par *par, r1_error *err) {
    const int nw = par && par->run && par->n > 1 ? par->n : 1;
    size_t n_items = 0, h_bytes = 0, per_worker = 0;
    for (int i = 0; i < n_grp; i++) {
        if (g[i].c == 0) continue;
        n_items += (size_t)((g[i].gate.n_rows + g[i].rb - 1) / g[i].rb);
        h_bytes += ((size_t)g[i].c * g[i].ldh + 63) & ~(size_t)63;
        per_worker = R1_MAX(per_worker, 2 * (size_t)g[i].tb_a * (size_t)g[i].rb);
        per_worker = R1_MAX(per_worker, (size_t)g[i].tb_b * FFN_COLS);
    }
    per_worker = (per_worker + 15) & ~(size_t)15;
    r1_tmp tmp;
    char *mem = r1_tmp_get(par_arena(par),
                           h_bytes + sizeof(float) * per_worker * (size_t)nw + sizeof(int64_t) * n_items + sizeof(int32_t) * (size_t)n_grp,
                           &tmp);
    if (!mem) return r1_set_error(err, R1_ERR_NOMEM, "ffn: out of memory (%d groups)", n_grp);
    float *scratch = (float *)mem;
    char *hp = (char *)(scratch + per_worker * (size_t)nw);
    int64_t *item = (int64_t *)(hp + h_bytes);
    int32_t *ord = (int32_t *)(item + n_items);
    for (int i = 0; i < n_grp; i++) {
        g[i].h = hp;
        hp += ((size_t)g[i].c * g[i].ldh + 63) & ~(size_t)63;
        ord[i] = i;
    }
    /* phase A order: groups by decreasing token count (stable) */
    for (int i = 1; i < n_grp; i++) {
        const int32_t v = ord[i];
        int k = i;
        for (; k > 0 && g[ord[k - 1]].c < g[v].c; k--) ord[k] = ord[k - 1];
        ord[k] = v;
    }
    int n = 0;
    for (int i = 0; i < n_grp; i++) {
        const ffn_grp *gi = &g[ord[i]];
        if (gi->c == 0) continue;
        const int nb = (int)((gi->gate.n_rows + gi->rb - 1) / gi->rb);
        for (int b = 0; b < nb; b++) item[n++] = (int64_t)ord[i] << 32 | b;
    }
    ffn_job j = {.g = g, .n_grp = n_grp, .item = item, .n_items = n, .out = out, .ldo = ldo, .n_out = n_out,
                 .n_rows_out = n_rows_out, .first_stores = first_stores, .scratch = scratch, .per_worker = per_worker};
    atomic_init(&j.next, 0);
    r1_par_run(par, ffn_a_worker, &j);
    atomic_store(&j.next, 0);
    r1_par_run(par, ffn_b_worker, &j);
    r1_tmp_put(&tmp);
    return R1_OK;
}

/* Copies row src_row[p] of each of n_src arrays into row p of the gathered arrays. */
typedef struct gather_job {
    const int32_t *order;    /* pair indices; token = pair / k                             */
    int k, n_pairs, n_src;
    const char *src[2];
    char *dst[2];
    size_t ld[2];
} gather_job;
static void gather_worker(void *arg, int i, int nw) {
    const gather_job *j = arg;
    for (int p = j->n_pairs * i / nw; p < j->n_pairs * (i + 1) / nw; p++)
        for (int s = 0; s < j->n_src; s++)
            memcpy(j->dst[s] + (size_t)p * j->ld[s], j->src[s] + (size_t)(j->order[p] / j->k) * j->ld[s], j->ld[s]);
}

r1_status r1_ffn_swiglu(const r1_wmat *gate, const r1_wmat *up, const r1_wmat *down,
                        const float *x, int n_tok, float *out, const r1_par *par, r1_error *err) {
    if (n_tok <= 0) return R1_OK;
    conv_job cj = {.x = x, .ldx = (size_t)gate->n_cols, .n_tok = n_tok, .n = gate->n_cols};
    const int sg = conv_slot(&cj, r1_type_get_traits(gate->type)->vec_dot_type, gate->n_cols);
    const int su = conv_slot(&cj, r1_type_get_traits(up->type)->vec_dot_type, up->n_cols);
    size_t bytes = 0;
    for (int k = 0; k < cj.n_types; k++) bytes += cj.ld[k] * (size_t)n_tok;
    r1_tmp tmp;
    char *mem = r1_tmp_get(par_arena(par), bytes, &tmp);
    if (!mem) return r1_set_error(err, R1_ERR_NOMEM, "ffn: out of memory (%d tokens)", n_tok);
    char *p = mem;
    for (int k = 0; k < cj.n_types; k++) {
        cj.dst[k] = p;
        p += cj.ld[k] * (size_t)n_tok;
    }
    par_rows(par, n_tok, conv_worker, &cj);
    ffn_grp g = {.gate = *gate, .up = *up, .down = *down, .c = n_tok, .xg = cj.dst[sg], .ldg = cj.ld[sg],
                 .xu = cj.dst[su], .ldu = cj.ld[su]};
    ffn_grp_setup(&g);
    r1_status st = ffn_run(&g, 1, out, (size_t)down->n_rows, (int)down->n_rows, n_tok, true, par, err);
    r1_tmp_put(&tmp);
    return st;
}

r1_status r1_moe_forward(const r1_moe_layer *l, const float *x, int n_tok, float *out,
                         int32_t *ids_out, const r1_par *par, r1_error *err) {
    const int ne = l->router.n_expert, k = l->router.n_used, D = l->n_embd;
    if (n_tok <= 0) return R1_OK;
    const size_t nk = (size_t)n_tok * (size_t)k;
    r1_wmat wg0 = r1_moe_expert(l, 0, 0), wu0 = r1_moe_expert(l, 1, 0);
    /* activation types: experts' gate/up, shared gate/up (deduplicated) */
    conv_job cj = {.x = x, .ldx = (size_t)D, .n_tok = n_tok, .n = D};
    const int seg = conv_slot(&cj, r1_type_get_traits(wg0.type)->vec_dot_type, D);
    const int seu = conv_slot(&cj, r1_type_get_traits(wu0.type)->vec_dot_type, D);
    int ssg = 0, ssu = 0;
    if (l->n_shared > 0) {
        ssg = conv_slot(&cj, r1_type_get_traits(l->gate_sh.type)->vec_dot_type, D);
        ssu = conv_slot(&cj, r1_type_get_traits(l->up_sh.type)->vec_dot_type, D);
    }
    const int n_gx = seg == seu ? 1 : 2;   /* gathered arrays for the experts */
    /* one allocation: logits | scratch | wts | ids | cnt | off | order | tok | converted x | gathered x */
    size_t conv_bytes = 0;
    for (int i = 0; i < cj.n_types; i++) conv_bytes += ((cj.ld[i] * (size_t)n_tok) + 63) & ~(size_t)63;
    const size_t gath_bytes = (cj.ld[seg] * nk + (n_gx == 2 ? cj.ld[seu] * nk : 0) + 63) & ~(size_t)63;
    const size_t n_f = (size_t)n_tok * ne + 2 * (size_t)ne + 2 * nk;   /* logits, scratch, wts, sorted wts */
    const size_t n_i = nk + 2 * ((size_t)ne + 1) + 2 * nk;           /* ids, cnt, off, order, tok */
    const size_t head = ((n_f * sizeof(float) + n_i * sizeof(int32_t)) + 63) & ~(size_t)63;
    const size_t n_grp_max = (size_t)ne + 1;
    r1_tmp tmp;
    char *mem = r1_tmp_get(par_arena(par), head + conv_bytes + gath_bytes + sizeof(ffn_grp) * n_grp_max, &tmp);
    if (!mem) return r1_set_error(err, R1_ERR_NOMEM, "moe: out of memory for %d tokens", n_tok);
    float *logits = (float *)mem;                   /* [n_tok][ne]  */
    float *scratch = logits + (size_t)n_tok * ne;   /* [2 ne]       */
    float *wts = scratch + 2 * (size_t)ne;          /* [n_tok][k]   */
    float *wsort = wts + nk;                        /* [nk] weights in expert order */
    int32_t *ids = (int32_t *)(wsort + nk);         /* [n_tok][k]   */
    int32_t *cnt = ids + nk;                        /* [ne + 1]     */
    int32_t *off = cnt + ne + 1;                    /* [ne + 1]     */
    int32_t *order = off + ne + 1;                  /* [nk] pair index t*k+j, sorted by expert */
    int32_t *tok = order + nk;                      /* [nk] token of order[p]                  */
    char *cp = mem + head;
    for (int i = 0; i < cj.n_types; i++) {
        cj.dst[i] = cp;
        cp += ((cj.ld[i] * (size_t)n_tok) + 63) & ~(size_t)63;
    }
    gather_job gj = {.order = order, .k = k, .n_pairs = (int)nk, .n_src = n_gx};
    gj.src[0] = cj.dst[seg];
    gj.ld[0] = cj.ld[seg];
    gj.dst[0] = cp;
    if (n_gx == 2) {
        gj.src[1] = cj.dst[seu];
        gj.ld[1] = cj.ld[seu];
        gj.dst[1] = cp + cj.ld[seg] * nk;
    }
    ffn_grp *grp = (ffn_grp *)(cp + gath_bytes);

    r1_status st = r1_wmat_mul(&l->gate_inp, n_tok, x, D, logits, ne, par, err);
    if (st) goto done;
    for (int t = 0; t < n_tok; t++)
        r1_moe_route(&l->router, logits + (size_t)t * ne, ids + (size_t)t * k, wts + (size_t)t * k, scratch);
    if (ids_out) memcpy(ids_out, ids, nk * sizeof(int32_t));

    /* counting sort of the pairs by expert (stable: tokens stay in order) */
    memset(cnt, 0, sizeof(int32_t) * (size_t)(ne + 1));
    for (size_t i = 0; i < nk; i++) cnt[ids[i]]++;
    off[0] = 0;
    for (int e = 0; e < ne; e++) off[e + 1] = off[e] + cnt[e];
    memcpy(cnt, off, sizeof(int32_t) * (size_t)ne);
    for (size_t i = 0; i < nk; i++) order[cnt[ids[i]]++] = (int32_t)i;
    for (size_t p = 0; p < nk; p++) {
        tok[p] = order[p] / k;
        wsort[p] = wts[order[p]];
    }

    par_rows(par, n_tok, conv_worker, &cj);
    par_rows(par, (int)nk, gather_worker, &gj);

    /* groups: the shared experts first (they store), then the chosen experts by index, so
     * every output is shared + sum over its experts in increasing index order */
    int n_grp = 0;
    if (l->n_shared > 0) {
        grp[n_grp] = (ffn_grp){.gate = l->gate_sh, .up = l->up_sh, .down = l->down_sh, .c = n_tok,
                               .xg = cj.dst[ssg], .ldg = cj.ld[ssg], .xu = cj.dst[ssu], .ldu = cj.ld[ssu]};
        ffn_grp_setup(&grp[n_grp++]);
    }
    for (int e = 0; e < ne; e++) {
        const int c = off[e + 1] - off[e];
        if (c == 0) continue;
        ffn_grp *g = &grp[n_grp++];
        *g = (ffn_grp){.gate = r1_moe_expert(l, 0, e), .up = r1_moe_expert(l, 1, e), .down = r1_moe_expert(l, 2, e),
                       .c = c, .tok = tok + off[e], .wt = wsort + off[e]};
        g->xg = gj.dst[0] + (size_t)off[e] * gj.ld[0];
        g->ldg = gj.ld[0];
        g->xu = gj.dst[n_gx - 1] + (size_t)off[e] * gj.ld[n_gx - 1];
        g->ldu = gj.ld[n_gx - 1];
        ffn_grp_setup(g);
    }
    st = ffn_run(grp, n_grp, out, (size_t)D, D, n_tok, l->n_shared > 0, par, err);
done:
    r1_tmp_put(&tmp);
    return st;
}

/* ---- GGUF binding ----------------------------------------------------------------------- */
static bool meta_i64(const gguf_file *f, const char *arch, const char *suffix, int64_t *out) {
    char key[160];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    return gguf_get_i64(f, key, out);
}

r1_status r1_moe_router_from_gguf(const gguf_file *f, const char *arch, const char *file,
                                  r1_moe_router *r, int *n_shared, int *n_ff_exp, r1_error *err) {
    memset(r, 0, sizeof *r);
    static const char *const keys[] = {"expert_count", "expert_used_count", "expert_feed_forward_length"};
    int64_t v[3];
    for (int i = 0; i < 3; i++)
        if (!meta_i64(f, arch, keys[i], &v[i]) || v[i] < 0 || v[i] > INT32_MAX)
            return r1_set_error(err, R1_ERR_FORMAT, "%s: missing or invalid metadata %s.%s", file, arch, keys[i]);
    int64_t sh = 0, gating = R1_GATING_SOFTMAX, ng = 1, tg = 1;
    meta_i64(f, arch, "expert_shared_count", &sh);
    meta_i64(f, arch, "expert_gating_func", &gating);
    meta_i64(f, arch, "expert_group_count", &ng);
    meta_i64(f, arch, "expert_group_used_count", &tg);
    if (sh < 0 || sh > 64 || v[2] < 1)
        return r1_set_error(err, R1_ERR_FORMAT, "%s: invalid %s.expert_shared_count %lld / expert_feed_forward_length %lld",
                            file, arch, (long long)sh, (long long)v[2]);
    if (gating != R1_GATING_SOFTMAX && gating != R1_GATING_SIGMOID)
        return r1_set_error(err, R1_ERR_UNSUPPORTED, "%s: unknown %s.expert_gating_func %lld (1 softmax, 2 sigmoid)",
                            file, arch, (long long)gating);
    if (ng < 0 || ng > R1_MOE_MAX_EXPERTS || tg < 0 || tg > R1_MOE_MAX_EXPERTS)
        return r1_set_error(err, R1_ERR_FORMAT, "%s: invalid %s.expert_group_count %lld / expert_group_used_count %lld",
                            file, arch, (long long)ng, (long long)tg);
    r->n_expert = (int)v[0];
    r->n_used = (int)v[1];
    r->gating = (r1_gating)gating;
    r->n_group = (int)ng;
    r->topk_group = (int)tg;
    r->group_score = R1_GROUP_SCORE_AUTO;
    char key[160];
    snprintf(key, sizeof key, "%s.expert_weights_norm", arch);
    r->norm = false;
    gguf_get_bool(f, key, &r->norm);
    snprintf(key, sizeof key, "%s.expert_weights_scale", arch);
    r->scale = 1.0f;
    if (gguf_get_f32(f, key, &r->scale) && r->scale == 0.0f) r->scale = 1.0f;   /* 0: unset */
    *n_shared = (int)sh;
    *n_ff_exp = (int)v[2];
    return r1_moe_router_check(r, file, err);
}

/* Finds blk.<il>.<name> and checks ne == {ne0, ne1, ne2}; NULL + error if missing/wrong. */
static const gguf_tensor *find_shaped(const gguf_file *f, const char *file, int il, const char *name,
                                      int64_t ne0, int64_t ne1, int64_t ne2, bool optional, r1_error *err) {
    char tn[96];
    snprintf(tn, sizeof tn, "blk.%d.%s", il, name);
    const gguf_tensor *t = gguf_find_tensor(f, tn);
    if (!t) {
        if (!optional) r1_set_error(err, R1_ERR_FORMAT, "%s: missing tensor %s", file, tn);
        return NULL;
    }
    if (t->ne[0] != ne0 || t->ne[1] != ne1 || t->ne[2] != ne2 || t->ne[3] != 1) {
        r1_set_error(err, R1_ERR_FORMAT, "%s: tensor %s has shape [%lld, %lld, %lld], expected [%lld, %lld, %lld]",
                     file, tn, (long long)t->ne[0], (long long)t->ne[1], (long long)t->ne[2], (long long)ne0,
                     (long long)ne1, (long long)ne2);
        return NULL;
    }
    return t;
}

/* A 2-D weight view of blk.<il>.<name> with the expected shape (3-D: ne1*ne2 rows). */
static r1_status bind_mat(const gguf_file *f, const char *file, int il, const char *name, int64_t ne0,
                          int64_t ne1, int64_t ne2, r1_wmat *w, r1_error *err) {
    const gguf_tensor *t = find_shaped(f, file, il, name, ne0, ne1, ne2, false, err);
    if (!t) return err ? err->status : R1_ERR_FORMAT;
    char what[160];
    snprintf(what, sizeof what, "%s: blk.%d.%s", file, il, name);
    return r1_wmat_init(w, t->type, t->data, ne0, ne1 * ne2, what, err);
}

r1_status r1_moe_layer_from_gguf(const gguf_file *f, int il, const r1_moe_router *r, int n_embd,
                                 int n_ff_exp, int n_shared, const char *file, r1_moe_layer *l,
                                 r1_error *err) {
    memset(l, 0, sizeof *l);
    l->router = *r;
    l->n_embd = n_embd;
    l->n_ff_exp = n_ff_exp;
    l->n_shared = n_shared;
    const int64_t E = n_embd, F = n_ff_exp, NE = r->n_expert;
    r1_status st;
    if ((st = bind_mat(f, file, il, "ffn_gate_inp.weight", E, NE, 1, &l->gate_inp, err))) return st;
    char tn[96];
    snprintf(tn, sizeof tn, "blk.%d.exp_probs_b.bias", il);
    if (gguf_find_tensor(f, tn)) {
        const gguf_tensor *b = find_shaped(f, file, il, "exp_probs_b.bias", NE, 1, 1, false, err);
        if (!b) return err ? err->status : R1_ERR_FORMAT;
        if (b->type != R1_TYPE_F32)
            return r1_set_error(err, R1_ERR_UNSUPPORTED, "%s: %s must be f32, not %s", file, tn, r1_type_name(b->type));
        l->router.bias = b->data;
    }
    static const char *const names[3] = {"ffn_gate_exps.weight", "ffn_up_exps.weight", "ffn_down_exps.weight"};
    for (int i = 0; i < 3; i++) {
        r1_wmat w;
        if ((st = bind_mat(f, file, il, names[i], i == 2 ? F : E, i == 2 ? E : F, NE, &w, err))) return st;
        l->exps_type[i] = w.type;
        l->exps_data[i] = w.data;
    }
    if (n_shared > 0) {
        const int64_t FS = F * n_shared;
        if ((st = bind_mat(f, file, il, "ffn_gate_shexp.weight", E, FS, 1, &l->gate_sh, err))) return st;
        if ((st = bind_mat(f, file, il, "ffn_up_shexp.weight", E, FS, 1, &l->up_sh, err))) return st;
        if ((st = bind_mat(f, file, il, "ffn_down_shexp.weight", FS, E, 1, &l->down_sh, err))) return st;
    }
    return R1_OK;
}
