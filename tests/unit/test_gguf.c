/*
 * test_gguf.c — GGUF reader/writer: round trips of every value type and of F32/F16/
 * BF16/Q8_0 tensors, set_all_from, hostile inputs (bad magic/version, truncation at
 * every byte, huge counts, overflowing shapes, bad offsets/types/alignment, duplicates,
 * nested arrays), split models, writer failure cleanup, and gguf_load_anon (huge-page copy
 * of the tensor data: contents, alignment, progress, split parts, a file replaced/resized).
 * Files go to a mkdtemp() folder under $TMPDIR (default /tmp), removed at the end.
 */
/* CHECK(cond) without a message expands to fprintf(stderr, ""). */
#include "gguf.h"
#include "test.h"
#include <dirent.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char g_dir[256];

static const char *tmp_path(const char *name) {
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", g_dir, name);
    return buf[k];
}

static int write_bytes(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = n ? fwrite(p, 1, n, f) : 0;
    fclose(f);
    return w == n ? 0 : -1;
}

/* ---- a tiny byte builder for hand-made (hostile) files ------------------------------- */
typedef struct bb { uint8_t d[8192]; size_t n; } bb;
static void b_raw(bb *b, const void *p, size_t n) { memcpy(b->d + b->n, p, n); b->n += n; }
static void b_u32(bb *b, uint32_t v) { b_raw(b, &v, 4); }
static void b_u64(bb *b, uint64_t v) { b_raw(b, &v, 8); }
static void b_str(bb *b, const char *s) { b_u64(b, strlen(s)); b_raw(b, s, strlen(s)); }
static void b_hdr(bb *b, uint32_t ver, uint64_t nt, uint64_t nkv) {
    b->n = 0; b_raw(b, "GGUF", 4); b_u32(b, ver); b_u64(b, nt); b_u64(b, nkv);
}
static void b_tinfo(bb *b, const char *name, uint32_t nd, const uint64_t *ne, uint32_t type, uint64_t off) {
    b_str(b, name); b_u32(b, nd);
    for (uint32_t i = 0; i < nd; i++) b_u64(b, ne[i]);
    b_u32(b, type); b_u64(b, off);
}
static void b_pad(bb *b, size_t align) { while (b->n % align) b->d[b->n++] = 0; }
static void b_zeros(bb *b, size_t n) { memset(b->d + b->n, 0, n); b->n += n; }

/* Writes b to a file and opens it: returns the status, err filled. Closes on success. */
static r1_status open_bytes(const bb *b, const char *name, r1_error *err) {
    const char *p = tmp_path(name);
    if (write_bytes(p, b->d, b->n)) return R1_ERR_IO;
    gguf_file *f = NULL;
    memset(err, 0, sizeof *err);
    r1_status st = gguf_open(p, &f, err);
    gguf_close(f);
    return st;
}

#define EXPECT_FAIL(b, name, want, substr)                                                   \
    do {                                                                                     \
        r1_error e_;                                                                         \
        r1_status s_ = open_bytes(b, name, &e_);                                             \
        if (getenv("TEST_VERBOSE")) printf("  %s\n", e_.msg);                              \
        CHECK(s_ == (want), "%s: status %d want %d (%s)", name, s_, want, e_.msg);           \
        CHECK(strstr(e_.msg, name) != NULL, "message must name the file: %s", e_.msg);       \
        CHECK(strstr(e_.msg, substr) != NULL, "message lacks '%s': %s", substr, e_.msg);     \
    } while (0)

