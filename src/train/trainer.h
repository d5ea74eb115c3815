/*
 * trainer.h — the training loop of `r1 train`: SFT on synthetic traces, GRPO with
 * verifiable rewards, evaluation on the held-out split, GGUF export.
 *
 * Determinism: the batch of step s is drawn from an RNG seeded by (seed, s), each worker
 * thread k handles the fixed sequences k, k+nt, ... and the per-thread gradients are
 * summed in thread order, so a run resumed from a checkpoint (same thread count) repeats
 * the uninterrupted run bit for bit.
 */
#ifndef R1_TRAIN_TRAINER_H
#define R1_TRAIN_TRAINER_H
#include "train/tmodel.h"
#include "train/tasks.h"

typedef struct tr_opts {
    tm_config cfg;
    uint64_t seed;
    bool seed_override;     /* on resume: replace the checkpoint's seed (new data/rollouts from here on) */
    int threads;
    bool loops;             /* the plain-loop matmuls of sessions 1-2 (--kernels loops)   */
    int batch;              /* SFT sequences per step; GRPO prompts per step            */
    int group;              /* GRPO samples per prompt (G)                              */
    int64_t sft_steps, grpo_steps;
    int64_t stop_at;        /* > 0: stop (checkpoint, no export) once this many steps are done */
    float lr, grpo_lr, wd, clip, err_rate;
    int warmup;
    int digits;             /* max digits per operand                                   */
    unsigned task_mask;     /* bit k = task kind k used                                 */
    float cd_share;         /* < 0: training prompts uniform over the tasks; else the share of
                             * Countdown prompts (the rest uniform over the other tasks)  */
    float grpo_temp;        /* GRPO rollout temperature (1: the policy itself)             */
    bool tempered;          /* GRPO loss on softmax(logits / grpo_temp), the distribution the
                             * rollouts were sampled from (on-policy at any temperature);
                             * false: on the model's own softmax (off-policy unless T = 1) */
    float verdict_reward;   /* GRPO: weight of the Countdown process reward (task_reward)  */
    float format_reward;    /* GRPO: weight of the format reward (task_reward; default 0.1) */
    int cd_misses;          /* SFT Countdown traces: 0 session 3's, K > 0 search traces with
                             * 0..K misses before the hit (task_trace)                   */
    int eval_n;             /* held-out problems per task for evaluation                 */
    int eval_every;         /* steps between evaluations (0: only at the end)            */
    const char *ckpt;       /* checkpoint path (saved every ckpt_every steps and at end) */
    int ckpt_every;
    const char *log;        /* CSV log path (NULL: none)                                 */
    const char *out;        /* GGUF output path                                          */
    const char *chat_template; /* Jinja text stored in the GGUF (NULL: none)             */
} tr_opts;

typedef struct tr_state tr_state;

/* Creates the trainer: fresh weights, or resumed from o->ckpt when resume is set. */
r1_status tr_create(const tr_opts *o, bool resume, tr_state **out, r1_error *err);
void      tr_free(tr_state *s);
/* Runs the remaining SFT then GRPO steps (logging, evaluating, checkpointing). */
r1_status tr_run(tr_state *s, r1_error *err);

/* Held-out evaluation: per task kind, greedy accuracy (temperature 0) or, with
 * samples > 1, pass@1 averaged over `samples` draws at `temp`, plus faithfulness (share
 * of completions whose trace is valid and leads to the stated answer). */
typedef struct tr_eval {
    double acc[TASK_KINDS], faithful[TASK_KINDS], pass_any[TASK_KINDS];
    double pass_faithful[TASK_KINDS];  /* any sample right AND derived by a valid trace */
    double steps_ok[TASK_KINDS];       /* Countdown: mean share of right attempt lines
                                        * (task_verdict n_steps_ok / n_steps; 0 = none)  */
    double wrong_yes[TASK_KINDS];      /* Countdown: share of completions with a "yes" on
                                        * an attempt that misses the target              */
    double unformed[TASK_KINDS];       /* share not well-formed (mostly: no answer before the
                                        * context ends)                                  */
    double mean_steps[TASK_KINDS];     /* Countdown: mean attempt lines per completion     */
    int n[TASK_KINDS];
    double mean_len;
    char sample[TASK_KINDS][400];   /* the first held-out completion of each task */
} tr_eval;
/* dump (optional): every completion, one record per line: task, sample, correct,
 * trace_valid, format_ok, the prompt and the completion (newlines as \n). */
void tr_evaluate(tr_state *s, int n_per_task, int samples, float temp, tr_eval *ev, FILE *dump);
/* The sampler seed tr_evaluate draws completion `item` with (item = problem index in
 * tr_heldout_set's order × samples + sample index), so that an engine can redraw it. */
uint64_t tr_eval_seed(int item);
/* The held-out problems tr_evaluate uses, in its order: n_per_task per task kind in
 * task_mask (ascending kind). out must hold popcount(task_mask)·n_per_task; returns the count. */
int tr_heldout_set(unsigned task_mask, int digits, int n_per_task, task *out);

/* Writes the model as GGUF arch "llama", F32, with the byte-level R1 tokenizer and
 * chat_template (the Jinja text, stored as data; NULL: none). */
r1_status tr_export_gguf(const tm_config *c, const tm_params *p, const char *chat_template,
                         const char *path, r1_error *err);
/* Training throughput over `steps` SFT steps of the configured batch: tokens/s
 * (forward + backward, all positions) and the implied GFLOP/s. Changes the weights. */
void tr_bench(tr_state *s, int steps, double *tok_per_s, double *gflop_per_s);
/* The trainer's parameters (valid while s lives). */
const tm_params *tr_params(const tr_state *s);
const tm_config *tr_config(const tr_state *s);
#endif
