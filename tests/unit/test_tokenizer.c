/*
 * test_tokenizer.c — tokenizer unit tests on a tiny hand-made tokenizer.json (written
 * by the test; no oracle files): byte tokens, merges by rank, added/special tokens with
 * and without split-special, BOS, NFC, errors, and a property test: thousands of random
 * byte strings (invalid UTF-8, NULs, special-token fragments) round-trip exactly through
 * r1_token_to_bytes and through the streaming detokenizer.
 */
#include "test.h"
#include "r1.h"
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

/* GPT-2 byte-level code point of byte b. */
static int b2cp(int b) {
    if ((b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff)) return b;
    int n = 0;
    for (int c = 0; c < b; c++)
        if (!((c >= 0x21 && c <= 0x7e) || (c >= 0xa1 && c <= 0xac) || (c >= 0xae && c <= 0xff))) n++;
    return 256 + n;
}
/* Appends the JSON string literal of byte-level-encoded bytes s to f. */
static void put_bl(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        int cp = b2cp((unsigned char)*s);
        if (cp == '"' || cp == '\\') fprintf(f, "\\%c", cp);
        else if (cp < 0x80) fputc(cp, f);
        else fprintf(f, "\\u%04x", cp);
    }
    fputc('"', f);
}

static const char *MERGES[][2] = {{"h", "e"}, {"l", "l"}, {"he", "ll"}, {"hell", "o"}, {" ", "w"}, {" w", "o"}, {"a", "a"}};
#define NM (int)(sizeof MERGES / sizeof MERGES[0])

/* Writes the tiny tokenizer.json: 256 byte tokens (ids 0..255), one token per merge
 * result (256..), then added tokens "<think>" (non-special) and "<｜User｜>", "<s>" (special). */
static const char *write_json(const char *name, const char *normalizer) {
    static char path[256];
    snprintf(path, sizeof path, "/tmp/r1_test_tok_%d_%s.json", (int)getpid(), name);
    FILE *f = fopen(path, "w");
    if (!f) return NULL;
    fprintf(f, "{\"added_tokens\":[{\"id\":%d,\"content\":\"<think>\",\"special\":false},"
               "{\"id\":%d,\"content\":\"<\\uff5cUser\\uff5c>\",\"special\":true},"
               "{\"id\":%d,\"content\":\"<s>\",\"special\":true}],\n", 256 + NM, 257 + NM, 258 + NM);
    fprintf(f, "\"normalizer\":%s,\"pre_tokenizer\":{\"type\":\"Sequence\",\"pretokenizers\":["
               "{\"type\":\"Split\",\"pattern\":{\"Regex\":\"\\\\p{N}{1,3}\"},\"behavior\":\"Isolated\",\"invert\":false},"
               "{\"type\":\"Split\",\"pattern\":{\"Regex\":\"(?i:'s|'t)|[^\\\\r\\\\n\\\\p{L}\\\\p{N}]?\\\\p{L}+|\\\\p{N}| ?[^\\\\s\\\\p{L}\\\\p{N}]+[\\\\r\\\\n]*|\\\\s*[\\\\r\\\\n]+|\\\\s+(?!\\\\S)|\\\\s+\"},\"behavior\":\"Isolated\",\"invert\":false},"
               "{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"use_regex\":false}]},\n", normalizer);
    fprintf(f, "\"model\":{\"type\":\"BPE\",\"vocab\":{");
    for (int b = 0; b < 256; b++) { char s[2] = {(char)b, 0}; if (b == 0) { fprintf(f, "\"\\u0100\":0"); continue; } fputc(',', f); put_bl(f, s); fprintf(f, ":%d", b); }
    for (int m = 0; m < NM; m++) {
        char s[64]; snprintf(s, sizeof s, "%s%s", MERGES[m][0], MERGES[m][1]);
        fputc(',', f); put_bl(f, s); fprintf(f, ":%d", 256 + m);
    }
    fprintf(f, "},\"merges\":[");
    for (int m = 0; m < NM; m++) {
        fprintf(f, m ? ",[" : "["); put_bl(f, MERGES[m][0]); fputc(',', f); put_bl(f, MERGES[m][1]); fputc(']', f);
    }
    fprintf(f, "]}}\n");
    fclose(f);
    return path;
}

static r1_tokenizer *load(const char *norm) {
    const char *p = write_json(norm[0] == 'n' ? "plain" : "nfc", norm);
    r1_tokenizer *t = NULL;
    r1_error e = {0};
    if (!p || r1_tokenizer_load_json(p, NULL, &t, &e) != R1_OK) fprintf(stderr, "load: %s\n", e.msg);
    if (p) remove(p);
    return t;
}

