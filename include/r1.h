/*
 * r1.h — the public C API of r1, an inference engine for the DeepSeek-R1 family.
 *
 * Conventions (every function below follows them):
 *   - Handles are opaque. Every _create/_load function has a matching _free that accepts NULL.
 *   - Functions that can fail return r1_status (R1_OK == 0, errors < 0) and take an
 *     optional `r1_error *err` (may be NULL) that receives a one-line, human-readable
 *     message naming the file/tensor/argument at fault. Nothing here calls exit() or
 *     abort() on a recoverable error, and nothing prints unless asked to.
 *   - No hidden global state: several models/contexts may be used from several threads,
 *     as long as one context is used by one thread at a time. (The CPU-feature dispatch
 *     table is computed once, is immutable afterwards, and is the only process-wide state.)
 *   - Token ids are int32_t. Text is bytes (UTF-8 expected, any bytes accepted).
 */
#ifndef R1_H
#define R1_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

#define R1_VERSION "0.1.0"

/* ---- status codes ------------------------------------------------------------ */
typedef enum r1_status {
    R1_OK               =  0,
    R1_ERR_IO           = -1,  /* file missing, unreadable, or a write failed          */
    R1_ERR_FORMAT       = -2,  /* corrupt/truncated/inconsistent file or data           */
    R1_ERR_UNSUPPORTED  = -3,  /* unknown architecture, tensor type, pre-tokenizer, ... */
    R1_ERR_INVALID_ARG  = -4,  /* bad argument: token id out of range, bad option, ...  */
    R1_ERR_NOMEM        = -5,  /* allocation failed                                     */
    R1_ERR_CONTEXT_FULL = -6,  /* the tokens do not fit in the context (KV cache)       */
    R1_ERR_CANCELLED    = -7,  /* stopped by the caller (abort callback)                */
    R1_ERR_INTERNAL     = -8,  /* a bug: please report                                  */
} r1_status;

/* Static English name of a status ("ok", "i/o error", ...). Never NULL. */
const char *r1_status_str(r1_status s);

/* Error detail filled by failing calls. */
typedef struct r1_error {
    r1_status status;
    char msg[512];
} r1_error;

/* ---- opaque handles ------------------------------------------------------------ */
typedef struct r1_model     r1_model;      /* weights + hyper-parameters + tokenizer (read-only, shareable) */
typedef struct r1_context   r1_context;    /* one sequence: KV cache + scratch buffers + thread pool        */
typedef struct r1_tokenizer r1_tokenizer;  /* byte-level BPE tokenizer (read-only, shareable)               */
typedef struct r1_detok     r1_detok;      /* streaming detokenizer state (one per output stream)           */
typedef struct r1_sampler   r1_sampler;    /* sampling chain + RNG + recent-token history                   */

/* ---- model ------------------------------------------------------------------- */
/* Load progress: done and total are bytes of tensor data (summed over all parts of a split
 * model). Called with done = 0 first, then after each chunk of pages (every 16 MiB), with
 * done non-decreasing, and last with done == total. Runs on the loading thread; the
 * library prints nothing itself (a caller draws a bar and throttles it as it likes). */
typedef void (*r1_progress_fn)(void *user, uint64_t done, uint64_t total);

typedef struct r1_model_params {
    const char *pretokenizer;   /* override tokenizer.ggml.pre (NULL: from the file)              */
    bool        vocab_only;     /* load only the tokenizer + hyper-parameters, no tensors         */
    /* Page the weights in during r1_model_load, after the file(s) are mapped and validated:
     * one byte is read per page of tensor data (madvise(MADV_WILLNEED) a chunk ahead), so
     * the cost of reading the file is paid at load time, with progress_cb (if set)
     * reporting it, instead of during the first tokens. Nothing is copied: the pages are
     * the file's page cache, mapped read-only (RSS grows to the file size, as evaluation
     * would make it anyway). false (default): weights are paged in lazily by evaluation. */
    bool           progress;
    r1_progress_fn progress_cb;     /* optional; only called when progress is true            */
    void          *progress_user;   /* passed to progress_cb                                   */
    /* Weight memory. false (default): after validation the tensor data (all but
     * token_embd.weight when the model has a separate output.weight: that one is a row
     * gather and stays lazily mapped) is read (pread, 2 threads) into anonymous memory
     * aligned to 2 MiB with madvise(MADV_HUGEPAGE), so decode, which streams every weight
     * once per token, is not limited by TLB misses on 4 KiB page-cache pages. RSS is the
     * copied size (touched file pages count the same under mmap); the page cache of the
     * file is not duplicated in RSS. Falls back to the file mmap (r1_model_info.hugepages
     * false, hugepages_note says why) when transparent huge pages are "never"/absent, the
     * copy does not fit in MemAvailable, or the allocation fails. progress, if set,
     * reports the copy. true, or the environment variable R1_MMAP=1: use the weights in
     * place from the read-only mmap (no copy; faster load, slower decode). */
    bool           mmap_weights;
} r1_model_params;

