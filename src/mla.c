/*
 * mla.c — Multi-head Latent Attention: config/weights from GGUF, RoPE + YaRN, and the
 * absorbed and expanded attention forms over the latent cache (definitions in mla.h).
 */
#include "mla.h"
#include "act.h"
#include <math.h>
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define MLA_HAVE_V16 1   /* AVX-512 attention kernels (target attributes, chosen at run time) */
#include <immintrin.h>
#endif

/* ---- config ------------------------------------------------------------------------ */
r1_status r1_mla_init(r1_mla *m, const r1_mla_config *c, const char *file, r1_error *err) {
    if (c->n_embd <= 0 || c->n_head <= 0 || c->kv_lora_rank <= 0 || c->qk_nope <= 0 ||
        c->v_head <= 0 || c->q_lora_rank < 0)
        return r1_set_error(err, R1_ERR_FORMAT,
                            "%s: invalid MLA sizes (n_embd %d, heads %d, q_lora_rank %d, kv_lora_rank %d, "
                            "qk_nope %d, v_head %d)", file, c->n_embd, c->n_head, c->q_lora_rank,
                            c->kv_lora_rank, c->qk_nope, c->v_head);
    if (c->qk_rope <= 0 || c->qk_rope % 2 || c->qk_rope > R1_MLA_MAX_ROPE)
        return r1_set_error(err, R1_ERR_FORMAT, "%s: rope dimension %d must be even and in 2..%d", file,
                            c->qk_rope, R1_MLA_MAX_ROPE);
    if (!(c->freq_base > 0) || !(c->rms_eps > 0))
        return r1_set_error(err, R1_ERR_FORMAT, "%s: rope freq_base %g / rms epsilon %g must be positive", file,
                            (double)c->freq_base, (double)c->rms_eps);
    if (c->yarn && (!(c->yarn_factor > 0) || c->yarn_orig_ctx <= 0 || !(c->yarn_beta_fast > 0) ||
                    !(c->yarn_beta_slow > 0)))
        return r1_set_error(err, R1_ERR_FORMAT, "%s: invalid YaRN parameters (factor %g, original context %d)",
                            file, (double)c->yarn_factor, c->yarn_orig_ctx);
    m->c = *c;
    const int dr = c->qk_rope;
    const double base = c->freq_base;
    double low = 0, high = 0;
    if (c->yarn) {
        const double two_pi = 6.283185307179586;
        low = floor(dr * log(c->yarn_orig_ctx / (c->yarn_beta_fast * two_pi)) / (2 * log(base)));
        high = ceil(dr * log(c->yarn_orig_ctx / (c->yarn_beta_slow * two_pi)) / (2 * log(base)));
        if (low < 0) low = 0;
        if (high > dr - 1) high = dr - 1;
        if (high == low) high += 0.001;
    }
    for (int i = 0; i < dr / 2; i++) {
        double f = pow(base, -2.0 * i / dr);
        if (c->yarn) {
            double ramp = (i - low) / (high - low);
            ramp = ramp < 0 ? 0 : ramp > 1 ? 1 : ramp;
            f = f / c->yarn_factor * ramp + f * (1 - ramp);
        }
        m->freq[i] = f;
    }
    double mscale = c->yarn ? 1.0 + (double)c->yarn_log_mul * log((double)c->yarn_factor) : 1.0;
    m->kq_scale = (float)(mscale * mscale / sqrt((double)(c->qk_nope + c->qk_rope)));
#ifdef MLA_HAVE_V16
    m->simd = r1_isa_active() == R1_ISA_AVX512 ? 1 : 0;
#else
    m->simd = 0;
#endif
    return R1_OK;
}

static bool get_int(const gguf_file *f, const char *arch, const char *suffix, int *out) {
    char key[160];
    int64_t v;
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    if (!gguf_get_i64(f, key, &v) || v < INT32_MIN || v > INT32_MAX) return false;
    *out = (int)v;
    return true;
}

static bool get_float(const gguf_file *f, const char *arch, const char *suffix, float *out) {
    char key[160];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    return gguf_get_f32(f, key, out);
}

r1_status r1_mla_config_from_gguf(const gguf_file *f, const char *arch, const char *file,
                                  r1_mla_config *c, r1_error *err) {
    memset(c, 0, sizeof *c);
    static const char *const required[] = {"embedding_length", "attention.head_count",
                                           "attention.kv_lora_rank", "rope.dimension_count"};
    int *dst[] = {&c->n_embd, &c->n_head, &c->kv_lora_rank, &c->qk_rope};
    for (size_t i = 0; i < R1_ARRAY_LEN(required); i++)
        if (!get_int(f, arch, required[i], dst[i]))
            return r1_set_error(err, R1_ERR_FORMAT, "%s: missing or invalid metadata %s.%s", file, arch,
                                required[i]);
    get_int(f, arch, "attention.q_lora_rank", &c->q_lora_rank);
    int klen = 0, vlen = 0;
    if (!get_int(f, arch, "attention.key_length_mla", &klen) && !get_int(f, arch, "attention.key_length", &klen))
        return r1_set_error(err, R1_ERR_FORMAT, "%s: missing metadata %s.attention.key_length", file, arch);
    if (!get_int(f, arch, "attention.value_length_mla", &vlen) &&
        !get_int(f, arch, "attention.value_length", &vlen))
        return r1_set_error(err, R1_ERR_FORMAT, "%s: missing metadata %s.attention.value_length", file, arch);
    c->qk_nope = klen - c->qk_rope;
    c->v_head = vlen;
    c->rms_eps = 1e-6f;
    get_float(f, arch, "attention.layer_norm_rms_epsilon", &c->rms_eps);
    c->freq_base = 10000.0f;
    get_float(f, arch, "rope.freq_base", &c->freq_base);

    char key[160];
    snprintf(key, sizeof key, "%s.rope.scaling.type", arch);
    char *type = gguf_get_str_dup(f, key);
    float factor = 0;
    get_float(f, arch, "rope.scaling.factor", &factor);
    if (type && strcmp(type, "yarn") == 0 && factor > 1.0f) {
        c->yarn = true;
        c->yarn_factor = factor;
        c->yarn_beta_fast = 32.0f;
        c->yarn_beta_slow = 1.0f;
        get_float(f, arch, "rope.scaling.yarn_beta_fast", &c->yarn_beta_fast);
        get_float(f, arch, "rope.scaling.yarn_beta_slow", &c->yarn_beta_slow);
        get_float(f, arch, "rope.scaling.yarn_log_multiplier", &c->yarn_log_mul);
        if (!get_int(f, arch, "rope.scaling.original_context_length", &c->yarn_orig_ctx)) {
            free(type);
            return r1_set_error(err, R1_ERR_FORMAT, "%s: YaRN without %s.rope.scaling.original_context_length",
                                file, arch);
        }
    } else if (type && strcmp(type, "none") != 0 && strcmp(type, "yarn") != 0) {
        r1_status st = r1_set_error(err, R1_ERR_UNSUPPORTED, "%s: rope scaling type '%s' unsupported for %s",
                                    file, type, arch);
        free(type);
        return st;
    }
    free(type);
    if (c->qk_nope <= 0)
        return r1_set_error(err, R1_ERR_FORMAT, "%s: key length %d is not larger than the rope dimension %d",
                            file, klen, c->qk_rope);
    return R1_OK;
}