/* ---- round trip ----------------------------------------------------------------------- */
static void test_roundtrip(void) {
    gguf_writer *w = gguf_writer_create();
    REQUIRE(w);
    r1_error err = {0};
    uint8_t a_u8[3] = {0, 7, 255}; int8_t a_i8[3] = {-128, 0, 127};
    uint16_t a_u16[2] = {0, 65535}; int16_t a_i16[2] = {-32768, 32767};
    uint32_t a_u32[2] = {1, 4000000000u}; int32_t a_i32[3] = {-5, 0, 2147483647};
    float a_f32[2] = {1.5f, -2.25f}; uint8_t a_bool[2] = {1, 0};
    uint64_t a_u64[1] = {UINT64_MAX}; int64_t a_i64[2] = {INT64_MIN, 42}; double a_f64[2] = {3.25, -1e300};
    const char *strs[3] = {"hello", "", "w\xc3\xb6rld"};
    CHECK(gguf_set_u32(w, "k.u32", 123456) == R1_OK);
    CHECK(gguf_set_i32(w, "k.i32", -77) == R1_OK);
    CHECK(gguf_set_u64(w, "k.u64", 1ull << 40) == R1_OK);
    CHECK(gguf_set_f32(w, "k.f32", 0.125f) == R1_OK);
    CHECK(gguf_set_bool(w, "k.bool", true) == R1_OK);
    CHECK(gguf_set_str(w, "k.str", "x") == R1_OK);
    CHECK(gguf_set_str(w, "k.str", "replaced") == R1_OK);  /* replaces, keeps one key */
    CHECK(gguf_set_arr(w, "a.u8", GGUF_UINT8, a_u8, 3) == R1_OK);
    CHECK(gguf_set_arr(w, "a.i8", GGUF_INT8, a_i8, 3) == R1_OK);
    CHECK(gguf_set_arr(w, "a.u16", GGUF_UINT16, a_u16, 2) == R1_OK);
    CHECK(gguf_set_arr(w, "a.i16", GGUF_INT16, a_i16, 2) == R1_OK);
    CHECK(gguf_set_arr(w, "a.u32", GGUF_UINT32, a_u32, 2) == R1_OK);
    CHECK(gguf_set_arr(w, "a.i32", GGUF_INT32, a_i32, 3) == R1_OK);
    CHECK(gguf_set_arr(w, "a.f32", GGUF_FLOAT32, a_f32, 2) == R1_OK);
    CHECK(gguf_set_arr(w, "a.bool", GGUF_BOOL, a_bool, 2) == R1_OK);
    CHECK(gguf_set_arr(w, "a.u64", GGUF_UINT64, a_u64, 1) == R1_OK);
    CHECK(gguf_set_arr(w, "a.i64", GGUF_INT64, a_i64, 2) == R1_OK);
    CHECK(gguf_set_arr(w, "a.f64", GGUF_FLOAT64, a_f64, 2) == R1_OK);
    CHECK(gguf_set_arr(w, "a.empty", GGUF_INT32, NULL, 0) == R1_OK);
    CHECK(gguf_set_arr_str(w, "a.str", strs, 3) == R1_OK);
    CHECK(gguf_set_arr(w, "a.bad", GGUF_STRING, a_u8, 1) == R1_ERR_INVALID_ARG);
    CHECK(gguf_set_u32(w, "", 1) == R1_ERR_INVALID_ARG);
    CHECK(gguf_set_str(w, "k.null", NULL) == R1_ERR_INVALID_ARG);
    const char *with_null[2] = {"a", NULL};
    CHECK(gguf_set_arr_str(w, "a.null", with_null, 2) == R1_ERR_INVALID_ARG);
    /* tensors: F32 2-D, F16 1-D, BF16 3-D, Q8_0 2-D (quantized from floats) */
    float f32[3 * 5];
    for (int i = 0; i < 15; i++) f32[i] = (float)i * 0.5f - 3.0f;
    uint16_t f16[7], bf16[2 * 3 * 4];
    for (int i = 0; i < 7; i++) f16[i] = r1_fp32_to_fp16((float)i / 3.0f);
    for (int i = 0; i < 24; i++) bf16[i] = r1_fp32_to_bf16((float)i * 1.25f);
    float src[64 * 2];
    for (int i = 0; i < 128; i++) src[i] = sinf((float)i);
    const r1_type_traits *q8 = r1_type_get_traits(R1_TYPE_Q8_0);
    REQUIRE(q8 && q8->from_float);
    size_t q8_bytes = r1_row_size(R1_TYPE_Q8_0, 64) * 2;
    uint8_t *q8d = malloc(q8_bytes);
    REQUIRE(q8d);
    q8->from_float(src, q8d, 128);
    int64_t ne_a[2] = {5, 3}, ne_b[1] = {7}, ne_c[3] = {4, 3, 2}, ne_d[2] = {64, 2};
    CHECK(gguf_add_tensor(w, "t.f32", R1_TYPE_F32, 2, ne_a, f32, sizeof f32, &err) == R1_OK, "%s", err.msg);
    CHECK(gguf_add_tensor(w, "t.f16", R1_TYPE_F16, 1, ne_b, f16, sizeof f16, &err) == R1_OK, "%s", err.msg);
    CHECK(gguf_add_tensor(w, "t.bf16", R1_TYPE_BF16, 3, ne_c, bf16, sizeof bf16, &err) == R1_OK, "%s", err.msg);
    CHECK(gguf_add_tensor(w, "t.q8", R1_TYPE_Q8_0, 2, ne_d, q8d, q8_bytes, &err) == R1_OK, "%s", err.msg);
    /* writer argument checks */
    CHECK(gguf_add_tensor(w, "t.f32", R1_TYPE_F32, 2, ne_a, f32, sizeof f32, &err) == R1_ERR_INVALID_ARG);
    CHECK(strstr(err.msg, "duplicate") && strstr(err.msg, "t.f32"), "%s", err.msg);
    CHECK(gguf_add_tensor(w, "t.bad", R1_TYPE_F32, 2, ne_a, f32, sizeof f32 - 4, &err) == R1_ERR_INVALID_ARG);
    int64_t ne_q[1] = {48};
    CHECK(gguf_add_tensor(w, "t.badq", R1_TYPE_Q8_0, 1, ne_q, q8d, 34, &err) == R1_ERR_INVALID_ARG);
    CHECK(gguf_add_tensor(w, "t.nd", R1_TYPE_F32, 5, ne_c, f32, 4, &err) == R1_ERR_INVALID_ARG);
    const char *path = tmp_path("rt.gguf");
    CHECK(gguf_writer_write(w, path, &err) == R1_OK, "%s", err.msg);
    gguf_writer_free(w);

    gguf_file *f = NULL;
    REQUIRE(gguf_open(path, &f, &err) == R1_OK, "%s", err.msg);
    CHECK(gguf_version(f) == 3);
    CHECK(gguf_n_kv(f) == 19, "%lld", (long long)gguf_n_kv(f));
    uint32_t u32 = 0; int64_t i64 = 0; float fl = 0; bool b = false;
    CHECK(gguf_get_u32(f, "k.u32", &u32) && u32 == 123456);
    CHECK(gguf_get_i64(f, "k.i32", &i64) && i64 == -77);
    CHECK(!gguf_get_u32(f, "k.i32", &u32));                 /* negative does not fit */
    CHECK(gguf_get_i64(f, "k.u64", &i64) && i64 == (1ll << 40));
    CHECK(!gguf_get_u32(f, "k.u64", &u32));                 /* too big for u32 */
    CHECK(gguf_get_f32(f, "k.f32", &fl) && fl == 0.125f);
    CHECK(gguf_get_bool(f, "k.bool", &b) && b);
    CHECK(!gguf_get_bool(f, "k.u32", &b) && !gguf_get_u32(f, "missing", &u32));
    char *s = gguf_get_str_dup(f, "k.str");
    CHECK(s && !strcmp(s, "replaced"));
    free(s);
    CHECK(gguf_get_str_dup(f, "k.u32") == NULL);
    const gguf_kv *kv;
    int64_t v; double dv;
    kv = gguf_find_kv(f, "a.u8");
    CHECK(kv && kv->arr_type == GGUF_UINT8 && kv->arr_n == 3 && gguf_arr_i64(kv, 2, &v) && v == 255);
    CHECK(!gguf_arr_i64(kv, 3, &v));                         /* out of range */
    kv = gguf_find_kv(f, "a.i8");
    CHECK(kv && gguf_arr_i64(kv, 0, &v) && v == -128);
    kv = gguf_find_kv(f, "a.u16");
    CHECK(kv && gguf_arr_i64(kv, 1, &v) && v == 65535);
    kv = gguf_find_kv(f, "a.i16");
    CHECK(kv && gguf_arr_i64(kv, 0, &v) && v == -32768);
    kv = gguf_find_kv(f, "a.u32");
    CHECK(kv && gguf_arr_i64(kv, 1, &v) && v == 4000000000ll);
    kv = gguf_find_kv(f, "a.i32");
    CHECK(kv && gguf_arr_i64(kv, 2, &v) && v == 2147483647);
    kv = gguf_find_kv(f, "a.f32");
    CHECK(kv && gguf_arr_f64(kv, 1, &dv) && dv == -2.25 && !gguf_arr_i64(kv, 0, &v));
    kv = gguf_find_kv(f, "a.bool");
    CHECK(kv && kv->arr_type == GGUF_BOOL && gguf_arr_i64(kv, 0, &v) && v == 1);
    kv = gguf_find_kv(f, "a.u64");
    CHECK(kv && !gguf_arr_i64(kv, 0, &v));                   /* UINT64_MAX does not fit int64 */
    kv = gguf_find_kv(f, "a.i64");
    CHECK(kv && gguf_arr_i64(kv, 0, &v) && v == INT64_MIN);
    kv = gguf_find_kv(f, "a.f64");
    CHECK(kv && gguf_arr_f64(kv, 1, &dv) && dv == -1e300);
    kv = gguf_find_kv(f, "a.empty");
    CHECK(kv && kv->arr_n == 0 && !gguf_arr_i64(kv, 0, &v));
    kv = gguf_find_kv(f, "a.str");
    CHECK(kv && kv->arr_type == GGUF_STRING && kv->arr_n == 3);
    if (kv && kv->arr_n == 3) {
        CHECK(kv->arr_str[0].len == 5 && !memcmp(kv->arr_str[0].ptr, "hello", 5));
        CHECK(kv->arr_str[1].len == 0);
        CHECK(kv->arr_str[2].len == 6 && !memcmp(kv->arr_str[2].ptr, "w\xc3\xb6rld", 6));
    }
    CHECK(gguf_find_kv(f, "a.bad") == NULL);
    CHECK(gguf_n_tensors(f) == 4);
    const gguf_tensor *t = gguf_find_tensor(f, "t.f32");
    CHECK(t && t->type == R1_TYPE_F32 && t->n_dims == 2 && t->ne[0] == 5 && t->ne[1] == 3 && t->ne[2] == 1 &&
          t->nbytes == sizeof f32 && !memcmp(t->data, f32, sizeof f32));
    t = gguf_find_tensor(f, "t.f16");
    CHECK(t && t->type == R1_TYPE_F16 && t->n_dims == 1 && t->ne[0] == 7 && !memcmp(t->data, f16, sizeof f16));
    t = gguf_find_tensor(f, "t.bf16");
    CHECK(t && t->type == R1_TYPE_BF16 && t->n_dims == 3 && t->ne[2] == 2 && !memcmp(t->data, bf16, sizeof bf16));
    t = gguf_find_tensor(f, "t.q8");
    CHECK(t && t->type == R1_TYPE_Q8_0 && t->nbytes == q8_bytes && !memcmp(t->data, q8d, q8_bytes));
    for (int64_t i = 0; i < gguf_n_tensors(f); i++)
        CHECK(((uintptr_t)gguf_tensor_at(f, i)->data % 32) == 0, "tensor %lld data not 32-aligned", (long long)i);
    CHECK(gguf_tensor_at(f, 4) == NULL && gguf_kv_at(f, -1) == NULL && gguf_find_tensor(f, "nope") == NULL);
    struct stat sb;
    CHECK(stat(path, &sb) == 0 && (uint64_t)sb.st_size == gguf_file_bytes(f));

    /* set_all_from copies every key; a custom alignment is honoured */
    gguf_writer *w2 = gguf_writer_create();
    REQUIRE(w2);
    CHECK(gguf_set_all_from(w2, f) == R1_OK);
    CHECK(gguf_set_u32(w2, "general.alignment", 256) == R1_OK);
    CHECK(gguf_add_tensor(w2, "t.f16", R1_TYPE_F16, 1, ne_b, f16, sizeof f16, &err) == R1_OK);
    CHECK(gguf_add_tensor(w2, "t.f32", R1_TYPE_F32, 2, ne_a, f32, sizeof f32, &err) == R1_OK);
    const char *path2 = tmp_path("rt2.gguf");
    CHECK(gguf_writer_write(w2, path2, &err) == R1_OK, "%s", err.msg);
    gguf_writer_free(w2);
    gguf_file *f2 = NULL;
    REQUIRE(gguf_open(path2, &f2, &err) == R1_OK, "%s", err.msg);
    CHECK(gguf_n_kv(f2) == gguf_n_kv(f) + 1);
    for (int64_t i = 0; i < gguf_n_kv(f); i++) {
        const gguf_kv *a = gguf_kv_at(f, i), *c = gguf_find_kv(f2, a->key);
        CHECK(c && c->type == a->type, "%s", a->key);
        if (!c || c->type != a->type) continue;
        if (a->type == GGUF_ARRAY) {
            CHECK(c->arr_type == a->arr_type && c->arr_n == a->arr_n && c->arr_bytes == a->arr_bytes &&
                  (!a->arr_bytes || !memcmp(c->arr_data, a->arr_data, (size_t)a->arr_bytes)), "%s", a->key);
        } else if (a->type == GGUF_STRING) {
            CHECK(c->v.s.len == a->v.s.len && !memcmp(c->v.s.ptr, a->v.s.ptr, (size_t)a->v.s.len), "%s", a->key);
        } else {
            CHECK(!memcmp(&c->v, &a->v, sizeof a->v), "%s", a->key);
        }
    }
    const gguf_tensor *t1 = gguf_find_tensor(f2, "t.f32");
    CHECK(t1 && ((const uint8_t *)t1->data - (const uint8_t *)gguf_tensor_at(f2, 0)->data) % 256 == 0);
    CHECK(t1 && !memcmp(t1->data, f32, sizeof f32));
    gguf_close(f2);
    gguf_close(f);
    free(q8d);
}