r1_model_params r1_model_default_params(void);

/* Loads a GGUF model (path of the file, or of the first part of a split model:
 * "name-00001-of-0000N.gguf"). Weights: see r1_model_params.mmap_weights. */
r1_status r1_model_load(const char *path, const r1_model_params *params,
                        r1_model **out, r1_error *err);
void      r1_model_free(r1_model *model);

/* Hyper-parameters, as read from the file (read-only view, valid while the model lives). */
typedef struct r1_model_info {
    const char *arch;            /* "llama", "qwen2", "qwen3", "deepseek2"          */
    const char *name;            /* general.name or ""                               */
    int64_t n_params;            /* total parameter count                           */
    uint64_t file_bytes;         /* total size of the file(s)                       */
    int n_vocab, n_ctx_train, n_embd, n_layer, n_head, n_head_kv, n_ff;
    int head_dim;                /* per-head q/k width                              */
    size_t kv_bytes_per_token;   /* KV cache bytes per token, F32 cache (F16: half) */
    bool hugepages;              /* weights copied to huge-page memory (else: mmap) */
    uint64_t hugepages_bytes;    /* size of that copy (0: none)                     */
    const char *hugepages_note;  /* why not, when requested but not done ("" else)  */
} r1_model_info;

const r1_model_info  *r1_model_get_info(const r1_model *model);
/* The model's tokenizer, or NULL when the file has none or it could not be loaded
 * (the weights stay usable); r1_model_tokenizer_error() then says why ("" otherwise). */
const r1_tokenizer   *r1_model_get_tokenizer(const r1_model *model);
const char           *r1_model_tokenizer_error(const r1_model *model);
/* Raw GGUF metadata string (e.g. "tokenizer.chat_template"), NULL if absent. */
const char *r1_model_meta_str(const r1_model *model, const char *key);

/* ---- context (one sequence) --------------------------------------------------- */
typedef struct r1_context_params {
    int n_ctx;        /* KV cache size in tokens; 0 = model's trained context, capped to memory */
    int n_threads;    /* 0 = number of physical cores                                           */
    int n_batch;      /* max tokens per forward call internally (prompt is chunked); 0 = 512    */
    bool kv_f16;      /* KV cache in F16 (half the memory; default false = F32)                 */
} r1_context_params;

r1_context_params r1_context_default_params(void);

r1_status r1_context_create(const r1_model *model, const r1_context_params *params,
                            r1_context **out, r1_error *err);
void      r1_context_free(r1_context *ctx);
int       r1_context_n_ctx(const r1_context *ctx);
int       r1_context_pos(const r1_context *ctx);     /* tokens currently in the cache */
/* Forget cached tokens from position `pos` on (0 = clear). */
void      r1_context_truncate(r1_context *ctx, int pos);

/* Optional cancellation: polled between layers; returning true stops r1_eval
 * with R1_ERR_CANCELLED (the cache is rolled back to where the call started). */
typedef bool (*r1_abort_fn)(void *user);
void r1_context_set_abort(r1_context *ctx, r1_abort_fn fn, void *user);

/* Runs n tokens through the model, appending them to the cache (positions pos..pos+n-1).
 * logits: NULL, or n_vocab floats (logits after the last token) when all == false,
 *         or n × n_vocab floats (row i = logits after token i) when all == true.
 * Errors: R1_ERR_CONTEXT_FULL if pos+n > n_ctx, R1_ERR_INVALID_ARG on a bad token id. */