/* ---- weights ------------------------------------------------------------------------ */
/* Finds blk.<il>.<name>.weight, checks ne == {ne0, ne1, ne2} and makes it an r1_wmat of
 * ne1*ne2 rows. Missing: R1_ERR_FORMAT unless optional (then *found = false). */
static r1_status bind(const gguf_file *f, const char *file, int il, const char *name, int64_t ne0,
                      int64_t ne1, int64_t ne2, bool optional, bool *found, r1_wmat *w, r1_error *err) {
    char tn[96];
    snprintf(tn, sizeof tn, "blk.%d.%s.weight", il, name);
    const gguf_tensor *t = gguf_find_tensor(f, tn);
    if (found) *found = t != NULL;
    if (!t) {
        if (optional) return R1_OK;
        return r1_set_error(err, R1_ERR_FORMAT, "%s: missing tensor %s", file, tn);
    }
    if (t->ne[0] != ne0 || t->ne[1] != ne1 || t->ne[2] != ne2 || t->ne[3] != 1)
        return r1_set_error(err, R1_ERR_FORMAT, "%s: tensor %s has shape [%lld, %lld, %lld], expected [%lld, %lld, %lld]",
                            file, tn, (long long)t->ne[0], (long long)t->ne[1], (long long)t->ne[2],
                            (long long)ne0, (long long)ne1, (long long)ne2);
    char what[160];
    snprintf(what, sizeof what, "%s: %s", file, tn);
    return r1_wmat_init(w, t->type, t->data, ne0, ne1 * ne2, what, err);
}

/* A 1-D F32 norm weight of n elements. */
static r1_status bind_norm(const gguf_file *f, const char *file, int il, const char *name, int64_t n,
                           const float **out, r1_error *err) {
    r1_wmat w;
    r1_status st = bind(f, file, il, name, n, 1, 1, false, NULL, &w, err);
    if (st) return st;
    if (w.type != R1_TYPE_F32)
        return r1_set_error(err, R1_ERR_UNSUPPORTED, "%s: norm blk.%d.%s.weight must be f32, not %s", file, il,
                            name, r1_type_name(w.type));
    *out = w.data;
    return R1_OK;
}

r1_status r1_mla_weights_from_gguf(const gguf_file *f, int il, const r1_mla_config *c,
                                   const char *file, r1_mla_weights *w, r1_error *err) {
    memset(w, 0, sizeof *w);
    const int64_t E = c->n_embd, H = c->n_head, Dn = c->qk_nope, Dr = c->qk_rope, Dv = c->v_head;
    const int64_t R = c->kv_lora_rank, Q = c->q_lora_rank;
    r1_status st;
    if (Q == 0) {
        if ((st = bind(f, file, il, "attn_q", E, H * (Dn + Dr), 1, false, NULL, &w->wq, err))) return st;
    } else {
        if ((st = bind(f, file, il, "attn_q_a", E, Q, 1, false, NULL, &w->wq_a, err))) return st;
        if ((st = bind_norm(f, file, il, "attn_q_a_norm", Q, &w->q_a_norm, err))) return st;
        if ((st = bind(f, file, il, "attn_q_b", Q, H * (Dn + Dr), 1, false, NULL, &w->wq_b, err))) return st;
    }
    if ((st = bind(f, file, il, "attn_kv_a_mqa", E, R + Dr, 1, false, NULL, &w->wkv_a, err))) return st;
    if ((st = bind_norm(f, file, il, "attn_kv_a_norm", R, &w->kv_a_norm, err))) return st;
    bool has_kv_b, has_k_b, has_v_b;
    if ((st = bind(f, file, il, "attn_kv_b", R, H * (Dn + Dv), 1, true, &has_kv_b, &w->wkv_b, err))) return st;
    if ((st = bind(f, file, il, "attn_k_b", Dn, R, H, true, &has_k_b, &w->wk_b, err))) return st;
    if ((st = bind(f, file, il, "attn_v_b", R, Dv, H, true, &has_v_b, &w->wv_b, err))) return st;
    if (has_k_b && has_v_b) w->layout = R1_MLA_LAYOUT_SPLIT;   /* preferred: no transpose needed for decode */
    else if (has_kv_b) w->layout = R1_MLA_LAYOUT_KV_B;
    else
        return r1_set_error(err, R1_ERR_FORMAT, "%s: missing tensor blk.%d.attn_kv_b.weight (or the pair "
                            "blk.%d.attn_k_b.weight + blk.%d.attn_v_b.weight)", file, il, il, il);
    return bind(f, file, il, "attn_output", H * Dv, E, 1, false, NULL, &w->wo, err);
}

size_t r1_mla_cache_row_bytes(const r1_mla_config *c, r1_type t) {
    return r1_row_size(t, (int64_t)c->kv_lora_rank + c->qk_rope);
}

/* ---- small kernels ---------------------------------------------------------------------- */
static void rms_norm(float *x, const float *w, int n, float eps) {
    double ss = 0;
    for (int i = 0; i < n; i++) ss += (double)x[i] * x[i];
    float s = (float)(1.0 / sqrt(ss / n + eps));
    for (int i = 0; i < n; i++) x[i] = x[i] * s * w[i];
}