/* ---- lazy tensors and failing writes --------------------------------------------------- */
typedef struct lazy_ctx { int calls; int fail; } lazy_ctx;
static r1_status lazy_fill(void *user, void *dst, size_t nbytes, r1_error *err) {
    lazy_ctx *c = user;
    c->calls++;
    if (c->fail) return r1_set_error(err, R1_ERR_IO, "producer failed on purpose");
    float *p = dst;
    for (size_t i = 0; i < nbytes / 4; i++) p[i] = (float)i + (float)c->calls * 1000;
    return R1_OK;
}

static bool dir_has_tmp(void) {
    DIR *d = opendir(g_dir);
    bool found = false;
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strstr(e->d_name, ".tmp")) found = true;
    if (d) closedir(d);
    return found;
}

static void test_lazy_and_failures(void) {
    r1_error err = {0};
    lazy_ctx ok = {0, 0}, bad = {0, 1};
    int64_t ne[2] = {8, 4};
    gguf_writer *w = gguf_writer_create();
    REQUIRE(w);
    CHECK(gguf_add_tensor_lazy(w, "a", R1_TYPE_F32, 2, ne, 128, lazy_fill, &ok, &err) == R1_OK);
    CHECK(gguf_add_tensor_lazy(w, "b", R1_TYPE_F32, 2, ne, 128, lazy_fill, &ok, &err) == R1_OK);
    CHECK(gguf_add_tensor_lazy(w, "c", R1_TYPE_F32, 2, ne, 128, NULL, &ok, &err) == R1_ERR_INVALID_ARG);
    const char *p = tmp_path("lazy.gguf");
    CHECK(gguf_writer_write(w, p, &err) == R1_OK, "%s", err.msg);
    CHECK(ok.calls == 2);
    gguf_writer_free(w);
    gguf_file *f = NULL;
    REQUIRE(gguf_open(p, &f, &err) == R1_OK, "%s", err.msg);
    const gguf_tensor *t = gguf_find_tensor(f, "b");
    CHECK(t && ((const float *)t->data)[3] == 2003.0f);
    gguf_close(f);

    /* producer failure: nothing at the path, no tmp file left */
    w = gguf_writer_create();
    REQUIRE(w);
    CHECK(gguf_add_tensor_lazy(w, "a", R1_TYPE_F32, 2, ne, 128, lazy_fill, &bad, &err) == R1_OK);
    const char *pf = tmp_path("fail.gguf");
    CHECK(gguf_writer_write(w, pf, &err) == R1_ERR_IO);
    CHECK(strstr(err.msg, "on purpose") != NULL, "%s", err.msg);
    CHECK(access(pf, F_OK) != 0 && !dir_has_tmp());
    /* unwritable destination */
    CHECK(gguf_writer_write(w, tmp_path("no/such/dir/x.gguf"), &err) == R1_ERR_IO);
    CHECK(strstr(err.msg, "no/such/dir") != NULL, "%s", err.msg);
    /* bad alignment is refused before writing */
    CHECK(gguf_set_u32(w, "general.alignment", 48) == R1_OK);
    CHECK(gguf_writer_write(w, pf, &err) == R1_ERR_INVALID_ARG && access(pf, F_OK) != 0);
    gguf_writer_free(w);
}

