/*
 * tokenizer.c — byte-level BPE exactly like Hugging Face `tokenizers` (GPT-2 family:
 * DeepSeek-V3/R1, Qwen2/R1-Distill-Qwen, Llama 3/R1-Distill-Llama).
 *
 * Encoding pipeline for len bytes of text:
 *   1. added tokens: scan left to right; at each byte the longest added token starting
 *      there wins (HF leftmost-longest). With R1_TOK_SPLIT_SPECIAL only non-special
 *      (user-defined) added tokens are matched. Text between matches goes to 2..5.
 *   2. normalizer: NFC (Qwen) applied to each maximal valid-UTF-8 run; invalid bytes
 *      pass through unchanged. None for DeepSeek-V3 / Llama 3.
 *   3. pre-tokenizer: a sequence of regex Splits with behavior Isolated (each split
 *      applies to every piece produced by the previous one; matches and the gaps
 *      between them both become pieces). PCRE2 in UTF+UCP mode with
 *      MATCH_INVALID_UTF, so invalid bytes never match and fall into gaps.
 *   4. ByteLevel: every byte is a symbol (its single-byte token); we never build the
 *      GPT-2 unicode string, the maps are keyed by raw bytes instead (bijective).
 *   5. BPE per piece: min-heap of candidate pairs ordered by (rank, position), merged
 *      leftmost-lowest-rank first (HF Word::merge_all). ignore_merges (Llama 3): a piece
 *      that is itself a token maps straight to its id.
 * Decoding: raw bytes of each token (byte-level map undone; added tokens as written).
 */
#include "tokenizer.h"
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <utf8proc.h>

/* ---- built-in pre-tokenizers (regexes as in each tokenizer.json) --------------------- */
#define RE_QWEN2 "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define RE_LLAMA3 "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define RE_DSV3_MAIN "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+"
#define RE_GPT2 "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"

typedef struct pre_def {
    const char *name;
    int n;
    const char *re[3];
    bool nfc, ignore_merges;
} pre_def;

static const pre_def PRE_DEFS[] = {
    {"deepseek-v3", 3, {"\\p{N}{1,3}", "[\xe4\xb8\x80-\xe9\xbe\xa5\xe3\x81\x80-\xe3\x82\x9f\xe3\x82\xa0-\xe3\x83\xbf]+", RE_DSV3_MAIN}, false, false},
    {"deepseek-r1-qwen", 1, {RE_QWEN2}, true, false},
    {"qwen2", 1, {RE_QWEN2}, true, false},
    {"llama-bpe", 1, {RE_LLAMA3}, false, true},
    {"llama3", 1, {RE_LLAMA3}, false, true},
    {"gpt2", 1, {RE_GPT2}, false, false},
    {"default", 1, {RE_GPT2}, false, false},
};
#define PRE_NAMES "deepseek-v3, deepseek-r1-qwen, qwen2, llama-bpe, llama3, gpt2, default"

/* ---- the tokenizer ------------------------------------------------------------------- */
enum { A_SPECIAL = 1, A_ADDED = 2, A_EOG = 4 };

struct r1_tokenizer {
    int       n_vocab;
    char     *arena;                 /* stored pieces then raw bytes, back to back      */
    uint32_t *poff, *plen;           /* [n_vocab] stored piece                          */
    uint32_t *roff, *rlen;           /* [n_vocab] raw bytes                             */
    uint8_t  *attr;                  /* [n_vocab] A_* bits                              */
    int32_t  *raw_map;  size_t raw_mask;    /* open addressing, -1 = empty            */
    int32_t  *piece_map; size_t piece_mask;
    uint64_t *mkey; uint32_t *mrank; int32_t *mres; size_t mmask;  /* merges, key 0 = empty */
    int32_t   byte_tok[256];         /* token of each single byte, -1 if missing        */
    int32_t  *added; int n_added;    /* added ids by first byte, then length desc       */
    int       first[257];            /* added[first[b] .. first[b+1]) start with byte b */
    int32_t   bos, eos;
    char      pre[64];
    int       n_re;
    pcre2_code *re[4];
    bool      nfc, ignore_merges;
    size_t    max_token_len;
};

