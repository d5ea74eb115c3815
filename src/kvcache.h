/*
 * kvcache.h — the per-sequence cache of attention keys/values (internal).
 *
 * Layout: for every layer l and plane p (0: K, or MLA's latent row; 1: V, absent for MLA),
 * n_ctx rows of width[l][p] elements of `type` (F32, or F16 for half the memory), row
 * `pos` holding the token at position pos. Widths come from the layers
 * (r1_layer.cache_width), not from a global head shape, so GQA layers
 * (n_head_kv*head_dim) and MLA layers (kv_lora_rank + qk_rope) coexist.
 * One aligned allocation; pages are touched only as positions are filled.
 * Rows at positions >= the context's pos are garbage and never read.
 */
#ifndef R1_KVCACHE_H
#define R1_KVCACHE_H

#include "model.h"

typedef struct r1_kvcache {
    int     n_layer, n_ctx;
    r1_type type;          /* R1_TYPE_F32 or R1_TYPE_F16                            */
    size_t  esize;         /* bytes per element                                     */
    char   *data;          /* the single allocation                                 */
    char  **plane[2];      /* [n_layer]: plane p of layer l (NULL when width 0)     */
    int    *width[2];      /* [n_layer]: elements per row                           */
    size_t  bytes;         /* total size                                            */
} r1_kvcache;

/* Allocates the cache for model m, n_ctx positions, elements of type (F32 or F16). */
r1_status kvcache_init(r1_kvcache *kv, const r1_model *m, int n_ctx, r1_type type, r1_error *err);
void      kvcache_free(r1_kvcache *kv);
/* Row `pos` of plane p of layer l. */
static inline void *kvcache_row(const r1_kvcache *kv, int l, int p, int pos) {
    return kv->plane[p][l] + (size_t)pos * (size_t)kv->width[p][l] * kv->esize;
}
/* Bytes between consecutive rows of plane p of layer l. */
static inline size_t kvcache_stride(const r1_kvcache *kv, int l, int p) {
    return (size_t)kv->width[p][l] * kv->esize;
}

#endif