/* ---- hostile inputs --------------------------------------------------------------------- */
/* A small valid file: 2 keys, 2 tensors (F32 [4], F16 [2,2]). */
static void valid_file(bb *b, size_t *data_end) {
    b_hdr(b, 3, 2, 2);
    b_str(b, "general.architecture"); b_u32(b, GGUF_STRING); b_str(b, "llama");
    b_str(b, "arr"); b_u32(b, GGUF_ARRAY); b_u32(b, GGUF_STRING); b_u64(b, 2); b_str(b, "ab"); b_str(b, "c");
    uint64_t ne1[1] = {4}, ne2[2] = {2, 2};
    b_tinfo(b, "w1", 1, ne1, R1_TYPE_F32, 0);
    b_tinfo(b, "w2", 2, ne2, R1_TYPE_F16, 32);
    b_pad(b, 32);
    b_zeros(b, 16); b_pad(b, 32);
    b_zeros(b, 8);
    *data_end = b->n;
    b_pad(b, 32);
}

static void test_truncation(void) {
    bb b;
    size_t data_end;
    valid_file(&b, &data_end);
    r1_error err;
    REQUIRE(open_bytes(&b, "valid.gguf", &err) == R1_OK, "%s", err.msg);
    int bad = 0;
    for (size_t n = 0; n <= b.n; n++) {
        bb c = b;
        c.n = n;
        r1_status st = open_bytes(&c, "trunc.gguf", &err);
        bool want_ok = n >= data_end;   /* only trailing padding may be cut */
        if ((st == R1_OK) != want_ok || (st != R1_OK && (!err.msg[0] || !strstr(err.msg, "trunc.gguf")))) {
            if (bad++ < 5) CHECK(0, "truncated at %zu of %zu: status %d (%s)", n, b.n, st, err.msg);
        }
    }
    CHECK(bad == 0, "%d truncation lengths misbehaved", bad);
    /* every single-byte corruption must fail cleanly or succeed, never crash */
    for (size_t i = 0; i < b.n; i++) {
        for (int k = 0; k < 3; k++) {
            bb c = b;
            static const uint8_t vals[3] = {0x00, 0xff, 0x80};
            c.d[i] = vals[k];
            r1_status st = open_bytes(&c, "corrupt.gguf", &err);
            CHECK(st == R1_OK || err.msg[0], "byte %zu: failure without message", i);
        }
    }
    /* random multi-byte mutations (fixed-seed LCG); a file that opens must have every
     * tensor's last byte inside the map (ASan checks the access) */
    uint64_t rng = 12345;
    for (int it = 0; it < 2000; it++) {
        bb c = b;
        int k = 1 + (int)((rng >> 33) % 4);
        for (int j = 0; j < k; j++) {
            rng = rng * 6364136223846793005ull + 1442695040888963407ull;
            size_t pos = (size_t)(rng >> 33) % b.n;
            c.d[pos] = (uint8_t)(rng >> 20);
        }
        const char *p = tmp_path("mut.gguf");
        write_bytes(p, c.d, c.n);
        gguf_file *f = NULL;
        r1_status st = gguf_open(p, &f, &err);
        CHECK(st == R1_OK || err.msg[0], "mutation %d: failure without message", it);
        for (int64_t i = 0; f && i < gguf_n_tensors(f); i++) {
            const gguf_tensor *t = gguf_tensor_at(f, i);
            volatile uint8_t last = ((const uint8_t *)t->data)[t->nbytes - 1];
            (void)last;
        }
        gguf_close(f);
    }
}

