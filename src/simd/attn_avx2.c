/*
 * attn_avx2.c — the AVX2 + FMA + F16C tile kernel of causal GQA attention (contract:
 * attn.h; same algorithm as attn_avx512.c, 8-wide).
 *
 * Sub-tiles of M = 8·NV rows (NV = 1 for <= 8 rows, else 2; a 32-row task is two 16-row
 * sub-tiles). Vectors run over the rows for the scores and softmax, over head_dim for P·V:
 *   Qt[d][m] = q_m[d] · scale · log2e;  St[j][m] = Σ_d Qt[d][m] K[j][d] (keys × NV vectors
 *   in registers); causal mask; running max/sum per lane with P = 2^(St - max) (polynomial
 *   exp2, exponent built in the integer unit; inputs <= -127 give exactly 0);
 *   O[m][d] = O[m][d]·2^(max_old - max_new) + Σ_j P[j][m] V[j][d] (4 rows × 16 dims).
 * F32 caches are read in place, F16 blocks converted once per sub-tile.
 * head_dim: a multiple of 8, <= 256 (r1_attn_tile_kernel checks).
 */
#include "attn.h"
#include "common.h"
#include <immintrin.h>
#include <math.h>

#define LOG2E 1.4426950408889634f
enum { MAX_HD = 256, KBUF = 4096 /* floats per converted K or V block */ };

#define AI static inline __attribute__((always_inline))

/* 2^x for x <= 0 (our inputs are differences to a running maximum); x <= -127 and -inf
 * give 0. Degree-7 Taylor polynomial of 2^f on [-0.5, 0.5]. */
AI __m256 exp2_ps8(__m256 x) {
    x = _mm256_max_ps(x, _mm256_set1_ps(-127.0f));
    const __m256 n = _mm256_round_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __m256 f = _mm256_sub_ps(x, n);
    __m256 p = _mm256_set1_ps(1.525273380405984e-05f);
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.5403530393381608e-04f));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.3333558146428443e-03f));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(9.618129107628477e-03f));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(5.550410866482158e-02f));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(2.402265069591007e-01f));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(6.931471805599453e-01f));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.0f));
    /* 2^n as a float: biased exponent n + 127 (0 for n = -127: the value 0) */
    const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

AI void scores_r(float *St, const float *Qt, const float *kp, size_t ks, int jj, int hd, const int R,
                 const int NV) {
    const int M = 8 * NV;
    __m256 acc[8][2];
#pragma GCC unroll 8
    for (int r = 0; r < R; r++)
#pragma GCC unroll 2
        for (int v = 0; v < NV; v++) acc[r][v] = _mm256_setzero_ps();
    const float *k0 = kp + (size_t)jj * ks;
    for (int d = 0; d < hd; d++) {
        __m256 qv[2];
#pragma GCC unroll 2
        for (int v = 0; v < NV; v++) qv[v] = _mm256_load_ps(Qt + (size_t)d * M + 8 * v);
#pragma GCC unroll 8
        for (int r = 0; r < R; r++) {
            const __m256 b = _mm256_broadcast_ss(k0 + (size_t)r * ks + d);
#pragma GCC unroll 2
            for (int v = 0; v < NV; v++) acc[r][v] = _mm256_fmadd_ps(qv[v], b, acc[r][v]);
        }
    }
#pragma GCC unroll 8
    for (int r = 0; r < R; r++)
#pragma GCC unroll 2
        for (int v = 0; v < NV; v++) _mm256_store_ps(St + (size_t)(jj + r) * M + 8 * v, acc[r][v]);
}

/* O rows rr..rr+R-1, dims d0..d0+8C-1: O = O·alpha + Σ_jj P[jj] V[jj]. */
AI void pv_rc(float *const *orow, const float *alpha, const float *Pt, int M, const float *vp, size_t vs, int nb,
              int rr, int d0, const int R, const int C) {
    __m256 acc[4][2];
#pragma GCC unroll 4
    for (int r = 0; r < R; r++) {
        const __m256 al = _mm256_set1_ps(alpha[rr + r]);
#pragma GCC unroll 2
        for (int cc = 0; cc < C; cc++) acc[r][cc] = _mm256_mul_ps(al, _mm256_loadu_ps(orow[rr + r] + d0 + 8 * cc));
    }
    for (int jj = 0; jj < nb; jj++) {
        __m256 vv[2];
        const float *vr = vp + (size_t)jj * vs + d0;
#pragma GCC unroll 2
        for (int cc = 0; cc < C; cc++) vv[cc] = _mm256_loadu_ps(vr + 8 * cc);
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) {
            const __m256 p = _mm256_broadcast_ss(Pt + (size_t)jj * M + rr + r);
#pragma GCC unroll 2
            for (int cc = 0; cc < C; cc++) acc[r][cc] = _mm256_fmadd_ps(p, vv[cc], acc[r][cc]);
        }
    }
#pragma GCC unroll 4
    for (int r = 0; r < R; r++)
#pragma GCC unroll 2
        for (int cc = 0; cc < C; cc++) _mm256_storeu_ps(orow[rr + r] + d0 + 8 * cc, acc[r][cc]);
}

AI void pv_rows(float *const *orow, const float *alpha, const float *Pt, int M, const float *vp, size_t vs, int nb,
                int rr, int hd, const int R) {
    int d0 = 0;
    for (; d0 + 16 <= hd; d0 += 16) pv_rc(orow, alpha, Pt, M, vp, vs, nb, rr, d0, R, 2);
    if (d0 < hd) pv_rc(orow, alpha, Pt, M, vp, vs, nb, rr, d0, R, 1);
}