/* ---- GPT-2 byte <-> unicode map ------------------------------------------------------ */
/* Code point of byte b in the GPT-2 byte-level alphabet. */
static int byte_to_cp(int b) {
    if ((b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff)) return b;
    int n = 0;
    for (int c = 0; c < b; c++)
        if (!((c >= 0x21 && c <= 0x7e) || (c >= 0xa1 && c <= 0xac) || (c >= 0xae && c <= 0xff))) n++;
    return 256 + n;
}

/* Strict UTF-8 decode of one code point at s[0..n): returns its length (1..4) and sets *cp,
 * or 0 if the bytes there are not a valid complete sequence. */
static int utf8_dec(const unsigned char *s, size_t n, int32_t *cp) {
    unsigned c = s[0];
    if (c < 0x80) { *cp = (int32_t)c; return 1; }
    int len; uint32_t v, min;
    if (c >= 0xc2 && c <= 0xdf) { len = 2; v = c & 0x1f; min = 0x80; }
    else if (c >= 0xe0 && c <= 0xef) { len = 3; v = c & 0x0f; min = 0x800; }
    else if (c >= 0xf0 && c <= 0xf4) { len = 4; v = c & 0x07; min = 0x10000; }
    else return 0;
    if ((size_t)len > n) return 0;
    for (int i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) return 0;
        v = (v << 6) | (s[i] & 0x3f);
    }
    if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) return 0;
    *cp = (int32_t)v;
    return len;
}

/* ---- hashing ------------------------------------------------------------------------- */
static uint64_t hash_bytes(const char *p, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) { h ^= (unsigned char)p[i]; h *= 1099511628211ull; }
    return h ^ (h >> 29);
}
static uint64_t hash_u64(uint64_t x) {
    x ^= x >> 33; x *= 0xff51afd7ed558ccdull; x ^= x >> 33; x *= 0xc4ceb9fe1a85ec53ull; x ^= x >> 33;
    return x;
}
static size_t pow2_at_least(size_t n) { size_t c = 16; while (c < n) c <<= 1; return c; }

/* Looks up bytes p[0..n) in a string map whose keys are (off,len) of the arena. */
static int32_t smap_get(const r1_tokenizer *t, const int32_t *map, size_t mask,
                        const uint32_t *off, const uint32_t *len, const char *p, size_t n) {
    for (size_t i = hash_bytes(p, n) & mask;; i = (i + 1) & mask) {
        int32_t id = map[i];
        if (id < 0) return -1;
        if (len[id] == n && memcmp(t->arena + off[id], p, n) == 0) return id;
    }
}
/* Inserts id unless its key is already present (the first id wins, like HF vocab maps). */
static void smap_put(const r1_tokenizer *t, int32_t *map, size_t mask, const uint32_t *off,
                     const uint32_t *len, int32_t id) {
    const char *p = t->arena + off[id];
    size_t n = len[id];
    for (size_t i = hash_bytes(p, n) & mask;; i = (i + 1) & mask) {
        int32_t o = map[i];
        if (o < 0) { map[i] = id; return; }
        if (len[o] == n && memcmp(t->arena + off[o], p, n) == 0) return;
    }
}

static bool merge_get(const r1_tokenizer *t, int32_t a, int32_t b, uint32_t *rank, int32_t *res) {
    uint64_t k = ((uint64_t)(uint32_t)a << 32 | (uint32_t)b) + 1;
    for (size_t i = hash_u64(k) & t->mmask;; i = (i + 1) & t->mmask) {
        if (t->mkey[i] == 0) return false;
        if (t->mkey[i] == k) { *rank = t->mrank[i]; *res = t->mres[i]; return true; }
    }
}

/* ---- building ------------------------------------------------------------------------ */
static const char *EOG_PIECES[] = {
    "<|eot_id|>", "<|eom_id|>", "<|im_end|>", "<|EOT|>", "<|endoftext|>", "<|end_of_text|>",
    "<\357\275\234end\342\226\201of\342\226\201sentence\357\275\234>",   /* <｜end▁of▁sentence｜> */
};

static int cmp_added(const void *a, const void *b, void *arg) {
    const r1_tokenizer *t = arg;
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    unsigned char fx = (unsigned char)t->arena[t->poff[x]], fy = (unsigned char)t->arena[t->poff[y]];
    if (fx != fy) return fx < fy ? -1 : 1;
    if (t->plen[x] != t->plen[y]) return t->plen[x] > t->plen[y] ? -1 : 1;
    return x < y ? -1 : x > y;
}

