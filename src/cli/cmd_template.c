/*
 * cmd_template.c — `r1 template [-m MODEL] [--template NAME] [--no-generation-prompt] [--no-think]`
 * Reads an OpenAI-style JSON array of messages on stdin and prints the exact prompt text
 * (special tokens as text, no trailing newline). The template comes from --template, or
 * is recognised from the model's tokenizer.chat_template (the model is loaded
 * vocab-only), or is the R1 protocol when neither is given.
 */
#include "cli.h"
#include "chat.h"
#include "common.h"

static char *read_all(FILE *f, size_t *len) {
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    if (!buf) return NULL;
    size_t got;
    while ((got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (cap - n < 2) {
            char *t = realloc(buf, cap * 2);
            if (!t) { free(buf); return NULL; }
            buf = t; cap *= 2;
        }
    }
    buf[n] = 0;
    *len = n;
    return buf;
}

static void usage(FILE *f) {
    fprintf(f, "usage: r1 template [-m MODEL] [--template NAME] [--no-generation-prompt] [--no-think] < messages.json\n"
               "  prints the prompt a JSON array of {\"role\",\"content\"} messages renders to.\n"
               "  templates: %s\n", chat_template_names());
}

int cmd_template(int argc, char **argv) {
    const char *model = NULL, *tpl_name = NULL;
    bool gen = true, no_think = false;
    for (int i = 1; i < argc; i++) {
        if ((!strcmp(argv[i], "-m") || !strcmp(argv[i], "--model")) && i + 1 < argc) model = argv[++i];
        else if (!strcmp(argv[i], "--template") && i + 1 < argc) tpl_name = argv[++i];
        else if (!strcmp(argv[i], "--no-generation-prompt")) gen = false;
        else if (!strcmp(argv[i], "--no-think")) no_think = true;
        else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) { usage(stdout); return 0; }
        else { fprintf(stderr, "r1 template: unknown or incomplete option '%s'\n", argv[i]); usage(stderr); return 2; }
    }
    const chat_template *t = NULL;
    r1_error err = {0};
    if (tpl_name) {
        if (!(t = chat_template_by_name(tpl_name))) {
            fprintf(stderr, "r1 template: unknown template '%s' (known: %s)\n", tpl_name, chat_template_names());
            return 2;
        }
    } else if (model) {
        r1_model_params mp = r1_model_default_params();
        mp.vocab_only = true;
        r1_model *m = NULL;
        if (r1_model_load(model, &mp, &m, &err)) return cli_fail("template", &err);
        bool known;
        const char *j = r1_model_meta_str(m, "tokenizer.chat_template");
        t = chat_template_detect(j, &known);
        if (!known) fprintf(stderr, "r1 template: note: %s chat template in %s; using the DeepSeek-R1 protocol\n",
                            j ? "unrecognised" : "no", model);
        r1_model_free(m);
    } else {
        t = chat_template_by_name("r1");
    }
    size_t len;
    char *json = read_all(stdin, &len);
    if (!json) { fprintf(stderr, "r1 template: out of memory reading stdin\n"); return 1; }
    chat_msg *msgs = NULL; int n = 0;
    chat_prompt p;
    r1_status st = chat_parse_messages(json, &msgs, &n, &err);
    free(json);
    if (!st) st = chat_render(t, msgs, n, gen, no_think, &p, &err);
    chat_msgs_free(msgs, n);
    if (st) return cli_fail("template", &err);
    fwrite(p.text, 1, p.len, stdout);
    chat_prompt_free(&p);
    return 0;
}
