/*
 * tmodel.c — forward and backward of the trainable llama-style decoder, written from the
 * definitions (see tmodel.h for the architecture and the parameter layout), plus AdamW,
 * gradient clipping, the learning-rate schedule and checkpoints.
 *
 * Shapes: T = tokens in the sequence, D = dim, KV = n_kv_heads·head_dim, H = hidden,
 * V = vocab, NH = n_heads, HD = head_dim. Activations saved per layer for backward.
 */
#include "train/tmodel.h"
#include "train/tgemm.h"
#include <math.h>

uint64_t tm_rng_next(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
double tm_rng_uniform(uint64_t *s) { return (double)(tm_rng_next(s) >> 11) * (1.0 / 9007199254740992.0); }
int tm_rng_int(uint64_t *s, int lo, int hi) { return lo + (int)(tm_rng_next(s) % (uint64_t)(hi - lo + 1)); }
static double rng_normal(uint64_t *s) {
    double u1 = tm_rng_uniform(s), u2 = tm_rng_uniform(s);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

r1_status tm_config_check(const tm_config *c, r1_error *err) {
    if (c->dim <= 0 || c->n_heads <= 0 || c->dim % c->n_heads)
        return r1_set_error(err, R1_ERR_INVALID_ARG, "model config: dim %d not a multiple of n_heads %d", c->dim, c->n_heads);
    if ((c->dim / c->n_heads) % 2)
        return r1_set_error(err, R1_ERR_INVALID_ARG, "model config: head_dim %d must be even (RoPE pairs)", c->dim / c->n_heads);
    if (c->n_kv_heads <= 0 || c->n_heads % c->n_kv_heads)
        return r1_set_error(err, R1_ERR_INVALID_ARG, "model config: n_heads %d not a multiple of n_kv_heads %d", c->n_heads, c->n_kv_heads);
    if (c->n_layers <= 0 || c->n_layers > TM_MAX_LAYERS)
        return r1_set_error(err, R1_ERR_INVALID_ARG, "model config: n_layers %d out of range 1..%d", c->n_layers, TM_MAX_LAYERS);
    if (c->hidden <= 0 || c->vocab <= 0 || c->seq_len < 2 || !(c->eps > 0) || !(c->rope_base > 0))
        return r1_set_error(err, R1_ERR_INVALID_ARG, "model config: hidden/vocab/seq_len/eps/rope_base out of range");
    return R1_OK;
}

static size_t kv_dim(const tm_config *c) { return (size_t)c->n_kv_heads * (c->dim / c->n_heads); }

size_t tm_n_params(const tm_config *c) {
    size_t D = c->dim, H = c->hidden, V = c->vocab, KV = kv_dim(c);
    size_t per = D + D * D + 2 * KV * D + D * D + D + 3 * H * D;
    return V * D + c->n_layers * per + D + V * D;
}

void tm_params_view(const tm_config *c, float *data, tm_params *p) {
    size_t D = c->dim, H = c->hidden, V = c->vocab, KV = kv_dim(c);
    memset(p, 0, sizeof *p);
    p->data = data; p->n = tm_n_params(c);
    float *q = data;
    p->embd = q; q += V * D;
    for (int l = 0; l < c->n_layers; l++) {
        tm_layer *L = &p->l[l];
        L->attn_norm = q; q += D;
        L->wq = q; q += D * D;
        L->wk = q; q += KV * D;
        L->wv = q; q += KV * D;
        L->wo = q; q += D * D;
        L->ffn_norm = q; q += D;
        L->wg = q; q += H * D;
        L->wu = q; q += H * D;
        L->wd = q; q += D * H;
    }
    p->out_norm = q; q += D;
    p->output = q;
}

static void fill_normal(float *w, size_t n, double sd, uint64_t *rng) {
    for (size_t i = 0; i < n; i++) w[i] = (float)(sd * rng_normal(rng));
}

void tm_params_init(const tm_config *c, tm_params *p, uint64_t seed) {
    size_t D = c->dim, H = c->hidden, V = c->vocab, KV = kv_dim(c);
    uint64_t rng = seed ^ 0x5eedull;
    double sd = 0.02, sdr = 0.02 / sqrt(2.0 * c->n_layers);
    fill_normal(p->embd, V * D, sd, &rng);
    for (int l = 0; l < c->n_layers; l++) {
        tm_layer *L = &p->l[l];
        for (size_t i = 0; i < D; i++) L->attn_norm[i] = L->ffn_norm[i] = 1.0f;
        fill_normal(L->wq, D * D, sd, &rng);
        fill_normal(L->wk, KV * D, sd, &rng);
        fill_normal(L->wv, KV * D, sd, &rng);
        fill_normal(L->wo, D * D, sdr, &rng);
        fill_normal(L->wg, H * D, sd, &rng);
        fill_normal(L->wu, H * D, sd, &rng);
        fill_normal(L->wd, D * H, sdr, &rng);
    }
    for (size_t i = 0; i < D; i++) p->out_norm[i] = 1.0f;
    fill_normal(p->output, V * D, sd, &rng);
}

/* ---- activations ------------------------------------------------------------------ */
typedef struct tm_lact {
    float *x_in;     /* [T][D]  residual entering the layer    */
    float *rs1;      /* [T]     1/rms of x_in                  */
    float *h1;       /* [T][D]  attn_norm(x_in)                */
    float *q, *k, *v;/* [T][D], [T][KV], [T][KV] (q,k after RoPE) */
    float *att;      /* [NH][T][T] softmax probabilities        */
    float *o;        /* [T][D]  attention output before Wo      */
    float *x_mid;    /* [T][D]  residual after attention       */
    float *rs2;      /* [T]                                    */
    float *h2;       /* [T][D]  ffn_norm(x_mid)                */
    float *a, *b;    /* [T][H]  gate and up projections        */
    float *s;        /* [T][H]  silu(a)·b                      */
} tm_lact;

struct tm_scratch {
    int T;
    tm_lact l[TM_MAX_LAYERS];
    float *x_fin, *rsf, *hf;   /* [T][D], [T], [T][D] */
    float *logits;             /* [T][V] */
    /* backward temporaries */
    float *dx, *dh, *dq, *dk, *dv, *do_, *da, *db, *ds, *dlog, *datt; /* sizes as above */
    float *cosv, *sinv;        /* [T][HD/2] */
    float *wt;                 /* [max(D,H,V)·D] a transposed weight (GEMM kernels) */
    float *dyt;                /* [max(D,H,V)·T] a transposed output gradient        */
    float *tt, *kt;            /* [T·T], [HD·T] attention transposes (GEMM kernels)  */
    int loops;                 /* 1: the plain-loop matmuls of sessions 1-2          */
    float *mem;
};

tm_scratch *tm_scratch_new(const tm_config *c) {
    size_t T = c->seq_len, D = c->dim, H = c->hidden, V = c->vocab, KV = kv_dim(c), NH = c->n_heads;
    size_t HD = D / NH;
    size_t per = T * D * 6 + T * 2 + T * KV * 2 + NH * T * T + T * H * 3;
    size_t tot = per * c->n_layers + T * D * 2 + T + T * V * 2 +
                 T * D * 4 + T * KV * 2 + T * H * 3 + T * T + T * HD;
    size_t mx = R1_MAX(R1_MAX(D, H), V);
    tot += mx * D + mx * T + T * T + HD * T;
    tm_scratch *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->mem = calloc(tot, sizeof(float));
    if (!s->mem) { free(s); return NULL; }
    float *q = s->mem;
#define TAKE(ptr, n) do { (ptr) = q; q += (n); } while (0)
    for (int l = 0; l < c->n_layers; l++) {
        tm_lact *A = &s->l[l];
        TAKE(A->x_in, T * D); TAKE(A->rs1, T); TAKE(A->h1, T * D);
        TAKE(A->q, T * D); TAKE(A->k, T * KV); TAKE(A->v, T * KV);
        TAKE(A->att, NH * T * T); TAKE(A->o, T * D); TAKE(A->x_mid, T * D);
        TAKE(A->rs2, T); TAKE(A->h2, T * D);
        TAKE(A->a, T * H); TAKE(A->b, T * H); TAKE(A->s, T * H);
    }
    TAKE(s->x_fin, T * D); TAKE(s->rsf, T); TAKE(s->hf, T * D); TAKE(s->logits, T * V);
    TAKE(s->dlog, T * V);
    TAKE(s->dx, T * D); TAKE(s->dh, T * D); TAKE(s->dq, T * D); TAKE(s->do_, T * D);
    TAKE(s->dk, T * KV); TAKE(s->dv, T * KV);
    TAKE(s->da, T * H); TAKE(s->db, T * H); TAKE(s->ds, T * H);
    TAKE(s->datt, T * T);
    TAKE(s->cosv, T * HD / 2); TAKE(s->sinv, T * HD / 2);
    TAKE(s->wt, mx * D); TAKE(s->dyt, mx * T); TAKE(s->tt, T * T); TAKE(s->kt, HD * T);
#undef TAKE
    s->T = (int)T;
    return s;
}

void tm_scratch_use_loops(tm_scratch *s, bool loops) { s->loops = loops; }

void tm_scratch_free(tm_scratch *s) {
    if (!s) return;
    free(s->mem);
    free(s);
}

/* ---- kernels ----------------------------------------------------------------------- */
static float dotf(const float *restrict a, const float *restrict b, int n) {
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    int i = 0;
    for (; i + 4 <= n; i += 4) { s0 += a[i] * b[i]; s1 += a[i + 1] * b[i + 1]; s2 += a[i + 2] * b[i + 2]; s3 += a[i + 3] * b[i + 3]; }
    for (; i < n; i++) s0 += a[i] * b[i];
    return (s0 + s1) + (s2 + s3);
}
static void axpy(float *restrict y, float a, const float *restrict x, int n) {
    for (int i = 0; i < n; i++) y[i] += a * x[i];
}

/* The plain-loop matmuls (sessions 1-2; --kernels loops reproduces their numerics). */
/* y[T][O] = x[T][I] · W[O][I]ᵀ */
static void matmul_loops(float *y, const float *x, const float *W, int T, int I, int O) {
    for (int t = 0; t < T; t++)
        for (int o = 0; o < O; o++) y[(size_t)t * O + o] = dotf(x + (size_t)t * I, W + (size_t)o * I, I);
}
/* dx[T][I] (+)= dy[T][O] · W[O][I];  dW[O][I] += dy[T][O]ᵀ · x[T][I] */
static void matmul_back_loops(float *dx, int dx_accum, float *dW, const float *dy, const float *x,
                              const float *W, int T, int I, int O) {
    if (dx) {
        if (!dx_accum) memset(dx, 0, sizeof(float) * (size_t)T * I);
        for (int t = 0; t < T; t++)
            for (int o = 0; o < O; o++) {
                float d = dy[(size_t)t * O + o];
                if (d != 0.0f) axpy(dx + (size_t)t * I, d, W + (size_t)o * I, I);
            }
    }
    for (int t = 0; t < T; t++)
        for (int o = 0; o < O; o++) {
            float d = dy[(size_t)t * O + o];
            if (d != 0.0f) axpy(dW + (size_t)o * I, d, x + (size_t)t * I, I);
        }
}

/* The same products through tg_gemm (SIMD, bit-identical to its scalar reference):
 * forward y = x · Wᵀ with Wᵀ copied once per call; dx = dy · W directly; dW += dyᵀ · x
 * with dyᵀ copied (both copies cost 1/T resp. 1/I of the product). */
static void matmul(tm_scratch *s, float *y, const float *x, const float *W, int T, int I, int O) {
    if (s->loops) { matmul_loops(y, x, W, T, I, O); return; }
    tg_transpose(s->wt, W, O, I);
    tg_gemm(T, O, I, x, I, s->wt, O, y, O, 0);
}
static void matmul_back(tm_scratch *s, float *dx, int dx_accum, float *dW, const float *dy, const float *x,
                        const float *W, int T, int I, int O) {
    if (s->loops) { matmul_back_loops(dx, dx_accum, dW, dy, x, W, T, I, O); return; }
    if (dx) tg_gemm(T, I, O, dy, O, W, I, dx, I, dx_accum);
    tg_transpose(s->dyt, dy, T, O);
    tg_gemm(O, I, T, s->dyt, T, x, I, dW, I, 1);
}

/* h[t] = x[t] · rs[t] · g, rs[t] = 1/sqrt(mean(x[t]²) + eps) */
static void rmsnorm(float *h, float *rs, const float *x, const float *g, int T, int D, float eps) {
    for (int t = 0; t < T; t++) {
        const float *xt = x + (size_t)t * D;
        double ss = 0;
        for (int i = 0; i < D; i++) ss += (double)xt[i] * xt[i];
        float r = (float)(1.0 / sqrt(ss / D + eps));
        rs[t] = r;
        for (int i = 0; i < D; i++) h[(size_t)t * D + i] = xt[i] * r * g[i];
    }
}
/* dx[t] += r·u − x·r³·(u·x)/D with u = dh⊙g;  dg += dh⊙x·r */
static void rmsnorm_back(float *dx, float *dg, const float *dh, const float *x, const float *rs,
                         const float *g, int T, int D) {
    for (int t = 0; t < T; t++) {
        const float *xt = x + (size_t)t * D, *dht = dh + (size_t)t * D;
        float r = rs[t];
        double ux = 0;
        for (int i = 0; i < D; i++) { ux += (double)dht[i] * g[i] * xt[i]; dg[i] += dht[i] * xt[i] * r; }
        float c = (float)(ux / D) * r * r * r;
        for (int i = 0; i < D; i++) dx[(size_t)t * D + i] += r * dht[i] * g[i] - c * xt[i];
    }
}

/* Rotate pairs (x[2i], x[2i+1]) of every head of x[T][nh·HD]; dir = +1 forward, −1 for
 * the transpose (backward). */
static void rope(float *x, int T, int nh, int HD, const float *cosv, const float *sinv, int dir) {
    for (int t = 0; t < T; t++)
        for (int h = 0; h < nh; h++) {
            float *v = x + ((size_t)t * nh + h) * HD;
            for (int i = 0; i < HD / 2; i++) {
                float c = cosv[t * (HD / 2) + i], s = dir * sinv[t * (HD / 2) + i];
                float a = v[2 * i], b = v[2 * i + 1];
                v[2 * i] = a * c - b * s;
                v[2 * i + 1] = a * s + b * c;
            }
        }
}


/* dst[i][u] = src[u·ld + i] for u < T, i < HD (a head's [T][HD] slice, transposed). */
static void head_t(float *dst, const float *src, int ld, int T, int HD) {
    for (int u = 0; u < T; u++)
        for (int i = 0; i < HD; i++) dst[(size_t)i * T + u] = src[(size_t)u * ld + i];
}

/* Causal attention through tg_gemm, per head: S = Q·Kᵀ (the full T×T, the upper triangle
 * then masked), P = softmax over u <= t (zeros above the diagonal), O = P·V. */
static void attn_fwd_gemm(tm_scratch *s, tm_lact *A, int T, int D, int KV, int NH, int HD, int grp, float scale) {
    for (int h = 0; h < NH; h++) {
        int kh = h / grp;
        float *P = A->att + (size_t)h * T * T;
        head_t(s->kt, A->k + kh * HD, KV, T, HD);
        tg_gemm(T, T, HD, A->q + h * HD, D, s->kt, T, P, T, 0);
        for (int t = 0; t < T; t++) {
            float *pr = P + (size_t)t * T, mx = -INFINITY, sum = 0;
            for (int u = 0; u <= t; u++) { pr[u] *= scale; if (pr[u] > mx) mx = pr[u]; }
            for (int u = 0; u <= t; u++) { pr[u] = expf(pr[u] - mx); sum += pr[u]; }
            for (int u = 0; u <= t; u++) pr[u] /= sum;
            for (int u = t + 1; u < T; u++) pr[u] = 0;
        }
        tg_gemm(T, HD, T, P, T, A->v + kh * HD, KV, A->o + h * HD, D, 0);
    }
}

/* Its backward: dP = dO·Vᵀ, dV += Pᵀ·dO, dS = P⊙(dP − rowsum(P⊙dP))·scale, dQ = dS·K,
 * dK += dSᵀ·Q (GQA heads sharing a KV head accumulate into its dK, dV). */
static void attn_bwd_gemm(tm_scratch *s, tm_lact *A, int T, int D, int KV, int NH, int HD, int grp, float scale) {
    for (int h = 0; h < NH; h++) {
        int kh = h / grp;
        const float *P = A->att + (size_t)h * T * T, *dO = s->do_ + h * HD;
        float *dP = s->datt;
        head_t(s->kt, A->v + kh * HD, KV, T, HD);
        tg_gemm(T, T, HD, dO, D, s->kt, T, dP, T, 0);
        tg_transpose(s->tt, P, T, T);
        tg_gemm(T, HD, T, s->tt, T, dO, D, s->dv + kh * HD, KV, 1);
        for (int t = 0; t < T; t++) {
            const float *pr = P + (size_t)t * T;
            float *d = dP + (size_t)t * T, sdp = 0;
            for (int u = 0; u <= t; u++) sdp += pr[u] * d[u];
            for (int u = 0; u <= t; u++) d[u] = pr[u] * (d[u] - sdp) * scale;
            for (int u = t + 1; u < T; u++) d[u] = 0;
        }
        tg_gemm(T, HD, T, dP, T, A->k + kh * HD, KV, s->dq + h * HD, D, 0);
        tg_transpose(s->tt, dP, T, T);
        tg_gemm(T, HD, T, s->tt, T, A->q + h * HD, D, s->dk + kh * HD, KV, 1);
    }
}

static void forward(const tm_config *c, const tm_params *p, tm_scratch *s, const int32_t *tok, int T) {
    int D = c->dim, H = c->hidden, V = c->vocab, NH = c->n_heads, HD = D / NH, KV = (int)kv_dim(c);
    int grp = NH / c->n_kv_heads;
    float scale = 1.0f / sqrtf((float)HD);
    for (int t = 0; t < T; t++)
        for (int i = 0; i < HD / 2; i++) {
            double th = t * pow(c->rope_base, -2.0 * i / HD);
            s->cosv[t * (HD / 2) + i] = (float)cos(th);
            s->sinv[t * (HD / 2) + i] = (float)sin(th);
        }
    float *x = s->l[0].x_in;
    for (int t = 0; t < T; t++) memcpy(x + (size_t)t * D, p->embd + (size_t)tok[t] * D, sizeof(float) * D);
    for (int l = 0; l < c->n_layers; l++) {
        tm_lact *A = &s->l[l];
        const tm_layer *L = &p->l[l];
        if (l > 0) memcpy(A->x_in, s->x_fin, sizeof(float) * (size_t)T * D); /* x_fin holds the running residual */
        rmsnorm(A->h1, A->rs1, A->x_in, L->attn_norm, T, D, c->eps);
        matmul(s, A->q, A->h1, L->wq, T, D, D);
        matmul(s, A->k, A->h1, L->wk, T, D, KV);
        matmul(s, A->v, A->h1, L->wv, T, D, KV);
        rope(A->q, T, NH, HD, s->cosv, s->sinv, 1);
        rope(A->k, T, c->n_kv_heads, HD, s->cosv, s->sinv, 1);
        if (!s->loops) attn_fwd_gemm(s, A, T, D, KV, NH, HD, grp, scale);
        else for (int h = 0; h < NH; h++) {
            int kh = h / grp;
            for (int t = 0; t < T; t++) {
                float *pr = A->att + ((size_t)h * T + t) * T;
                const float *qt = A->q + (size_t)t * D + h * HD;
                float mx = -INFINITY;
                for (int u = 0; u <= t; u++) {
                    pr[u] = dotf(qt, A->k + (size_t)u * KV + kh * HD, HD) * scale;
                    if (pr[u] > mx) mx = pr[u];
                }
                float sum = 0;
                for (int u = 0; u <= t; u++) { pr[u] = expf(pr[u] - mx); sum += pr[u]; }
                float *ot = A->o + (size_t)t * D + h * HD;
                memset(ot, 0, sizeof(float) * HD);
                for (int u = 0; u <= t; u++) {
                    pr[u] /= sum;
                    axpy(ot, pr[u], A->v + (size_t)u * KV + kh * HD, HD);
                }
                for (int u = t + 1; u < T; u++) pr[u] = 0;
            }
        }
        matmul(s, A->x_mid, A->o, L->wo, T, D, D);
        for (size_t i = 0; i < (size_t)T * D; i++) A->x_mid[i] += A->x_in[i];
        rmsnorm(A->h2, A->rs2, A->x_mid, L->ffn_norm, T, D, c->eps);
        matmul(s, A->a, A->h2, L->wg, T, D, H);
        matmul(s, A->b, A->h2, L->wu, T, D, H);
        for (size_t i = 0; i < (size_t)T * H; i++) {
            float a = A->a[i];
            A->s[i] = a / (1.0f + expf(-a)) * A->b[i];
        }
        matmul(s, s->x_fin, A->s, L->wd, T, H, D);
        for (size_t i = 0; i < (size_t)T * D; i++) s->x_fin[i] += A->x_mid[i];
    }
    rmsnorm(s->hf, s->rsf, s->x_fin, p->out_norm, T, D, c->eps);
    matmul(s, s->logits, s->hf, p->output, T, D, V);
}

void tm_logits_last(const tm_config *c, const tm_params *p, tm_scratch *s,
                    const int32_t *tokens, int n, float *out) {
    forward(c, p, s, tokens, n);
    memcpy(out, s->logits + (size_t)(n - 1) * c->vocab, sizeof(float) * c->vocab);
}

double tm_forward_backward(const tm_config *c, const tm_params *p, tm_scratch *s,
                           const int32_t *tok, int T, const float *w, float inv_temp,
                           tm_params *g, float *logp_out) {
    int D = c->dim, H = c->hidden, V = c->vocab, NH = c->n_heads, HD = D / NH, KV = (int)kv_dim(c);
    int grp = NH / c->n_kv_heads;
    float scale = 1.0f / sqrtf((float)HD);
    forward(c, p, s, tok, T);

    /* cross-entropy on z = inv_temp·logits: dlogits[t] = w[t]·inv_temp·(softmax(z) − onehot(tok[t+1])) */
    double loss = 0;
    memset(s->dlog, 0, sizeof(float) * (size_t)T * V);
    for (int t = 0; t < T - 1; t++) {
        const float *lg = s->logits + (size_t)t * V;
        float mx = lg[0] * inv_temp;
        for (int i = 1; i < V; i++) if (lg[i] * inv_temp > mx) mx = lg[i] * inv_temp;
        double sum = 0;
        for (int i = 0; i < V; i++) sum += exp((double)(lg[i] * inv_temp - mx));
        double lse = mx + log(sum);
        double lp = lg[tok[t + 1]] * inv_temp - lse;
        if (logp_out) logp_out[t] = (float)lp;
        if (w[t] == 0.0f) continue;
        loss -= w[t] * lp;
        if (g) {
            float *dl = s->dlog + (size_t)t * V;
            const float wt = w[t] * inv_temp;
            for (int i = 0; i < V; i++) dl[i] = wt * (float)exp(lg[i] * inv_temp - lse);
            dl[tok[t + 1]] -= wt;
        }
    }
    if (!g) return loss;

    /* output head and final norm */
    float *dx = s->dx, *dh = s->dh;
    matmul_back(s, dh, 0, g->output, s->dlog, s->hf, p->output, T, D, V);
    memset(dx, 0, sizeof(float) * (size_t)T * D);
    rmsnorm_back(dx, g->out_norm, dh, s->x_fin, s->rsf, p->out_norm, T, D);

    for (int l = c->n_layers - 1; l >= 0; l--) {
        tm_lact *A = &s->l[l];
        const tm_layer *L = &p->l[l];
        tm_layer *G = &g->l[l];
        /* FFN: x_out = x_mid + Wd·s ; dx holds d x_out and becomes d x_mid */
        matmul_back(s, s->ds, 0, G->wd, dx, A->s, L->wd, T, H, D);
        for (size_t i = 0; i < (size_t)T * H; i++) {
            float a = A->a[i], sg = 1.0f / (1.0f + expf(-a));
            s->db[i] = s->ds[i] * a * sg;
            s->da[i] = s->ds[i] * A->b[i] * sg * (1.0f + a * (1.0f - sg));
        }
        matmul_back(s, dh, 0, G->wg, s->da, A->h2, L->wg, T, D, H);
        matmul_back(s, dh, 1, G->wu, s->db, A->h2, L->wu, T, D, H);
        rmsnorm_back(dx, G->ffn_norm, dh, A->x_mid, A->rs2, L->ffn_norm, T, D);
        /* attention: x_mid = x_in + Wo·o ; dx becomes d x_in */
        matmul_back(s, s->do_, 0, G->wo, dx, A->o, L->wo, T, D, D);
        memset(s->dq, 0, sizeof(float) * (size_t)T * D);
        memset(s->dk, 0, sizeof(float) * (size_t)T * KV);
        memset(s->dv, 0, sizeof(float) * (size_t)T * KV);
        if (!s->loops) attn_bwd_gemm(s, A, T, D, KV, NH, HD, grp, scale);
        else for (int h = 0; h < NH; h++) {
            int kh = h / grp;
            for (int t = 0; t < T; t++) {
                const float *pr = A->att + ((size_t)h * T + t) * T;
                const float *dot_ = s->do_ + (size_t)t * D + h * HD;
                float *dp = s->datt;
                float sdp = 0;
                for (int u = 0; u <= t; u++) {
                    dp[u] = dotf(dot_, A->v + (size_t)u * KV + kh * HD, HD);
                    sdp += pr[u] * dp[u];
                    axpy(s->dv + (size_t)u * KV + kh * HD, pr[u], dot_, HD);
                }
                const float *qt = A->q + (size_t)t * D + h * HD;
                float *dqt = s->dq + (size_t)t * D + h * HD;
                for (int u = 0; u <= t; u++) {
                    float dsc = pr[u] * (dp[u] - sdp) * scale;
                    axpy(dqt, dsc, A->k + (size_t)u * KV + kh * HD, HD);
                    axpy(s->dk + (size_t)u * KV + kh * HD, dsc, qt, HD);
                }
            }
        }
        rope(s->dq, T, NH, HD, s->cosv, s->sinv, -1);
        rope(s->dk, T, c->n_kv_heads, HD, s->cosv, s->sinv, -1);
        matmul_back(s, dh, 0, G->wq, s->dq, A->h1, L->wq, T, D, D);
        matmul_back(s, dh, 1, G->wk, s->dk, A->h1, L->wk, T, D, KV);
        matmul_back(s, dh, 1, G->wv, s->dv, A->h1, L->wv, T, D, KV);
        rmsnorm_back(dx, G->attn_norm, dh, A->x_in, A->rs1, L->attn_norm, T, D);
    }
    for (int t = 0; t < T; t++) axpy(g->embd + (size_t)tok[t] * D, 1.0f, dx + (size_t)t * D, D);
    return loss;
}

/* ---- optimiser ---------------------------------------------------------------------- */
/* AdamW on the floats [ptr, ptr+n) of the parameter tensor starting at ptr. */
static void adamw_range(const tm_adamw *h, tm_params *p, const tm_params *g, float *m, float *v,
                        const float *ptr, size_t n, float wd, double bc1, double bc2) {
    size_t o = (size_t)(ptr - p->data);
    for (size_t i = o; i < o + n; i++) {
        float gi = g->data[i];
        m[i] = h->beta1 * m[i] + (1 - h->beta1) * gi;
        v[i] = h->beta2 * v[i] + (1 - h->beta2) * gi * gi;
        float mh = (float)(m[i] / bc1), vh = (float)(v[i] / bc2);
        p->data[i] -= h->lr * (mh / (sqrtf(vh) + h->eps) + wd * p->data[i]);
    }
}

void tm_adamw_step(const tm_config *c, const tm_adamw *h, tm_params *p, const tm_params *g,
                   float *m, float *v, int64_t step) {
    double bc1 = 1.0 - pow(h->beta1, (double)step), bc2 = 1.0 - pow(h->beta2, (double)step);
    size_t D = c->dim, H = c->hidden, V = c->vocab, KV = kv_dim(c);
    adamw_range(h, p, g, m, v, p->embd, V * D, h->wd, bc1, bc2);
    for (int l = 0; l < c->n_layers; l++) {
        tm_layer *L = &p->l[l];
        adamw_range(h, p, g, m, v, L->attn_norm, D, 0.0f, bc1, bc2);
        adamw_range(h, p, g, m, v, L->wq, D * D + 2 * KV * D + D * D, h->wd, bc1, bc2); /* wq wk wv wo */
        adamw_range(h, p, g, m, v, L->ffn_norm, D, 0.0f, bc1, bc2);
        adamw_range(h, p, g, m, v, L->wg, 3 * H * D, h->wd, bc1, bc2);                  /* wg wu wd */
    }
    adamw_range(h, p, g, m, v, p->out_norm, D, 0.0f, bc1, bc2);
    adamw_range(h, p, g, m, v, p->output, V * D, h->wd, bc1, bc2);
}

double tm_clip_grad(tm_params *g, double max_norm) {
    double ss = 0;
    for (size_t i = 0; i < g->n; i++) ss += (double)g->data[i] * g->data[i];
    double nrm = sqrt(ss);
    if (nrm > max_norm && nrm > 0) {
        float f = (float)(max_norm / nrm);
        for (size_t i = 0; i < g->n; i++) g->data[i] *= f;
    }
    return nrm;
}

float tm_lr_at(float lr, int64_t step, int64_t warmup, int64_t total, float min_frac) {
    if (step < warmup) return lr * (float)(step + 1) / (float)warmup;
    if (total <= warmup) return lr;
    double pr = (double)(step - warmup) / (double)(total - warmup);
    if (pr > 1) pr = 1;
    return (float)(lr * (min_frac + (1 - min_frac) * 0.5 * (1 + cos(3.141592653589793 * pr))));
}

/* ---- checkpoints --------------------------------------------------------------------- */
r1_status tm_checkpoint_save(const char *path, const tm_config *c, int64_t step, uint64_t rng,
                             const float *params, const float *m, const float *v, r1_error *err) {
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    if (!f) return r1_set_error(err, R1_ERR_IO, "%s: cannot create", tmp);
    size_t n = tm_n_params(c);
    uint32_t ver = 1;
    int ok = fwrite("R1TC", 1, 4, f) == 4 && fwrite(&ver, 4, 1, f) == 1 && fwrite(c, sizeof *c, 1, f) == 1 &&
             fwrite(&step, 8, 1, f) == 1 && fwrite(&rng, 8, 1, f) == 1 &&
             fwrite(params, 4, n, f) == n && fwrite(m, 4, n, f) == n && fwrite(v, 4, n, f) == n;
    if (fclose(f) != 0) ok = 0;
    if (!ok || rename(tmp, path) != 0) { remove(tmp); return r1_set_error(err, R1_ERR_IO, "%s: write failed", path); }
    return R1_OK;
}

r1_status tm_checkpoint_load(const char *path, tm_config *c, int64_t *step, uint64_t *rng,
                             float **params, float **m, float **v, r1_error *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return r1_set_error(err, R1_ERR_IO, "%s: cannot open", path);
    char magic[4];
    uint32_t ver = 0;
    r1_status st = R1_OK;
    *params = *m = *v = NULL;
    if (fread(magic, 1, 4, f) != 4 || memcmp(magic, "R1TC", 4) || fread(&ver, 4, 1, f) != 1 || ver != 1 ||
        fread(c, sizeof *c, 1, f) != 1 || fread(step, 8, 1, f) != 1 || fread(rng, 8, 1, f) != 1) {
        st = r1_set_error(err, R1_ERR_FORMAT, "%s: not an r1 training checkpoint (v1)", path);
        goto done;
    }
    if ((st = tm_config_check(c, err)) != R1_OK) goto done;
    size_t n = tm_n_params(c);
    *params = malloc(n * 4); *m = malloc(n * 4); *v = malloc(n * 4);
    if (!*params || !*m || !*v) { st = r1_set_error(err, R1_ERR_NOMEM, "%s: out of memory", path); goto done; }
    if (fread(*params, 4, n, f) != n || fread(*m, 4, n, f) != n || fread(*v, 4, n, f) != n)
        st = r1_set_error(err, R1_ERR_FORMAT, "%s: truncated checkpoint", path);
done:
    fclose(f);
    if (st != R1_OK) { free(*params); free(*m); free(*v); *params = *m = *v = NULL; }
    return st;
}