static size_t enc(const r1_tokenizer *t, const char *s, size_t n, unsigned flags, int32_t *out, size_t cap) {
    int32_t *ids = NULL; size_t k = 0;
    r1_error e = {0};
    if (r1_tokenize(t, s, n, flags, &ids, &k, &e) != R1_OK) { fprintf(stderr, "tokenize: %s\n", e.msg); return (size_t)-1; }
    for (size_t i = 0; i < k && i < cap; i++) out[i] = ids[i];
    free(ids);
    return k;
}

static void test_basic(void) {
    r1_tokenizer *t = load("null");
    REQUIRE(t, "load");
    int32_t ids[64];
    const int H = 256, L = 257, HELL = 258, HELLO = 259, W = 260, WO = 261, AA = 262, THINK = 256 + NM, USER = 257 + NM;
    size_t n = enc(t, "hello world", 11, 0, ids, 64);
    CHECK(n == 5 && ids[0] == HELLO && ids[1] == WO && ids[2] == 'r' && ids[3] == 'l' && ids[4] == 'd', "n=%zu", n);
    (void)H; (void)L; (void)HELL; (void)W;
    n = enc(t, "aaa", 3, 0, ids, 64);                   /* leftmost pair merges first */
    CHECK(n == 2 && ids[0] == AA && ids[1] == 'a', " ");
    n = enc(t, "x<think>y<\xef\xbd\x9cUser\xef\xbd\x9c>", 21, 0, ids, 64);
    CHECK(n == 4 && ids[1] == THINK && ids[3] == USER, "n=%zu", n);
    n = enc(t, "<think><\xef\xbd\x9cUser\xef\xbd\x9c>", 18, R1_TOK_SPLIT_SPECIAL, ids, 64);
    CHECK(n > 2 && ids[0] == THINK && ids[1] == '<', "split-special keeps non-special added tokens");
    n = enc(t, "1234", 4, 0, ids, 64);                  /* digits 1-3 then one by one */
    CHECK(n == 4 && ids[0] == '1' && ids[3] == '4', " ");
    CHECK(r1_token_find(t, "<think>") == THINK, "find");
    CHECK(r1_token_is_special(t, USER) && !r1_token_is_special(t, THINK), " ");
    CHECK(r1_token_to_bytes(t, 99999, NULL, 0) == -1, " ");
    char b[8];
    CHECK(r1_token_to_bytes(t, ' ', b, sizeof b) == 1 && b[0] == ' ', " ");
    /* streaming: an emoji pushed byte by byte comes out whole, on its last byte */
    r1_detok *d = NULL;
    REQUIRE(r1_detok_create(t, 0, &d, NULL) == R1_OK, "detok");
    const unsigned char emoji[4] = {0xf0, 0x9f, 0x98, 0x80};
    char o[64];
    for (int i = 0; i < 4; i++) {
        int w = r1_detok_push(d, emoji[i], o, sizeof o);
        CHECK(w == (i == 3 ? 4 : 0) && (i < 3 || memcmp(o, emoji, 4) == 0), "byte %d: %d", i, w);
    }
    CHECK(r1_detok_push(d, USER, o, sizeof o) == 0, "special hidden by default");
    CHECK(r1_detok_push(d, 0xe4, o, sizeof o) == 0 && r1_detok_push(d, 'A', o, sizeof o) == 2 && o[0] == '\xe4', "dead prefix emitted as-is");
    CHECK(r1_detok_push(d, 0xc3, o, sizeof o) == 0 && r1_detok_flush(d, o, sizeof o) == 1, "flush");
    CHECK(r1_detok_push(d, -1, o, sizeof o) == -1, "bad id");
    r1_detok_free(d);
    r1_tokenizer_free(t);
}

