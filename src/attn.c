/*
 * attn.c — the scalar reference tile kernel of causal GQA attention and the parallel
 * driver (see attn.h).
 */
#include "attn.h"
#include "common.h"
#include <math.h>

#define ATTN_LOG2E 1.4426950408889634f

enum { REF_ROWS = 32, REF_BUF = 4096 /* floats per converted K or V block */ };

/* Rows r0..r0+nr-1 of kv head g, in sub-tiles of REF_ROWS rows. For each key block:
 * s = (scale·log2e) q·k (masked past the row's position), running max m and sum l per row,
 * O = O·2^(m_old - m_new) + Σ_j 2^(s_j - m_new) v_j; finally O /= l. */
void r1_attn_tile_ref(const r1_attn_args *a, int g, int r0, int nr) {
    const int hd = a->head_dim;
    const float c = a->scale * ATTN_LOG2E;
    int kb = REF_BUF / hd;
    kb = kb < 1 ? 1 : kb > 64 ? 64 : kb;
    float kf[REF_BUF];   /* >= one row: head_dim <= R1_MAX_HEAD_DIM (1024) */
    float vf[REF_BUF];
    float s[REF_ROWS][64], mrow[REF_ROWS], lrow[REF_ROWS], alpha[REF_ROWS];
    const float *qrow[REF_ROWS];
    float *orow[REF_ROWS];
    int lim[REF_ROWS];
    const size_t es = a->type == R1_TYPE_F16 ? 2 : 4;
    for (int rs = r0; rs < r0 + nr; rs += REF_ROWS) {
        const int m = R1_MIN(REF_ROWS, r0 + nr - rs);
        for (int r = 0; r < m; r++) {
            const r1_attn_row row = r1_attn_row_at(a, g, rs + r);
            qrow[r] = row.q;
            orow[r] = row.out;
            lim[r] = row.n_keys;
            mrow[r] = -INFINITY;
            lrow[r] = 0.0f;
            for (int d = 0; d < hd; d++) orow[r][d] = 0.0f;
        }
        const int nk = lim[m - 1];   /* rows are in token order: the last sees the most keys */
        for (int j0 = 0; j0 < nk; j0 += kb) {
            const int nb = R1_MIN(kb, nk - j0);
            /* the block's keys and values as F32, row jj at kf + jj*hd */
            for (int jj = 0; jj < nb; jj++) {
                const char *kr = (const char *)a->k + (size_t)(j0 + jj) * a->k_stride + (size_t)g * hd * es;
                const char *vr = (const char *)a->v + (size_t)(j0 + jj) * a->v_stride + (size_t)g * hd * es;
                if (a->type == R1_TYPE_F16) {
                    const uint16_t *k16 = (const uint16_t *)kr, *v16 = (const uint16_t *)vr;
                    for (int d = 0; d < hd; d++) {
                        kf[jj * hd + d] = r1_fp16_to_fp32(k16[d]);
                        vf[jj * hd + d] = r1_fp16_to_fp32(v16[d]);
                    }
                } else {
                    memcpy(kf + (size_t)jj * hd, kr, (size_t)hd * sizeof(float));
                    memcpy(vf + (size_t)jj * hd, vr, (size_t)hd * sizeof(float));
                }
            }
            for (int r = 0; r < m; r++) {
                const int nv = R1_MAX(0, R1_MIN(nb, lim[r] - j0));   /* keys of the block this row sees */
                float mx = mrow[r];
                for (int jj = 0; jj < nv; jj++) {
                    float dot = 0.0f;
                    for (int d = 0; d < hd; d++) dot += qrow[r][d] * kf[jj * hd + d];
                    s[r][jj] = dot * c;
                    mx = s[r][jj] > mx ? s[r][jj] : mx;
                }
                float sum = 0.0f;
                for (int jj = 0; jj < nv; jj++) {
                    s[r][jj] = exp2f(s[r][jj] - mx);
                    sum += s[r][jj];
                }
                for (int jj = nv; jj < nb; jj++) s[r][jj] = 0.0f;
                alpha[r] = nv > 0 ? exp2f(mrow[r] - mx) : 1.0f;   /* 2^-inf = 0 on the first block */
                lrow[r] = lrow[r] * alpha[r] + sum;
                mrow[r] = mx;
            }
            for (int r = 0; r < m; r++) {
                float *o = orow[r];
                for (int d = 0; d < hd; d++) o[d] *= alpha[r];
                for (int jj = 0; jj < nb; jj++) {
                    const float p = s[r][jj];
                    if (p == 0.0f) continue;
                    for (int d = 0; d < hd; d++) o[d] += p * vf[jj * hd + d];
                }
            }
        }
        for (int r = 0; r < m; r++) {
            const float inv = 1.0f / lrow[r];
            for (int d = 0; d < hd; d++) orow[r][d] *= inv;
        }
    }
}

r1_attn_tile_fn r1_attn_tile_kernel(r1_isa isa, int head_dim) {
#if defined(__x86_64__) || defined(_M_X64)
    if (isa == R1_ISA_AVX512 && head_dim <= 256 && r1_type_get_traits_isa(R1_TYPE_F32, R1_ISA_AVX512))
        return r1_attn_tile_avx512;
    if ((isa == R1_ISA_AVX2 || isa == R1_ISA_AVX512) && head_dim <= 256 && head_dim % 8 == 0 &&
        r1_type_get_traits_isa(R1_TYPE_F32, R1_ISA_AVX2))
        return r1_attn_tile_avx2;
#else
    (void)isa;
    (void)head_dim;
#endif
    return r1_attn_tile_ref;
}

enum { TILE_ROWS = 32 };

typedef struct attn_job {
    const r1_attn_args *a;
    r1_attn_tile_fn fn;
    int rows, n_tiles;   /* rows per kv head (n*G), tiles per kv head */
} attn_job;

/* Task i: kv head i mod Hkv, tile n_tiles-1 - i/Hkv — the last tokens' tiles (the most
 * keys) are claimed first, so the short ones fill the gaps at the end. */
static void attn_task(void *arg, int i) {
    const attn_job *j = arg;
    const int g = i % j->a->n_head_kv, tile = j->n_tiles - 1 - i / j->a->n_head_kv;
    const int r0 = tile * TILE_ROWS;
    j->fn(j->a, g, r0, R1_MIN(TILE_ROWS, j->rows - r0));
}

void r1_attn(threadpool *pool, const r1_attn_args *a, r1_isa isa) {
    if (a->n <= 0) return;
    attn_job j = {a, r1_attn_tile_kernel(isa, a->head_dim), 0, 0};
    j.rows = a->n * (a->n_head / a->n_head_kv);
    j.n_tiles = (j.rows + TILE_ROWS - 1) / TILE_ROWS;
    threadpool_run(pool, attn_task, &j, j.n_tiles * a->n_head_kv);
}
