/*
 * attn_avx512.c — the AVX-512 tile kernel of causal GQA attention (contract: attn.h).
 *
 * A tile is M = 16·NV rows (NV = 1 for tiles of <= 16 rows, e.g. decode, else 2) of one
 * kv head. Vectors run over the tile's ROWS for the scores and softmax, over head_dim for
 * P·V:
 *   Qt[d][m]  = q_m[d] · scale · log2e         (transposed once per tile)
 *   St[j][m]  = Σ_d Qt[d][m] · K[j][d]          (4 or 8 keys × NV vectors in registers;
 *                                               K[j][d] broadcast from the cache row)
 *   causal mask (lanes whose row may not see key j → -inf), running max per lane,
 *   P = 2^(St - max) (polynomial exp2 + scalef), running sums;
 *   O[m][d]   = O[m][d] · 2^(max_old - max_new) + Σ_j P[j][m] V[j][d]
 *               (4 rows × up to 64 dims in registers; O lives in the output rows).
 * F32 caches are read in place; an F16 block of K and V is converted once per tile into
 * stack buffers (16 or 32 keys). head_dim <= 256, any value (masked tails).
 */
#include "attn.h"
#include "common.h"
#include <immintrin.h>
#include <math.h>
#include "simd/vmath_avx512.h"

#define LOG2E 1.4426950408889634f
enum { MAX_HD = 256, KBUF = 4096 /* floats per converted K or V block */ };



/* St[jj][.] for keys jj..jj+R-1 of the block (rows of kp, ks floats apart). */
AI void scores_r(float *St, const float *Qt, const float *kp, size_t ks, int jj, int hd, const int R,
                 const int NV) {
    const int M = 16 * NV;
    __m512 acc[8][2];
#pragma GCC unroll 8
    for (int r = 0; r < R; r++)
#pragma GCC unroll 2
        for (int v = 0; v < NV; v++) acc[r][v] = _mm512_setzero_ps();
    const float *k0 = kp + (size_t)jj * ks;
    for (int d = 0; d < hd; d++) {
        __m512 qv[2];
#pragma GCC unroll 2
        for (int v = 0; v < NV; v++) qv[v] = _mm512_load_ps(Qt + (size_t)d * M + 16 * v);
#pragma GCC unroll 8
        for (int r = 0; r < R; r++) {
            const __m512 b = _mm512_set1_ps(k0[(size_t)r * ks + d]);
#pragma GCC unroll 2
            for (int v = 0; v < NV; v++) acc[r][v] = _mm512_fmadd_ps(qv[v], b, acc[r][v]);
        }
    }
#pragma GCC unroll 8
    for (int r = 0; r < R; r++)
#pragma GCC unroll 2
        for (int v = 0; v < NV; v++) _mm512_store_ps(St + (size_t)(jj + r) * M + 16 * v, acc[r][v]);
}

/* O rows rr..rr+R-1, dims d0..d0+16C-1 (masked at hd): O = O·alpha + Σ_jj P[jj] V[jj]. */
AI void pv_rc(float *const *orow, const float *alpha, const float *Pt, int M, const float *vp, size_t vs, int nb,
              int rr, int d0, int hd, const int R, const int C) {
    __m512 acc[4][4];
    __mmask16 mk[4];
#pragma GCC unroll 4
    for (int cc = 0; cc < C; cc++) mk[cc] = tail_mask(hd - d0 - 16 * cc);
#pragma GCC unroll 4
    for (int r = 0; r < R; r++) {
        const __m512 al = _mm512_set1_ps(alpha[rr + r]);
#pragma GCC unroll 4
        for (int cc = 0; cc < C; cc++)
            acc[r][cc] = _mm512_mul_ps(al, _mm512_maskz_loadu_ps(mk[cc], orow[rr + r] + d0 + 16 * cc));
    }
    for (int jj = 0; jj < nb; jj++) {
        __m512 vv[4];
        const float *vr = vp + (size_t)jj * vs + d0;
#pragma GCC unroll 4
        for (int cc = 0; cc < C; cc++) vv[cc] = _mm512_maskz_loadu_ps(mk[cc], vr + 16 * cc);
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) {
            const __m512 p = _mm512_set1_ps(Pt[(size_t)jj * M + rr + r]);
#pragma GCC unroll 4
            for (int cc = 0; cc < C; cc++) acc[r][cc] = _mm512_fmadd_ps(p, vv[cc], acc[r][cc]);
        }
    }
#pragma GCC unroll 4
    for (int r = 0; r < R; r++)
#pragma GCC unroll 4
        for (int cc = 0; cc < C; cc++) _mm512_mask_storeu_ps(orow[rr + r] + d0 + 16 * cc, mk[cc], acc[r][cc]);
}

AI void pv_rows(float *const *orow, const float *alpha, const float *Pt, int M, const float *vp, size_t vs, int nb,
                int rr, int hd, const int R) {
    int d0 = 0;
    for (; d0 + 64 <= hd; d0 += 64) pv_rc(orow, alpha, Pt, M, vp, vs, nb, rr, d0, hd, R, 4);
    if (hd - d0 > 32) pv_rc(orow, alpha, Pt, M, vp, vs, nb, rr, d0, hd, R, 3);
    else if (hd - d0 > 16) pv_rc(orow, alpha, Pt, M, vp, vs, nb, rr, d0, hd, R, 2);
    else if (hd - d0 > 0) pv_rc(orow, alpha, Pt, M, vp, vs, nb, rr, d0, hd, R, 1);
}