static void test_nfc_and_errors(void) {
    r1_tokenizer *t = load("{\"type\":\"NFC\"}");
    REQUIRE(t, "load");
    int32_t a[16], b[16];
    size_t na = enc(t, "e\xcc\x81\xff", 4, 0, a, 16), nb = enc(t, "\xc3\xa9\xff", 3, 0, b, 16);
    CHECK(na == nb && na == 3 && memcmp(a, b, na * sizeof *a) == 0, "NFD == NFC after normalization, invalid byte kept");
    r1_tokenizer_free(t);
    r1_error e = {0};
    r1_tokenizer *x = NULL; int32_t *idsp = NULL; size_t nn = 0;
    CHECK(r1_tokenizer_load_json("/nonexistent/tokenizer.json", NULL, &x, &e) == R1_ERR_IO && x == NULL, " ");
    CHECK(strstr(e.msg, "/nonexistent/tokenizer.json") != NULL, "%s", e.msg);
    t = load("null");
    REQUIRE(t, "load");
    CHECK(r1_tokenize(t, NULL, 3, 0, &idsp, &nn, &e) == R1_ERR_INVALID_ARG, " ");
    r1_tokenizer_free(t);
    /* corrupt / unsupported files: clear errors naming the file, never a crash */
    static const char *bad[] = {"{\"model\":", "[]", "{\"model\":{\"type\":\"Unigram\"}}",
                                "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":-5},\"merges\":[]}}",
                                "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[\"ab\"]}}",
                                "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[]},\"pre_tokenizer\":{\"type\":\"Metaspace\"}}",
                                "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[]},\"pre_tokenizer\":{\"type\":\"Split\",\"pattern\":{\"Regex\":\"(\"},\"behavior\":\"Isolated\"}}"};
    char path[128];
    snprintf(path, sizeof path, "/tmp/r1_test_tok_bad_%d.json", (int)getpid());
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        FILE *f = fopen(path, "w");
        REQUIRE(f, "tmp file");
        fputs(bad[i], f); fclose(f);
        x = NULL;
        r1_status st = r1_tokenizer_load_json(path, NULL, &x, &e);
        CHECK(st != R1_OK && x == NULL && strstr(e.msg, path), "case %zu: %d %s", i, (int)st, e.msg);
    }
    FILE *f = fopen(path, "w");
    REQUIRE(f, "tmp file");
    fputs("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[]}}", f); fclose(f);
    CHECK(r1_tokenizer_load_json(path, "no-such-pre", &x, &e) == R1_ERR_UNSUPPORTED && strstr(e.msg, "deepseek-v3"), "%s", e.msg);
    remove(path);
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(void) { rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17; return (uint32_t)(rng >> 16); }

static void test_roundtrip_property(void) {
    r1_tokenizer *t = load("null");
    REQUIRE(t, "load");
    static const char *frag[] = {"<think>", "<\xef\xbd\x9cUser\xef\xbd\x9c>", "<\xef\xbd\x9c", "User", "<s", "<s>", "hello", " world",
                                 "\xf0\x9f\x98\x80", "\xe4\xb8\xad", "\xc3", "\xa9", "\xed\xa0\x80", "\xf4\x90\x80\x80", "   ", "\r\n", "\t",
                                 "123456", "'S", "'ll", "aaaa", "\xe0\x80", "\xff\xfe"};
    char s[512], back[4096], stream[4096];
    int fails = 0;
    for (int iter = 0; iter < 5000 && fails < 5; iter++) {
        size_t n = 0, want = rnd() % 200;
        while (n < want) {
            if (rnd() % 3 == 0) { const char *f = frag[rnd() % (sizeof frag / sizeof *frag)]; size_t l = strlen(f); if (n + l > sizeof s) break; memcpy(s + n, f, l); n += l; }
            else s[n++] = (char)(rnd() % 256);
        }
        int32_t *ids = NULL; size_t k = 0;
        if (r1_tokenize(t, s, n, rnd() & 1 ? R1_TOK_SPLIT_SPECIAL : 0, &ids, &k, NULL) != R1_OK) { fails++; CHECK(0, "tokenize failed"); continue; }
        size_t bl = 0, sl = 0;
        r1_detok *d = NULL;
        r1_detok_create(t, R1_DETOK_SHOW_SPECIAL, &d, NULL);
        for (size_t i = 0; i < k; i++) {
            int l = r1_token_to_bytes(t, ids[i], back + bl, sizeof back - bl);
            bl += (size_t)l;
            int w = r1_detok_push(d, ids[i], stream + sl, sizeof stream - sl);
            sl += (size_t)w;
        }
        sl += (size_t)r1_detok_flush(d, stream + sl, sizeof stream - sl);
        r1_detok_free(d);
        free(ids);
        if (bl != n || memcmp(back, s, n) != 0 || sl != n || memcmp(stream, s, n) != 0) { fails++; CHECK(0, "round trip failed at iteration %d (len %zu)", iter, n); }
    }
    r1_tokenizer_free(t);
}

int main(void) {
    RUN(test_basic);
    RUN(test_nfc_and_errors);
    RUN(test_roundtrip_property);
    return TEST_SUMMARY();
}
