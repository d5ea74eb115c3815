/*
 * tok_load.c — the two tokenizer loaders; both fill a tok_spec for tok_build.
 *
 * tokenizer.json (Hugging Face): model.type "BPE" with model.vocab {piece: id},
 *   model.merges ["a b", ...] or [["a","b"], ...] (rank = index), model.ignore_merges;
 *   added_tokens [{id, content, special, ...}] (special -> control, else user-defined);
 *   normalizer null / NFC / Sequence of those; pre_tokenizer Sequence of Split (Regex,
 *   behavior Isolated, invert false) and ByteLevel (use_regex adds the GPT-2 split).
 *   BOS/EOS come from tokenizer_config.json next to it (bos_token/eos_token), if present.
 * GGUF: tokenizer.ggml.model "gpt2", .pre, .tokens, .token_type, .merges, .bos/.eos/.eot
 *   token ids. Normalizer and ignore_merges follow from the pre-tokenizer name.
 */
#include "tokenizer.h"
#include "gguf.h"
#include <cjson/cJSON.h>

#define RE_GPT2_BL "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"

static char *read_file(const char *path, size_t *n, r1_error *err, r1_status *st) {
    FILE *f = fopen(path, "rb");
    if (!f) { *st = r1_set_error(err, R1_ERR_IO, "%s: cannot open", path); return NULL; }
    char *buf = NULL; size_t len = 0, cap = 0;
    for (;;) {
        if (len + 65536 + 1 > cap) {
            cap = (len + 65536 + 1) * 2;
            char *g = realloc(buf, cap);
            if (!g) { free(buf); fclose(f); *st = r1_set_error(err, R1_ERR_NOMEM, "%s: out of memory", path); return NULL; }
            buf = g;
        }
        size_t r = fread(buf + len, 1, 65536, f);
        len += r;
        if (r < 65536) break;
    }
    bool bad = ferror(f);
    fclose(f);
    if (bad) { free(buf); *st = r1_set_error(err, R1_ERR_IO, "%s: read error", path); return NULL; }
    buf[len] = 0; *n = len;
    return buf;
}

/* Token id of a tokenizer_config.json entry (string or {"content": ...}); -1 if none. */
static int32_t config_token(const cJSON *cfg, const char *key, const tok_spec *s) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, key);
    if (cJSON_IsObject(v)) v = cJSON_GetObjectItemCaseSensitive(v, "content");
    if (!cJSON_IsString(v)) return -1;
    size_t l = strlen(v->valuestring);
    for (int i = 0; i < s->n; i++)
        if (s->piece[i] && s->piece_len[i] == l && memcmp(s->piece[i], v->valuestring, l) == 0) return i;
    return -1;
}