static r1_status compile_regexes(r1_tokenizer *t, int n, const char *const *re, const char *what, r1_error *err) {
    for (int i = 0; i < n; i++) {
        int ec; PCRE2_SIZE eo;
        t->re[i] = pcre2_compile((PCRE2_SPTR)re[i], PCRE2_ZERO_TERMINATED,
                                 PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &ec, &eo, NULL);
        if (!t->re[i]) {
            PCRE2_UCHAR msg[160];
            pcre2_get_error_message(ec, msg, sizeof msg);
            return r1_set_error(err, R1_ERR_UNSUPPORTED, "%s: pre-tokenizer regex %d: %s at offset %zu",
                                what, i, (const char *)msg, (size_t)eo);
        }
        pcre2_jit_compile(t->re[i], PCRE2_JIT_COMPLETE);  /* falls back to the interpreter */
        t->n_re = i + 1;
    }
    return R1_OK;
}

r1_status tok_build(const tok_spec *s, const char *what, r1_tokenizer **out, r1_error *err) {
    *out = NULL;
    if (s->n <= 0 || s->n > (1 << 24)) return r1_set_error(err, R1_ERR_FORMAT, "%s: bad vocabulary size %d", what, s->n);
    r1_tokenizer *t = calloc(1, sizeof *t);
    if (!t) return r1_set_error(err, R1_ERR_NOMEM, "%s: out of memory", what);
    t->n_vocab = s->n;
    t->bos = s->bos >= 0 && s->bos < s->n ? s->bos : -1;
    t->eos = s->eos >= 0 && s->eos < s->n ? s->eos : -1;
    r1_status st = R1_ERR_NOMEM;
    int n = s->n;
    size_t total = 0;
    for (int i = 0; i < n; i++) total += s->piece ? s->piece_len[i] : 0;
    if (total > UINT32_MAX / 2) { st = r1_set_error(err, R1_ERR_FORMAT, "%s: vocabulary too large", what); goto fail; }
    t->arena = malloc(2 * total + 1);
    t->poff = malloc(n * sizeof *t->poff); t->plen = malloc(n * sizeof *t->plen);
    t->roff = malloc(n * sizeof *t->roff); t->rlen = malloc(n * sizeof *t->rlen);
    t->attr = calloc(n, 1);
    t->added = malloc(n * sizeof *t->added);
    t->raw_mask = t->piece_mask = pow2_at_least((size_t)n * 2) - 1;
    t->raw_map = malloc((t->raw_mask + 1) * sizeof *t->raw_map);
    t->piece_map = malloc((t->piece_mask + 1) * sizeof *t->piece_map);
    if (!t->arena || !t->poff || !t->plen || !t->roff || !t->rlen || !t->attr || !t->added || !t->raw_map || !t->piece_map) goto nomem;
    memset(t->raw_map, 0xff, (t->raw_mask + 1) * sizeof *t->raw_map);
    memset(t->piece_map, 0xff, (t->piece_mask + 1) * sizeof *t->piece_map);

    /* unicode code point -> byte for the GPT-2 alphabet (cps 0..323) */
    int16_t cp2b[324];
    for (int i = 0; i < 324; i++) cp2b[i] = -1;
    for (int b = 0; b < 256; b++) cp2b[byte_to_cp(b)] = (int16_t)b;

    size_t pos = 0;
    for (int i = 0; i < n; i++) {
        uint32_t l = s->piece && s->piece[i] ? s->piece_len[i] : 0;
        if (l) memcpy(t->arena + pos, s->piece[i], l);
        t->poff[i] = (uint32_t)pos; t->plen[i] = l; pos += l;
        if (l > t->max_token_len) t->max_token_len = l;
    }
    for (int i = 0; i < n; i++) {
        const unsigned char *p = (const unsigned char *)t->arena + t->poff[i];
        uint32_t l = t->plen[i];
        int ty = s->type ? s->type[i] : TOK_NORMAL;
        if (ty == TOK_CONTROL) t->attr[i] |= A_SPECIAL | A_ADDED;
        if (ty == TOK_USER) t->attr[i] |= A_ADDED;
        /* raw bytes: undo the byte-level map when the piece is a byte-level string */
        size_t r0 = pos;
        bool bl = !(t->attr[i] & A_ADDED) && l > 0;
        for (uint32_t k = 0; bl && k < l;) {
            int32_t cp; int m = utf8_dec(p + k, l - k, &cp);
            if (!m || cp >= 324 || cp2b[cp] < 0) { bl = false; break; }
            t->arena[pos++] = (char)cp2b[cp];
            k += (uint32_t)m;
        }
        if (!bl) { pos = r0; memcpy(t->arena + pos, p, l); pos += l; }
        t->roff[i] = (uint32_t)r0; t->rlen[i] = (uint32_t)(pos - r0);
        if (l) smap_put(t, t->piece_map, t->piece_mask, t->poff, t->plen, i);
        if (bl) smap_put(t, t->raw_map, t->raw_mask, t->roff, t->rlen, i);
        if ((t->attr[i] & A_ADDED) && l) t->added[t->n_added++] = i;
        for (size_t e = 0; e < R1_ARRAY_LEN(EOG_PIECES); e++)
            if (l == strlen(EOG_PIECES[e]) && memcmp(p, EOG_PIECES[e], l) == 0) t->attr[i] |= A_EOG;
    }
    if (t->eos >= 0) t->attr[t->eos] |= A_EOG;
    if (s->eot >= 0 && s->eot < n) t->attr[s->eot] |= A_EOG;
    for (int b = 0; b < 256; b++) { char c = (char)b; t->byte_tok[b] = smap_get(t, t->raw_map, t->raw_mask, t->roff, t->rlen, &c, 1); }

    qsort_r(t->added, (size_t)t->n_added, sizeof *t->added, cmp_added, t);
    for (int b = 0, k = 0; b <= 256; b++) {
        while (k < t->n_added && (unsigned char)t->arena[t->poff[t->added[k]]] < b) k++;
        t->first[b] = k;
    }

    /* merges: (left id, right id) -> (rank, id of left+right) */
    t->mmask = pow2_at_least((size_t)(s->n_merges > 0 ? s->n_merges : 1) * 2) - 1;
    t->mkey = calloc(t->mmask + 1, sizeof *t->mkey);
    t->mrank = malloc((t->mmask + 1) * sizeof *t->mrank);
    t->mres = malloc((t->mmask + 1) * sizeof *t->mres);
    if (!t->mkey || !t->mrank || !t->mres) goto nomem;
    char *cat = malloc(2 * t->max_token_len + 8);
    if (!cat) goto nomem;
    for (int r = 0; r < s->n_merges; r++) {
        int32_t a = smap_get(t, t->piece_map, t->piece_mask, t->poff, t->plen, s->ml[r], s->mll[r]);
        int32_t b = smap_get(t, t->piece_map, t->piece_mask, t->poff, t->plen, s->mr[r], s->mrl[r]);
        if (a < 0 || b < 0 || s->mll[r] + s->mrl[r] > 2 * t->max_token_len) continue;
        memcpy(cat, s->ml[r], s->mll[r]); memcpy(cat + s->mll[r], s->mr[r], s->mrl[r]);
        int32_t c = smap_get(t, t->piece_map, t->piece_mask, t->poff, t->plen, cat, s->mll[r] + s->mrl[r]);
        if (c < 0) continue;
        uint64_t k = ((uint64_t)(uint32_t)a << 32 | (uint32_t)b) + 1;
        for (size_t i = hash_u64(k) & t->mmask;; i = (i + 1) & t->mmask) {
            if (t->mkey[i] == k) break;                 /* duplicate merge: keep the first rank */
            if (t->mkey[i] == 0) { t->mkey[i] = k; t->mrank[i] = (uint32_t)r; t->mres[i] = c; break; }
        }
    }
    free(cat);

    /* pre-tokenizer */
    const pre_def *pd = NULL;
    for (size_t i = 0; s->pre && i < R1_ARRAY_LEN(PRE_DEFS); i++)
        if (strcmp(s->pre, PRE_DEFS[i].name) == 0) pd = &PRE_DEFS[i];
    if (s->n_regex > 0) {
        if ((st = compile_regexes(t, s->n_regex, s->regex, what, err))) goto fail;
        t->nfc = s->nfc; t->ignore_merges = s->ignore_merges;
        /* name it after the built-in entry with the same splits and normalizer, if any */
        const char *name = "tokenizer.json";
        for (size_t i = 0; i < R1_ARRAY_LEN(PRE_DEFS) && !strcmp(name, "tokenizer.json"); i++) {
            bool same = PRE_DEFS[i].n == s->n_regex && PRE_DEFS[i].nfc == s->nfc;
            for (int k = 0; same && k < s->n_regex; k++) same = strcmp(PRE_DEFS[i].re[k], s->regex[k]) == 0;
            if (same) name = PRE_DEFS[i].name;
        }
        snprintf(t->pre, sizeof t->pre, "%s", name);
    } else {
        if (!pd) { st = r1_set_error(err, R1_ERR_UNSUPPORTED, "%s: unknown pre-tokenizer '%s' (known: " PRE_NAMES ")", what, s->pre ? s->pre : "(none)"); goto fail; }
        if ((st = compile_regexes(t, pd->n, pd->re, what, err))) goto fail;
        t->nfc = pd->nfc; t->ignore_merges = pd->ignore_merges;
        if (s->have_norm) { t->nfc = s->nfc; t->ignore_merges = s->ignore_merges; }
        snprintf(t->pre, sizeof t->pre, "%s", pd->name);
    }
    *out = t;
    return R1_OK;
nomem:
    st = r1_set_error(err, R1_ERR_NOMEM, "%s: out of memory building the vocabulary", what);
fail:
    r1_tokenizer_free(t);
    return st;
}

