/*
 * chat.c — DeepSeek chat templates (rendering + recognition), message JSON, and the
 * streaming <think> splitter. See chat.h for the formats and invariants.
 */
#include "chat.h"
#include "common.h"
#include <cjson/cJSON.h>

#define TAG_BOS "<｜begin▁of▁sentence｜>"
#define TAG_EOS "<｜end▁of▁sentence｜>"
#define TAG_USER "<｜User｜>"
#define TAG_ASSISTANT "<｜Assistant｜>"

/* user_opens_assistant (R1-0528 family): a user turn is written "<｜User｜>{u}<｜Assistant｜>"
 * and the answer "{a}<｜end▁of▁sentence｜>", so the prompt ends in "<｜Assistant｜>" after a
 * user turn with or without the generation prompt. */
typedef struct tpl_ext { chat_template t; bool user_opens_assistant; } tpl_ext;

static const tpl_ext templates[] = {
    {{"r1", "DeepSeek-R1 (pre-fills <think>\\n)", true, true, true}, false},
    {{"r1-distill", "DeepSeek-R1-Distill-Qwen/Llama (pre-fills <think>\\n, last system message wins)", true, true, false}, false},
    {{"r1-0528", "DeepSeek-R1-0528 and R1-0528-Qwen3-8B (no pre-fill)", false, true, true}, true},
    {{"v3", "DeepSeek-V3 (no reasoning handling)", false, false, true}, false},
};

const chat_template *chat_template_by_name(const char *name) {
    if (!name) return NULL;
    if (!strcmp(name, "r1-0528-qwen3")) name = "r1-0528";
    if (!strcmp(name, "r1-distill-qwen") || !strcmp(name, "r1-distill-llama")) name = "r1-distill";
    for (size_t i = 0; i < R1_ARRAY_LEN(templates); i++)
        if (!strcmp(templates[i].t.name, name)) return &templates[i].t;
    return NULL;
}

const char *chat_template_names(void) {
    return "r1, r1-distill (= r1-distill-qwen, r1-distill-llama), r1-0528 (= r1-0528-qwen3), v3";
}

static const tpl_ext *ext_of(const chat_template *t) { return (const tpl_ext *)t; }

const chat_template *chat_template_detect(const char *j, bool *known) {
    *known = false;
    if (!j || !strstr(j, TAG_USER) || !strstr(j, TAG_ASSISTANT)) return chat_template_by_name("r1");
    *known = true;
    bool split = strstr(j, "split('</think>')") != NULL;
    bool prefill = strstr(j, TAG_ASSISTANT "<think>") != NULL;
    bool last_user = strstr(j, "is_last_user") != NULL;
    bool first_sp = strstr(j, "is_first_sp") != NULL;
    if (prefill && split) return chat_template_by_name(first_sp ? "r1" : "r1-distill");
    if (last_user && split) return chat_template_by_name("r1-0528");
    if (!split && !prefill && !last_user) return chat_template_by_name("v3");
    *known = false;
    return chat_template_by_name("r1");
}

/* ---- prompt buffer ------------------------------------------------------------- */
static bool put(chat_prompt *p, const char *s, size_t n, bool content) {
    if (n == 0) return true;
    if (p->len + n + 1 > p->cap) {
        size_t cap = p->cap ? p->cap : 256;
        while (cap < p->len + n + 1) cap *= 2;
        char *t = realloc(p->text, cap);
        if (!t) return false;
        p->text = t; p->cap = cap;
    }
    if (p->n_segs && p->segs[p->n_segs - 1].content == content) {
        p->segs[p->n_segs - 1].len += n;   /* merge adjacent segments of one kind */
    } else {
        if (p->n_segs == p->cap_segs) {
            int c = p->cap_segs ? 2 * p->cap_segs : 16;
            chat_seg *sg = realloc(p->segs, (size_t)c * sizeof *sg);
            if (!sg) return false;
            p->segs = sg; p->cap_segs = c;
        }
        p->segs[p->n_segs++] = (chat_seg){p->len, n, content};
    }
    memcpy(p->text + p->len, s, n);
    p->len += n;
    p->text[p->len] = 0;
    return true;
}
static bool put_tag(chat_prompt *p, const char *s) { return put(p, s, strlen(s), false); }
static bool put_text(chat_prompt *p, const char *s) { return put(p, s, strlen(s), true); }