/* F16 → F32 of nb rows of hd elements (rows `stride` bytes apart) into dst (hd apart). */
static void f16_block(float *dst, const char *src, size_t stride, int nb, int hd) {
    for (int jj = 0; jj < nb; jj++) {
        const uint16_t *s = (const uint16_t *)(src + (size_t)jj * stride);
        for (int d = 0; d < hd; d += 16) {
            const __mmask16 m = tail_mask(hd - d);
            _mm512_mask_storeu_ps(dst + (size_t)jj * hd + d, m, _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, s + d)));
        }
    }
}

AI void tile(const r1_attn_args *a, int g, int r0, int nr, const int NV) {
    const int M = 16 * NV, SR = NV == 1 ? 8 : 4;   /* SR: keys per scores_r call */
    const int hd = a->head_dim;
    const int kb = hd <= 128 ? 32 : 16;
    const bool f16 = a->type == R1_TYPE_F16;
    const size_t es = f16 ? 2 : 4;
    _Alignas(64) float Qt[MAX_HD * 32];
    _Alignas(64) float St[32 * 32];
    _Alignas(64) float alpha[32], lsum[32];
    _Alignas(64) int32_t lim[32];
    _Alignas(64) float kf[KBUF], vf[KBUF];
    float *orow[32];
    const float c = a->scale * LOG2E;
    for (int m = 0; m < M; m++) {
        const r1_attn_row row = r1_attn_row_at(a, g, r0 + (m < nr ? m : nr - 1));   /* padding: the last row again */
        for (int d = 0; d < hd; d++) Qt[(size_t)d * M + m] = row.q[d] * c;
        lim[m] = row.n_keys;
        orow[m] = row.out;
    }
    for (int r = 0; r < nr; r++) memset(orow[r], 0, (size_t)hd * sizeof(float));
    __m512 mv[2], lv[2];
    __m512i limv[2];
    for (int v = 0; v < NV; v++) {
        mv[v] = _mm512_set1_ps(-INFINITY);
        lv[v] = _mm512_setzero_ps();
        limv[v] = _mm512_load_si512(lim + 16 * v);
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
        /* scores */
        int jj = 0;
        for (; jj + SR <= nb; jj += SR) scores_r(St, Qt, kp, ks, jj, hd, SR, NV);
        for (; jj < nb; jj++) scores_r(St, Qt, kp, ks, jj, hd, 1, NV);
        /* causal mask: only blocks reaching past the first row's last key */
        if (j0 + nb > kmin)
            for (jj = 0; jj < nb; jj++) {
                const __m512i jv = _mm512_set1_epi32(j0 + jj);
                for (int v = 0; v < NV; v++) {
                    const __mmask16 vis = _mm512_cmpgt_epi32_mask(limv[v], jv);
                    float *s = St + (size_t)jj * M + 16 * v;
                    _mm512_store_ps(s, _mm512_mask_blend_ps(vis, _mm512_set1_ps(-INFINITY), _mm512_load_ps(s)));
                }
            }
        /* online softmax over the block, per lane (row) */
        for (int v = 0; v < NV; v++) {
            __m512 mx = mv[v];
            for (jj = 0; jj < nb; jj++) mx = _mm512_max_ps(mx, _mm512_load_ps(St + (size_t)jj * M + 16 * v));
            __m512 sum = _mm512_setzero_ps();
            for (jj = 0; jj < nb; jj++) {
                float *s = St + (size_t)jj * M + 16 * v;
                const __m512 p = exp2_ps(_mm512_sub_ps(_mm512_load_ps(s), mx));
                _mm512_store_ps(s, p);
                sum = _mm512_add_ps(sum, p);
            }
            const __m512 al = exp2_ps(_mm512_sub_ps(mv[v], mx));   /* 0 on the first block */
            _mm512_store_ps(alpha + 16 * v, al);
            lv[v] = _mm512_fmadd_ps(lv[v], al, sum);
            mv[v] = mx;
        }
        /* O = O·alpha + P V */
        int rr = 0;
        for (; rr + 4 <= nr; rr += 4) pv_rows(orow, alpha, St, M, vp, vs, nb, rr, hd, 4);
        for (; rr < nr; rr++) pv_rows(orow, alpha, St, M, vp, vs, nb, rr, hd, 1);
    }
    for (int v = 0; v < NV; v++) _mm512_store_ps(lsum + 16 * v, _mm512_div_ps(_mm512_set1_ps(1.0f), lv[v]));
    for (int r = 0; r < nr; r++) {
        const __m512 inv = _mm512_set1_ps(lsum[r]);
        for (int d = 0; d < hd; d += 16) {
            const __mmask16 m = tail_mask(hd - d);
            _mm512_mask_storeu_ps(orow[r] + d, m, _mm512_mul_ps(inv, _mm512_maskz_loadu_ps(m, orow[r] + d)));
        }
    }
}

void r1_attn_tile_avx512(const r1_attn_args *a, int g, int r0, int nr) {
    while (nr > 0) {
        const int m = R1_MIN(nr, 32);
        if (m <= 16) tile(a, g, r0, m, 1);
        else tile(a, g, r0, m, 2);
        r0 += m;
        nr -= m;
    }
}
