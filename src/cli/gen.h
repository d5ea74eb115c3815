/*
 * gen.h — one generation session shared by `r1 run` and `r1 chat`: options, model +
 * context + sampler, prompt prefill with KV-cache reuse, and the streaming generation
 * loop (detokenizer -> reasoning splitter -> terminal / JSON).
 *
 * Cache invariant: s->cache[0..n_cache) are exactly the tokens in the context's KV cache
 * (r1_context_pos(ctx) == n_cache) and s->logits holds the logits after the last one
 * whenever has_logits is true.
 */
#ifndef R1_GEN_H
#define R1_GEN_H
#include "r1.h"
#include "chat.h"
#include <signal.h>
#include <stdio.h>

typedef struct gen_opts {
    const char *model, *prompt, *tpl_name, *system;
    int n_predict;            /* -n: max generated tokens (-1 = until end or context full) */
    int n_ctx, n_threads;
    r1_sampler_params sp;
    bool raw, hide_thinking, no_think, json;
    bool kv_f16;              /* --kv-f16: F16 KV cache */
    bool mmap;                /* --mmap: weights from the file map, no huge-page copy */
    int think_budget;         /* -1 = off */
} gen_opts;

void gen_opts_init(gen_opts *o);
/* Parses the option at argv[*i] (advancing *i past its value). Returns 1 if it was a
 * generation option, 0 if not, -1 on a bad value (message printed, naming cmd). */
int gen_parse_opt(gen_opts *o, const char *cmd, int argc, char **argv, int *i);
/* Usage text of the shared options. */
void gen_usage_opts(FILE *f);

typedef struct gen_session {
    r1_model *model;
    r1_context *ctx;
    const r1_tokenizer *tok;
    r1_sampler *smp;
    const chat_template *tpl;
    int n_vocab, n_ctx;
    float *logits;              /* [n_vocab] after the last cached token    */
    bool has_logits;
    int32_t *cache;             /* [n_ctx] tokens in the KV cache            */
    int n_cache;
    volatile sig_atomic_t *stop;  /* set asynchronously (SIGINT) to cancel   */
} gen_session;

/* Loads the model (progress bar on a TTY), creates the context and sampler, picks the
 * template (--template, or recognised from the GGUF, with a notice on stderr if unknown). */
r1_status gen_open(gen_session *s, const gen_opts *o, volatile sig_atomic_t *stop, r1_error *err);
void gen_close(gen_session *s);

/* Makes the cache hold exactly ids[0..n): keeps the longest common prefix with what is
 * cached, truncates the rest and evaluates the new suffix in one batch (at least the last
 * token, so logits are fresh). *n_evaluated receives how many tokens were run.
 * R1_ERR_CONTEXT_FULL if n > n_ctx; R1_ERR_CANCELLED if *stop was raised. */
r1_status gen_prefill(gen_session *s, const int32_t *ids, int n, int *n_evaluated, r1_error *err);

typedef struct gen_result {
    char *reasoning, *content;  /* malloc'd, NUL-terminated                    */
    size_t n_reasoning_b, n_content_b, cap_r, cap_c;
    int n_prompt, n_eval_prompt, n_gen, n_reasoning;
    double t_prompt, t_gen, t_first;   /* seconds: prefill, generation, time to first token */
    bool cancelled, ctx_full, hit_limit;
} gen_result;

/* Generates from the current logits until an end-of-generation token, -n, context full
 * or *stop. in_think: the prompt pre-filled "<think>\n". Streams to stdout unless
 * o->json. Fills *r (free its strings with gen_result_free). */
r1_status gen_generate(gen_session *s, const gen_opts *o, bool in_think, gen_result *r, r1_error *err);
void gen_result_free(gen_result *r);
/* One stats line on stderr. */
void gen_print_stats(const gen_result *r);
#endif