void chat_prompt_free(chat_prompt *p) {
    if (!p) return;
    free(p->text); free(p->segs);
    memset(p, 0, sizeof *p);
}

/* content.split('</think>')[-1]: the text after the last "</think>" (all of it if none). */
static const char *after_think(const char *s) {
    const char *r = s, *q;
    while ((q = strstr(r, "</think>"))) r = q + 8;
    return r;
}

r1_status chat_render(const chat_template *t, const chat_msg *msgs, int n, bool gen_prompt,
                      bool no_think, chat_prompt *out, r1_error *err) {
    memset(out, 0, sizeof *out);
    bool ok = put_tag(out, TAG_BOS);
    /* system text: joined with "\n\n" (R1, V3) or the last one (distills) */
    int n_sys = 0;
    for (int i = 0; i < n; i++) {
        if (strcmp(msgs[i].role, "system")) continue;
        if (!t->join_systems) continue;
        if (n_sys++) ok = ok && put_text(out, "\n\n");
        ok = ok && put_text(out, msgs[i].content);
    }
    if (!t->join_systems)
        for (int i = n - 1; i >= 0; i--)
            if (!strcmp(msgs[i].role, "system")) { ok = ok && put_text(out, msgs[i].content); break; }
    bool uoa = ext_of(t)->user_opens_assistant, last_user = false;
    for (int i = 0; i < n && ok; i++) {
        const char *role = msgs[i].role, *c = msgs[i].content;
        if (!strcmp(role, "system")) continue;
        if (!strcmp(role, "user")) {
            ok = put_tag(out, TAG_USER) && put_text(out, c) && (!uoa || put_tag(out, TAG_ASSISTANT));
            last_user = true;
        } else if (!strcmp(role, "assistant")) {
            const char *a = t->strip_reasoning ? after_think(c) : c;
            ok = (uoa || put_tag(out, TAG_ASSISTANT)) && put_text(out, a) && put_tag(out, TAG_EOS);
            last_user = false;
        } else {
            chat_prompt_free(out);
            return r1_set_error(err, R1_ERR_INVALID_ARG, "message %d: unsupported role '%s' (system, user, assistant)", i, role);
        }
    }
    if (ok && gen_prompt && !(uoa && last_user)) ok = put_tag(out, TAG_ASSISTANT);
    if (ok && gen_prompt) {
        if (no_think) ok = put_tag(out, "<think>\n\n</think>\n\n");
        else if (t->prefill_think) ok = put_tag(out, "<think>\n");
    }
    if (!ok) { chat_prompt_free(out); return r1_set_error(err, R1_ERR_NOMEM, "chat template: out of memory"); }
    return R1_OK;
}

/* ---- messages as JSON ------------------------------------------------------------ */
void chat_msgs_free(chat_msg *msgs, int n) {
    if (!msgs) return;
    for (int i = 0; i < n; i++) { free(msgs[i].role); free(msgs[i].content); }
    free(msgs);
}