static void f16_block(float *dst, const char *src, size_t stride, int nb, int hd) {
    for (int jj = 0; jj < nb; jj++) {
        const uint16_t *s = (const uint16_t *)(src + (size_t)jj * stride);
        for (int d = 0; d < hd; d += 8)
            _mm256_storeu_ps(dst + (size_t)jj * hd + d, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(s + d))));
    }
}

AI void tile(const r1_attn_args *a, int g, int r0, int nr, const int NV) {
    const int M = 8 * NV, SR = NV == 1 ? 8 : 4;   /* SR: keys per scores_r call */
    const int hd = a->head_dim;
    const int kb = hd <= 128 ? 32 : 16;
    const bool f16 = a->type == R1_TYPE_F16;
    const size_t es = f16 ? 2 : 4;
    _Alignas(32) float Qt[MAX_HD * 16];
    _Alignas(32) float St[32 * 16];
    _Alignas(32) float alpha[16], lsum[16];
    _Alignas(32) int32_t lim[16];
    _Alignas(32) float kf[KBUF], vf[KBUF];
    float *orow[16];
    const float c = a->scale * LOG2E;
    for (int m = 0; m < M; m++) {
        const r1_attn_row row = r1_attn_row_at(a, g, r0 + (m < nr ? m : nr - 1));   /* padding: the last row again */
        for (int d = 0; d < hd; d++) Qt[(size_t)d * M + m] = row.q[d] * c;
        lim[m] = row.n_keys;
        orow[m] = row.out;
    }
    for (int r = 0; r < nr; r++) memset(orow[r], 0, (size_t)hd * sizeof(float));
    __m256 mv[2], lv[2];
    __m256i limv[2];
    for (int v = 0; v < NV; v++) {
        mv[v] = _mm256_set1_ps(-INFINITY);
        lv[v] = _mm256_setzero_ps();
        limv[v] = _mm256_load_si256((const __m256i *)(lim + 8 * v));
    }
    const int kmin = lim[0], nk = lim[nr - 1];
    const char *kbase = (const char *)a->k + (size_t)g * hd * es, *vbase = (const char *)a->v + (size_t)g * hd * es;
    for (int j0 = 0; j0 < nk; j0 += kb) {
        const int nb = R1_MIN(kb, nk - j0);
        const float *kp, *vp;
        size_t ks, vs;
        if (f16) {
            f16_block(kf, kbase + (size_t)j0 * a->k_stride, a->k_stride, nb, hd);
            f16_block(vf, vbase + (size_t)j0 * a->v_stride, a->v_stride, nb, hd);
            kp = kf; vp = vf; ks = vs = (size_t)hd;
        } else {
            kp = (const float *)(kbase + (size_t)j0 * a->k_stride);
            vp = (const float *)(vbase + (size_t)j0 * a->v_stride);
            ks = a->k_stride / 4; vs = a->v_stride / 4;
        }
        int jj = 0;
        for (; jj + SR <= nb; jj += SR) scores_r(St, Qt, kp, ks, jj, hd, SR, NV);
        for (; jj < nb; jj++) scores_r(St, Qt, kp, ks, jj, hd, 1, NV);
        if (j0 + nb > kmin)
            for (jj = 0; jj < nb; jj++) {
                const __m256i jv = _mm256_set1_epi32(j0 + jj);
                for (int v = 0; v < NV; v++) {
                    const __m256 vis = _mm256_castsi256_ps(_mm256_cmpgt_epi32(limv[v], jv));
                    float *s = St + (size_t)jj * M + 8 * v;
                    _mm256_store_ps(s, _mm256_blendv_ps(_mm256_set1_ps(-INFINITY), _mm256_load_ps(s), vis));
                }
            }
        for (int v = 0; v < NV; v++) {
            __m256 mx = mv[v];
            for (jj = 0; jj < nb; jj++) mx = _mm256_max_ps(mx, _mm256_load_ps(St + (size_t)jj * M + 8 * v));
            __m256 sum = _mm256_setzero_ps();
            for (jj = 0; jj < nb; jj++) {
                float *s = St + (size_t)jj * M + 8 * v;
                const __m256 p = exp2_ps8(_mm256_sub_ps(_mm256_load_ps(s), mx));
                _mm256_store_ps(s, p);
                sum = _mm256_add_ps(sum, p);
            }
            const __m256 al = exp2_ps8(_mm256_sub_ps(mv[v], mx));   /* 0 on the first block */
            _mm256_store_ps(alpha + 8 * v, al);
            lv[v] = _mm256_fmadd_ps(lv[v], al, sum);
            mv[v] = mx;
        }
        int rr = 0;
        for (; rr + 4 <= nr; rr += 4) pv_rows(orow, alpha, St, M, vp, vs, nb, rr, hd, 4);
        for (; rr < nr; rr++) pv_rows(orow, alpha, St, M, vp, vs, nb, rr, hd, 1);
    }
    for (int v = 0; v < NV; v++) _mm256_store_ps(lsum + 8 * v, _mm256_div_ps(_mm256_set1_ps(1.0f), lv[v]));
    for (int r = 0; r < nr; r++) {
        const __m256 inv = _mm256_set1_ps(lsum[r]);
        for (int d = 0; d < hd; d += 8) _mm256_storeu_ps(orow[r] + d, _mm256_mul_ps(inv, _mm256_loadu_ps(orow[r] + d)));
    }
}

void r1_attn_tile_avx2(const r1_attn_args *a, int g, int r0, int nr) {
    while (nr > 0) {
        const int m = R1_MIN(nr, 16);
        if (m <= 8) tile(a, g, r0, m, 1);
        else tile(a, g, r0, m, 2);
        r0 += m;
        nr -= m;
    }
}