static void test_hostile(void) {
    bb b;
    uint64_t ne1[1] = {4}, ne2[2] = {2, 2};
    /* magic / version */
    b_hdr(&b, 3, 0, 0); b.d[0] = 'X';
    EXPECT_FAIL(&b, "magic.gguf", R1_ERR_FORMAT, "magic");
    b_hdr(&b, 1, 0, 0);
    EXPECT_FAIL(&b, "v1.gguf", R1_ERR_UNSUPPORTED, "version 1");
    b_hdr(&b, 4, 0, 0);
    EXPECT_FAIL(&b, "v4.gguf", R1_ERR_UNSUPPORTED, "version 4");
    b_hdr(&b, 0x03000000u, 0, 0);
    EXPECT_FAIL(&b, "be.gguf", R1_ERR_UNSUPPORTED, "big-endian");
    b_hdr(&b, 2, 0, 0);                       /* v2, empty: valid */
    r1_error err;
    CHECK(open_bytes(&b, "v2.gguf", &err) == R1_OK, "%s", err.msg);
    /* huge counts */
    b_hdr(&b, 3, 0, 1ull << 60); b_zeros(&b, 64);
    EXPECT_FAIL(&b, "hugekv.gguf", R1_ERR_FORMAT, "metadata count");
    b_hdr(&b, 3, 1ull << 60, 0); b_zeros(&b, 64);
    EXPECT_FAIL(&b, "huget.gguf", R1_ERR_FORMAT, "tensor count");
    b_hdr(&b, 3, 0, 1); b_str(&b, "k"); b_u32(&b, GGUF_ARRAY); b_u32(&b, GGUF_UINT32); b_u64(&b, 1ull << 62); b_zeros(&b, 16);
    EXPECT_FAIL(&b, "hugearr.gguf", R1_ERR_FORMAT, "truncated");
    b_hdr(&b, 3, 0, 1); b_str(&b, "k"); b_u32(&b, GGUF_ARRAY); b_u32(&b, GGUF_STRING); b_u64(&b, UINT64_MAX); b_zeros(&b, 16);
    EXPECT_FAIL(&b, "hugestrarr.gguf", R1_ERR_FORMAT, "truncated");
    b_hdr(&b, 3, 0, 1); b_str(&b, "k"); b_u32(&b, GGUF_STRING); b_u64(&b, UINT64_MAX - 3); b_zeros(&b, 16);
    EXPECT_FAIL(&b, "hugestr.gguf", R1_ERR_FORMAT, "length");
    b_hdr(&b, 3, 0, 1); b_u64(&b, 1ull << 63); b_zeros(&b, 16);
    EXPECT_FAIL(&b, "hugekey.gguf", R1_ERR_FORMAT, "metadata key");
    /* bad value types, empty key, duplicate key */
    b_hdr(&b, 3, 0, 1); b_str(&b, "k"); b_u32(&b, 13); b_zeros(&b, 16);
    EXPECT_FAIL(&b, "vtype.gguf", R1_ERR_FORMAT, "unknown value type");
    b_hdr(&b, 3, 0, 1); b_str(&b, "k"); b_u32(&b, GGUF_ARRAY); b_u32(&b, 99); b_u64(&b, 1); b_zeros(&b, 16);
    EXPECT_FAIL(&b, "etype.gguf", R1_ERR_FORMAT, "element type");
    b_hdr(&b, 3, 0, 1); b_str(&b, ""); b_u32(&b, GGUF_UINT8); b_zeros(&b, 16);
    EXPECT_FAIL(&b, "emptykey.gguf", R1_ERR_FORMAT, "metadata key");
    b_hdr(&b, 3, 0, 2); b_str(&b, "k"); b_u32(&b, GGUF_UINT8); b_zeros(&b, 1); b_str(&b, "k"); b_u32(&b, GGUF_UINT8); b_zeros(&b, 1);
    EXPECT_FAIL(&b, "dupkey.gguf", R1_ERR_FORMAT, "duplicate metadata key 'k'");
    /* nested arrays: valid (opaque), too deep, truncated inner */
    b_hdr(&b, 3, 0, 1); b_str(&b, "nest"); b_u32(&b, GGUF_ARRAY); b_u32(&b, GGUF_ARRAY); b_u64(&b, 2);
    b_u32(&b, GGUF_INT32); b_u64(&b, 2); b_u32(&b, 1); b_u32(&b, 2);
    b_u32(&b, GGUF_STRING); b_u64(&b, 1); b_str(&b, "xy");
    {
        const char *p = tmp_path("nest.gguf");
        write_bytes(p, b.d, b.n);
        gguf_file *f = NULL;
        CHECK(gguf_open(p, &f, &err) == R1_OK, "%s", err.msg);
        const gguf_kv *kv = f ? gguf_find_kv(f, "nest") : NULL;
        CHECK(kv && kv->arr_type == GGUF_ARRAY && kv->arr_n == 2 && kv->arr_bytes == 12 + 8 + 12 + 10);
        int64_t v;
        CHECK(kv && !gguf_arr_i64(kv, 0, &v));
        /* set_all_from copies the nested array verbatim */
        gguf_writer *w = gguf_writer_create();
        const char *p2 = tmp_path("nest2.gguf");
        CHECK(w && f && gguf_set_all_from(w, f) == R1_OK && gguf_writer_write(w, p2, &err) == R1_OK, "%s", err.msg);
        gguf_writer_free(w);
        gguf_file *f2 = NULL;
        CHECK(gguf_open(p2, &f2, &err) == R1_OK, "%s", err.msg);
        const gguf_kv *kv2 = f2 ? gguf_find_kv(f2, "nest") : NULL;
        CHECK(kv && kv2 && kv2->arr_type == GGUF_ARRAY && kv2->arr_n == 2 && kv2->arr_bytes == kv->arr_bytes &&
              !memcmp(kv2->arr_data, kv->arr_data, (size_t)kv->arr_bytes));
        gguf_close(f2);
        gguf_close(f);
    }
    b_hdr(&b, 3, 0, 1); b_str(&b, "deep"); b_u32(&b, GGUF_ARRAY);
    for (int i = 0; i < 20; i++) { b_u32(&b, GGUF_ARRAY); b_u64(&b, 1); }
    b_u32(&b, GGUF_UINT8); b_u64(&b, 0);
    EXPECT_FAIL(&b, "deep.gguf", R1_ERR_FORMAT, "nested deeper");
    b_hdr(&b, 3, 0, 1); b_str(&b, "k"); b_u32(&b, GGUF_ARRAY); b_u32(&b, GGUF_ARRAY); b_u64(&b, 1);
    b_u32(&b, GGUF_UINT64); b_u64(&b, 1ull << 61);
    EXPECT_FAIL(&b, "nesttrunc.gguf", R1_ERR_FORMAT, "truncated");
    /* tensor infos */
    uint64_t zero[2] = {0, 4}, five[5] = {1, 1, 1, 1, 1}, big[2] = {1ull << 40, 1ull << 40}, i64max[1] = {1ull << 63};
    b_hdr(&b, 3, 1, 0); b_tinfo(&b, "blk.0.attn_q.weight", 0, ne1, 0, 0); b_zeros(&b, 64);
    EXPECT_FAIL(&b, "nd0.gguf", R1_ERR_FORMAT, "'blk.0.attn_q.weight' has 0 dimensions");
    b_hdr(&b, 3, 1, 0); b_tinfo(&b, "t", 5, five, 0, 0); b_zeros(&b, 64);
    EXPECT_FAIL(&b, "nd5.gguf", R1_ERR_FORMAT, "5 dimensions");
    b_hdr(&b, 3, 1, 0); b_tinfo(&b, "t", 2, zero, 0, 0); b_zeros(&b, 64);
    EXPECT_FAIL(&b, "ne0.gguf", R1_ERR_FORMAT, "invalid or overflowing shape");
    b_hdr(&b, 3, 1, 0); b_tinfo(&b, "t", 2, big, 0, 0); b_zeros(&b, 64);
    EXPECT_FAIL(&b, "overflow.gguf", R1_ERR_FORMAT, "overflowing");
    b_hdr(&b, 3, 1, 0); b_tinfo(&b, "t", 1, i64max, 0, 0); b_zeros(&b, 64);
    EXPECT_FAIL(&b, "i64max.gguf", R1_ERR_FORMAT, "overflowing");
    b_hdr(&b, 3, 1, 0); b_tinfo(&b, "blk.3.ffn_up.weight", 1, ne1, 99, 0); b_pad(&b, 32); b_zeros(&b, 64);
    EXPECT_FAIL(&b, "type99.gguf", R1_ERR_UNSUPPORTED, "'blk.3.ffn_up.weight' has unknown or unsupported type id 99");
    b_hdr(&b, 3, 1, 0); b_tinfo(&b, "t", 1, ne1, 4, 0); b_pad(&b, 32); b_zeros(&b, 64);  /* removed Q4_2 */
    EXPECT_FAIL(&b, "type4.gguf", R1_ERR_UNSUPPORTED, "type id 4");
    b_hdr(&b, 3, 1, 0); b_tinfo(&b, "t", 1, ne1, 0xffffffffu, 0); b_pad(&b, 32); b_zeros(&b, 64);
    EXPECT_FAIL(&b, "typemax.gguf", R1_ERR_UNSUPPORTED, "type id 4294967295");
    b_hdr(&b, 3, 1, 0); b_tinfo(&b, "q", 1, ne1, R1_TYPE_Q8_0, 0); b_pad(&b, 32); b_zeros(&b, 64);
    EXPECT_FAIL(&b, "block.gguf", R1_ERR_FORMAT, "not a multiple of the q8_0 block size");
    b_hdr(&b, 3, 1, 0); b_tinfo(&b, "t", 1, ne1, 0, 1); b_pad(&b, 32); b_zeros(&b, 64);
    EXPECT_FAIL(&b, "misaligned.gguf", R1_ERR_FORMAT, "not a multiple of the alignment");
    b_hdr(&b, 3, 1, 0); b_tinfo(&b, "blk.0.attn_q.weight", 2, ne2, 1, 32); b_pad(&b, 32); b_zeros(&b, 32);
    EXPECT_FAIL(&b, "pasteof.gguf", R1_ERR_FORMAT, "tensor 'blk.0.attn_q.weight' data [");
    b_hdr(&b, 3, 1, 0); b_tinfo(&b, "t", 1, ne1, 0, UINT64_MAX - 31); b_pad(&b, 32); b_zeros(&b, 32);
    EXPECT_FAIL(&b, "offmax.gguf", R1_ERR_FORMAT, "past the end of the file");
    b_hdr(&b, 3, 2, 0); b_tinfo(&b, "same", 1, ne1, 0, 0); b_tinfo(&b, "same", 1, ne1, 0, 32); b_pad(&b, 32); b_zeros(&b, 64);
    EXPECT_FAIL(&b, "duptensor.gguf", R1_ERR_FORMAT, "duplicate tensor name 'same'");
    /* alignment */
    b_hdr(&b, 3, 0, 1); b_str(&b, "general.alignment"); b_u32(&b, GGUF_UINT32); b_u32(&b, 24);
    EXPECT_FAIL(&b, "align24.gguf", R1_ERR_FORMAT, "power of two");
    b_hdr(&b, 3, 0, 1); b_str(&b, "general.alignment"); b_u32(&b, GGUF_UINT32); b_u32(&b, 0);
    EXPECT_FAIL(&b, "align0.gguf", R1_ERR_FORMAT, "power of two");
    b_hdr(&b, 3, 0, 1); b_str(&b, "general.alignment"); b_u32(&b, GGUF_UINT64); b_u64(&b, 64);
    EXPECT_FAIL(&b, "align64.gguf", R1_ERR_FORMAT, "power of two");
    /* alignment 64 with a 32-aligned offset */
    b_hdr(&b, 3, 1, 1); b_str(&b, "general.alignment"); b_u32(&b, GGUF_UINT32); b_u32(&b, 64);
    b_tinfo(&b, "t", 1, ne1, 0, 32); b_pad(&b, 64); b_zeros(&b, 128);
    EXPECT_FAIL(&b, "align64off.gguf", R1_ERR_FORMAT, "alignment 64");
    /* missing and empty files */
    gguf_file *f = NULL;
    CHECK(gguf_open(tmp_path("does-not-exist.gguf"), &f, &err) == R1_ERR_IO && f == NULL);
    CHECK(strstr(err.msg, "does-not-exist.gguf") != NULL, "%s", err.msg);
    b.n = 0;
    EXPECT_FAIL(&b, "empty.gguf", R1_ERR_FORMAT, "magic");
    /* a directory and a FIFO (must not block) are refused */
    CHECK(gguf_open(g_dir, &f, &err) == R1_ERR_IO && f == NULL, "%s", err.msg);
    const char *fifo = tmp_path("fifo.gguf");
    if (mkfifo(fifo, 0600) == 0) {
        CHECK(gguf_open(fifo, &f, &err) == R1_ERR_IO && strstr(err.msg, "not a regular file"), "%s", err.msg);
        unlink(fifo);
    }
}