/* cs[i], sn[i] = cos, sin of pos * freq[i] for the Dr/2 pairs (double, as r1_mla_rope). */
static void rope_angles(const r1_mla *m, int pos, double *cs, double *sn) {
    for (int i = 0; i < m->c.qk_rope / 2; i++) {
        const double th = pos * m->freq[i];
        cs[i] = cos(th);
        sn[i] = sin(th);
    }
}

static void rope_apply(int n_pairs, const double *cs, const double *sn, float *x) {
    for (int i = 0; i < n_pairs; i++) {
        float a = x[2 * i], b = x[2 * i + 1];
        x[2 * i] = (float)(a * cs[i] - b * sn[i]);
        x[2 * i + 1] = (float)(a * sn[i] + b * cs[i]);
    }
}

void r1_mla_rope(const r1_mla *m, float *x, int pos) {
    double cs[R1_MLA_MAX_ROPE / 2], sn[R1_MLA_MAX_ROPE / 2];
    rope_angles(m, pos, cs, sn);
    rope_apply(m->c.qk_rope / 2, cs, sn, x);
}

/* ---- latent-attention micro-kernels ------------------------------------------------------
 * Written with 8-wide GNU C vector types; on x86-64 an AVX2(+FMA) clone is selected at load
 * time (ifunc), elsewhere the compiler maps them to the target's vectors. Heads are processed
 * four at a time so each cache row is loaded once per four heads and the accumulators
 * stay in registers. */
typedef float v8f __attribute__((vector_size(32)));
typedef float v8u __attribute__((vector_size(32), aligned(4), may_alias));   /* unaligned access */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__)
/* GCC: an x86-64-v3 clone (AVX2 + FMA; multiply-adds fused in these kernels only). */
#define MLA_SIMD __attribute__((target_clones("arch=x86-64-v3", "avx2", "default"), optimize("fp-contract=fast")))
#elif defined(__x86_64__) && defined(__clang__)
#define MLA_SIMD __attribute__((target_clones("avx2", "default")))
#else
#define MLA_SIMD
#endif
/* macros, not functions: 32-byte vectors never cross a call (no ABI dependence on AVX) */
#define LOAD8(p) (*(const v8u *)(p))
#define STORE8(p, v) (*(v8u *)(p) = (v))
#define HSUM8(v) ((((v)[0] + (v)[4]) + ((v)[1] + (v)[5])) + (((v)[2] + (v)[6]) + ((v)[3] + (v)[7])))

/* s[h*ld + j] = scale * (q[h] · c[j]) for h < H, j < nb; q rows and c rows have W floats.
 * Tiles of 4 heads × 2 rows: 8 accumulators, 6 loads per 8 multiply-adds. */
MLA_SIMD static void scores_block_v8(const float *q, int H, const float *c, int nb, int W, float scale,
                                  float *s, int ld) {
    const int W8 = W & ~7;
    for (int h0 = 0; h0 < H; h0 += 4) {
        const float *q0 = q + (size_t)R1_MIN(h0 + 0, H - 1) * W, *q1 = q + (size_t)R1_MIN(h0 + 1, H - 1) * W;
        const float *q2 = q + (size_t)R1_MIN(h0 + 2, H - 1) * W, *q3 = q + (size_t)R1_MIN(h0 + 3, H - 1) * W;
        for (int j = 0; j < nb; j += 2) {
            const int j1 = R1_MIN(j + 1, nb - 1);   /* an odd last row is computed twice */
            const float *c0 = c + (size_t)j * W, *c1 = c + (size_t)j1 * W;
            v8f a00 = {0}, a10 = {0}, a20 = {0}, a30 = {0}, a01 = {0}, a11 = {0}, a21 = {0}, a31 = {0};
            for (int k = 0; k < W8; k += 8) {
                const v8f x0 = LOAD8(c0 + k), x1 = LOAD8(c1 + k);
                v8f t = LOAD8(q0 + k);
                a00 += t * x0, a01 += t * x1;
                t = LOAD8(q1 + k);
                a10 += t * x0, a11 += t * x1;
                t = LOAD8(q2 + k);
                a20 += t * x0, a21 += t * x1;
                t = LOAD8(q3 + k);
                a30 += t * x0, a31 += t * x1;
            }
            float r[2][4] = {{HSUM8(a00), HSUM8(a10), HSUM8(a20), HSUM8(a30)},
                             {HSUM8(a01), HSUM8(a11), HSUM8(a21), HSUM8(a31)}};
            const float *qh[4] = {q0, q1, q2, q3};
            for (int u = 0; u < 2 && j + u < nb; u++)
                for (int i = 0; i < 4 && h0 + i < H; i++) {
                    const float *cu = u ? c1 : c0;
                    for (int k = W8; k < W; k++) r[u][i] += qh[i][k] * cu[k];
                    s[(size_t)(h0 + i) * ld + j + u] = r[u][i] * scale;
                }
        }
    }
}

/* o[h][r] += sum_j p[h*ld + j] * c[j][r] for h < H, r < R, j < nb; c rows have W floats.
 * Tiles of 4 heads × 16 columns: 8 accumulators kept in registers over all nb rows. */
