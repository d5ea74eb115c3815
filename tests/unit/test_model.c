/*
 * test_model.c — model loading and evaluation on small GGUF files written here with the
 * GGUF writer (random weights): for llama (with rope_freqs), qwen2 (biases, tied output)
 * and qwen3 (q/k norm), prefill == decode == split == small batches == other thread
 * counts (≤ 1e-5 relative); truncate/re-eval reproduces logits; abort rolls back; and
 * every bad input gives the expected status with a message naming the file/tensor;
 * loading with progress (single file and split) pages in with a monotone callback that
 * ends at the tensor bytes, and evaluates as before.
 */
#include "test.h"
#include "gguf.h"
#include "model.h"
#include <math.h>
#include <sys/stat.h>
#include <unistd.h>

enum { E = 32, H = 4, HKV = 2, HD = 8, FF = 64, NL = 2, NV = 50 };

static unsigned rng = 7;
static float frand(void) {
    rng = rng * 1664525u + 1013904223u;
    return (float)((rng >> 8) / 8388608.0 - 1.0);
}

/* Writer options: which variant of the file to produce. */
typedef struct wopt {
    const char *arch;
    const char *drop;         /* tensor to leave out                       */
    const char *reshape;      /* tensor whose ne[1] (or ne[0]) is off by +4 */
    bool tied;
    r1_type mat_type;
    bool split;               /* two parts: path must be "*-00001-of-00002.gguf"; the last
                                 layer goes to part 2                                  */
} wopt;

static float *g_bufs[64];
static int g_nbufs;

static void add(gguf_writer *w, const wopt *o, const char *name, int64_t ne0, int64_t ne1, bool is_norm) {
    if (o->drop && !strcmp(o->drop, name)) return;
    int64_t ne[2] = {ne0, ne1};
    if (o->reshape && !strcmp(o->reshape, name)) { if (ne1 > 1) ne[1] += 4; else ne[0] += 4; }
    const int n_dims = ne1 > 1 ? 2 : 1;
    const size_t n = (size_t)(ne[0] * ne[1]);
    float *d = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) d[i] = is_norm ? 1.0f + 0.1f * frand() : 0.3f * frand();
    r1_type t = n_dims == 2 ? o->mat_type : R1_TYPE_F32;
    void *data = d;
    size_t nbytes = n * sizeof(float);
    if (t != R1_TYPE_F32) {
        const r1_type_traits *tr = r1_type_get_traits(t);
        nbytes = r1_row_size(t, ne[0]) * (size_t)ne[1];
        data = malloc(nbytes);
        for (int64_t r = 0; r < ne[1]; r++) tr->from_float(d + r * ne[0], (char *)data + r * r1_row_size(t, ne[0]), ne[0]);
        free(d);
    }
    g_bufs[g_nbufs++] = data;
    r1_error e;
    if (gguf_add_tensor(w, name, t, n_dims, ne, data, nbytes, &e) != R1_OK) fprintf(stderr, "add %s: %s\n", name, e.msg);
}