/* Many keys: duplicate detection and lookups stay linear-time (a hostile file with
 * 200k keys opens in well under a second). */
static void test_many_keys(void) {
    const int n = 200000;
    uint8_t *d = malloc((size_t)n * 32 + 64);
    REQUIRE(d);
    size_t o = 0;
    uint32_t u;
    uint64_t q;
    memcpy(d, "GGUF", 4); u = 3; memcpy(d + 4, &u, 4); q = 0; memcpy(d + 8, &q, 8); q = (uint64_t)n; memcpy(d + 16, &q, 8);
    o = 24;
    for (int i = 0; i < n; i++) {
        char key[16];
        int kl = snprintf(key, sizeof key, "k%07d", i);
        q = (uint64_t)kl; memcpy(d + o, &q, 8); memcpy(d + o + 8, key, (size_t)kl); o += 8 + (size_t)kl;
        u = GGUF_UINT8; memcpy(d + o, &u, 4); d[o + 4] = (uint8_t)i; o += 5;
    }
    const char *p = tmp_path("many.gguf");
    REQUIRE(write_bytes(p, d, o) == 0);
    gguf_file *f = NULL;
    r1_error err;
    double t0 = r1_time_s();
    CHECK(gguf_open(p, &f, &err) == R1_OK, "%s", err.msg);
    double dt = r1_time_s() - t0;
    CHECK(dt < 2.0, "open took %.2f s", dt);
    uint32_t v = 0;
    CHECK(f && gguf_get_u32(f, "k0123456", &v) && v == (uint8_t)123456);
    gguf_close(f);
    /* the same with the last key duplicating the first */
    memcpy(d + o - 5 - 8, "k0000000", 8);
    REQUIRE(write_bytes(p, d, o) == 0);
    CHECK(gguf_open(p, &f, &err) == R1_ERR_FORMAT && strstr(err.msg, "duplicate metadata key 'k0000000'"), "%s", err.msg);
    free(d);
}

/* ---- split models --------------------------------------------------------------------- */
static r1_status write_part(const char *name, int no, int count, const char *tname, const float *data) {
    gguf_writer *w = gguf_writer_create();
    r1_error err;
    int64_t ne[1] = {4};
    if (!w) return R1_ERR_NOMEM;
    r1_status st = gguf_set_u32(w, "split.no", (uint32_t)no);
    if (!st) st = gguf_set_u32(w, "split.count", (uint32_t)count);
    if (!st && no == 0) st = gguf_set_str(w, "general.architecture", "llama");
    if (!st) st = gguf_add_tensor(w, tname, R1_TYPE_F32, 1, ne, data, 16, &err);
    if (!st) st = gguf_writer_write(w, tmp_path(name), &err);
    gguf_writer_free(w);
    return st;
}