MLA_SIMD static void accum_block_v8(float *o, int H, int R, const float *p, int ld, const float *c, int nb, int W) {
    const int R16 = R & ~15;
    for (int h0 = 0; h0 < H; h0 += 4) {
        const float *ph[4];
        float *oh[4];
        for (int i = 0; i < 4; i++) {
            const int h = R1_MIN(h0 + i, H - 1);   /* padding heads repeat the last; not stored */
            ph[i] = p + (size_t)h * ld;
            oh[i] = o + (size_t)h * R;
        }
        for (int r = 0; r < R16; r += 16) {
            v8f a0 = LOAD8(oh[0] + r), a1 = LOAD8(oh[1] + r), a2 = LOAD8(oh[2] + r), a3 = LOAD8(oh[3] + r);
            v8f b0 = LOAD8(oh[0] + r + 8), b1 = LOAD8(oh[1] + r + 8), b2 = LOAD8(oh[2] + r + 8), b3 = LOAD8(oh[3] + r + 8);
            for (int j = 0; j < nb; j++) {
                const v8f x0 = LOAD8(c + (size_t)j * W + r), x1 = LOAD8(c + (size_t)j * W + r + 8);
                const float p0 = ph[0][j], p1 = ph[1][j], p2 = ph[2][j], p3 = ph[3][j];
                a0 += p0 * x0, b0 += p0 * x1;
                a1 += p1 * x0, b1 += p1 * x1;
                a2 += p2 * x0, b2 += p2 * x1;
                a3 += p3 * x0, b3 += p3 * x1;
            }
            const v8f a[4] = {a0, a1, a2, a3}, b[4] = {b0, b1, b2, b3};
            for (int i = 0; i < 4 && h0 + i < H; i++) {
                STORE8(oh[i] + r, a[i]);
                STORE8(oh[i] + r + 8, b[i]);
            }
        }
        for (int i = 0; i < 4 && h0 + i < H; i++)
            for (int r = R16; r < R; r++)
                for (int j = 0; j < nb; j++) oh[i][r] += ph[i][j] * c[(size_t)j * W + r];
    }
}

#ifdef MLA_HAVE_V16
/* AVX-512 variants (r1_mla.simd == 1, chosen in r1_mla_init when the AVX-512 level is
 * active): 16-float vectors, masked tails instead of scalar ones, and twice the tile —
 * 4 heads × 4 rows (scores) and 4 heads × 64 columns (accumulation), 16 accumulators of
 * the 32 registers. Same definitions as the _v8 kernels (test_mla runs both). */
#define MLA_AVX512 __attribute__((target("avx512f,avx512vl,avx512dq,fma")))
MLA_AVX512 static inline __mmask16 tail_mask(int rem) {
    return rem >= 16 ? (__mmask16)0xFFFF : rem <= 0 ? (__mmask16)0 : (__mmask16)((1u << rem) - 1);
}

MLA_AVX512 static void scores_block_v16(const float *q, int H, const float *c, int nb, int W, float scale,
                                        float *s, int ld) {
    for (int h0 = 0; h0 < H; h0 += 4) {
        const float *q0 = q + (size_t)R1_MIN(h0 + 0, H - 1) * W, *q1 = q + (size_t)R1_MIN(h0 + 1, H - 1) * W;
        const float *q2 = q + (size_t)R1_MIN(h0 + 2, H - 1) * W, *q3 = q + (size_t)R1_MIN(h0 + 3, H - 1) * W;
        for (int j = 0; j < nb; j += 4) {   /* rows past nb repeat the last; not stored */
            const float *c0 = c + (size_t)j * W, *c1 = c + (size_t)R1_MIN(j + 1, nb - 1) * W;
            const float *c2 = c + (size_t)R1_MIN(j + 2, nb - 1) * W, *c3 = c + (size_t)R1_MIN(j + 3, nb - 1) * W;
            __m512 a00 = _mm512_setzero_ps(), a01 = a00, a02 = a00, a03 = a00, a10 = a00, a11 = a00, a12 = a00,
                   a13 = a00, a20 = a00, a21 = a00, a22 = a00, a23 = a00, a30 = a00, a31 = a00, a32 = a00, a33 = a00;
            for (int k = 0; k < W; k += 16) {
                const __mmask16 mk = tail_mask(W - k);
                const __m512 x0 = _mm512_maskz_loadu_ps(mk, c0 + k), x1 = _mm512_maskz_loadu_ps(mk, c1 + k);
                const __m512 x2 = _mm512_maskz_loadu_ps(mk, c2 + k), x3 = _mm512_maskz_loadu_ps(mk, c3 + k);
                __m512 t = _mm512_maskz_loadu_ps(mk, q0 + k);
                a00 = _mm512_fmadd_ps(t, x0, a00), a01 = _mm512_fmadd_ps(t, x1, a01);
                a02 = _mm512_fmadd_ps(t, x2, a02), a03 = _mm512_fmadd_ps(t, x3, a03);
                t = _mm512_maskz_loadu_ps(mk, q1 + k);
                a10 = _mm512_fmadd_ps(t, x0, a10), a11 = _mm512_fmadd_ps(t, x1, a11);
                a12 = _mm512_fmadd_ps(t, x2, a12), a13 = _mm512_fmadd_ps(t, x3, a13);
                t = _mm512_maskz_loadu_ps(mk, q2 + k);
                a20 = _mm512_fmadd_ps(t, x0, a20), a21 = _mm512_fmadd_ps(t, x1, a21);
                a22 = _mm512_fmadd_ps(t, x2, a22), a23 = _mm512_fmadd_ps(t, x3, a23);
                t = _mm512_maskz_loadu_ps(mk, q3 + k);
                a30 = _mm512_fmadd_ps(t, x0, a30), a31 = _mm512_fmadd_ps(t, x1, a31);
                a32 = _mm512_fmadd_ps(t, x2, a32), a33 = _mm512_fmadd_ps(t, x3, a33);
            }
            const float r[4][4] = {
                {_mm512_reduce_add_ps(a00), _mm512_reduce_add_ps(a01), _mm512_reduce_add_ps(a02), _mm512_reduce_add_ps(a03)},
                {_mm512_reduce_add_ps(a10), _mm512_reduce_add_ps(a11), _mm512_reduce_add_ps(a12), _mm512_reduce_add_ps(a13)},
                {_mm512_reduce_add_ps(a20), _mm512_reduce_add_ps(a21), _mm512_reduce_add_ps(a22), _mm512_reduce_add_ps(a23)},
                {_mm512_reduce_add_ps(a30), _mm512_reduce_add_ps(a31), _mm512_reduce_add_ps(a32), _mm512_reduce_add_ps(a33)}};
            for (int i = 0; i < 4 && h0 + i < H; i++)
                for (int u = 0; u < 4 && j + u < nb; u++) s[(size_t)(h0 + i) * ld + j + u] = r[i][u] * scale;
        }
    }
}