/* Reads normalizer + pre_tokenizer into s (regex pointers borrow from the JSON tree). */
static r1_status json_pipeline(const cJSON *root, tok_spec *s, const char *path, r1_error *err) {
    const cJSON *norm = cJSON_GetObjectItemCaseSensitive(root, "normalizer");
    const cJSON *list = norm;
    int nn = 1;
    if (cJSON_IsObject(norm)) {
        const cJSON *ty = cJSON_GetObjectItemCaseSensitive(norm, "type");
        if (cJSON_IsString(ty) && strcmp(ty->valuestring, "Sequence") == 0) {
            list = cJSON_GetObjectItemCaseSensitive(norm, "normalizers");
            nn = cJSON_GetArraySize(list);
        }
        for (int i = 0; i < nn; i++) {
            const cJSON *n1 = list == norm ? norm : cJSON_GetArrayItem(list, i);
            const cJSON *t1 = cJSON_GetObjectItemCaseSensitive(n1, "type");
            if (!cJSON_IsString(t1)) continue;
            if (strcmp(t1->valuestring, "NFC") == 0) s->nfc = true;
            else if (strcmp(t1->valuestring, "Sequence") != 0)
                return r1_set_error(err, R1_ERR_UNSUPPORTED, "%s: normalizer '%s' not supported (NFC only)", path, t1->valuestring);
        }
    }
    const cJSON *pre = cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer");
    if (!cJSON_IsObject(pre)) return r1_set_error(err, R1_ERR_UNSUPPORTED, "%s: no pre_tokenizer", path);
    const cJSON *items = pre;
    int np = 1;
    const cJSON *ty = cJSON_GetObjectItemCaseSensitive(pre, "type");
    if (cJSON_IsString(ty) && strcmp(ty->valuestring, "Sequence") == 0) {
        items = cJSON_GetObjectItemCaseSensitive(pre, "pretokenizers");
        np = cJSON_GetArraySize(items);
    }
    for (int i = 0; i < np; i++) {
        const cJSON *p = items == pre ? pre : cJSON_GetArrayItem(items, i);
        const cJSON *t1 = cJSON_GetObjectItemCaseSensitive(p, "type");
        if (!cJSON_IsString(t1)) return r1_set_error(err, R1_ERR_FORMAT, "%s: pre_tokenizer %d has no type", path, i);
        if (strcmp(t1->valuestring, "ByteLevel") == 0) {
            const cJSON *ur = cJSON_GetObjectItemCaseSensitive(p, "use_regex");
            const cJSON *ap = cJSON_GetObjectItemCaseSensitive(p, "add_prefix_space");
            if (cJSON_IsTrue(ap)) return r1_set_error(err, R1_ERR_UNSUPPORTED, "%s: ByteLevel add_prefix_space not supported", path);
            if (cJSON_IsTrue(ur) || !ur) { if (s->n_regex >= 4) goto many; s->regex[s->n_regex++] = RE_GPT2_BL; }
            continue;
        }
        if (strcmp(t1->valuestring, "Split") != 0)
            return r1_set_error(err, R1_ERR_UNSUPPORTED, "%s: pre-tokenizer '%s' not supported", path, t1->valuestring);
        const cJSON *pat = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(p, "pattern"), "Regex");
        const cJSON *beh = cJSON_GetObjectItemCaseSensitive(p, "behavior");
        const cJSON *inv = cJSON_GetObjectItemCaseSensitive(p, "invert");
        if (!cJSON_IsString(pat) || !cJSON_IsString(beh) || strcmp(beh->valuestring, "Isolated") != 0 || cJSON_IsTrue(inv))
            return r1_set_error(err, R1_ERR_UNSUPPORTED, "%s: pre_tokenizer %d: only Split with a Regex, behavior Isolated, invert false is supported", path, i);
        if (s->n_regex >= 4) goto many;
        s->regex[s->n_regex++] = pat->valuestring;
    }
    return R1_OK;
many:
    return r1_set_error(err, R1_ERR_UNSUPPORTED, "%s: more than 4 pre-tokenizer splits", path);
}