static void test_split(void) {
    float a[4] = {1, 2, 3, 4}, b[4] = {5, 6, 7, 8}, c[4] = {9, 10, 11, 12};
    REQUIRE(write_part("m-00001-of-00003.gguf", 0, 3, "ta", a) == R1_OK);
    REQUIRE(write_part("m-00002-of-00003.gguf", 1, 3, "tb", b) == R1_OK);
    REQUIRE(write_part("m-00003-of-00003.gguf", 2, 3, "tc", c) == R1_OK);
    gguf_file *f = NULL;
    r1_error err;
    REQUIRE(gguf_open(tmp_path("m-00001-of-00003.gguf"), &f, &err) == R1_OK, "%s", err.msg);
    CHECK(gguf_n_tensors(f) == 3);
    const gguf_tensor *t = gguf_find_tensor(f, "tc");
    CHECK(t && ((const float *)t->data)[3] == 12.0f);
    t = gguf_find_tensor(f, "ta");
    CHECK(t && ((const float *)t->data)[0] == 1.0f);
    uint64_t total = 0;
    struct stat sb;
    const char *names[3] = {"m-00001-of-00003.gguf", "m-00002-of-00003.gguf", "m-00003-of-00003.gguf"};
    for (int i = 0; i < 3; i++) if (stat(tmp_path(names[i]), &sb) == 0) total += (uint64_t)sb.st_size;
    CHECK(gguf_file_bytes(f) == total);
    char *arch = gguf_get_str_dup(f, "general.architecture");
    CHECK(arch && !strcmp(arch, "llama"));
    free(arch);
    /* set_all_from drops split.* keys (they describe the source's parts) */
    gguf_writer *w = gguf_writer_create();
    REQUIRE(w);
    CHECK(gguf_set_all_from(w, f) == R1_OK);
    CHECK(gguf_writer_write(w, tmp_path("merged.gguf"), &err) == R1_OK);
    gguf_writer_free(w);
    gguf_close(f);
    f = NULL;
    CHECK(gguf_open(tmp_path("merged.gguf"), &f, &err) == R1_OK);
    CHECK(f && gguf_find_kv(f, "split.count") == NULL && gguf_find_kv(f, "general.architecture"));
    gguf_close(f);
    /* wrong split.no in a later part */
    REQUIRE(write_part("m-00003-of-00003.gguf", 1, 3, "tc", c) == R1_OK);
    CHECK(gguf_open(tmp_path("m-00001-of-00003.gguf"), &f, &err) == R1_ERR_FORMAT);
    CHECK(strstr(err.msg, "m-00003-of-00003.gguf") && strstr(err.msg, "split.no"), "%s", err.msg);
    /* duplicate tensor across parts */
    REQUIRE(write_part("m-00003-of-00003.gguf", 2, 3, "ta", c) == R1_OK);
    CHECK(gguf_open(tmp_path("m-00001-of-00003.gguf"), &f, &err) == R1_ERR_FORMAT);
    CHECK(strstr(err.msg, "duplicate tensor name 'ta'") != NULL, "%s", err.msg);
    /* missing part */
    unlink(tmp_path("m-00003-of-00003.gguf"));
    CHECK(gguf_open(tmp_path("m-00001-of-00003.gguf"), &f, &err) == R1_ERR_IO && f == NULL);
    CHECK(strstr(err.msg, "part 3 of 3") && strstr(err.msg, "m-00003-of-00003.gguf"), "%s", err.msg);
    /* opening a later part directly, and a split file that is not named like one */
    CHECK(gguf_open(tmp_path("m-00002-of-00003.gguf"), &f, &err) == R1_ERR_FORMAT);
    CHECK(strstr(err.msg, "first part") != NULL, "%s", err.msg);
    REQUIRE(write_part("oddname.gguf", 0, 2, "ta", a) == R1_OK);
    CHECK(gguf_open(tmp_path("oddname.gguf"), &f, &err) == R1_ERR_FORMAT);
    CHECK(strstr(err.msg, "00001-of-00002") != NULL, "%s", err.msg);
}


/* ---- gguf_load_anon: tensor data copied into huge-page memory ---------------------------- */
typedef struct prog_log { int calls, bad; uint64_t last, total; } prog_log;
static void prog_cb(void *u, uint64_t done, uint64_t total) {
    prog_log *l = u;
    if (l->calls == 0 && done != 0) l->bad++;
    if (done < l->last || done > total || (l->calls && total != l->total)) l->bad++;
    l->calls++; l->last = done; l->total = total;
}
static bool skip_named(void *u, const gguf_tensor *t) { return strcmp(t->name, (const char *)u) != 0; }

/* 1 if THP can be used here ("madvise"/"always"), else 0 (the copy must then be refused). */
static int thp_usable(void) {
    char buf[128] = {0};
    FILE *fp = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
    if (!fp) return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, fp);
    fclose(fp);
    buf[n] = 0;
    return strstr(buf, "[madvise]") || strstr(buf, "[always]");
}