r1_status chat_parse_messages(const char *json, chat_msg **out, int *n_out, r1_error *err) {
    *out = NULL; *n_out = 0;
    cJSON *root = cJSON_Parse(json);
    if (!root || !cJSON_IsArray(root)) {
        cJSON_Delete(root);
        return r1_set_error(err, R1_ERR_FORMAT, "messages: expected a JSON array of {\"role\", \"content\"} objects");
    }
    int n = cJSON_GetArraySize(root);
    chat_msg *m = calloc((size_t)(n ? n : 1), sizeof *m);
    if (!m) { cJSON_Delete(root); return r1_set_error(err, R1_ERR_NOMEM, "messages: out of memory"); }
    for (int i = 0; i < n; i++) {
        cJSON *it = cJSON_GetArrayItem(root, i);
        cJSON *role = cJSON_GetObjectItemCaseSensitive(it, "role");
        cJSON *content = cJSON_GetObjectItemCaseSensitive(it, "content");
        if (!cJSON_IsString(role) || !(cJSON_IsString(content) || cJSON_IsNull(content) || !content)) {
            chat_msgs_free(m, n); cJSON_Delete(root);
            return r1_set_error(err, R1_ERR_FORMAT, "messages[%d]: needs a string \"role\" and a string \"content\"", i);
        }
        m[i].role = strdup(role->valuestring);
        m[i].content = strdup(cJSON_IsString(content) ? content->valuestring : "");
        if (!m[i].role || !m[i].content) {
            chat_msgs_free(m, n); cJSON_Delete(root);
            return r1_set_error(err, R1_ERR_NOMEM, "messages: out of memory");
        }
    }
    cJSON_Delete(root);
    *out = m; *n_out = n;
    return R1_OK;
}

char *chat_messages_json(const chat_msg *msgs, int n) {
    cJSON *arr = cJSON_CreateArray();
    for (int i = 0; arr && i < n; i++) {
        cJSON *o = cJSON_CreateObject();
        if (!o) break;
        cJSON_AddStringToObject(o, "role", msgs[i].role);
        cJSON_AddStringToObject(o, "content", msgs[i].content);
        cJSON_AddItemToArray(arr, o);
    }
    char *s = arr ? cJSON_Print(arr) : NULL;
    cJSON_Delete(arr);
    return s;
}

/* ---- reasoning splitter ---------------------------------------------------------- */
void chat_split_init(chat_splitter *sp, bool in_think) {
    memset(sp, 0, sizeof *sp);
    sp->state = in_think ? CHAT_REASONING : CHAT_ANSWER;
    sp->done_think = in_think;
}

/* The tag being looked for in the current state, or NULL (answer after the block). */
static const char *wanted_tag(const chat_splitter *sp) {
    if (sp->state == CHAT_REASONING) return "</think>";
    return sp->done_think ? NULL : "<think>";
}

void chat_split_push(chat_splitter *sp, const char *s, size_t n, chat_emit_fn emit, void *user) {
    size_t run = 0;   /* start of the pending plain run in s */
    for (size_t i = 0; i < n; i++) {
        const char *tag = wanted_tag(sp);
        if (!tag) continue;
        size_t tl = strlen(tag);
        char c = s[i];
        if (c == tag[sp->n_pend]) {
            if (sp->n_pend == 0 && i > run) { emit(user, sp->state, s + run, i - run); }
            sp->pend[sp->n_pend++] = c;
            run = i + 1;
            if (sp->n_pend == tl) {   /* full tag */
                sp->n_pend = 0;
                if (sp->state == CHAT_REASONING) { sp->state = CHAT_ANSWER; emit(user, CHAT_TAG_CLOSE, tag, tl); }
                else { sp->state = CHAT_REASONING; sp->done_think = true; emit(user, CHAT_TAG_OPEN, tag, tl); }
            }
        } else if (sp->n_pend) {
            /* mismatch: the held bytes are text; '<' occurs only at the start of the tags,
             * so the current byte can only begin a new match if it is '<'. */
            emit(user, sp->state, sp->pend, sp->n_pend);
            sp->n_pend = 0;
            run = i;
            if (c == '<') { sp->pend[sp->n_pend++] = c; run = i + 1; }
        }
    }
    if (run < n && sp->n_pend == 0) emit(user, sp->state, s + run, n - run);
}

void chat_split_flush(chat_splitter *sp, chat_emit_fn emit, void *user) {
    if (sp->n_pend) emit(user, sp->state, sp->pend, sp->n_pend);
    sp->n_pend = 0;
}
