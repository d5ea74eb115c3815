/*
 * cmd_run.c — `r1 run`: one prompt -> streamed reasoning + answer (or one JSON object).
 * The prompt (-p or stdin) goes through the chat template (unless --raw), is prefilled
 * in one batch, and the completion streams through the detokenizer and the <think>
 * splitter (gen.c). Exit status: 0 ok, 1 error (model, prompt longer than the context),
 * 2 usage.
 */
#include "cli.h"
#include "gen.h"
#include "common.h"
#include "term.h"
#include <cjson/cJSON.h>

static void usage(FILE *f) {
    fprintf(f, "usage: r1 run [options] [-p PROMPT | < prompt.txt]\n");
    gen_usage_opts(f);
}

static char *read_stdin(void) {
    size_t cap = 4096, n = 0, got;
    char *buf = malloc(cap);
    while (buf && (got = fread(buf + n, 1, cap - n - 1, stdin)) > 0) {
        n += got;
        if (cap - n < 2) { char *t = realloc(buf, cap *= 2); if (!t) { free(buf); return NULL; } buf = t; }
    }
    if (!buf) return NULL;
    while (n && buf[n - 1] == '\n') n--;   /* the shell's final newline is not part of the prompt */
    buf[n] = 0;
    return buf;
}

/* Trims ASCII whitespace at both ends, in place. */
static const char *trim(char *s) {
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\n' || s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r')) s[--n] = 0;
    while (*s == '\n' || *s == ' ' || *s == '\t' || *s == '\r') s++;
    return s;
}

static void print_json(const gen_result *r) {
    cJSON *o = cJSON_CreateObject(), *t = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "reasoning", trim(r->reasoning));
    cJSON_AddStringToObject(o, "content", trim(r->content));
    cJSON_AddNumberToObject(o, "prompt_tokens", r->n_prompt);
    cJSON_AddNumberToObject(o, "completion_tokens", r->n_gen);
    cJSON_AddNumberToObject(o, "reasoning_tokens", r->n_reasoning);
    cJSON_AddStringToObject(o, "finish_reason", r->cancelled ? "cancelled" : r->ctx_full ? "context_full" : r->hit_limit ? "length" : "stop");
    cJSON_AddNumberToObject(t, "prompt_ms", r->t_prompt * 1e3);
    cJSON_AddNumberToObject(t, "prompt_evaluated", r->n_eval_prompt);
    cJSON_AddNumberToObject(t, "prompt_per_second", r->t_prompt > 0 ? r->n_eval_prompt / r->t_prompt : 0);
    cJSON_AddNumberToObject(t, "generation_ms", r->t_gen * 1e3);
    cJSON_AddNumberToObject(t, "generation_per_second", r->t_gen > 0 ? r->n_gen / r->t_gen : 0);
    cJSON_AddNumberToObject(t, "first_token_ms", (r->t_prompt + r->t_first) * 1e3);
    cJSON_AddItemToObject(o, "timings", t);
    char *s = cJSON_Print(o);
    if (s) { puts(s); free(s); }
    cJSON_Delete(o);
}

int cmd_run(int argc, char **argv) {
    gen_opts o;
    gen_opts_init(&o);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) { usage(stdout); return 0; }
        int k = gen_parse_opt(&o, "run", argc, argv, &i);
        if (k < 0) return 2;
        if (k == 0) { fprintf(stderr, "r1 run: unknown option '%s'\n", argv[i]); usage(stderr); return 2; }
    }
    char *stdin_prompt = NULL;
    if (!o.prompt) {
        if (!(stdin_prompt = read_stdin())) { fprintf(stderr, "r1 run: cannot read the prompt from stdin\n"); return 1; }
        o.prompt = stdin_prompt;
    }
    r1_error err = {0};
    gen_session s;
    if (gen_open(&s, &o, NULL, &err)) { free(stdin_prompt); return cli_fail("run", &err); }
    int rc = 1;
    int32_t *ids = NULL; size_t n_ids = 0;
    bool in_think = false;
    r1_status st;
    if (o.raw) {
        st = r1_tokenize(s.tok, o.prompt, strlen(o.prompt), R1_TOK_ADD_BOS, &ids, &n_ids, &err);
    } else {
        chat_msg msgs[2] = {{"system", (char *)(o.system ? o.system : "")}, {"user", (char *)o.prompt}};
        chat_prompt p;
        st = chat_render(s.tpl, o.system ? msgs : msgs + 1, o.system ? 2 : 1, true, o.no_think, &p, &err);
        if (!st) st = chat_tokenize(s.tok, &p, &ids, &n_ids, &err);
        if (!st) chat_prompt_free(&p);
        in_think = !o.no_think && s.tpl->prefill_think;
    }
    gen_result r = {0};
    if (st) goto done;
    r.n_prompt = (int)n_ids;
    double t0 = r1_time_s();
    if ((st = gen_prefill(&s, ids, (int)n_ids, &r.n_eval_prompt, &err))) goto done;
    r.t_prompt = r1_time_s() - t0;
    if ((st = gen_generate(&s, &o, in_think, &r, &err))) goto done;
    if (o.json) print_json(&r);
    gen_print_stats(&r);
    rc = 0;
done:
    if (rc) cli_fail("run", &err);
    gen_result_free(&r);
    free(ids);
    free(stdin_prompt);
    gen_close(&s);
    return rc;
}
