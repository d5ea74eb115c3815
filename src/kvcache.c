/* kvcache.c — see kvcache.h.
 * Caches of >= KV_HUGE_MIN bytes live in anonymous memory aligned to 2 MiB with
 * madvise(MADV_HUGEPAGE): attention at depth streams the whole cache every token (deepseek2
 * at 4096 positions: 38 MB per token), and on 4 KiB pages the TLB misses cost time as they
 * do for the weights (docs/engine.md). Smaller caches use r1_alloc_aligned (a huge page per
 * plane would only inflate RSS). The mapping is zero-filled and touched lazily. */
#include "kvcache.h"
#include <sys/mman.h>

#define KV_HUGE     ((size_t)2 << 20)
#define KV_HUGE_MIN ((size_t)16 << 20)

/* 2 MiB-aligned anonymous region of len (a multiple of 2 MiB) bytes, or NULL. */
static char *huge_alloc(size_t len) {
    char *base = r1_map_aligned(len, KV_HUGE);
    if (!base) return NULL;
#ifdef MADV_HUGEPAGE
    (void)madvise(base, len, MADV_HUGEPAGE);   /* no THP: plain pages, still correct */
#endif
    return base;
}

r1_status kvcache_init(r1_kvcache *kv, const r1_model *m, int n_ctx, r1_type type, r1_error *err) {
    memset(kv, 0, sizeof *kv);
    if (type != R1_TYPE_F32 && type != R1_TYPE_F16)
        return r1_set_error(err, R1_ERR_INVALID_ARG, "kv cache: type %s unsupported (f32, f16)", r1_type_name(type));
    const int L = m->info.n_layer;
    kv->n_layer = L;
    kv->n_ctx = n_ctx;
    kv->type = type;
    kv->esize = type == R1_TYPE_F16 ? 2 : 4;
    for (int p = 0; p < 2; p++) {
        kv->plane[p] = calloc((size_t)L, sizeof(char *));
        kv->width[p] = calloc((size_t)L, sizeof(int));
        if (!kv->plane[p] || !kv->width[p]) { kvcache_free(kv); return r1_set_error(err, R1_ERR_NOMEM, "kv cache: out of memory"); }
    }
    size_t total = 0;   /* bytes; each plane rounded up to 64 bytes */
    for (int l = 0; l < L; l++)
        for (int p = 0; p < 2; p++) {
            size_t n;
            kv->width[p][l] = m->layers[l].cache_width[p];
            if (!r1_mul_ok((size_t)n_ctx, (size_t)kv->width[p][l] * kv->esize, &n) ||
                !r1_add_ok(total, (n + 63) & ~(size_t)63, &total)) {
                kvcache_free(kv);
                return r1_set_error(err, R1_ERR_NOMEM, "kv cache: %d positions overflow the address space", n_ctx);
            }
        }
    kv->bytes = total;
    if (total >= KV_HUGE_MIN && total <= SIZE_MAX - 2 * KV_HUGE) {
        kv->data = huge_alloc((total + KV_HUGE - 1) & ~(KV_HUGE - 1));
        if (!kv->data) kv->bytes = 0;   /* kvcache_free: not a mapping */
    } else {
        kv->data = r1_alloc_aligned(total ? total : 64);
    }
    if (!kv->data) {
        kvcache_free(kv);
        return r1_set_error(err, R1_ERR_NOMEM, "kv cache: cannot allocate %zu MiB for %d positions", total >> 20, n_ctx);
    }
    size_t off = 0;
    for (int l = 0; l < L; l++)
        for (int p = 0; p < 2; p++) {
            const size_t n = (size_t)n_ctx * (size_t)kv->width[p][l] * kv->esize;
            kv->plane[p][l] = kv->width[p][l] ? kv->data + off : NULL;
            off += (n + 63) & ~(size_t)63;
        }
    return R1_OK;
}

void kvcache_free(r1_kvcache *kv) {
    if (!kv) return;
    if (kv->data && kv->bytes >= KV_HUGE_MIN && kv->bytes <= SIZE_MAX - 2 * KV_HUGE)
        munmap(kv->data, (kv->bytes + KV_HUGE - 1) & ~(KV_HUGE - 1));
    else
        r1_free_aligned(kv->data);
    for (int p = 0; p < 2; p++) { free(kv->plane[p]); free(kv->width[p]); }
    memset(kv, 0, sizeof *kv);
}