void r1_tokenizer_free(r1_tokenizer *t) {
    if (!t) return;
    for (int i = 0; i < t->n_re; i++) pcre2_code_free(t->re[i]);
    free(t->arena); free(t->poff); free(t->plen); free(t->roff); free(t->rlen); free(t->attr);
    free(t->raw_map); free(t->piece_map); free(t->mkey); free(t->mrank); free(t->mres); free(t->added);
    free(t);
}

/* ---- encoding ------------------------------------------------------------------------ */
/* Per-call scratch (the tokenizer itself is read-only and shareable between threads). */
typedef struct heap_ent { uint32_t rank; int32_t pos, res; } heap_ent;
typedef struct enc {
    const r1_tokenizer *t;
    int32_t *ids; size_t n, cap;
    int32_t *sym, *prev, *next; size_t scap;      /* BPE symbols of one piece           */
    heap_ent *heap; size_t hn, hcap;
    pcre2_match_data *md;
    pcre2_match_context *mc;
    pcre2_jit_stack *js;
    r1_error *err;
} enc;

static r1_status push_id(enc *e, int32_t id) {
    if (e->n == e->cap) {
        size_t nc = e->cap ? e->cap * 2 : 64;
        int32_t *g = realloc(e->ids, nc * sizeof *g);
        if (!g) return r1_set_error(e->err, R1_ERR_NOMEM, "r1_tokenize: out of memory");
        e->ids = g; e->cap = nc;
    }
    e->ids[e->n++] = id;
    return R1_OK;
}