static void write_model(const char *path, const wopt *o) {
    gguf_writer *w = gguf_writer_create(), *w2 = o->split ? gguf_writer_create() : NULL;
    char key[128];
    const char *a = o->arch;
    if (w2) {
        gguf_set_u16(w, "split.no", 0);
        gguf_set_u16(w, "split.count", 2);
        gguf_set_u16(w2, "split.no", 1);
        gguf_set_u16(w2, "split.count", 2);
    }
    gguf_set_str(w, "general.architecture", a);
    gguf_set_str(w, "general.name", "test");
#define SETU(k, v) (snprintf(key, sizeof key, "%s." k, a), gguf_set_u32(w, key, v))
    SETU("context_length", 64);
    SETU("embedding_length", E);
    SETU("block_count", NL);
    SETU("feed_forward_length", FF);
    SETU("attention.head_count", H);
    SETU("attention.head_count_kv", HKV);
    snprintf(key, sizeof key, "%s.attention.layer_norm_rms_epsilon", a);
    gguf_set_f32(w, key, 1e-5f);
    snprintf(key, sizeof key, "%s.rope.freq_base", a);
    gguf_set_f32(w, key, 10000.0f);
    const bool llama = !strcmp(a, "llama"), qwen2 = !strcmp(a, "qwen2"), qwen3 = !strcmp(a, "qwen3");
    add(w, o, "token_embd.weight", E, NV, false);
    add(w, o, "output_norm.weight", E, 1, true);
    if (!o->tied) add(w, o, "output.weight", E, NV, false);
    if (llama) add(w, o, "rope_freqs.weight", HD / 2, 1, true);
    for (int l = 0; l < NL; l++) {
        char n[64];
        gguf_writer *wl = w2 && l == NL - 1 ? w2 : w;
#define T(s, a0, a1, nrm) (snprintf(n, sizeof n, "blk.%d." s, l), add(wl, o, n, a0, a1, nrm))
        T("attn_norm.weight", E, 1, true);
        T("attn_q.weight", E, H * HD, false);
        T("attn_k.weight", E, HKV * HD, false);
        T("attn_v.weight", E, HKV * HD, false);
        T("attn_output.weight", H * HD, E, false);
        if (qwen2) { T("attn_q.bias", H * HD, 1, false); T("attn_k.bias", HKV * HD, 1, false); T("attn_v.bias", HKV * HD, 1, false); }
        if (qwen3) { T("attn_q_norm.weight", HD, 1, true); T("attn_k_norm.weight", HD, 1, true); }
        T("ffn_norm.weight", E, 1, true);
        T("ffn_gate.weight", E, FF, false);
        T("ffn_up.weight", E, FF, false);
        T("ffn_down.weight", FF, E, false);
#undef T
    }
    r1_error e;
    if (gguf_writer_write(w, path, &e) != R1_OK) fprintf(stderr, "write: %s\n", e.msg);
    gguf_writer_free(w);
    if (w2) {
        char p2[512];
        snprintf(p2, sizeof p2, "%s", path);
        char *k = strstr(p2, "00001-of-00002");
        if (k) k[4] = '2';
        if (!k || gguf_writer_write(w2, p2, &e) != R1_OK) fprintf(stderr, "write part 2 of %s\n", path);
        gguf_writer_free(w2);
    }
    for (int i = 0; i < g_nbufs; i++) free(g_bufs[i]);
    g_nbufs = 0;
}