r1_status r1_tokenizer_load_json(const char *path, const char *pretokenizer, r1_tokenizer **out, r1_error *err) {
    if (!out) return r1_set_error(err, R1_ERR_INVALID_ARG, "r1_tokenizer_load_json: out is NULL");
    *out = NULL;
    if (!path) return r1_set_error(err, R1_ERR_INVALID_ARG, "r1_tokenizer_load_json: path is NULL");
    r1_status st = R1_OK;
    size_t len;
    char *text = read_file(path, &len, err, &st);
    if (!text) return st;
    cJSON *root = cJSON_ParseWithLength(text, len), *cfg = NULL;
    free(text);
    tok_spec s = {.bos = -1, .eos = -1, .eot = -1};
    char *tmp = NULL;
    if (!root) { st = r1_set_error(err, R1_ERR_FORMAT, "%s: invalid JSON", path); goto done; }
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    const cJSON *mtype = cJSON_GetObjectItemCaseSensitive(model, "type");
    const cJSON *vocab = cJSON_GetObjectItemCaseSensitive(model, "vocab");
    const cJSON *merges = cJSON_GetObjectItemCaseSensitive(model, "merges");
    const cJSON *added = cJSON_GetObjectItemCaseSensitive(root, "added_tokens");
    if (!cJSON_IsString(mtype) || strcmp(mtype->valuestring, "BPE") != 0)
        { st = r1_set_error(err, R1_ERR_UNSUPPORTED, "%s: model.type is not BPE", path); goto done; }
    if (!cJSON_IsObject(vocab)) { st = r1_set_error(err, R1_ERR_FORMAT, "%s: model.vocab missing", path); goto done; }
    /* vocabulary size = 1 + the largest id */
    int maxid = -1;
    const cJSON *it;
    cJSON_ArrayForEach(it, vocab) {
        if (!cJSON_IsNumber(it) || it->valuedouble < 0 || it->valuedouble >= (1 << 24))
            { st = r1_set_error(err, R1_ERR_FORMAT, "%s: vocab entry '%s' has a bad id", path, it->string); goto done; }
        if (it->valueint > maxid) maxid = it->valueint;
    }
    cJSON_ArrayForEach(it, added) {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(it, "id");
        if (!cJSON_IsNumber(id) || id->valuedouble < 0 || id->valuedouble >= (1 << 24) ||
            !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(it, "content")))
            { st = r1_set_error(err, R1_ERR_FORMAT, "%s: added_tokens entry without id/content", path); goto done; }
        if (id->valueint > maxid) maxid = id->valueint;
    }
    s.n = maxid + 1;
    int nm = cJSON_GetArraySize(merges);
    s.piece = calloc(s.n > 0 ? s.n : 1, sizeof *s.piece);
    s.piece_len = calloc(s.n > 0 ? s.n : 1, sizeof *s.piece_len);
    s.type = calloc(s.n > 0 ? s.n : 1, 1);
    s.ml = calloc(nm + 1, sizeof *s.ml); s.mr = calloc(nm + 1, sizeof *s.mr);
    s.mll = calloc(nm + 1, sizeof *s.mll); s.mrl = calloc(nm + 1, sizeof *s.mrl);
    if (!s.piece || !s.piece_len || !s.type || !s.ml || !s.mr || !s.mll || !s.mrl)
        { st = r1_set_error(err, R1_ERR_NOMEM, "%s: out of memory", path); goto done; }
    cJSON_ArrayForEach(it, vocab) {
        s.piece[it->valueint] = it->string; s.piece_len[it->valueint] = (uint32_t)strlen(it->string);
        s.type[it->valueint] = TOK_NORMAL;
    }
    cJSON_ArrayForEach(it, added) {
        int id = cJSON_GetObjectItemCaseSensitive(it, "id")->valueint;
        const char *c = cJSON_GetObjectItemCaseSensitive(it, "content")->valuestring;
        s.piece[id] = c; s.piece_len[id] = (uint32_t)strlen(c);
        s.type[id] = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(it, "special")) ? TOK_CONTROL : TOK_USER;
    }
    int r = 0;
    for (const cJSON *m = merges ? merges->child : NULL; m && r < nm; m = m->next, r++) {   /* O(1) steps */
        if (cJSON_IsString(m)) {
            const char *sp = strchr(m->valuestring, ' ');
            if (!sp) { st = r1_set_error(err, R1_ERR_FORMAT, "%s: merge %d '%s' has no space", path, r, m->valuestring); goto done; }
            s.ml[r] = m->valuestring; s.mll[r] = (uint32_t)(sp - m->valuestring);
            s.mr[r] = sp + 1; s.mrl[r] = (uint32_t)strlen(sp + 1);
        } else if (cJSON_IsArray(m) && cJSON_GetArraySize(m) == 2 && cJSON_IsString(m->child) && cJSON_IsString(m->child->next)) {
            s.ml[r] = m->child->valuestring; s.mll[r] = (uint32_t)strlen(s.ml[r]);
            s.mr[r] = m->child->next->valuestring; s.mrl[r] = (uint32_t)strlen(s.mr[r]);
        } else { st = r1_set_error(err, R1_ERR_FORMAT, "%s: merge %d is neither \"a b\" nor [a, b]", path, r); goto done; }
    }
    s.n_merges = nm;
    s.ignore_merges = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(model, "ignore_merges"));
    s.have_norm = !pretokenizer;
    if (pretokenizer) s.pre = pretokenizer;       /* built-in table overrides the file */
    else if ((st = json_pipeline(root, &s, path, err))) goto done;
    /* BOS/EOS from tokenizer_config.json in the same folder */
    const char *slash = strrchr(path, '/');
    size_t dl = slash ? (size_t)(slash - path + 1) : 0;
    if ((tmp = malloc(dl + 32))) {
        memcpy(tmp, path, dl); strcpy(tmp + dl, "tokenizer_config.json");
        size_t cl; r1_status cs;
        char *ct = read_file(tmp, &cl, NULL, &cs);
        if (ct) { cfg = cJSON_ParseWithLength(ct, cl); free(ct); }
        if (cfg) { s.bos = config_token(cfg, "bos_token", &s); s.eos = config_token(cfg, "eos_token", &s); }
    }
    st = tok_build(&s, path, out, err);
done:
    free(tmp);
    free(s.piece); free(s.piece_len); free(s.type); free(s.ml); free(s.mr); free(s.mll); free(s.mrl);
    cJSON_Delete(root); cJSON_Delete(cfg);
    return st;
}

static int32_t gguf_id(const gguf_file *f, const char *key) {
    int64_t v;
    return gguf_get_i64(f, key, &v) && v >= 0 && v < INT32_MAX ? (int32_t)v : -1;
}