static bool heap_less(const heap_ent *a, const heap_ent *b) {
    return a->rank != b->rank ? a->rank < b->rank : a->pos < b->pos;
}
static void heap_push(enc *e, heap_ent v) {   /* capacity reserved by the caller */
    size_t i = e->hn++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!heap_less(&v, &e->heap[p])) break;
        e->heap[i] = e->heap[p]; i = p;
    }
    e->heap[i] = v;
}
static heap_ent heap_pop(enc *e) {
    heap_ent top = e->heap[0], v = e->heap[--e->hn];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= e->hn) break;
        if (c + 1 < e->hn && heap_less(&e->heap[c + 1], &e->heap[c])) c++;
        if (!heap_less(&e->heap[c], &v)) break;
        e->heap[i] = e->heap[c]; i = c;
    }
    if (e->hn) e->heap[i] = v;
    return top;
}
static void try_pair(enc *e, int32_t a) {
    int32_t b = e->next[a];
    uint32_t rank; int32_t res;
    if (b >= 0 && merge_get(e->t, e->sym[a], e->sym[b], &rank, &res))
        heap_push(e, (heap_ent){rank, a, res});
}

/* BPE of one pre-token p[0..n) (raw bytes), appending ids. */
static r1_status bpe(enc *e, const char *p, size_t n) {
    const r1_tokenizer *t = e->t;
    if (n == 0) return R1_OK;
    if (n == 1 || t->ignore_merges) {
        int32_t id = smap_get(t, t->raw_map, t->raw_mask, t->roff, t->rlen, p, n);
        if (id >= 0) return push_id(e, id);
    }
    if (n > e->scap) {
        size_t nc = n * 2;
        int32_t *a = realloc(e->sym, nc * sizeof *a); if (a) e->sym = a;
        int32_t *b = realloc(e->prev, nc * sizeof *b); if (b) e->prev = b;
        int32_t *c = realloc(e->next, nc * sizeof *c); if (c) e->next = c;
        heap_ent *h = realloc(e->heap, 3 * nc * sizeof *h); if (h) e->heap = h;
        if (!a || !b || !c || !h) return r1_set_error(e->err, R1_ERR_NOMEM, "r1_tokenize: out of memory");
        e->scap = nc;
    }
    for (size_t i = 0; i < n; i++) {
        int32_t id = t->byte_tok[(unsigned char)p[i]];
        if (id < 0) return r1_set_error(e->err, R1_ERR_UNSUPPORTED, "r1_tokenize: byte 0x%02x has no token in the vocabulary", (unsigned char)p[i]);
        e->sym[i] = id; e->prev[i] = (int32_t)i - 1; e->next[i] = i + 1 < n ? (int32_t)i + 1 : -1;
    }
    e->hn = 0;
    for (size_t i = 0; i + 1 < n; i++) try_pair(e, (int32_t)i);
    /* each merge pushes at most 2 entries: heap never exceeds n + 2n */
    while (e->hn) {
        heap_ent h = heap_pop(e);
        int32_t a = h.pos, b;
        if (e->sym[a] < 0 || (b = e->next[a]) < 0) continue;
        uint32_t rank; int32_t res;
        if (!merge_get(t, e->sym[a], e->sym[b], &rank, &res) || res != h.res || rank != h.rank) continue;
        e->sym[a] = res;
        e->sym[b] = -1;
        e->next[a] = e->next[b];
        if (e->next[b] >= 0) e->prev[e->next[b]] = a;
        if (e->prev[a] >= 0) try_pair(e, e->prev[a]);
        try_pair(e, a);
    }
    for (int32_t i = 0; i >= 0; i = e->next[i]) { r1_status st = push_id(e, e->sym[i]); if (st) return st; }
    return R1_OK;
}

