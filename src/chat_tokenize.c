/*
 * chat_tokenize.c — turns a rendered chat prompt into token ids: template segments with
 * special-token parsing, message content with R1_TOK_SPLIT_SPECIAL (no injection of
 * control tokens through user text). Kept apart from chat.c so that the template and
 * splitter code does not depend on the tokenizer.
 */
#include "chat.h"
#include "common.h"

r1_status chat_tokenize(const r1_tokenizer *tok, const chat_prompt *p, int32_t **ids, size_t *n_ids, r1_error *err) {
    *ids = NULL; *n_ids = 0;
    int32_t *all = NULL;
    size_t n_all = 0;
    for (int i = 0; i < p->n_segs; i++) {
        int32_t *part = NULL; size_t n_part = 0;
        unsigned flags = p->segs[i].content ? R1_TOK_SPLIT_SPECIAL : 0;
        r1_status st = r1_tokenize(tok, p->text + p->segs[i].off, p->segs[i].len, flags, &part, &n_part, err);
        if (st != R1_OK) { free(all); return st; }
        int32_t *grown = realloc(all, (n_all + n_part + 1) * sizeof *all);
        if (!grown) { free(all); free(part); return r1_set_error(err, R1_ERR_NOMEM, "chat prompt: out of memory"); }
        all = grown;
        if (n_part) memcpy(all + n_all, part, n_part * sizeof *part);
        n_all += n_part;
        free(part);
    }
    *ids = all; *n_ids = n_all;
    return R1_OK;
}

