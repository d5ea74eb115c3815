/*
 * chat.h — the DeepSeek chat protocol: template rendering, template recognition, and the
 * streaming reasoning splitter (internal; used by `r1 run`, `r1 chat`, `r1 template`).
 *
 * Rendering (R1 protocol, see ../shared/R1-FACTS.md "Chat protocol"):
 *   BOS  system  (<｜User｜> user | <｜Assistant｜> answer <｜end▁of▁sentence｜>)*  [<｜Assistant｜> [<think>\n]]
 * A rendered prompt is a list of segments over one text buffer. Each segment is either
 * fixed template text (tags: parse special tokens) or message content (user/system/
 * assistant text: tokenized with R1_TOK_SPLIT_SPECIAL so that a user typing
 * "<｜end▁of▁sentence｜>" gets plain text, never the control token). Every content segment
 * is bordered by special tags, so tokenizing segment by segment gives the same tokens
 * as tokenizing the whole text (BPE never merges across a special token).
 */
#ifndef R1_CHAT_H
#define R1_CHAT_H
#include "r1.h"

typedef struct chat_template {
    const char *name;        /* "r1", "r1-0528", "r1-distill", "v3"                          */
    const char *desc;
    bool prefill_think;      /* generation prompt ends with "<think>\n"                      */
    bool strip_reasoning;    /* earlier answers keep only content.split('</think>')[-1]      */
    bool join_systems;       /* several system messages: joined with "\n\n" (else last wins) */
} chat_template;

/* Looks up a template by name; NULL if unknown. */
const chat_template *chat_template_by_name(const char *name);
/* Comma-separated list of the known names (for usage messages). */
const char *chat_template_names(void);
/* Recognises a GGUF tokenizer.chat_template string by fingerprint. Returns the template;
 * *known = false (and the R1 protocol is returned) when the string is NULL or unknown. */
const chat_template *chat_template_detect(const char *jinja, bool *known);

typedef struct chat_msg { char *role; char *content; } chat_msg;   /* both malloc'd */

typedef struct chat_seg { size_t off, len; bool content; } chat_seg;
typedef struct chat_prompt {
    char *text; size_t len, cap;       /* the whole rendered prompt, NUL-terminated */
    chat_seg *segs; int n_segs, cap_segs;
} chat_prompt;

/* Renders msgs[0..n) with template t into *out (initialised by this call; free with
 * chat_prompt_free). gen_prompt appends the generation prompt (and "<think>\n" when the
 * template pre-fills it); no_think pre-fills an empty block "<think>\n\n</think>\n\n".
 * Errors: R1_ERR_INVALID_ARG for an unknown role (message index named), R1_ERR_NOMEM. */
r1_status chat_render(const chat_template *t, const chat_msg *msgs, int n, bool gen_prompt,
                      bool no_think, chat_prompt *out, r1_error *err);
void chat_prompt_free(chat_prompt *p);

/* Tokenizes a rendered prompt segment by segment (see the header comment). *ids is
 * malloc'd. */
r1_status chat_tokenize(const r1_tokenizer *tok, const chat_prompt *p, int32_t **ids, size_t *n_ids,
                        r1_error *err);

/* Parses an OpenAI-style JSON array [{"role": "...", "content": "..."}, ...].
 * *msgs is malloc'd (free with chat_msgs_free). */
r1_status chat_parse_messages(const char *json, chat_msg **msgs, int *n, r1_error *err);
/* Serialises messages as a JSON array (malloc'd string, NULL on out-of-memory). */
char *chat_messages_json(const chat_msg *msgs, int n);
void chat_msgs_free(chat_msg *msgs, int n);

/* ---- reasoning splitter --------------------------------------------------------
 * Splits a byte stream into reasoning (inside <think>...</think>) and answer, with the
 * tags recognised even when split across pushes at any byte. Only the first block is
 * reasoning (R1 thinks once, at the start). Bytes that might start a tag are held back
 * (at most 8) until decided. */
enum { CHAT_ANSWER = 0, CHAT_REASONING = 1, CHAT_TAG_OPEN = 2, CHAT_TAG_CLOSE = 3 };
typedef void (*chat_emit_fn)(void *user, int kind, const char *s, size_t n);
typedef struct chat_splitter {
    int state;          /* CHAT_ANSWER or CHAT_REASONING                     */
    bool done_think;    /* a block was opened already: no more <think> tags  */
    char pend[16];      /* bytes of a partial tag match                        */
    size_t n_pend;
} chat_splitter;

/* in_think: the opening tag was pre-filled by the prompt (start in reasoning). */
void chat_split_init(chat_splitter *sp, bool in_think);
void chat_split_push(chat_splitter *sp, const char *s, size_t n, chat_emit_fn emit, void *user);
/* Emits any held-back bytes as text of the current state. */
void chat_split_flush(chat_splitter *sp, chat_emit_fn emit, void *user);
#endif