/* Applies split level `lv` (Isolated) to p[0..n), recursing; the last level feeds BPE. */
static r1_status split(enc *e, int lv, const char *p, size_t n) {
    if (n == 0) return R1_OK;
    if (lv == e->t->n_re) return bpe(e, p, n);
    size_t at = 0, gap = 0;
    while (at < n) {
        int rc = pcre2_match(e->t->re[lv], (PCRE2_SPTR)p, n, at, 0, e->md, e->mc);
        if (rc == PCRE2_ERROR_NOMATCH) break;
        if (rc < 0) {
            PCRE2_UCHAR msg[160];
            pcre2_get_error_message(rc, msg, sizeof msg);
            return r1_set_error(e->err, R1_ERR_INTERNAL, "r1_tokenize: pre-tokenizer regex %d: %s", lv, (const char *)msg);
        }
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(e->md);
        size_t s0 = ov[0], s1 = ov[1];
        if (s1 == s0) {                 /* empty match: step over one character */
            at = s0 + 1;
            while (at < n && ((unsigned char)p[at] & 0xc0) == 0x80) at++;
            continue;
        }
        r1_status st;
        if (s0 > gap && (st = split(e, lv + 1, p + gap, s0 - gap))) return st;
        if ((st = split(e, lv + 1, p + s0, s1 - s0))) return st;
        gap = at = s1;
    }
    return split(e, lv + 1, p + gap, n - gap);
}

