/*
 * cmd_detokenize.c — `r1 detokenize`: token ids on stdin (whitespace or comma separated)
 * -> the raw bytes of the text on stdout, through the streaming detokenizer.
 *   r1 detokenize [-m MODEL.gguf | --tokenizer-json FILE] [--no-special]
 * Special tokens are shown by default (--no-special hides them).
 */
#include "cli.h"
#include "common.h"
#include <ctype.h>
#include <errno.h>
#include <stdio.h>

int cmd_detokenize(int argc, char **argv) {
    const char *model = NULL, *json = NULL;
    unsigned flags = R1_DETOK_SHOW_SPECIAL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            printf("usage: r1 detokenize [-m MODEL.gguf | --tokenizer-json FILE] [--no-special]\n"
                   "Reads token ids (whitespace or comma separated) on stdin and writes their text.\n"
                   "  --no-special  special tokens produce no text (default: shown)\n");
            return 0;
        } else if ((!strcmp(a, "-m") || !strcmp(a, "--model")) && i + 1 < argc) model = argv[++i];
        else if (!strcmp(a, "--tokenizer-json") && i + 1 < argc) json = argv[++i];
        else if (!strcmp(a, "--no-special")) flags = 0;
        else { fprintf(stderr, "r1 detokenize: unknown or incomplete option '%s'\n", a); return 2; }
    }
    r1_error err = {0};
    r1_tokenizer *tok = NULL;
    r1_detok *d = NULL;
    if ((json ? r1_tokenizer_load_json(json, NULL, &tok, &err)
              : r1_tokenizer_load_gguf(model ? model : cli_default_model(), NULL, &tok, &err)) ||
        r1_detok_create(tok, flags, &d, &err)) {
        r1_tokenizer_free(tok);
        return cli_fail("detokenize", &err);
    }
    int rc = 0, c;
    char word[32];
    size_t wl = 0;
    char *out = malloc(1 << 20);   /* 64 + the longest token is enough per push */
    if (!out) { rc = 1; fprintf(stderr, "r1 detokenize: out of memory\n"); }
    while (out && !rc) {
        c = getchar();
        if (c != EOF && !isspace(c) && c != ',') {
            if (wl + 1 >= sizeof word) { fprintf(stderr, "r1 detokenize: bad token id '%.*s...'\n", (int)wl, word); rc = 1; break; }
            word[wl++] = (char)c;
            continue;
        }
        if (wl) {
            word[wl] = 0;
            char *e; errno = 0;
            long id = strtol(word, &e, 10);
            int n = *e || errno || id < 0 || id > INT32_MAX ? -1 : r1_detok_push(d, (int32_t)id, out, 1 << 20);
            if (n < 0) { fprintf(stderr, "r1 detokenize: invalid token id '%s' (vocabulary size %d)\n", word, r1_vocab_size(tok)); rc = 1; break; }
            fwrite(out, 1, (size_t)n, stdout);
            wl = 0;
        }
        if (c == EOF) break;
    }
    if (out && !rc) fwrite(out, 1, (size_t)r1_detok_flush(d, out, 1 << 20), stdout);
    free(out);
    r1_detok_free(d);
    r1_tokenizer_free(tok);
    return rc;
}
