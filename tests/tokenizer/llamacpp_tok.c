/*
 * llamacpp_tok.c — oracle helper (built by tests/integration/tokenizer_gguf.sh against the
 * prebuilt libllama in .oracle): llamacpp_tok MODEL.gguf PARSE_SPECIAL(0|1) < corpus.jsonl
 * prints, for each {"text": ...} line, the JSON array of llama_tokenize's ids (vocab-only
 * load, add_special = false).
 */
#include "llama.h"
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
    if (argc != 3) { fprintf(stderr, "usage: llamacpp_tok MODEL.gguf 0|1 < corpus.jsonl\n"); return 2; }
    llama_backend_init();
    struct llama_model_params mp = llama_model_default_params();
    mp.vocab_only = true;
    struct llama_model *m = llama_model_load_from_file(argv[1], mp);
    if (!m) { fprintf(stderr, "%s: llama.cpp cannot load it\n", argv[1]); return 1; }
    const struct llama_vocab *v = llama_model_get_vocab(m);
    bool parse = atoi(argv[2]) != 0;
    static char line[1 << 22];
    int cap = 1 << 20;
    llama_token *ids = malloc(sizeof *ids * (size_t)cap);
    while (fgets(line, sizeof line, stdin)) {
        cJSON *o = cJSON_Parse(line);
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "text");
        if (!cJSON_IsString(t)) { cJSON_Delete(o); continue; }
        int n = llama_tokenize(v, t->valuestring, (int)strlen(t->valuestring), ids, cap, false, parse);
        putchar('[');
        for (int i = 0; i < n; i++) printf(i ? ",%d" : "%d", ids[i]);
        puts("]");
        cJSON_Delete(o);
    }
    free(ids);
    llama_model_free(m);
    return 0;
}