/* Normalizes (NFC on valid UTF-8 runs when enabled) and pre-tokenizes one text segment. */
static r1_status encode_text(enc *e, const char *p, size_t n) {
    if (n == 0) return R1_OK;
    if (!e->t->nfc) return split(e, 0, p, n);
    bool ascii = true;
    for (size_t i = 0; i < n && ascii; i++) ascii = (unsigned char)p[i] < 0x80;
    if (ascii) return split(e, 0, p, n);
    /* build the normalized text: valid runs through NFC, invalid bytes copied */
    char *buf = NULL; size_t bn = 0, bc = 0;
    r1_status st = R1_OK;
    size_t i = 0;
    while (i < n) {
        size_t j = i; int32_t cp; int m;
        while (j < n && (m = utf8_dec((const unsigned char *)p + j, n - j, &cp)) > 0) j += (size_t)m;
        const char *add = p + i; size_t an = j - i;
        utf8proc_uint8_t *nf = NULL;
        if (an) {
            utf8proc_ssize_t r = utf8proc_map((const utf8proc_uint8_t *)p + i, (utf8proc_ssize_t)an, &nf, UTF8PROC_STABLE | UTF8PROC_COMPOSE);
            if (r < 0) { st = r1_set_error(e->err, R1_ERR_NOMEM, "r1_tokenize: NFC: %s", utf8proc_errmsg(r)); break; }
            add = (const char *)nf; an = (size_t)r;
        }
        size_t bad = j < n ? 1 : 0;    /* one invalid byte after the run */
        if (bn + an + bad > bc) {
            bc = (bn + an + bad) * 2 + 16;
            char *g = realloc(buf, bc);
            if (!g) { free(nf); st = r1_set_error(e->err, R1_ERR_NOMEM, "r1_tokenize: out of memory"); break; }
            buf = g;
        }
        memcpy(buf + bn, add, an); bn += an;
        free(nf);
        if (bad) buf[bn++] = p[j];
        i = j + bad;
    }
    if (!st) st = split(e, 0, buf ? buf : "", bn);
    free(buf);
    return st;
}

r1_status r1_tokenize(const r1_tokenizer *t, const char *text, size_t len, unsigned flags,
                      int32_t **ids, size_t *n_ids, r1_error *err) {
    if (ids) *ids = NULL;
    if (n_ids) *n_ids = 0;
    if (!t || !ids || !n_ids || (!text && len)) return r1_set_error(err, R1_ERR_INVALID_ARG, "r1_tokenize: NULL argument");
    enc e = {.t = t, .err = err};
    r1_status st = R1_OK;
    e.md = pcre2_match_data_create(4, NULL);
    e.mc = pcre2_match_context_create(NULL);
    e.js = pcre2_jit_stack_create(32 * 1024, 4 * 1024 * 1024, NULL);
    if (!e.md || !e.mc || !e.js) { st = r1_set_error(err, R1_ERR_NOMEM, "r1_tokenize: out of memory"); goto done; }
    pcre2_jit_stack_assign(e.mc, NULL, e.js);
    if ((flags & R1_TOK_ADD_BOS) && t->bos >= 0 && (st = push_id(&e, t->bos))) goto done;
    size_t seg = 0;
    for (size_t i = 0; i < len;) {
        unsigned char b = (unsigned char)text[i];
        int32_t hit = -1;
        for (int k = t->first[b]; k < t->first[b + 1]; k++) {
            int32_t id = t->added[k];
            if ((flags & R1_TOK_SPLIT_SPECIAL) && (t->attr[id] & A_SPECIAL)) continue;
            if (t->plen[id] <= len - i && memcmp(text + i, t->arena + t->poff[id], t->plen[id]) == 0) { hit = id; break; }
        }
        if (hit < 0) { i++; continue; }
        if ((st = encode_text(&e, text + seg, i - seg)) || (st = push_id(&e, hit))) goto done;
        i += t->plen[hit];
        seg = i;
    }
    st = encode_text(&e, text + seg, len - seg);
done:
    pcre2_match_data_free(e.md); pcre2_match_context_free(e.mc); pcre2_jit_stack_free(e.js);
    free(e.sym); free(e.prev); free(e.next); free(e.heap);
    if (st) { free(e.ids); return st; }
    *ids = e.ids; *n_ids = e.n;
    return R1_OK;
}

/* ---- queries ------------------------------------------------------------------------- */
int r1_vocab_size(const r1_tokenizer *t) { return t ? t->n_vocab : 0; }
int32_t r1_token_bos(const r1_tokenizer *t) { return t ? t->bos : -1; }
int32_t r1_token_eos(const r1_tokenizer *t) { return t ? t->eos : -1; }
static bool valid_id(const r1_tokenizer *t, int32_t id) { return t && id >= 0 && id < t->n_vocab; }
bool r1_token_is_eog(const r1_tokenizer *t, int32_t id) { return valid_id(t, id) && (t->attr[id] & A_EOG); }
bool r1_token_is_special(const r1_tokenizer *t, int32_t id) { return valid_id(t, id) && (t->attr[id] & A_SPECIAL); }
int32_t r1_token_find(const r1_tokenizer *t, const char *text) {
    if (!t || !text) return -1;
    return smap_get(t, t->piece_map, t->piece_mask, t->poff, t->plen, text, strlen(text));
}
const char *r1_pretokenizer_name(const r1_tokenizer *t) { return t ? t->pre : NULL; }

