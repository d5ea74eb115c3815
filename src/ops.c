/*
 * ops.c — see ops.h. Plain C loops the compiler vectorises; the heavy products go
 * through the type traits' SIMD kernels (r1_gemm / vec_dot).
 */
#include "act.h"
#include "ops.h"
#include <math.h>
#include <string.h>

void ops_rmsnorm(float *out, const float *x, const float *w, int n, float eps) { r1_rmsnorm(out, x, w, n, eps); }

void ops_swiglu(float *out, const float *gate, const float *up, int n) {
    if (out == up && out != gate) {   /* the kernels work in place on the gate */
        for (int i = 0; i < n; i++) out[i] = gate[i] / (1.0f + expf(-gate[i])) * up[i];
        return;
    }
    if (out != gate) memmove(out, gate, (size_t)(n > 0 ? n : 0) * sizeof(float));
    r1_silu_mul(out, up, n);
}

void ops_add(float *out, const float *a, const float *b, int n) { r1_add(out, a, b, n); }

void ops_add_bias(float *y, int n_tok, int n, size_t ldy, const float *b) {
    for (int t = 0; t < n_tok; t++) {
        float *yt = y + (size_t)t * ldy;
        for (int i = 0; i < n; i++) yt[i] += b[i];
    }
}

void ops_rope(float *x, int n_head, int head_dim, int n_rot, int pos, const double *inv_freq, bool neox) {
    const int half = n_rot / 2;
    for (int i = 0; i < half; i++) {
        const double th = (double)pos * inv_freq[i];
        const float c = (float)cos(th), s = (float)sin(th);
        for (int h = 0; h < n_head; h++) {
            float *xh = x + (size_t)h * head_dim;
            const int i0 = neox ? i : 2 * i, i1 = neox ? i + half : 2 * i + 1;
            const float a = xh[i0], b = xh[i1];
            xh[i0] = a * c - b * s;
            xh[i1] = a * s + b * c;
        }
    }
}

/* ---- products ------------------------------------------------------------------------ */
size_t ops_act_bytes(r1_type t, int64_t n_cols, int n_tok) {
    const r1_type_traits *tr = r1_type_get_traits(t);
    if (!tr) return 0;
    return r1_row_size(tr->vec_dot_type, n_cols) * (size_t)(n_tok > 0 ? n_tok : 0);
}

typedef struct quant_job {
    const r1_type_traits *vt;
    const float *x; size_t ldx; int64_t n_cols;
    char *dst; size_t rb; int n_tok, n_tasks;
} quant_job;

static void quant_task(void *arg, int i) {
    const quant_job *j = arg;
    const int t0 = (int)((int64_t)j->n_tok * i / j->n_tasks), t1 = (int)((int64_t)j->n_tok * (i + 1) / j->n_tasks);
    for (int t = t0; t < t1; t++) j->vt->from_float(j->x + (size_t)t * j->ldx, j->dst + (size_t)t * j->rb, j->n_cols);
}

size_t ops_quantize_rows(threadpool *pool, r1_type t, const float *x, int n_tok, int64_t n_cols,
                         size_t ldx, void *dst) {
    const r1_type_traits *tr = r1_type_get_traits(t);
    const r1_type_traits *vt = r1_type_get_traits(tr->vec_dot_type);
    quant_job j = {vt, x, ldx, n_cols, dst, r1_row_size(tr->vec_dot_type, n_cols), n_tok, 1};
    j.n_tasks = R1_MIN(n_tok, threadpool_n_threads(pool));
    if ((int64_t)n_tok * n_cols < 8192) j.n_tasks = 1;   /* a decode row: not worth a dispatch */
    threadpool_run(pool, quant_task, &j, j.n_tasks);
    return j.rb;
}

typedef struct matmul_job {
    const r1_type_traits *tr;
    const r1_wmat *w;
    const void *xq; size_t xq_stride;
    float *y; size_t ldy;
    int n_tok, n_tasks;
    bool amx;   /* r1_gemm will use the AMX kernel (bigger token blocks) */
} matmul_job;

/* Task i of n: output rows [i*R/n, (i+1)*R/n) cut on whole row groups (r1_wmat_row_group:
 * 16 for a repacked matrix; tasks differ by at most one group). */
static void matmul_task(void *arg, int i) {
    const matmul_job *j = arg;
    const int64_t R = j->w->n_rows;
    const int grp = r1_wmat_row_group(j->w);
    const int64_t r0 = r1_rows_part(R, grp, i, j->n_tasks), r1 = r1_rows_part(R, grp, i + 1, j->n_tasks);
    /* Cache blocking: a block of MM_ROWS weight rows stays in L2 while all tokens pass
     * over it in blocks of MM_TOKS activation rows (which stay in L1/L2), so weights are
     * read from memory once per call and activations once per row block. */
    /* With AMX the kernel packs each weight block into tiles once per call: give it more
     * tokens per call so the packing is amortised, and more rows so the activation block
     * (256 tokens) is streamed once per 64 weight rows (measured 64 x 256 against 32 x 128,
     * 64 x 128, 128 x 256, 64 x 512 and 256 x 128 on the 1.5B and 4096-square shapes). */
    const int MM_ROWS = j->amx ? 64 : 32;
    const int MM_TOKS = j->amx ? 256 : 32;
    for (int64_t rb = r0; rb < r1; rb += MM_ROWS) {
        const int nr = (int)R1_MIN((int64_t)MM_ROWS, r1 - rb);
        const char *wrow = (const char *)j->w->data + (size_t)rb * j->w->row_bytes;
        for (int tb = 0; tb < j->n_tok; tb += MM_TOKS) {
            const int nc = R1_MIN(MM_TOKS, j->n_tok - tb);
            r1_gemm(j->tr, (int)j->w->n_cols, nr, nc, wrow, j->w->row_bytes,
                    (const char *)j->xq + (size_t)tb * j->xq_stride, j->xq_stride,
                    j->y + (size_t)tb * j->ldy + rb, j->ldy);
        }
    }
}

void ops_matmul_q(threadpool *pool, const r1_wmat *w, int n_tok, const void *xq, size_t xq_stride,
                  float *y, size_t ldy) {
    if (n_tok <= 0) return;
    matmul_job j = {r1_type_get_traits(w->type), w, xq, xq_stride, y, ldy, n_tok, 1,
                    r1_amx_gemm_active(w->type)};
    const int nth = threadpool_n_threads(pool);
    /* a few tasks per thread so uneven progress balances; >= 16 rows per task */
    int64_t n_tasks = (int64_t)nth * 4;
    if (n_tasks > w->n_rows / 16) n_tasks = w->n_rows / 16;
    j.n_tasks = n_tasks < 1 ? 1 : (int)n_tasks;
    threadpool_run(pool, matmul_task, &j, j.n_tasks);
}

void ops_matmul(threadpool *pool, const r1_wmat *w, int n_tok, const float *x, size_t ldx,
                void *act, float *y, size_t ldy) {
    const size_t stride = ops_quantize_rows(pool, w->type, x, n_tok, w->n_cols, ldx, act);
    ops_matmul_q(pool, w, n_tok, act, stride, y, ldy);
}
