/*
 * cmd_tokenize.c — `r1 tokenize`: text on stdin -> token ids.
 *   r1 tokenize [-m MODEL.gguf | --tokenizer-json FILE] [--ids] [--no-special] [--bos]
 *               [--pretokenizer NAME] [--jsonl]
 * Loads only the tokenizer (works on vocab-only GGUF files). Output: with --ids the ids
 * space-separated on one line, else one "id<TAB>piece" per line with the raw bytes of the
 * piece escaped (\n \t \r \\ and \xHH for non-printable / non-UTF-8 bytes).
 * --jsonl: each stdin line is a JSON object {"text": ...}; each output line is the JSON
 * array of its ids (batch mode for the test scripts).
 */
#include "cli.h"
#include "common.h"
#include <cjson/cJSON.h>
#include <stdio.h>

static void usage(FILE *f) {
    fprintf(f, "usage: r1 tokenize [-m MODEL.gguf | --tokenizer-json FILE] [--ids] [--no-special] [--bos]\n"
               "                   [--pretokenizer NAME] [--jsonl]\n"
               "Reads text on stdin and prints its token ids.\n"
               "  --ids             ids space-separated on one line (default: id<TAB>piece per line)\n"
               "  --no-special      special-token text is plain text (HF split_special_tokens=True)\n"
               "  --bos             prepend BOS (default: none)\n"
               "  --pretokenizer N  override tokenizer.ggml.pre (deepseek-v3, qwen2, llama-bpe, ...)\n"
               "  --tokenizer-json  load a Hugging Face tokenizer.json instead of a GGUF file\n"
               "  --jsonl           stdin lines are {\"text\": ...}; prints one JSON id array per line\n");
}

/* Reads all of stdin (malloc'd); NULL on OOM. */
static char *slurp(FILE *f, size_t *n) {
    size_t cap = 1 << 16, len = 0;
    char *b = malloc(cap);
    while (b) {
        size_t r = fread(b + len, 1, cap - len, f);
        len += r;
        if (len < cap) break;
        char *g = realloc(b, cap *= 2);
        if (!g) { free(b); return NULL; }
        b = g;
    }
    *n = len;
    return b;
}

static void print_piece(const char *p, int n) {
    for (int i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '\n') fputs("\\n", stdout);
        else if (c == '\t') fputs("\\t", stdout);
        else if (c == '\r') fputs("\\r", stdout);
        else if (c == '\\') fputs("\\\\", stdout);
        else if (c < 0x20 || c == 0x7f) printf("\\x%02x", c);
        else if (c >= 0x80) {                   /* keep valid UTF-8, escape the rest */
            int need = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
            bool ok = need && i + need <= n;
            for (int k = 1; ok && k < need; k++) ok = ((unsigned char)p[i + k] & 0xc0) == 0x80;
            if (ok) { fwrite(p + i, 1, (size_t)need, stdout); i += need - 1; }
            else printf("\\x%02x", c);
        } else putchar(c);
    }
}

int cmd_tokenize(int argc, char **argv) {
    const char *model = NULL, *json = NULL, *pre = NULL;
    bool ids_only = false, jsonl = false;
    unsigned flags = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { usage(stdout); return 0; }
        else if ((!strcmp(a, "-m") || !strcmp(a, "--model")) && i + 1 < argc) model = argv[++i];
        else if (!strcmp(a, "--tokenizer-json") && i + 1 < argc) json = argv[++i];
        else if (!strcmp(a, "--pretokenizer") && i + 1 < argc) pre = argv[++i];
        else if (!strcmp(a, "--ids")) ids_only = true;
        else if (!strcmp(a, "--jsonl")) jsonl = true;
        else if (!strcmp(a, "--no-special")) flags |= R1_TOK_SPLIT_SPECIAL;
        else if (!strcmp(a, "--bos")) flags |= R1_TOK_ADD_BOS;
        else { fprintf(stderr, "r1 tokenize: unknown or incomplete option '%s'\n", a); usage(stderr); return 2; }
    }
    r1_error err = {0};
    r1_tokenizer *tok = NULL;
    r1_status st = json ? r1_tokenizer_load_json(json, pre, &tok, &err)
                        : r1_tokenizer_load_gguf(model ? model : cli_default_model(), pre, &tok, &err);
    if (st) return cli_fail("tokenize", &err);
    size_t n = 0;
    char *text = slurp(stdin, &n);
    if (!text) { r1_tokenizer_free(tok); fprintf(stderr, "r1 tokenize: out of memory\n"); return 1; }
    int rc = 0;
    if (jsonl) {
        char *line = text, *end = text + n;
        while (line < end && !rc) {
            char *nl = memchr(line, '\n', (size_t)(end - line));
            size_t ll = nl ? (size_t)(nl - line) : (size_t)(end - line);
            cJSON *o = ll ? cJSON_ParseWithLength(line, ll) : NULL;
            const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "text");
            if (ll && !cJSON_IsString(t)) { fprintf(stderr, "r1 tokenize: --jsonl: bad line\n"); rc = 1; }
            else if (ll) {
                int32_t *ids; size_t k;
                /* cJSON strings are NUL-terminated: texts with NUL are not representable here */
                if (r1_tokenize(tok, t->valuestring, strlen(t->valuestring), flags, &ids, &k, &err)) rc = cli_fail("tokenize", &err);
                else {
                    putchar('[');
                    for (size_t j = 0; j < k; j++) printf(j ? ",%d" : "%d", ids[j]);
                    puts("]");
                    free(ids);
                }
            }
            cJSON_Delete(o);
            line += ll + 1;
        }
    } else {
        int32_t *ids; size_t k;
        if (r1_tokenize(tok, text, n, flags, &ids, &k, &err)) rc = cli_fail("tokenize", &err);
        else {
            char buf[4096];
            for (size_t j = 0; j < k; j++) {
                if (ids_only) { printf(j ? " %d" : "%d", ids[j]); continue; }
                int l = r1_token_to_bytes(tok, ids[j], buf, sizeof buf);
                printf("%d\t", ids[j]);
                print_piece(buf, R1_MIN(l, (int)sizeof buf));
                putchar('\n');
            }
            if (ids_only) putchar('\n');
            free(ids);
        }
    }
    free(text);
    r1_tokenizer_free(tok);
    return rc;
}