r1_status r1_eval(r1_context *ctx, const int32_t *tokens, int n,
                  float *logits, bool all, r1_error *err);

/* ---- tokenizer ----------------------------------------------------------------- */
enum {
    R1_TOK_ADD_BOS       = 1u << 0,  /* prepend BOS once (if the vocab has one)           */
    R1_TOK_SPLIT_SPECIAL = 1u << 1,  /* treat *special* tokens' text as plain text (HF
                                        split_special_tokens=True); non-special added
                                        tokens are still matched                          */
};

r1_status r1_tokenizer_load_gguf(const char *path, const char *pretokenizer,
                                 r1_tokenizer **out, r1_error *err);
r1_status r1_tokenizer_load_json(const char *tokenizer_json_path, const char *pretokenizer,
                                 r1_tokenizer **out, r1_error *err);
void      r1_tokenizer_free(r1_tokenizer *tok);

/* Encodes len bytes of text. *ids is malloc'd (free with free()); *n_ids its length. */
r1_status r1_tokenize(const r1_tokenizer *tok, const char *text, size_t len, unsigned flags,
                      int32_t **ids, size_t *n_ids, r1_error *err);

int         r1_vocab_size(const r1_tokenizer *tok);
int32_t     r1_token_bos(const r1_tokenizer *tok);            /* -1 if none */
int32_t     r1_token_eos(const r1_tokenizer *tok);            /* -1 if none */
bool        r1_token_is_eog(const r1_tokenizer *tok, int32_t id);   /* eos/eot/... */
bool        r1_token_is_special(const r1_tokenizer *tok, int32_t id);
int32_t     r1_token_find(const r1_tokenizer *tok, const char *text); /* exact piece, -1 if none */
const char *r1_pretokenizer_name(const r1_tokenizer *tok);

/* The raw bytes of one token (byte-level map undone). Writes at most cap bytes, returns
 * the full length (which may exceed cap), or -1 for an invalid id. */
int r1_token_to_bytes(const r1_tokenizer *tok, int32_t id, char *buf, size_t cap);

/* Streaming detokenizer: emits only complete UTF-8 sequences (bytes of an invalid
 * sequence are emitted as-is once they can no longer become valid). */
enum { R1_DETOK_SHOW_SPECIAL = 1u << 0 };  /* default: special tokens produce no text */
r1_status r1_detok_create(const r1_tokenizer *tok, unsigned flags, r1_detok **out, r1_error *err);
void      r1_detok_free(r1_detok *d);
/* Pushes one token; returns the number of bytes now ready, written to out (up to cap;
 * 64 bytes + the longest token is always enough). Returns -1 for an invalid id. */
int       r1_detok_push(r1_detok *d, int32_t id, char *out, size_t cap);
/* Flushes whatever is pending (an incomplete sequence at the end of the stream). */
int       r1_detok_flush(r1_detok *d, char *out, size_t cap);

/* ---- sampler ------------------------------------------------------------------- */
typedef struct r1_sampler_params {
    float    temperature;     /* 0 = greedy (argmax)                     default 0.6  */
    int      top_k;           /* 0 = off                                 default 0    */
    float    top_p;           /* 1 = off                                 default 0.95 */
    float    min_p;           /* 0 = off                                 default 0    */
    float    repeat_penalty;  /* 1 = off                                 default 1    */
    int      repeat_last_n;   /* window of recent tokens for the penalty default 64   */
    uint64_t seed;            /* RNG seed                                              */
} r1_sampler_params;

r1_sampler_params r1_sampler_default_params(void);
r1_status r1_sampler_create(const r1_sampler_params *params, int n_vocab,
                            r1_sampler **out, r1_error *err);
void      r1_sampler_free(r1_sampler *s);
/* Picks a token from n_vocab logits (not modified). */
int32_t   r1_sampler_sample(r1_sampler *s, const float *logits);
/* Records a token in the history (for the repetition penalty); sample() does not. */
void      r1_sampler_accept(r1_sampler *s, int32_t id);
void      r1_sampler_reset(r1_sampler *s);

#ifdef __cplusplus
}
#endif
#endif /* R1_H */
