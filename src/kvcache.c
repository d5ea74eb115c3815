/* kvcache.c — see kvcache.h. */
#include "kvcache.h"

r1_status kvcache_init(r1_kvcache *kv, const r1_model *m, int n_ctx, r1_error *err) {
    memset(kv, 0, sizeof *kv);
    const int L = m->info.n_layer;
    kv->n_layer = L;
    kv->n_ctx = n_ctx;
    for (int p = 0; p < 2; p++) {
        kv->plane[p] = calloc((size_t)L, sizeof(float *));
        kv->width[p] = calloc((size_t)L, sizeof(int));
        if (!kv->plane[p] || !kv->width[p]) { kvcache_free(kv); return r1_set_error(err, R1_ERR_NOMEM, "kv cache: out of memory"); }
    }
    size_t total = 0;   /* in floats; each plane rounded up to 16 floats (64 bytes) */
    for (int l = 0; l < L; l++)
        for (int p = 0; p < 2; p++) {
            size_t n;
            kv->width[p][l] = m->layers[l].cache_width[p];
            if (!r1_mul_ok((size_t)n_ctx, (size_t)kv->width[p][l], &n) || !r1_add_ok(total, (n + 15) & ~(size_t)15, &total)) {
                kvcache_free(kv);
                return r1_set_error(err, R1_ERR_NOMEM, "kv cache: %d positions overflow the address space", n_ctx);
            }
        }
    if (!r1_mul_ok(total, sizeof(float), &kv->bytes) || !(kv->data = r1_alloc_aligned(kv->bytes ? kv->bytes : 64))) {
        kvcache_free(kv);
        return r1_set_error(err, R1_ERR_NOMEM, "kv cache: cannot allocate %zu MiB for %d positions", total * 4 >> 20, n_ctx);
    }
    size_t off = 0;
    for (int l = 0; l < L; l++)
        for (int p = 0; p < 2; p++) {
            const size_t n = (size_t)n_ctx * (size_t)kv->width[p][l];
            kv->plane[p][l] = kv->width[p][l] ? kv->data + off : NULL;
            off += (n + 15) & ~(size_t)15;
        }
    return R1_OK;
}

void kvcache_free(r1_kvcache *kv) {
    if (!kv) return;
    r1_free_aligned(kv->data);
    for (int p = 0; p < 2; p++) { free(kv->plane[p]); free(kv->width[p]); }
    memset(kv, 0, sizeof *kv);
}