/* one 16-column chunk of the 4-head accumulation: a_i += p_i * x for the 4 heads */
#define ACC16(A0, A1, A2, A3, X) \
    (A0 = _mm512_fmadd_ps(p0, X, A0), A1 = _mm512_fmadd_ps(p1, X, A1), A2 = _mm512_fmadd_ps(p2, X, A2), \
     A3 = _mm512_fmadd_ps(p3, X, A3))
MLA_AVX512 static void accum_block_v16(float *o, int H, int R, const float *p, int ld, const float *c, int nb,
                                       int W) {
    for (int h0 = 0; h0 < H; h0 += 4) {
        const float *ph[4];
        float *oh[4];
        for (int i = 0; i < 4; i++) {
            const int h = R1_MIN(h0 + i, H - 1);   /* padding heads repeat the last; not stored */
            ph[i] = p + (size_t)h * ld;
            oh[i] = o + (size_t)h * R;
        }
        for (int r = 0; r < R; r += 64) {
            const __mmask16 m0 = tail_mask(R - r), m1 = tail_mask(R - r - 16), m2 = tail_mask(R - r - 32),
                            m3 = tail_mask(R - r - 48);
#define LD4(i) __m512 a##i##0 = _mm512_maskz_loadu_ps(m0, oh[i] + r), a##i##1 = _mm512_maskz_loadu_ps(m1, oh[i] + r + 16), \
                      a##i##2 = _mm512_maskz_loadu_ps(m2, oh[i] + r + 32), a##i##3 = _mm512_maskz_loadu_ps(m3, oh[i] + r + 48)
            LD4(0);
            LD4(1);
            LD4(2);
            LD4(3);
#undef LD4
            for (int j = 0; j < nb; j++) {
                const float *cj = c + (size_t)j * W + r;
                const __m512 x0 = _mm512_maskz_loadu_ps(m0, cj), x1 = _mm512_maskz_loadu_ps(m1, cj + 16);
                const __m512 x2 = _mm512_maskz_loadu_ps(m2, cj + 32), x3 = _mm512_maskz_loadu_ps(m3, cj + 48);
                const __m512 p0 = _mm512_set1_ps(ph[0][j]), p1 = _mm512_set1_ps(ph[1][j]);
                const __m512 p2 = _mm512_set1_ps(ph[2][j]), p3 = _mm512_set1_ps(ph[3][j]);
                ACC16(a00, a10, a20, a30, x0);
                ACC16(a01, a11, a21, a31, x1);
                ACC16(a02, a12, a22, a32, x2);
                ACC16(a03, a13, a23, a33, x3);
            }
#define ST4(i) if (h0 + i < H) { _mm512_mask_storeu_ps(oh[i] + r, m0, a##i##0); _mm512_mask_storeu_ps(oh[i] + r + 16, m1, a##i##1); \
                                 _mm512_mask_storeu_ps(oh[i] + r + 32, m2, a##i##2); _mm512_mask_storeu_ps(oh[i] + r + 48, m3, a##i##3); }
            ST4(0)
            ST4(1)
            ST4(2)
            ST4(3)
#undef ST4
        }
    }
}
#undef ACC16
#endif

/* The kernels r1_mla_init chose (simd 1: AVX-512, else the 8-wide clones). */
static void scores_block(const r1_mla *m, const float *q, int H, const float *c, int nb, int W, float scale,
                         float *s, int ld) {
#ifdef MLA_HAVE_V16
    if (m->simd == 1) { scores_block_v16(q, H, c, nb, W, scale, s, ld); return; }
#endif
    (void)m;
    scores_block_v8(q, H, c, nb, W, scale, s, ld);
}
static void accum_block(const r1_mla *m, float *o, int H, int R, const float *p, int ld, const float *c, int nb,
                        int W) {
#ifdef MLA_HAVE_V16
    if (m->simd == 1) { accum_block_v16(o, H, R, p, ld, c, nb, W); return; }
#endif
    (void)m;
    accum_block_v8(o, H, R, p, ld, c, nb, W);
}

/* W_uk of head h. dot orientation (split layout): R rows of Dn → q_lat = mul(W, q_nope);
 * transposed orientation (kv_b layout): Dn rows of R → q_lat = mul_t(W, q_nope). */
static r1_wmat head_uk(const r1_mla_weights *w, const r1_mla_config *c, int h) {
    if (w->layout == R1_MLA_LAYOUT_SPLIT) return r1_wmat_rows(&w->wk_b, (int64_t)h * c->kv_lora_rank, c->kv_lora_rank);
    return r1_wmat_rows(&w->wkv_b, (int64_t)h * (c->qk_nope + c->v_head), c->qk_nope);
}

/* W_uv of head h: Dv rows of R in both layouts. */
static r1_wmat head_uv(const r1_mla_weights *w, const r1_mla_config *c, int h) {
    if (w->layout == R1_MLA_LAYOUT_SPLIT) return r1_wmat_rows(&w->wv_b, (int64_t)h * c->v_head, c->v_head);
    return r1_wmat_rows(&w->wkv_b, (int64_t)h * (c->qk_nope + c->v_head) + c->qk_nope, c->v_head);
}

/* ---- attention forms ----------------------------------------------------------------------- */
enum { KV_BLOCK = 32 };   /* cache rows per block: 32 × (R+Dr) floats stay in L2 */
enum { EXP_TOK = 16 };    /* expanded form: query tokens per causal block */

/* o[h][0..R) = softmax_j(kq_scale * qabs[h] · row_j) weighted sum of row_j[0..R), rows
 * 0..n-1, for H heads (qabs [H][W], o [H][R]). One pass over the cache in blocks of
 * KV_BLOCK rows with an online softmax (running max mx[h], running sum l[h]): each block
 * is scored for all H heads, then accumulated while still in cache. F16 rows are
 * converted once per block. ws: H*KV_BLOCK + 2*H + KV_BLOCK*W floats. */
static void latent_attention(const r1_mla *m, const r1_mla_cache *cache, const float *qabs, int H, int n,
                             float *o, float *ws) {
    const r1_mla_config *c = &m->c;
    const int R = c->kv_lora_rank, W = R + c->qk_rope;
    const size_t rb = r1_mla_cache_row_bytes(c, cache->type);
    const r1_type_traits *ct = r1_type_get_traits(cache->type);
    float *sc = ws, *mx = sc + (size_t)H * KV_BLOCK, *l = mx + H, *blk = l + H;   /* sc [H][B], blk [B][W] */
    for (int h = 0; h < H; h++) { mx[h] = -INFINITY; l[h] = 0; }
    memset(o, 0, sizeof(float) * (size_t)H * R);
    for (int j0 = 0; j0 < n; j0 += KV_BLOCK) {
        const int nb = R1_MIN(KV_BLOCK, n - j0);
        const char *rows = (const char *)cache->data + (size_t)j0 * rb;
        const float *fr = (const float *)rows;   /* the block as floats */
        if (cache->type != R1_TYPE_F32) {
            ct->to_float(rows, blk, (int64_t)nb * W);
            fr = blk;
        }
        scores_block(m, qabs, H, fr, nb, W, m->kq_scale, sc, KV_BLOCK);
        for (int h = 0; h < H; h++) {   /* online softmax: rescale what was accumulated */
            float *sh = sc + h * KV_BLOCK, bm = sh[0];
            for (int j = 1; j < nb; j++) bm = fmaxf(bm, sh[j]);
            if (bm > mx[h]) {
                const float f = expf(mx[h] - bm);   /* 0 on the first block */
                l[h] *= f;
                for (int r = 0; r < R; r++) o[(size_t)h * R + r] *= f;
                mx[h] = bm;
            }
            for (int j = 0; j < nb; j++) l[h] += (sh[j] = expf(sh[j] - mx[h]));
        }
        accum_block(m, o, H, R, sc, KV_BLOCK, fr, nb, W);
    }
    for (int h = 0; h < H; h++) {
        const float inv = 1.0f / l[h];
        for (int r = 0; r < R; r++) o[(size_t)h * R + r] *= inv;
    }
}

/* Attention job: workers take contiguous head ranges; each has its own scratch. */
typedef struct att_job {
    const r1_mla *m;
    const r1_mla_weights *w;
    const r1_mla_cache *cache;
    const float *q;        /* [n_tok][H][Dn+Dr], roped                      */
    const float *cf;       /* expanded form: the L cache rows as floats      */
    int n_tok, pos0;
    float *vout;           /* [n_tok][H*Dv]                                  */
    float *scratch;        /* per worker: per_worker floats                  */
    size_t per_worker;
    size_t nested;         /* bytes at the end of each worker's scratch: the arena of
                              the products it runs (r1_wmat_mul_scratch)     */
    int *failed;           /* per worker: 1 if an allocation failed          */
    int *spilled;          /* per worker: products its arena could not hold  */
} att_job;

/* The serial runner of worker i's products: its own arena over the last `nested` bytes
 * of its scratch (so they take nothing from the heap). */
static r1_par worker_par(const att_job *j, int i, r1_arena *a) {
    char *end = (char *)(j->scratch + j->per_worker * (size_t)(i + 1));
    r1_arena_over(a, end - j->nested, j->nested);
    return (r1_par){.n = 1, .arena = a};
}

/* Absorbed form for heads [h0, h1): q_lat = W_uk[h]^T q_nope, attention over the latent
 * rows, v = W_uv[h] o_lat. Scratch: qabs [n_tok][Hw][W] | olat [n_tok][Hw][R] | ws. */
static void absorbed_worker(void *arg, int i, int nw) {
    const att_job *j = arg;
    const r1_mla_config *c = &j->m->c;
    const int H = c->n_head, Dn = c->qk_nope, Dr = c->qk_rope, Dv = c->v_head, R = c->kv_lora_rank;
    const int W = R + Dr, Dq = Dn + Dr, h0 = H * i / nw, h1 = H * (i + 1) / nw, Hw = h1 - h0;
    if (Hw == 0) return;
    float *qabs = j->scratch + j->per_worker * (size_t)i;
    float *olat = qabs + (size_t)j->n_tok * Hw * W;
    float *ws = olat + (size_t)j->n_tok * Hw * R;
    r1_arena arena;
    const r1_par wp = worker_par(j, i, &arena);
    r1_status st = R1_OK;
    for (int h = h0; h < h1 && !st; h++) {
        r1_wmat uk = head_uk(j->w, c, h);
        const float *qn = j->q + (size_t)h * Dq;
        float *qa = qabs + (size_t)(h - h0) * W;
        if (j->w->layout == R1_MLA_LAYOUT_SPLIT)
            st = r1_wmat_mul(&uk, j->n_tok, qn, (size_t)H * Dq, qa, (size_t)Hw * W, &wp, NULL);
        else
            st = r1_wmat_mul_t(&uk, j->n_tok, qn, (size_t)H * Dq, qa, (size_t)Hw * W, &wp, NULL);
        for (int t = 0; t < j->n_tok; t++)
            memcpy(qa + (size_t)t * Hw * W + R, qn + (size_t)t * H * Dq + Dn, sizeof(float) * Dr);
    }
    for (int t = 0; t < j->n_tok && !st; t++)
        latent_attention(j->m, j->cache, qabs + (size_t)t * Hw * W, Hw, j->pos0 + t + 1, olat + (size_t)t * Hw * R, ws);
    for (int h = h0; h < h1 && !st; h++) {
        r1_wmat uv = head_uv(j->w, c, h);
        st = r1_wmat_mul(&uv, j->n_tok, olat + (size_t)(h - h0) * R, (size_t)Hw * R, j->vout + (size_t)h * Dv,
                         (size_t)H * Dv, &wp, NULL);
    }
    if (st) j->failed[i] = 1;
    j->spilled[i] = (int)arena.n_heap;
}

/* Expanded form for heads [h0, h1): k = [W_uk c | k_rope], v = W_uv c for all L cached
 * tokens, then causal attention with the block kernels (tokens in the role of heads):
 * S = scale·Q·Kᵀ, softmax per row over keys 0..pos0+t, O = P·V.
 * Scratch: kh [L][Dq] | vh [L][Dv] | qh [n_tok][Dq] | sc [n_tok][L] | oh [n_tok][Dv]. */
static void expanded_worker(void *arg, int i, int nw) {
    const att_job *j = arg;
    const r1_mla_config *c = &j->m->c;
    const int H = c->n_head, Dn = c->qk_nope, Dr = c->qk_rope, Dv = c->v_head, R = c->kv_lora_rank;
    const int W = R + Dr, Dq = Dn + Dr, n_tok = j->n_tok, L = j->pos0 + n_tok;
    const int h0 = H * i / nw, h1 = H * (i + 1) / nw;
    float *kh = j->scratch + j->per_worker * (size_t)i;
    float *vh = kh + (size_t)L * Dq, *qh = vh + (size_t)L * Dv, *sc = qh + (size_t)n_tok * Dq;
    float *oh = sc + (size_t)n_tok * L;
    r1_arena arena;
    const r1_par wp = worker_par(j, i, &arena);
    r1_status st = R1_OK;
    for (int h = h0; h < h1 && !st; h++) {
        r1_wmat uk = head_uk(j->w, c, h), uv = head_uv(j->w, c, h);
        if (j->w->layout == R1_MLA_LAYOUT_SPLIT) st = r1_wmat_mul_t(&uk, L, j->cf, W, kh, Dq, &wp, NULL);
        else st = r1_wmat_mul(&uk, L, j->cf, W, kh, Dq, &wp, NULL);
        if (!st) st = r1_wmat_mul(&uv, L, j->cf, W, vh, Dv, &wp, NULL);
        if (st) break;
        for (int k = 0; k < L; k++) memcpy(kh + (size_t)k * Dq + Dn, j->cf + (size_t)k * W + R, sizeof(float) * Dr);
        for (int t = 0; t < n_tok; t++) memcpy(qh + (size_t)t * Dq, j->q + ((size_t)t * H + h) * Dq, sizeof(float) * Dq);
        /* causal: query tokens in blocks of EXP_TOK; a block only visits the keys its last
         * token sees (pos0 + t1), so the masked triangle is skipped but for the block's
         * diagonal, which is zeroed after the softmax */
        memset(oh, 0, sizeof(float) * (size_t)n_tok * Dv);
        for (int t0 = 0; t0 < n_tok; t0 += EXP_TOK) {
            const int nt = R1_MIN(EXP_TOK, n_tok - t0), Lb = j->pos0 + t0 + nt;
            float *sb = sc + (size_t)t0 * L;
            scores_block(j->m, qh + (size_t)t0 * Dq, nt, kh, Lb, Dq, j->m->kq_scale, sb, L);
            for (int t = 0; t < nt; t++) {
                const int n = j->pos0 + t0 + t + 1;
                r1_softmax(sb + (size_t)t * L, n);
                memset(sb + (size_t)t * L + n, 0, sizeof(float) * (size_t)(Lb - n));
            }
            accum_block(j->m, oh + (size_t)t0 * Dv, nt, Dv, sb, L, vh, Lb, Dv);
        }
        for (int t = 0; t < n_tok; t++)
            memcpy(j->vout + ((size_t)t * H + h) * Dv, oh + (size_t)t * Dv, sizeof(float) * Dv);
    }
    if (st) j->failed[i] = 1;
    j->spilled[i] = (int)arena.n_heap;
}

/* Runs the chosen form over par's workers: q (n_tok × H(Dn+Dr), roped) → vout (n_tok × H·Dv). */
static r1_status attend(const r1_mla *m, const r1_mla_weights *w, const r1_mla_cache *cache, const float *q,
                        int n_tok, int pos0, float *vout, bool expanded, const r1_par *par, r1_error *err) {
    const r1_mla_config *c = &m->c;
    const int H = c->n_head, Dq = c->qk_nope + c->qk_rope, Dv = c->v_head, R = c->kv_lora_rank;
    const int W = R + c->qk_rope, L = pos0 + n_tok;
    const int nw = par && par->n > 1 ? R1_MIN(par->n, H) : 1;
    const int Hw = (H + nw - 1) / nw;   /* most heads one worker gets */
    att_job j = {.m = m, .w = w, .cache = cache, .q = q, .n_tok = n_tok, .pos0 = pos0, .vout = vout};
    size_t shared = 0;
    if (expanded) {
        shared = (size_t)L * W;
        j.per_worker = (size_t)L * (Dq + Dv) + (size_t)n_tok * (Dq + L + Dv);
    } else {
        j.per_worker = (size_t)n_tok * Hw * (W + R) + (size_t)Hw * KV_BLOCK + 2 * (size_t)Hw + (size_t)KV_BLOCK * W;
    }
    /* the workers' products: every head's W_uk / W_uv view has the same shape as head 0's */
    const r1_wmat uk0 = head_uk(w, c, 0), uv0 = head_uv(w, c, 0);
    const int nt = expanded ? L : n_tok;
    const bool uk_t = (w->layout == R1_MLA_LAYOUT_SPLIT) == expanded;
    j.nested = R1_MAX(r1_wmat_mul_scratch(&uk0, nt, uk_t), r1_wmat_mul_scratch(&uv0, nt, false));
    j.per_worker = ((j.per_worker + 15) & ~(size_t)15) + j.nested / sizeof(float);   /* 64-byte multiples */
    r1_tmp tmp;
    float *mem = r1_tmp_get(par ? par->arena : NULL,
                            sizeof(float) * (((shared + 15) & ~(size_t)15) + j.per_worker * (size_t)nw) + 2 * sizeof(int) * (size_t)nw,
                            &tmp);
    if (!mem) return r1_set_error(err, R1_ERR_NOMEM, "mla: out of memory (%d tokens, %d keys)", n_tok, L);
    float *cf = mem;
    j.scratch = mem + ((shared + 15) & ~(size_t)15);
    j.failed = (int *)(j.scratch + j.per_worker * (size_t)nw);
    j.spilled = j.failed + nw;
    memset(j.failed, 0, 2 * sizeof(int) * (size_t)nw);
    if (expanded) {
        if (cache->type == R1_TYPE_F32) memcpy(cf, cache->data, sizeof(float) * (size_t)L * W);
        else r1_type_get_traits(cache->type)->to_float(cache->data, cf, (int64_t)L * W);
        j.cf = cf;
    }
    r1_par sub = par ? *par : (r1_par){0};
    sub.n = nw;
    r1_par_run(&sub, expanded ? expanded_worker : absorbed_worker, &j);
    r1_status st = R1_OK;
    for (int i = 0; i < nw; i++) {
        if (j.failed[i]) st = r1_set_error(err, R1_ERR_NOMEM, "mla: out of memory in attention worker %d", i);
        if (par && par->arena) par->arena->n_heap += (uint64_t)j.spilled[i];   /* 0 unless nested is wrong */
    }
    r1_tmp_put(&tmp);
    return st;
}

/* Per token (workers take token ranges): RMSNorm of c_kv, RoPE of k_rope and of every
 * head's q_rope (angles computed once per token), the latent row stored in the cache. */
typedef struct rows_job {
    const r1_mla *m;
    const r1_mla_weights *w;
    r1_mla_cache *cache;
    float *q, *kv;
    int n_tok, pos0;
} rows_job;
static void rows_worker(void *arg, int i, int nw) {
    const rows_job *j = arg;
    const r1_mla_config *c = &j->m->c;
    const int H = c->n_head, Dn = c->qk_nope, R = c->kv_lora_rank, W = R + c->qk_rope, Dq = Dn + c->qk_rope;
    const size_t rb = r1_mla_cache_row_bytes(c, j->cache->type);
    const r1_type_traits *ct = r1_type_get_traits(j->cache->type);
    double cs[R1_MLA_MAX_ROPE / 2], sn[R1_MLA_MAX_ROPE / 2];
    for (int t = j->n_tok * i / nw; t < j->n_tok * (i + 1) / nw; t++) {
        float *kt = j->kv + (size_t)t * W;
        rope_angles(j->m, j->pos0 + t, cs, sn);
        rms_norm(kt, j->w->kv_a_norm, R, c->rms_eps);
        rope_apply(c->qk_rope / 2, cs, sn, kt + R);
        ct->from_float(kt, (char *)j->cache->data + (size_t)(j->pos0 + t) * rb, W);
        for (int h = 0; h < H; h++) rope_apply(c->qk_rope / 2, cs, sn, j->q + ((size_t)t * H + h) * Dq + Dn);
    }
}

/* Multiply-adds of the two forms, to pick one in R1_MLA_AUTO. */
static bool expanded_is_cheaper(const r1_mla_config *c, int n_tok, int pos0) {
    const double H = c->n_head, R = c->kv_lora_rank, Dn = c->qk_nope, Dr = c->qk_rope, Dv = c->v_head;
    const double L = pos0 + n_tok, pairs = (double)n_tok * (pos0 + (n_tok + 1) / 2.0);
    double absorbed = n_tok * H * R * (Dn + Dv) + pairs * H * (2 * R + Dr);
    double expanded = L * H * R * (Dn + Dv) + pairs * H * (Dn + Dr + Dv);
    return expanded < absorbed;
}

r1_status r1_mla_forward(const r1_mla *m, const r1_mla_weights *w, r1_mla_cache *cache,
                         const float *x, int n_tok, int pos0, float *out, r1_mla_mode mode,
                         const r1_par *par, r1_error *err) {
    const r1_mla_config *c = &m->c;
    const int H = c->n_head, Dn = c->qk_nope, Dr = c->qk_rope, Dv = c->v_head, R = c->kv_lora_rank;
    const int E = c->n_embd, Q = c->q_lora_rank, W = R + Dr, Dq = Dn + Dr;
    if (n_tok <= 0) return R1_OK;
    if (pos0 < 0 || pos0 + n_tok > cache->n_ctx)
        return r1_set_error(err, R1_ERR_CONTEXT_FULL, "mla: positions %d..%d do not fit a cache of %d", pos0,
                            pos0 + n_tok - 1, cache->n_ctx);
    if (cache->type != R1_TYPE_F32 && cache->type != R1_TYPE_F16)
        return r1_set_error(err, R1_ERR_UNSUPPORTED, "mla: cache type %s (f32 or f16 only)", r1_type_name(cache->type));
    r1_tmp tmp;
    float *q = r1_tmp_get(par ? par->arena : NULL,
                          sizeof(float) * ((size_t)n_tok * H * Dq + (size_t)n_tok * (Q > 0 ? Q : 0) +
                                           (size_t)n_tok * W + (size_t)n_tok * H * Dv),
                          &tmp);
    if (!q) return r1_set_error(err, R1_ERR_NOMEM, "mla: out of memory (%d tokens)", n_tok);
    float *qa = q + (size_t)n_tok * H * Dq;        /* [n_tok][Q]      */
    float *kv = qa + (size_t)n_tok * (Q > 0 ? Q : 0);  /* [n_tok][R+Dr] */
    float *vout = kv + (size_t)n_tok * W;          /* [n_tok][H*Dv]   */
    r1_status st;
    /* queries */
    if (Q == 0) {
        st = r1_wmat_mul(&w->wq, n_tok, x, E, q, (size_t)H * Dq, par, err);
    } else {
        st = r1_wmat_mul(&w->wq_a, n_tok, x, E, qa, Q, par, err);
        for (int t = 0; t < n_tok && !st; t++) rms_norm(qa + (size_t)t * Q, w->q_a_norm, Q, c->rms_eps);
        if (!st) st = r1_wmat_mul(&w->wq_b, n_tok, qa, Q, q, (size_t)H * Dq, par, err);
    }
    /* latent rows → cache */
    if (!st) st = r1_wmat_mul(&w->wkv_a, n_tok, x, E, kv, W, par, err);
    if (st) goto done;
    rows_job rj = {.m = m, .w = w, .cache = cache, .q = q, .kv = kv, .n_tok = n_tok, .pos0 = pos0};
    if (n_tok >= 16) r1_par_run(par, rows_worker, &rj);   /* decode: no synchronisation */
    else rows_worker(&rj, 0, 1);
    if (mode == R1_MLA_AUTO) mode = expanded_is_cheaper(c, n_tok, pos0) ? R1_MLA_EXPANDED : R1_MLA_ABSORBED;
    st = attend(m, w, cache, q, n_tok, pos0, vout, mode == R1_MLA_EXPANDED, par, err);
    if (!st) st = r1_wmat_mul(&w->wo, n_tok, vout, (size_t)H * Dv, out, E, par, err);
done:
    r1_tmp_put(&tmp);
    return st;
}
