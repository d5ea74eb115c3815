/*
 * context.h — one sequence's state: KV cache, thread pool and preallocated scratch for
 * a chunk of up to n_batch tokens (internal; shared by context.c and forward.c).
 * Nothing is allocated during r1_eval: every buffer below is sized at creation, and the
 * MLA/MoE layers' scratch comes from `arena`, which grows (before a chunk, never during
 * one) only when a chunk needed more than any before it — so a decode loop allocates
 * nothing after its first step.
 */
#ifndef R1_CONTEXT_H
#define R1_CONTEXT_H

#include "kvcache.h"
#include "model.h"
#include "threadpool.h"

struct r1_context {
    const r1_model *model;
    int          n_ctx, n_batch, n_threads;
    int          pos;                /* tokens in the cache                            */
    threadpool  *pool;
    r1_par       par;                /* the pool as a runner for mla.c / moe.c          */
    r1_arena     arena;              /* their scratch (par.arena), fitted before each chunk */
    r1_kvcache   kv;
    r1_abort_fn  abort_fn;
    void        *abort_user;
    /* scratch, B = n_batch, E = n_embd, hd = head_dim, H/Hkv = heads */
    float *x;        /* [B][E]          residual stream                                   */
    float *xn;       /* [B][E]          RMS-normed input of the current sub-block          */
    float *y;        /* [B][E]          sub-block output before the residual add           */
    float *q;        /* [B][H*hd]       queries (GQA)                                      */
    float *att;      /* [B][H*hd]       attention output per head, concatenated            */
    float *kb, *vb;  /* [B][Hkv*hd]     this chunk's keys/values before they enter the cache */
    float *ffa;      /* [B][n_ff]       FFN gate, then silu(gate)*up                       */
    float *ffb;      /* [B][n_ff]       FFN up                                             */
    void  *act;      /* activations converted to a weight's vec_dot_type: max over weights  */
    size_t act_bytes;
};

/* Runs n (1 <= n <= n_batch) tokens at positions pos0.. through the model, writing
 * their K/V into the cache. logits: NULL, or (all) n rows of n_vocab, or (!all) one row
 * for the last token. Does not change ctx->pos. Errors: R1_ERR_CANCELLED (abort
 * callback, polled between layers), or a status from an MLA/MoE layer. */
r1_status forward_chunk(r1_context *ctx, const int32_t *tokens, int n, int pos0, float *logits, bool all,
                        r1_error *err);

#endif
