/*
 * tasks.h — verifiable tasks, synthetic reasoning traces, the reward, and the byte-level
 * R1 vocabulary of the built-in model.
 *
 * Vocabulary (262 tokens): ids 0..255 = the bytes (stored in GGUF as GPT-2 byte-to-unicode
 * strings), then TOK_BOS 256 <｜begin▁of▁sentence｜>, TOK_EOS 257 <｜end▁of▁sentence｜>,
 * TOK_USER 258 <｜User｜>, TOK_ASSISTANT 259 <｜Assistant｜>, TOK_THINK 260 <think>,
 * TOK_END_THINK 261 </think>.
 *
 * Protocol: BOS USER <prompt> ASSISTANT | <think> "\n" <trace> </think> "\n\n" <answer> EOS
 * (the model is trained on everything after ASSISTANT, so it works whether or not the
 * engine pre-fills "<think>\n").
 *
 * Trace formats — every line is checkable by the program (task_check):
 *   add  a+b : one line per column from the units: "x+y+c=s" (c = carry in, next carry s/10)
 *   sub  a-b : (a >= b) "x-y-c=r", x = digit of a, or digit+10 when it borrows
 *   mul  a*k : "x*k+c=s" per digit of a (next carry s/10)
 *   countdown: attempts "a op b=r, r op c=s no|yes" (session 3) or, in the search traces
 *              (task_trace with cd_misses > 0), "a op b=r, r op c=s<T no" / "s>T no" /
 *              "s=T yes" with the target T copied into the line, so the verdict is a local
 *              check; the answer is "(a op b) op c". task_check accepts both line forms.
 * After the columns a line "so <result>" states what the columns spell.
 * Synthetic traces are deliberately imperfect: with probability err_rate one step has an
 * arithmetic slip (±1) that propagates consistently to the answer (faithful but wrong).
 */
#ifndef R1_TRAIN_TASKS_H
#define R1_TRAIN_TASKS_H
#include "common.h"
#include <stdint.h>
#include <stdbool.h>

enum { TOK_BOS = 256, TOK_EOS, TOK_USER, TOK_ASSISTANT, TOK_THINK, TOK_END_THINK, TASK_VOCAB };
extern const char *const task_special_text[6];   /* UTF-8 text of tokens 256..261 */

typedef enum task_kind { TASK_ADD, TASK_SUB, TASK_MUL, TASK_COUNTDOWN, TASK_KINDS } task_kind;
extern const char *const task_kind_name[TASK_KINDS];

typedef struct task {
    task_kind kind;
    int64_t a, b;          /* operands (mul: b = small factor 2..9)        */
    int nums[3], target;   /* countdown                                     */
    char prompt[160];
} task;

/* Draws a task of `kind` with up to max_digits digits per operand, from the train split
 * (heldout = false) or the held-out split (true). The splits are disjoint: a problem is
 * held out iff a hash of its operands is 0 mod 8. Deterministic in *rng. */
void task_make(task *t, task_kind kind, int max_digits, bool heldout, uint64_t *rng);

/* Writes the completion text "<think>\n...</think>\n\n<answer>" (NUL-terminated, without
 * EOS) for t, with an arithmetic slip with probability err_rate. Returns its length.
 * Countdown traces: cd_misses = 0 gives session 3's traces (random attempts, at most 3
 * distinct misses, then the hit); cd_misses = K > 0 gives session 5's search traces: no
 * repeated attempt, k ~ uniform 0..K wrong attempts (uniformly drawn, random order) before a
 * hit, each line comparing its result with the target ("s<T no", "s=T yes"; "yes" iff the
 * result equals the target), and the whole sequence (prompt tokens,
 * completion, EOS) within seq_len tokens (k is lowered for a problem where K misses do not fit). */
int task_trace(const task *t, float err_rate, int cd_misses, int seq_len, uint64_t *rng, char *out, size_t cap);

/* The verdict on a completion text (what the model wrote after <｜Assistant｜>). */
typedef struct task_verdict {
    bool format_ok;    /* "<think>\n" trace "</think>\n\n" answer, nothing else            */
    bool correct;      /* the answer after </think> is right (checked by computing it)      */
    bool trace_valid;  /* every step is right for this problem and leads to the answer     */
    float reward;      /* 0.1·format_ok + 1.0·(correct ∧ trace_valid)                      */
    int think_len;     /* bytes between <think> and </think> (reasoning length)            */
    /* Countdown only (0 otherwise): attempt lines before "so", and those that are right
     * for this problem — the problem's numbers, each once, true arithmetic, and the verdict
     * ("yes" iff the result is the target) correct — and not a repeat of an earlier attempt.
     * A line that does not parse counts as a step that is not right. */
    int n_steps, n_steps_ok;
    bool wrong_yes;    /* Countdown: some attempt line says "yes" though its result is not the target */
} task_verdict;
task_verdict task_check(const task *t, const char *completion);

/* The GRPO reward's weights: format_w for a well-formed completion (0.1 in v->reward) and
 * verdict_w for the optional Countdown process term. */
typedef struct task_reward_w { float format_w, verdict_w; } task_reward_w;
#define TASK_REWARD_DEFAULT ((task_reward_w){.format_w = 0.1f, .verdict_w = 0.0f})
/* The GRPO reward
 *   format_w · format_ok + 1.0 · (correct ∧ trace_valid)
 *   + verdict_w · format_ok · n_steps_ok / n_steps   (Countdown; 0 when n_steps = 0)
 * the process term a share, not a count, of right attempts — more attempts earn nothing by
 * themselves, a wrong "yes" (or "no") or a repeated attempt lowers it. The default weights
 * give v->reward exactly; format_w = 0 makes the accuracy term (gated on a valid trace)
 * the whole reward, so ending a failed search with some well-formed answer earns nothing. */
float task_reward(const task_verdict *v, task_reward_w w);

/* Token encoding of the protocol: text with the literal special-token strings
 * ("<think>", "</think>", and the full-width R1 specials) mapped to their ids, every other
 * byte to its byte id. Returns the count written (<= cap) or -1 if it does not fit. */
int task_encode(const char *text, int32_t *out, int cap);
/* Prompt tokens: BOS USER <prompt> ASSISTANT. */
int task_encode_prompt(const task *t, int32_t *out, int cap);
/* Appends the text of token id to buf (specials as their text); returns bytes added. */
int task_token_text(int32_t id, char *buf, size_t cap);
#endif