int r1_token_to_bytes(const r1_tokenizer *t, int32_t id, char *buf, size_t cap) {
    if (!valid_id(t, id)) return -1;
    size_t l = t->rlen[id];
    if (buf && cap) memcpy(buf, t->arena + t->roff[id], R1_MIN(l, cap));
    return (int)l;
}

/* ---- streaming detokenizer ----------------------------------------------------------- */
struct r1_detok {
    const r1_tokenizer *t;
    unsigned flags;
    unsigned char pend[4]; int np;   /* an incomplete, still possibly valid UTF-8 prefix */
};

r1_status r1_detok_create(const r1_tokenizer *t, unsigned flags, r1_detok **out, r1_error *err) {
    if (!out) return r1_set_error(err, R1_ERR_INVALID_ARG, "r1_detok_create: out is NULL");
    *out = NULL;
    if (!t) return r1_set_error(err, R1_ERR_INVALID_ARG, "r1_detok_create: tokenizer is NULL");
    r1_detok *d = calloc(1, sizeof *d);
    if (!d) return r1_set_error(err, R1_ERR_NOMEM, "r1_detok_create: out of memory");
    d->t = t; d->flags = flags;
    *out = d;
    return R1_OK;
}
void r1_detok_free(r1_detok *d) { free(d); }

/* Can s[0..n) (n < length implied by s[0]) still grow into a valid UTF-8 sequence? */
static bool utf8_viable_prefix(const unsigned char *s, int n) {
    unsigned c = s[0];
    int need = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
    if (!need || n >= need) return false;
    for (int i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80) return false;
        if (i == 1 && ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] > 0x9f) ||
                       (c == 0xf0 && s[1] < 0x90) || (c == 0xf4 && s[1] > 0x8f))) return false;
    }
    return true;
}

/* Feeds bytes p[0..n): writes everything except a trailing viable incomplete sequence. */
static int detok_feed(r1_detok *d, const char *p, size_t n, char *out, size_t cap) {
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (d->np) {
            d->pend[d->np++] = c;
            int32_t cp;
            if (utf8_dec(d->pend, (size_t)d->np, &cp) == d->np) {   /* completed */
                for (int k = 0; k < d->np; k++) if (w < cap) out[w++] = (char)d->pend[k]; else w++;
                d->np = 0;
            } else if (!utf8_viable_prefix(d->pend, d->np)) {     /* dead: emit the lead, rescan */
                if (w < cap) out[w++] = (char)d->pend[0]; else w++;
                int rest = d->np - 1; unsigned char tmp[4];
                memcpy(tmp, d->pend + 1, (size_t)rest);
                d->np = 0;
                int r = detok_feed(d, (const char *)tmp, (size_t)rest, w < cap ? out + w : NULL, w < cap ? cap - w : 0);
                w += (size_t)r;
            }
            continue;
        }
        if (c >= 0x80 && utf8_viable_prefix(&c, 1)) { d->pend[0] = c; d->np = 1; continue; }
        if (w < cap) out[w++] = (char)c; else w++;
    }
    return (int)R1_MIN(w, cap);
}

int r1_detok_push(r1_detok *d, int32_t id, char *out, size_t cap) {
    if (!d || !valid_id(d->t, id)) return -1;
    if ((d->t->attr[id] & A_SPECIAL) && !(d->flags & R1_DETOK_SHOW_SPECIAL)) return 0;
    return detok_feed(d, d->t->arena + d->t->roff[id], d->t->rlen[id], out, cap);
}

int r1_detok_flush(r1_detok *d, char *out, size_t cap) {
    if (!d) return 0;
    int w = 0;
    for (int k = 0; k < d->np; k++) if ((size_t)w < cap) out[w++] = (char)d->pend[k];
    d->np = 0;
    return w;
}
