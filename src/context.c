/*
 * context.c — r1_context_* and r1_eval: argument checks, context sizing, chunking of the
 * input into n_batch-token pieces for forward_chunk, and rollback on failure.
 *
 * Default n_ctx: the model's trained context, capped so the KV cache takes at most a
 * quarter of physical memory (and at least 1 position).
 */
#include "context.h"
#include "ops.h"
#include <unistd.h>

r1_context_params r1_context_default_params(void) {
    r1_context_params p = {0, 0, 0, false};
    return p;
}

/* r1_par runner backed by the context's pool (mla.c / moe.c call fn(arg, i, n)). */
typedef struct par_call { r1_par_fn fn; void *arg; int n; } par_call;
static void par_task(void *a, int i) { const par_call *p = a; p->fn(p->arg, i, p->n); }
static void par_run(void *pool, int n, r1_par_fn fn, void *arg) {
    par_call p = {fn, arg, n};
    threadpool_run(pool, par_task, &p, n);
}

static size_t act_need(const r1_wmat *w, int n_batch) {
    return w->data ? ops_act_bytes(w->type, w->n_cols, n_batch) : 0;
}

r1_status r1_context_create(const r1_model *m, const r1_context_params *params, r1_context **out, r1_error *err) {
    if (!out) return r1_set_error(err, R1_ERR_INVALID_ARG, "r1_context_create: out is NULL");
    *out = NULL;
    if (!m) return r1_set_error(err, R1_ERR_INVALID_ARG, "r1_context_create: model is NULL");
    if (!m->layers) return r1_set_error(err, R1_ERR_INVALID_ARG, "r1_context_create: model was loaded vocab-only");
    r1_context_params p = params ? *params : r1_context_default_params();
    const r1_model_info *I = &m->info;
    if (p.n_ctx < 0) return r1_set_error(err, R1_ERR_INVALID_ARG, "context size %d is negative", p.n_ctx);
    if (p.n_threads < 0) return r1_set_error(err, R1_ERR_INVALID_ARG, "thread count %d is negative", p.n_threads);
    if (p.n_batch < 0) return r1_set_error(err, R1_ERR_INVALID_ARG, "batch size %d is negative", p.n_batch);
    if (p.n_ctx == 0) {
        long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
        double budget = pages > 0 && psz > 0 ? (double)pages * (double)psz / 4 : 4e9;
        const double tok_bytes = (double)I->kv_bytes_per_token / (p.kv_f16 ? 2 : 1);   /* info gives F32 */
        double cap = tok_bytes > 0 ? budget / tok_bytes : (double)I->n_ctx_train;
        p.n_ctx = I->n_ctx_train < cap ? I->n_ctx_train : (int)cap;
        if (p.n_ctx < 1) p.n_ctx = 1;
    }
    if (p.n_threads == 0) p.n_threads = threadpool_default_threads();
    if (p.n_batch == 0) p.n_batch = 512;
    if (p.n_batch > p.n_ctx) p.n_batch = p.n_ctx;

    r1_context *c = calloc(1, sizeof *c);
    if (!c) return r1_set_error(err, R1_ERR_NOMEM, "context: out of memory");
    c->model = m;
    c->n_ctx = p.n_ctx;
    c->n_batch = p.n_batch;
    c->n_threads = p.n_threads;
    r1_status s = threadpool_create(p.n_threads, &c->pool, err);
    if (s == R1_OK) s = kvcache_init(&c->kv, m, c->n_ctx, p.kv_f16 ? R1_TYPE_F16 : R1_TYPE_F32, err);
    if (s != R1_OK) { r1_context_free(c); return s; }
    c->par = (r1_par){par_run, c->pool, c->n_threads, &c->arena};

    const size_t B = (size_t)c->n_batch, E = (size_t)I->n_embd, QW = (size_t)I->n_head * (size_t)I->head_dim;
    const size_t F = (size_t)(I->n_ff > 0 ? I->n_ff : 1);
    size_t act = act_need(&m->output, c->n_batch);
    for (int il = 0; il < I->n_layer; il++) {
        const r1_layer *l = &m->layers[il];
        const r1_wmat *ws[] = {&l->wq, &l->wk, &l->wv, &l->wo, &l->gate, &l->up, &l->down};
        for (size_t i = 0; i < R1_ARRAY_LEN(ws); i++) act = R1_MAX(act, act_need(ws[i], c->n_batch));
    }
    c->act_bytes = act;
    c->x = r1_alloc_aligned(B * E * sizeof(float));
    c->xn = r1_alloc_aligned(B * E * sizeof(float));
    c->y = r1_alloc_aligned(B * E * sizeof(float));
    c->q = r1_alloc_aligned(B * QW * sizeof(float));
    c->att = r1_alloc_aligned(B * QW * sizeof(float));
    const size_t KW = (size_t)I->n_head_kv * (size_t)I->head_dim;
    c->kb = r1_alloc_aligned(B * KW * sizeof(float));
    c->vb = r1_alloc_aligned(B * KW * sizeof(float));
    c->ffa = r1_alloc_aligned(B * F * sizeof(float));
    c->ffb = r1_alloc_aligned(B * F * sizeof(float));
    c->act = r1_alloc_aligned(act ? act : 64);
    if (!c->x || !c->xn || !c->y || !c->q || !c->att || !c->kb || !c->vb || !c->ffa || !c->ffb ||
        !c->act) {
        r1_context_free(c);
        return r1_set_error(err, R1_ERR_NOMEM, "context: out of memory for scratch buffers (n_batch %zu)", B);
    }
    *out = c;
    return R1_OK;
}