static char g_dir[256];
static const char *tmp_path(const char *name) {
    static char p[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(p[k], sizeof p[k], "%s/%s", g_dir, name);
    return p[k];
}

/* Logits of all positions of toks under the given context params; NULL on failure. */
static float *eval_all(const r1_model *m, const int32_t *toks, int n, int n_batch, int n_threads, int split,
                       bool kv_f16) {
    r1_context_params cp = r1_context_default_params();
    cp.n_ctx = 32; cp.n_batch = n_batch; cp.n_threads = n_threads; cp.kv_f16 = kv_f16;
    r1_context *c;
    r1_error e;
    if (r1_context_create(m, &cp, &c, &e) != R1_OK) { fprintf(stderr, "ctx: %s\n", e.msg); return NULL; }
    float *lg = malloc(sizeof(float) * NV * n);
    bool ok = true;
    if (split == 0) {                     /* decode token by token */
        for (int p = 0; p < n && ok; p++) ok = r1_eval(c, toks + p, 1, lg + p * NV, false, &e) == R1_OK;
    } else {
        ok = r1_eval(c, toks, split, lg, true, &e) == R1_OK &&
             (split == n || r1_eval(c, toks + split, n - split, lg + split * NV, true, &e) == R1_OK);
    }
    if (!ok) fprintf(stderr, "eval: %s\n", e.msg);
    r1_context_free(c);
    if (!ok) { free(lg); return NULL; }
    return lg;
}

static double rel_diff(const float *a, const float *b, int n) {
    double md = 0, mx = 0;
    for (int i = 0; i < n; i++) { md = fmax(md, fabs((double)a[i] - b[i])); mx = fmax(mx, fabs((double)a[i])); }
    return mx > 0 ? md / mx : md;
}

static void check_modes(const char *arch, bool tied, r1_type t) {
    const char *path = tmp_path("m.gguf");
    wopt o = {arch, NULL, NULL, tied, t, false};
    write_model(path, &o);
    r1_model *m;
    r1_error e;
    REQUIRE(r1_model_load(path, NULL, &m, &e) == R1_OK, "%s: %s", arch, e.msg);
    const r1_model_info *I = r1_model_get_info(m);
    CHECK(I->n_vocab == NV && I->n_layer == NL && I->head_dim == HD && I->n_head_kv == HKV, "%s hparams", arch);
    CHECK(I->kv_bytes_per_token == (size_t)NL * 2 * HKV * HD * 4, "%s kv bytes %zu", arch, I->kv_bytes_per_token);
    CHECK(!strcmp(I->arch, arch), "arch name");
    const int32_t toks[] = {3, 17, 42, 0, 49, 8, 8, 21, 5, 33, 12};
    const int n = (int)R1_ARRAY_LEN(toks);
    float *ref = eval_all(m, toks, n, 512, 1, n, false);
    REQUIRE(ref, "prefill");
    float *v[] = {eval_all(m, toks, n, 512, 1, 0, false), eval_all(m, toks, n, 512, 2, 4, false),
                  eval_all(m, toks, n, 3, 3, n, false), eval_all(m, toks, n, 1, 2, 7, false)};
    const char *what[] = {"decode", "split:4 2 threads", "batch 3 threads 3", "batch 1 split:7"};
    for (int i = 0; i < 4; i++) {
        CHECK(v[i] && rel_diff(ref, v[i], n * NV) <= 1e-5, "%s %s: rel diff %g", arch, what[i], v[i] ? rel_diff(ref, v[i], n * NV) : -1.0);
        free(v[i]);
    }
    /* F16 KV cache: its own modes agree; close to (not equal to) the F32 cache */
    float *h1 = eval_all(m, toks, n, 512, 2, n, true), *h2 = eval_all(m, toks, n, 2, 1, 0, true);
    REQUIRE(h1 && h2, "f16 cache eval");
    CHECK(rel_diff(h1, h2, n * NV) <= 1e-5, "%s f16 cache prefill vs decode: %g", arch, rel_diff(h1, h2, n * NV));
    const double d16 = rel_diff(ref, h1, n * NV);
    CHECK(d16 > 0 && d16 <= 5e-2, "%s f16 vs f32 cache: %g", arch, d16);
    free(h1);
    free(h2);
    /* the logits are not all equal (the model does something) */
    CHECK(rel_diff(ref, ref + NV, NV) > 1e-3, "%s: positions differ", arch);
    /* truncate and re-evaluate the tail: same logits */
    r1_context *c;
    r1_context_params cp = r1_context_default_params();
    cp.n_ctx = 16; cp.n_threads = 2;
    REQUIRE(r1_context_create(m, &cp, &c, &e) == R1_OK, "ctx");
    float *lg = malloc(sizeof(float) * NV * n);
    CHECK(r1_eval(c, toks, n, lg, true, &e) == R1_OK, "eval");
    r1_context_truncate(c, 5);
    CHECK(r1_context_pos(c) == 5, "truncate pos");
    float last[NV];
    CHECK(r1_eval(c, toks + 5, n - 5, last, false, &e) == R1_OK, "re-eval");
    CHECK(rel_diff(ref + (n - 1) * NV, last, NV) <= 1e-5, "%s: after truncate", arch);
    free(lg);
    r1_context_free(c);
    free(ref);
    r1_model_free(m);
}

/* ---- r1_model_params.progress: paging in with a progress callback ---------------------- */
typedef struct prog { int calls; bool monotone, total_same; uint64_t first, last, total; } prog;

static void on_progress(void *user, uint64_t done, uint64_t total) {
    prog *p = user;
    if (p->calls == 0) { p->first = done; p->total = total; }
    if (p->calls > 0 && done < p->last) p->monotone = false;
    if (total != p->total || done > total) p->total_same = false;
    p->last = done;
    p->calls++;
}

/* Loads (single file and two parts) with progress + callback: called from 0 to total ==
 * the tensor bytes, never decreasing; the model evaluates exactly like a plain load. */
static void check_progress(const char *name, bool split, r1_type t) {
    const char *path = tmp_path(name);
    wopt o = {"qwen2", NULL, NULL, false, t, split};
    write_model(path, &o);
    r1_model *m = NULL, *ref = NULL;
    r1_error e;
    REQUIRE(r1_model_load(path, NULL, &ref, &e) == R1_OK, "%s: %s", name, e.msg);
    r1_model_params mp = r1_model_default_params();
    CHECK(!mp.progress && !mp.progress_cb && !mp.progress_user);
    prog p = {0, true, true, 1, 0, 0};
    mp.progress = true;
    mp.progress_cb = on_progress;
    mp.progress_user = &p;
    REQUIRE(r1_model_load(path, &mp, &m, &e) == R1_OK, "%s: %s", name, e.msg);
    const gguf_file *gf = r1_model_gguf(m);
    uint64_t bytes = 0;
    for (int64_t i = 0; i < gguf_n_tensors(gf); i++) bytes += gguf_tensor_at(gf, i)->nbytes;
    CHECK(bytes > 0 && bytes < r1_model_get_info(m)->file_bytes, "%s: %llu tensor bytes", name, (unsigned long long)bytes);
    struct stat sb;
    CHECK(stat(path, &sb) == 0 && (r1_model_get_info(m)->file_bytes > (uint64_t)sb.st_size) == split, "%s: parts", name);
    CHECK(p.calls >= 2 && p.first == 0 && p.monotone && p.total_same, "%s: %d calls", name, p.calls);
    CHECK(p.total == bytes && p.last == bytes, "%s: total %llu last %llu want %llu", name, (unsigned long long)p.total,
          (unsigned long long)p.last, (unsigned long long)bytes);
    const int32_t toks[] = {3, 17, 42, 0, 49, 8};
    const int n = (int)R1_ARRAY_LEN(toks);
    float *a = eval_all(ref, toks, n, 512, 2, n, false), *b = eval_all(m, toks, n, 512, 2, 0, false);
    REQUIRE(a && b, "%s: eval", name);
    CHECK(rel_diff(a, b, n * NV) <= 1e-5 && rel_diff(a, a + NV, NV) > 1e-3, "%s: %g", name, rel_diff(a, b, n * NV));
    free(a);
    free(b);
    r1_model_free(m);
    /* progress without a callback pages in silently; vocab_only never calls back */
    mp.progress_cb = NULL;
    CHECK(r1_model_load(path, &mp, &m, &e) == R1_OK, "%s: no callback: %s", name, e.msg);
    r1_model_free(m);
    mp.progress_cb = on_progress;
    mp.vocab_only = true;
    p.calls = 0;
    CHECK(r1_model_load(path, &mp, &m, &e) == R1_OK && p.calls == 0, "%s: vocab only: %d calls", name, p.calls);
    r1_model_free(m);
    r1_model_free(ref);
}

static void test_progress(void) {
    check_progress("p.gguf", false, R1_TYPE_F32);
    check_progress("p-00001-of-00002.gguf", true, R1_TYPE_Q8_0);
}

static void test_llama(void) { check_modes("llama", false, R1_TYPE_F32); }
static void test_qwen2_tied(void) { check_modes("qwen2", true, R1_TYPE_F32); }
static void test_qwen3_f16(void) { check_modes("qwen3", false, R1_TYPE_F16); }
static void test_qwen2_q8_0(void) { check_modes("qwen2", false, R1_TYPE_Q8_0); }

/* Loads path; checks the status and that the message contains each of the needles. */
static void expect_load(const char *path, r1_status want, const char *n1, const char *n2) {
    r1_model *m = (r1_model *)1;
    r1_error e = {0};
    r1_status s = r1_model_load(path, NULL, &m, &e);
    CHECK(s == want, "%s: status %d, want %d (%s)", path, s, want, e.msg);
    CHECK(m == NULL, "model cleared on failure");
    CHECK(strstr(e.msg, n1) != NULL, "message '%s' lacks '%s'", e.msg, n1);
    if (n2) CHECK(strstr(e.msg, n2) != NULL, "message '%s' lacks '%s'", e.msg, n2);
    CHECK(!strchr(e.msg, '\n'), "one line");
    if (s == R1_OK) r1_model_free(m);
}

/* Reads a whole file. */
static unsigned char *slurp(const char *p, size_t *n) {
    FILE *f = fopen(p, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(*n);
    if (fread(b, 1, *n, f) != *n) { free(b); b = NULL; }
    fclose(f);
    return b;
}
static void spit(const char *p, const unsigned char *b, size_t n) {
    FILE *f = fopen(p, "wb");
    fwrite(b, 1, n, f);
    fclose(f);
}

static void test_bad_inputs(void) {
    expect_load(tmp_path("does-not-exist.gguf"), R1_ERR_IO, "does-not-exist.gguf", NULL);
    const char *good = tmp_path("good.gguf");
    wopt o = {"qwen2", NULL, NULL, false, R1_TYPE_F32, false};
    write_model(good, &o);
    size_t n;
    unsigned char *b = slurp(good, &n);
    REQUIRE(b, "read back");
    /* wrong magic */
    const char *p = tmp_path("magic.gguf");
    unsigned char *c = malloc(n);
    memcpy(c, b, n); memcpy(c, "GGUX", 4); spit(p, c, n);
    expect_load(p, R1_ERR_FORMAT, "magic.gguf", NULL);
    /* truncated inside the header; and inside the tensor data */
    p = tmp_path("trunc.gguf");
    spit(p, b, 100);
    expect_load(p, R1_ERR_FORMAT, "trunc.gguf", NULL);
    spit(p, b, n - 64);
    expect_load(p, R1_ERR_FORMAT, "trunc.gguf", NULL);
    /* unknown tensor type: patch the type field of 'output_norm.weight' (1-D) */
    memcpy(c, b, n);
    unsigned char *at = memmem(c, n, "output_norm.weight", 18);
    REQUIRE(at, "tensor info found");
    uint32_t bad_type = 99;
    memcpy(at + 18 + 4 + 8, &bad_type, 4);
    p = tmp_path("type.gguf");
    spit(p, c, n);
    expect_load(p, R1_ERR_UNSUPPORTED, "output_norm.weight", NULL);
    /* a vector of the wrong type: F16 ids for an F32-only norm (patch type 0 → 1 with half
     * the bytes: the reader accepts it, the model must refuse it) */
    memcpy(c, b, n);
    at = memmem(c, n, "output_norm.weight", 18);
    uint32_t f16 = 1;
    memcpy(at + 18 + 4 + 8, &f16, 4);
    p = tmp_path("f16norm.gguf");
    spit(p, c, n);
    expect_load(p, R1_ERR_UNSUPPORTED, "output_norm.weight", "f32");
    free(c);
    free(b);
    /* unknown architecture */
    o.arch = "mamba";
    p = tmp_path("arch.gguf");
    write_model(p, &o);
    expect_load(p, R1_ERR_UNSUPPORTED, "mamba", "qwen2");
    /* missing tensor; shape disagreeing with the hyper-parameters */
    o.arch = "qwen2"; o.drop = "blk.1.attn_v.bias";
    p = tmp_path("missing.gguf");
    write_model(p, &o);
    expect_load(p, R1_ERR_FORMAT, "missing.gguf", "'blk.1.attn_v.bias'");
    o.drop = NULL; o.reshape = "blk.1.ffn_up.weight";
    p = tmp_path("shape.gguf");
    write_model(p, &o);
    expect_load(p, R1_ERR_FORMAT, "'blk.1.ffn_up.weight' has shape [32, 68], expected [32, 64]", "shape.gguf");
}

static bool abort_at_second_poll(void *u) { return ++*(int *)u >= 2; }

static void test_eval_errors(void) {
    const char *path = tmp_path("e.gguf");
    wopt o = {"llama", NULL, NULL, false, R1_TYPE_F32, false};
    write_model(path, &o);
    r1_model *m;
    r1_error e;
    REQUIRE(r1_model_load(path, NULL, &m, &e) == R1_OK, "%s", e.msg);
    r1_context_params cp = r1_context_default_params();
    cp.n_ctx = 8;
    r1_context *c;
    REQUIRE(r1_context_create(m, &cp, &c, &e) == R1_OK, "%s", e.msg);
    const int32_t bad[] = {1, NV, 2}, neg[] = {-1}, ok[] = {1, 2, 3, 4, 5, 6};
    float lg[NV];
    CHECK(r1_eval(c, bad, 3, lg, false, &e) == R1_ERR_INVALID_ARG && strstr(e.msg, "50"), "id = n_vocab: %s", e.msg);
    CHECK(r1_eval(c, neg, 1, lg, false, &e) == R1_ERR_INVALID_ARG, "negative id");
    CHECK(r1_context_pos(c) == 0, "nothing cached");
    CHECK(r1_eval(c, ok, 6, lg, false, &e) == R1_OK, "%s", e.msg);
    CHECK(r1_eval(c, ok, 3, lg, false, &e) == R1_ERR_CONTEXT_FULL && strstr(e.msg, "context"), "full: %s", e.msg);
    CHECK(r1_context_pos(c) == 6, "pos kept");
    int polls = 0;
    r1_context_set_abort(c, abort_at_second_poll, &polls);
    CHECK(r1_eval(c, ok, 2, lg, false, &e) == R1_ERR_CANCELLED, "cancel");
    CHECK(r1_context_pos(c) == 6, "rolled back");
    r1_context_set_abort(c, NULL, NULL);
    CHECK(r1_eval(c, ok, 2, lg, false, &e) == R1_OK, "after cancel: %s", e.msg);
    CHECK(r1_context_n_ctx(c) == 8, "n_ctx");
    r1_context_free(c);
    /* vocab-only models cannot make contexts */
    r1_model_params mp = r1_model_default_params();
    mp.vocab_only = true;
    r1_model *mv;
    REQUIRE(r1_model_load(path, &mp, &mv, &e) == R1_OK, "%s", e.msg);
    CHECK(r1_context_create(mv, NULL, &c, &e) == R1_ERR_INVALID_ARG, "vocab only");
    CHECK(r1_model_get_info(mv)->n_layer == NL && r1_model_get_info(mv)->n_embd == E, "vocab-only hparams");
    r1_model_free(mv);
    r1_model_free(m);
}

int main(void) {
    snprintf(g_dir, sizeof g_dir, "/tmp/r1-test-model-%d", (int)getpid());
    if (mkdir(g_dir, 0700) != 0) { perror(g_dir); return 1; }
    RUN(test_llama);
    RUN(test_qwen2_tied);
    RUN(test_qwen3_f16);
    RUN(test_qwen2_q8_0);
    RUN(test_bad_inputs);
    RUN(test_eval_errors);
    RUN(test_progress);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", g_dir);
    return TEST_SUMMARY();
}
