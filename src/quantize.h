/*
 * quantize.h — `r1 quantize`: converting a GGUF model's weights to a quantized file type
 * (internal).
 *
 * File types use llama.cpp's LLAMA_FTYPE numbering (stored as general.file_type). A file
 * type names a default tensor type plus, for the _S/_M mixes, llama.cpp's per-tensor
 * rules (llama_tensor_get_type): e.g. Q4_K_M keeps output.weight and half of the
 * attn_v / ffn_down layers (use_more_bits) in Q6_K. Which tensors are quantized at all:
 * names ending in "weight" with >= 2 dims, except *_norm.weight, ffn_gate_inp.weight
 * (MoE router), pos_embd/token_types; everything else is copied unchanged.
 */
#ifndef R1_QUANTIZE_H
#define R1_QUANTIZE_H

#include "common.h"
#include "quant.h"
#include <stdbool.h>

typedef enum r1_ftype {
    R1_FTYPE_ALL_F32 = 0, R1_FTYPE_F16 = 1, R1_FTYPE_Q4_0 = 2, R1_FTYPE_Q4_1 = 3,
    R1_FTYPE_Q8_0 = 7, R1_FTYPE_Q5_0 = 8, R1_FTYPE_Q5_1 = 9, R1_FTYPE_Q2_K = 10,
    R1_FTYPE_Q3_K_S = 11, R1_FTYPE_Q3_K_M = 12, R1_FTYPE_Q3_K_L = 13, R1_FTYPE_Q4_K_S = 14,
    R1_FTYPE_Q4_K_M = 15, R1_FTYPE_Q5_K_S = 16, R1_FTYPE_Q5_K_M = 17, R1_FTYPE_Q6_K = 18,
    R1_FTYPE_IQ4_NL = 25, R1_FTYPE_IQ4_XS = 30, R1_FTYPE_BF16 = 32,
} r1_ftype;

/* "Q4_K_M" (case-insensitive) -> file type; false if r1 cannot produce it. */
bool        r1_ftype_from_name(const char *name, r1_ftype *out);
const char *r1_ftype_name(r1_ftype f);            /* "Q4_K_M"; "?" if unknown        */
const char *r1_ftype_valid_names(void);           /* "Q8_0, Q4_0, ..." for messages   */
r1_type     r1_ftype_default_type(r1_ftype f);    /* tensor type of the bulk          */

/* Model facts the mixture rules look at. */
typedef struct r1_qmix_model {
    int n_layer;          /* block_count                                              */
    int n_gqa;            /* head_count / head_count_kv (1 if unknown)                */
    int n_expert;         /* expert_count (0 or 1: dense)                             */
    int n_attention_wv;   /* "attn_v-like" tensors: *attn_v.weight, attn_qkv, attn_kv_b */
    bool has_output;      /* output.weight exists (else token_embd doubles as output) */
    bool llama_70b;       /* llama arch, 80 layers, GQA: llama.cpp's LLM_TYPE_70B         */
} r1_qmix_model;

/* Running state: counters advance as tensors are decided, in llama.cpp's order
 * (by the layer number in "blk.N.", tensors without one first, then by name). Zero-initialise. */
typedef struct r1_qmix_state { int i_attention_wv, i_ffn_down, n_fallback; } r1_qmix_state;

/* Should this tensor be quantized at all (name/shape rules above)? */
bool r1_qmix_should_quantize(const char *name, int n_dims);

/* The type for tensor `name` (row length ne0) under file type f. Errors: a row length
 * that no fallback type can hold (R1_ERR_INVALID_ARG naming the tensor), or a layer index
 * missing from an expert tensor's name (R1_ERR_FORMAT). */
r1_status r1_qmix_tensor_type(r1_ftype f, const r1_qmix_model *m, r1_qmix_state *st, const char *name,
                              int64_t ne0, r1_type *out, r1_error *err);

/* ---- the whole file (quantize.c) ------------------------------------------------------- */
typedef struct r1_quantize_params {
    r1_ftype ftype;
    int      n_threads;          /* <= 0: 1                                                */
    bool     allow_requantize;   /* accept quantized input tensors (with a warning)        */
    bool     progress;           /* progress bar on stderr                                 */
    bool     verbose;            /* one line per tensor on stderr                          */
    bool     report;             /* warnings (requantizing, fallbacks) + summary on stderr */
} r1_quantize_params;

/* Reads in_path (GGUF), writes out_path (via a temp file renamed on success: never a
 * half-written out_path). */
r1_status r1_quantize_file(const char *in_path, const char *out_path, const r1_quantize_params *p,
                           r1_error *err);

#endif