r1_status r1_tokenizer_load_gguf(const char *path, const char *pretokenizer, r1_tokenizer **out, r1_error *err) {
    if (!out) return r1_set_error(err, R1_ERR_INVALID_ARG, "r1_tokenizer_load_gguf: out is NULL");
    *out = NULL;
    if (!path) return r1_set_error(err, R1_ERR_INVALID_ARG, "r1_tokenizer_load_gguf: path is NULL");
    gguf_file *f = NULL;
    r1_status st = gguf_open(path, &f, err);
    if (st) return st;
    tok_spec s = {.bos = -1, .eos = -1, .eot = -1};
    char *model = gguf_get_str_dup(f, "tokenizer.ggml.model");
    char *pre = gguf_get_str_dup(f, "tokenizer.ggml.pre");
    const gguf_kv *tk = gguf_find_kv(f, "tokenizer.ggml.tokens");
    const gguf_kv *ty = gguf_find_kv(f, "tokenizer.ggml.token_type");
    const gguf_kv *mg = gguf_find_kv(f, "tokenizer.ggml.merges");
    if (!model || strcmp(model, "gpt2") != 0)
        { st = r1_set_error(err, R1_ERR_UNSUPPORTED, "%s: tokenizer.ggml.model '%s' not supported (gpt2 only)", path, model ? model : "(missing)"); goto done; }
    if (!tk || tk->type != GGUF_ARRAY || tk->arr_type != GGUF_STRING || tk->arr_n == 0 || tk->arr_n > (1u << 24))
        { st = r1_set_error(err, R1_ERR_FORMAT, "%s: tokenizer.ggml.tokens missing or not a string array", path); goto done; }
    if (ty && (ty->type != GGUF_ARRAY || ty->arr_n != tk->arr_n))
        { st = r1_set_error(err, R1_ERR_FORMAT, "%s: tokenizer.ggml.token_type has the wrong length", path); goto done; }
    if (mg && (mg->type != GGUF_ARRAY || mg->arr_type != GGUF_STRING || mg->arr_n > (1u << 26)))
        { st = r1_set_error(err, R1_ERR_FORMAT, "%s: tokenizer.ggml.merges is not a string array", path); goto done; }
    s.n = (int)tk->arr_n;
    s.n_merges = mg ? (int)mg->arr_n : 0;
    s.piece = calloc(s.n, sizeof *s.piece); s.piece_len = calloc(s.n, sizeof *s.piece_len); s.type = calloc(s.n, 1);
    s.ml = calloc(s.n_merges + 1, sizeof *s.ml); s.mr = calloc(s.n_merges + 1, sizeof *s.mr);
    s.mll = calloc(s.n_merges + 1, sizeof *s.mll); s.mrl = calloc(s.n_merges + 1, sizeof *s.mrl);
    if (!s.piece || !s.piece_len || !s.type || !s.ml || !s.mr || !s.mll || !s.mrl)
        { st = r1_set_error(err, R1_ERR_NOMEM, "%s: out of memory", path); goto done; }
    for (int i = 0; i < s.n; i++) {
        if (tk->arr_str[i].len > (1u << 20)) { st = r1_set_error(err, R1_ERR_FORMAT, "%s: token %d is too long", path, i); goto done; }
        s.piece[i] = tk->arr_str[i].ptr; s.piece_len[i] = (uint32_t)tk->arr_str[i].len;
        int64_t v = TOK_NORMAL;
        if (ty && !gguf_arr_i64(ty, (uint64_t)i, &v)) { st = r1_set_error(err, R1_ERR_FORMAT, "%s: tokenizer.ggml.token_type is not numeric", path); goto done; }
        s.type[i] = (uint8_t)(v >= 0 && v < 8 ? v : 0);
    }
    for (int r = 0; r < s.n_merges; r++) {
        const char *m = mg->arr_str[r].ptr; size_t ml = mg->arr_str[r].len;
        const char *sp = memchr(m, ' ', ml);
        if (!sp) { st = r1_set_error(err, R1_ERR_FORMAT, "%s: merge %d has no space", path, r); goto done; }
        s.ml[r] = m; s.mll[r] = (uint32_t)(sp - m); s.mr[r] = sp + 1; s.mrl[r] = (uint32_t)(ml - (size_t)(sp - m) - 1);
    }
    s.bos = gguf_id(f, "tokenizer.ggml.bos_token_id");
    s.eos = gguf_id(f, "tokenizer.ggml.eos_token_id");
    s.eot = gguf_id(f, "tokenizer.ggml.eot_token_id");
    s.pre = pretokenizer ? pretokenizer : pre ? pre : "default";
    st = tok_build(&s, path, out, err);
done:
    free(s.piece); free(s.piece_len); free(s.type); free(s.ml); free(s.mr); free(s.mll); free(s.mrl);
    free(model); free(pre);
    gguf_close(f);
    return st;
}