void r1_context_free(r1_context *c) {
    if (!c) return;
    threadpool_free(c->pool);
    kvcache_free(&c->kv);
    r1_arena_free(&c->arena);
    float *bufs[] = {c->x, c->xn, c->y, c->q, c->att, c->kb, c->vb, c->ffa, c->ffb};
    for (size_t i = 0; i < R1_ARRAY_LEN(bufs); i++) r1_free_aligned(bufs[i]);
    r1_free_aligned(c->act);
    free(c);
}

int r1_context_n_ctx(const r1_context *c) { return c ? c->n_ctx : 0; }
int r1_context_pos(const r1_context *c) { return c ? c->pos : 0; }

void r1_context_truncate(r1_context *c, int pos) {
    if (!c) return;
    if (pos < 0) pos = 0;
    if (pos < c->pos) c->pos = pos;
}

void r1_context_set_abort(r1_context *c, r1_abort_fn fn, void *user) {
    if (!c) return;
    c->abort_fn = fn;
    c->abort_user = user;
}

r1_status r1_eval(r1_context *c, const int32_t *tokens, int n, float *logits, bool all, r1_error *err) {
    if (!c) return r1_set_error(err, R1_ERR_INVALID_ARG, "r1_eval: context is NULL");
    if (n < 0 || (n > 0 && !tokens)) return r1_set_error(err, R1_ERR_INVALID_ARG, "r1_eval: %d tokens at %p", n, (const void *)tokens);
    if (n == 0) return R1_OK;
    const int n_vocab = c->model->info.n_vocab;
    for (int i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= n_vocab)
            return r1_set_error(err, R1_ERR_INVALID_ARG, "token id %d (at index %d) out of range [0, %d)", tokens[i], i, n_vocab);
    if (n > c->n_ctx - c->pos)
        return r1_set_error(err, R1_ERR_CONTEXT_FULL, "context full: %d cached + %d new tokens > context size %d", c->pos, n,
                            c->n_ctx);
    const int start = c->pos;
    for (int done = 0; done < n;) {
        const int k = R1_MIN(c->n_batch, n - done);
        const bool last = done + k == n;
        float *dst = !logits ? NULL : all ? logits + (size_t)done * (size_t)n_vocab : last ? logits : NULL;
        r1_arena_fit(&c->arena);   /* a failure is not fatal: what does not fit uses malloc */
        r1_status s = forward_chunk(c, tokens + done, k, c->pos, dst, all, err);
        if (s != R1_OK) { c->pos = start; return s; }
        c->pos += k;
        done += k;
    }
    return R1_OK;
}