static void test_anon(void) {
    /* tensors: 3 small F32 of awkward lengths, one of 17 MiB + 4 bytes (two 16 MiB reads), one skipped */
    const int64_t big = (17 << 20) / 4 + 1;
    float *bigd = malloc((size_t)big * 4);
    REQUIRE(bigd);
    for (int64_t i = 0; i < big; i++) bigd[i] = (float)(i % 1000003) * 0.25f;
    float s1[5] = {1, 2, 3, 4, 5}, s2[33], s3[1] = {-7};
    for (int i = 0; i < 33; i++) s2[i] = (float)i * -1.5f;
    gguf_writer *w = gguf_writer_create();
    REQUIRE(w);
    r1_error err = {0};
    int64_t n1[1] = {5}, n2[1] = {33}, n3[1] = {1}, nb[2] = {big, 1};
    CHECK(gguf_add_tensor(w, "s1", R1_TYPE_F32, 1, n1, s1, sizeof s1, &err) == R1_OK);
    CHECK(gguf_add_tensor(w, "big", R1_TYPE_F32, 2, nb, bigd, (size_t)big * 4, &err) == R1_OK);
    CHECK(gguf_add_tensor(w, "s2", R1_TYPE_F32, 1, n2, s2, sizeof s2, &err) == R1_OK);
    CHECK(gguf_add_tensor(w, "skip", R1_TYPE_F32, 1, n3, s3, sizeof s3, &err) == R1_OK);
    const char *path = tmp_path("anon.gguf");
    REQUIRE(gguf_writer_write(w, path, &err) == R1_OK, "%s", err.msg);
    gguf_writer_free(w);
    const int thp = thp_usable();
    if (!thp) printf("  note: THP not usable here: only the refusal path is tested\n");
    for (int threads = 1; threads <= 2; threads++) {
        gguf_file *f = NULL;
        REQUIRE(gguf_open(path, &f, &err) == R1_OK, "%s", err.msg);
        const void *skip_before = gguf_find_tensor(f, "skip")->data;
        const void *s1_before = gguf_find_tensor(f, "s1")->data;
        prog_log pl = {0};
        gguf_anon_opts o = {skip_named, (void *)"skip", prog_cb, &pl, threads};
        bool copied = true;
        char note[256];
        CHECK(gguf_load_anon(f, &o, &copied, note, sizeof note, &err) == R1_OK, "%s", err.msg);
        CHECK(copied == (thp != 0), "copied %d, note '%s'", copied, note);
        if (copied) {
            CHECK(note[0] == 0, "%s", note);
            CHECK(gguf_anon_bytes(f) >= (size_t)big * 4 && gguf_anon_bytes(f) % (2u << 20) == 0);
            CHECK(gguf_find_tensor(f, "s1")->data != s1_before);
            CHECK(pl.calls >= 3 && pl.bad == 0 && pl.last == pl.total && pl.total == sizeof s1 + sizeof s2 + (uint64_t)big * 4,
                  "calls %d bad %d last %llu total %llu", pl.calls, pl.bad, (unsigned long long)pl.last,
                  (unsigned long long)pl.total);
            bool second = true;
            CHECK(gguf_load_anon(f, &o, &second, note, sizeof note, &err) == R1_ERR_INVALID_ARG && !second);
        } else {
            CHECK(note[0] != 0 && gguf_anon_bytes(f) == 0);
            CHECK(gguf_find_tensor(f, "s1")->data == s1_before);
        }
        CHECK(gguf_find_tensor(f, "skip")->data == skip_before, "a tensor not wanted stays in the map");
        const gguf_tensor *t;
        CHECK((t = gguf_find_tensor(f, "s1")) && !memcmp(t->data, s1, sizeof s1) && (uintptr_t)t->data % 32 == 0);
        CHECK((t = gguf_find_tensor(f, "s2")) && !memcmp(t->data, s2, sizeof s2) && (uintptr_t)t->data % 32 == 0);
        CHECK((t = gguf_find_tensor(f, "big")) && !memcmp(t->data, bigd, (size_t)big * 4) && (uintptr_t)t->data % 32 == 0);
        CHECK((t = gguf_find_tensor(f, "skip")) && ((const float *)t->data)[0] == -7.0f);
        gguf_close(f);
    }
    /* the file replaced (new inode at the same path) or resized after gguf_open: R1_ERR_IO,
     * tensors still in the map */
    if (thp) {
        gguf_file *f = NULL;
        REQUIRE(gguf_open(path, &f, &err) == R1_OK, "%s", err.msg);
        const void *before = gguf_find_tensor(f, "big")->data;
        const char *p2 = tmp_path("anon2.gguf");
        FILE *in = fopen(path, "rb"), *out = fopen(p2, "wb");
        REQUIRE(in && out);
        char buf[65536];
        size_t n;
        while ((n = fread(buf, 1, sizeof buf, in)) > 0) CHECK(fwrite(buf, 1, n, out) == n);
        fclose(in); fclose(out);
        REQUIRE(rename(p2, path) == 0);
        bool copied = true;
        char note[256];
        gguf_anon_opts o = {NULL, NULL, NULL, NULL, 2};
        CHECK(gguf_load_anon(f, &o, &copied, note, sizeof note, &err) == R1_ERR_IO && !copied);
        CHECK(strstr(err.msg, "anon.gguf") && strstr(err.msg, "replaced or changed"), "%s", err.msg);
        CHECK(gguf_find_tensor(f, "big")->data == before && gguf_anon_bytes(f) == 0);
        CHECK(!memcmp(gguf_find_tensor(f, "s2")->data, s2, sizeof s2));
        gguf_close(f);
        /* grown after open (same inode): size differs */
        REQUIRE(gguf_open(path, &f, &err) == R1_OK, "%s", err.msg);
        FILE *ap = fopen(path, "ab");
        REQUIRE(ap);
        fputc(0, ap);
        fclose(ap);
        CHECK(gguf_load_anon(f, &o, &copied, note, sizeof note, &err) == R1_ERR_IO && !copied, "%s", err.msg);
        gguf_close(f);
    }
    free(bigd);
}


/* gguf_load_anon over the three parts of a split model */
static void test_split_anon(void) {
    float a[4] = {1, 2, 3, 4}, b[4] = {5, 6, 7, 8}, c[4] = {9, 10, 11, 12};
    REQUIRE(write_part("s-00001-of-00003.gguf", 0, 3, "ta", a) == R1_OK);
    REQUIRE(write_part("s-00002-of-00003.gguf", 1, 3, "tb", b) == R1_OK);
    REQUIRE(write_part("s-00003-of-00003.gguf", 2, 3, "tc", c) == R1_OK);
    gguf_file *f = NULL;
    r1_error err;
    REQUIRE(gguf_open(tmp_path("s-00001-of-00003.gguf"), &f, &err) == R1_OK, "%s", err.msg);
    bool copied = false;
    char note[256];
    gguf_anon_opts o = {NULL, NULL, NULL, NULL, 2};
    CHECK(gguf_load_anon(f, &o, &copied, note, sizeof note, &err) == R1_OK, "%s", err.msg);
    CHECK(copied == (thp_usable() != 0), "%s", note);
    const gguf_tensor *t = gguf_find_tensor(f, "ta"), *u = gguf_find_tensor(f, "tc");
    CHECK(t && !memcmp(t->data, a, sizeof a));
    CHECK((t = gguf_find_tensor(f, "tb")) && !memcmp(t->data, b, sizeof b));
    CHECK(u && !memcmp(u->data, c, sizeof c));
    if (copied) CHECK((const char *)u->data - (const char *)gguf_find_tensor(f, "ta")->data == 128, "one region, 64-byte slots");
    gguf_close(f);
}

static void cleanup_dir(void) {
    DIR *d = opendir(g_dir);
    struct dirent *e;
    char p[600];
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        snprintf(p, sizeof p, "%s/%s", g_dir, e->d_name);
        unlink(p);
    }
    if (d) closedir(d);
    rmdir(g_dir);
}

int main(void) {
    const char *td = getenv("TMPDIR");
    snprintf(g_dir, sizeof g_dir, "%s/test_gguf.XXXXXX", td && *td ? td : "/tmp");
    if (!mkdtemp(g_dir)) { perror("mkdtemp"); return 1; }
    RUN(test_roundtrip);
    RUN(test_lazy_and_failures);
    RUN(test_truncation);
    RUN(test_hostile);
    RUN(test_many_keys);
    RUN(test_split);
    RUN(test_anon);
    RUN(test_split_anon);
    cleanup_dir();
    return TEST_SUMMARY();
}
